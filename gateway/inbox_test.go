package gateway

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cong-van.pdf", "cong-van.pdf"},
		{"../../etc/passwd", "passwd"},
		{"/etc/passwd", "passwd"},
		{`C:\Users\a\Công văn.pdf`, "Công văn.pdf"},
		{"evil\x00name.pdf", "evilname.pdf"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"}, // right-to-left override
		{"..", "file"},
		{"", "file"},
		{"bad\xffutf8.txt", "bad_utf8.txt"},
		{"c1\u0085\u009bcontrols.pdf", "c1controls.pdf"},
		{"zero\u200bwidth\u2060\ufeff.pdf", "zerowidth.pdf"},
		{"line\u2028sep.pdf", "linesep.pdf"},
		{"Công\u00a0văn.pdf", "Công\u00a0văn.pdf"}, // a no-break space is visible text
	}
	for _, tt := range tests {
		if got := cleanName(tt.in); got != tt.want {
			t.Errorf("cleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFileNameBounded(t *testing.T) {
	long := strings.Repeat("Quyết định phê duyệt ", 20) + ".pdf" // 276+ bytes of Vietnamese
	got := fileName(localapi.File{N: 3, Name: long})
	if len(got) > 255 || !utf8.ValidString(got) || !strings.HasSuffix(got, ".pdf") || !strings.HasPrefix(got, "03-") {
		t.Errorf("fileName of a %d-byte name = %q (%d bytes), want at most 255 valid bytes keeping .pdf", len(long), got, len(got))
	}
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A package the inbox can never take is refused, not retried: zips with
// two entries, damaged zips, zip bombs alone or in aggregate.
func TestInboxRefusesUndeliverable(t *testing.T) {
	zipped := func(name string, data []byte) envelope.Attachment {
		return envelope.Attachment{Name: name, ContentType: envelope.ContentTypeZip, Data: data}
	}
	mib := bytes.Repeat([]byte{0}, 1<<20)
	tests := []struct {
		name string
		atts []envelope.Attachment
	}{
		{"two entries", []envelope.Attachment{zipped("a.pdf", zipOf(t, map[string][]byte{"a.pdf": []byte("a"), "b.pdf": []byte("b")}))}},
		{"damaged", []envelope.Attachment{zipped("a.pdf", append([]byte("PK\x03\x04"), bytes.Repeat([]byte("x"), 100)...))}},
		{"bomb: ratio", []envelope.Attachment{zipped("a.pdf", zipOf(t, map[string][]byte{"a.pdf": bytes.Repeat(mib, 3)}))}},
		{"bombs in aggregate", []envelope.Attachment{
			{Name: "a.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte("%PDF"), 1<<18)},
			{Name: "b.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte("%PDF"), 1<<18)},
			{Name: "c.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte("%PDF"), 1<<18)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newInbox(t.TempDir(), "", 2<<20, nil)
			err := x.write(&localapi.InboxItem{ID: "in-1"}, tt.atts)
			if !errors.Is(err, errUndeliverable) {
				t.Fatalf("write = %v, want it undeliverable", err)
			}
			if _, err := os.Stat(filepath.Join(x.dir, "in-1")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused package left a folder behind: %v", err)
			}
		})
	}
}

// What the inbox does take: the cleaned name handed on, the sender's kept.
func TestInboxKeepsSenderName(t *testing.T) {
	x := newInbox(t.TempDir(), "", 1<<20, nil)
	item := &localapi.InboxItem{ID: "in-1"}
	if err := x.write(item, []envelope.Attachment{{Name: "../../x\u202Efdp.exe", ContentType: "application/pdf", Data: []byte("%PDF")}}); err != nil {
		t.Fatal(err)
	}
	f := item.Files[0]
	if f.Name != "xfdp.exe" || f.SenderName != `"../../x\u202efdp.exe"` {
		t.Errorf("file = %+v, want the cleaned name and the sender's quoted", f)
	}
	if _, err := os.Stat(filepath.Join(x.dir, "in-1", fileName(f))); err != nil {
		t.Error(err)
	}
}

// A state folder that held a queue does not start with an empty one.
func TestExpectStore(t *testing.T) {
	fresh := t.TempDir()
	if err := expectStore(fresh); err != nil {
		t.Errorf("a new state folder: %v", err)
	}
	used := t.TempDir()
	os.MkdirAll(filepath.Join(used, "inbox", "in-0000000001"), 0o750)
	os.WriteFile(filepath.Join(used, "directory.db"), []byte("x"), 0o600)
	err := expectStore(used)
	if err == nil || !strings.Contains(err.Error(), "queue.db is missing") || !strings.Contains(err.Error(), "1 inbox item") {
		t.Errorf("queue.db gone from a used folder: %v, want a refusal naming the file and what is there", err)
	}
	os.WriteFile(filepath.Join(used, "queue.db"), nil, 0o600)
	if err := expectStore(used); err != nil {
		t.Errorf("with queue.db present: %v", err)
	}
}

func TestRecordOf(t *testing.T) {
	for in, want := range map[string]string{"in-0000000007": "in-0000000007", "in-0000000007-2": "in-0000000007", "in-0000000007-12": "in-0000000007"} {
		if got := recordOf(in); got != want {
			t.Errorf("recordOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// An item an earlier version kept only in item.json moves into the store
// at start; an answer's new item state is stored with the status, and
// after a restart the inbox reads it back from the store, and an answer
// the item already knows is not applied over a later state.
func TestInboxAnswerStateFromStore(t *testing.T) {
	store, in := fetchedRecord(t)
	x := newInbox(t.TempDir(), "", 1<<20, store)
	item := &localapi.InboxItem{ID: in.ID, State: localapi.InboxNew}
	if err := x.write(item, nil); err != nil {
		t.Fatal(err)
	}
	ab := answerMeta(item.ID, "03", time.Now())
	var st *queue.Record
	err := store.Update(context.Background(), func(tx queue.Tx) (err error) {
		if st, _, err = tx.Put(queue.Item{Dir: queue.Outbound, Key: "status:03", Payload: []byte("<edXML/>")}); err != nil {
			return err
		}
		_, err = queue.MergeMeta(tx, ab.id, ab.meta(st.ID))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	again := newInbox(x.dir, "", 1<<20, store)
	if err := again.load(); err != nil {
		t.Fatal(err)
	}
	got, _ := again.get(item.ID)
	if got.State != localapi.InboxAnswered || got.StatusCode != "03" || got.StatusID != st.ID {
		t.Fatalf("after restart: %s %s %s, want answered 03 %s", got.State, got.StatusCode, got.StatusID, st.ID)
	}
	if r, _ := queue.Get(context.Background(), store, in.ID); itemOf(r, item.ID) == nil {
		t.Fatal("the item of item.json was not moved into the store")
	}
	// A recall after the answer stays.
	_, err = again.change(item.ID, true, func(it *localapi.InboxItem) error {
		it.State, it.Recall = localapi.InboxRecall, true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Gone from disk, the item is still read from the store.
	os.RemoveAll(filepath.Join(x.dir, item.ID))
	third := newInbox(x.dir, "", 1<<20, store)
	if err := third.load(); err != nil {
		t.Fatal(err)
	}
	if got, _ := third.get(item.ID); got.State != localapi.InboxRecall {
		t.Errorf("after a recall and a restart: %s, want recall", got.State)
	}
}

// An upgraded gateway's items, kept only in item.json, all move into the
// store at its first start, a few hundred to a commit; those whose
// records were purged are left out.
func TestInboxMovesManyItemsIntoTheStore(t *testing.T) {
	store, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{}) // flushes counted
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	x := newInbox(t.TempDir(), "", 1<<20, nil)
	const n = 600
	var recs []*queue.Record
	err = store.Update(context.Background(), func(tx queue.Tx) error {
		for i := range n {
			r, _, err := tx.Put(queue.Item{Dir: queue.Inbound, Key: fmt.Sprint("axis:", i), Payload: []byte("<edXML/>")})
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := x.write(&localapi.InboxItem{ID: r.ID, State: localapi.InboxNew}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// One item whose record is gone.
	if err := x.write(&localapi.InboxItem{ID: "in-9999999999", State: localapi.InboxNew}, nil); err != nil {
		t.Fatal(err)
	}
	before := store.Flushes()
	again := newInbox(x.dir, "", 1<<20, store)
	if err := again.load(); err != nil {
		t.Fatal(err)
	}
	if items, _, _ := again.list(inboxFilter{}); len(items) != n {
		t.Errorf("%d items after the move, want %d", len(items), n)
	}
	if commits := store.Flushes() - before; commits > n/50 {
		t.Errorf("%d commits to move %d items", commits, n)
	}
	third := newInbox(t.TempDir(), "", 1<<20, store) // no folders: the store alone
	if err := third.load(); err != nil {
		t.Fatal(err)
	}
	if items, _, _ := third.list(inboxFilter{}); len(items) != n {
		t.Errorf("%d items read from the store alone, want %d", len(items), n)
	}
}

// The time an item was first answered a code is what reports count: the
// same answer given again later keeps it, another code gets its own.
func TestFirstAnswerTimeKept(t *testing.T) {
	store, in := fetchedRecord(t)
	first := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	for i, a := range []struct {
		code string
		at   time.Time
	}{{"03", first}, {"03", first.Add(time.Hour)}, {"05", first.Add(2 * time.Hour)}} {
		ab := answerMeta(in.ID, a.code, a.at)
		err := store.Update(context.Background(), func(tx queue.Tx) error { return mergeAbout(tx, ab.id, ab.meta(fmt.Sprint("out-", i))) })
		if err != nil {
			t.Fatal(err)
		}
	}
	r, _ := queue.Get(context.Background(), store, in.ID)
	if got := answeredAt(r, in.ID, "03"); !got.Equal(first) {
		t.Errorf("03 answered at %v, want the first time %v", got, first)
	}
	if got := answeredAt(r, in.ID, "05"); !got.Equal(first.Add(2 * time.Hour)) {
		t.Errorf("05 answered at %v", got)
	}
	if code, id, _ := answerOf(r, in.ID); code != "05" || id != "out-2" {
		t.Errorf("the last answer: %s %s, want 05 out-2", code, id)
	}
}

// fetchedRecord is a store holding one fetched package's record.
func fetchedRecord(t *testing.T) (*queue.Bolt, *queue.Record) {
	t.Helper()
	store, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	in, _, err := store.Put(queue.Item{Dir: queue.Inbound, Key: "axis:1", Payload: []byte("<edXML/>")})
	if err != nil {
		t.Fatal(err)
	}
	return store, in
}
