package evidence_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"lienthong/gateway/evidence"
	"lienthong/queue"
)

var ctx = context.Background()

// logged is a store whose commits each add an entry for a package: a
// record whose payload is the package, and an event naming it.
type logged struct {
	path   string
	skey   string
	sealer queue.SealFunc // nil: lines wait pending for Seal
	store  *queue.Bolt
	log    *evidence.Log
	docs   map[string]string // record → document id
}

func newLogged(t *testing.T, sealer queue.SealFunc) *logged {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queue.db")
	skey, _, err := evidence.KeyFile(filepath.Join(t.TempDir(), "evidence.key"), "lienthong/000.00.07.H26")
	if err != nil {
		t.Fatal(err)
	}
	l := &logged{path: path, skey: skey, sealer: sealer, docs: map[string]string{}}
	l.open(t, skey)
	return l
}

func (l *logged) open(t *testing.T, skey string) {
	t.Helper()
	s, err := queue.Open(l.path, queue.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Enter(func(evs []queue.Event) (lines [][]byte) {
		for _, ev := range evs {
			a := ev.Attrs
			lines = append(lines, evidence.Pending(evidence.Entry{Kind: ev.Kind, Direction: "out", Agency: "000.00.07.H26",
				Counterpart: "000.00.00.G22", DocumentID: a["doc"], Record: ev.Record, SHA256: a["sha256"], StatusCode: a["code"]}, ev.At))
		}
		return lines
	}, l.sealer)
	l.store = s
	if l.log, err = evidence.New(s, skey, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
}

// send stores a package and its entry in one commit.
func (l *logged) send(t *testing.T, doc, kind, code string, body []byte) string {
	t.Helper()
	var id string
	err := l.store.Update(ctx, func(tx queue.Tx) error {
		r, _, err := tx.Put(queue.Item{Dir: queue.Outbound, Key: fmt.Sprint(doc, kind, code, len(l.docs)), Payload: body})
		if err != nil {
			return err
		}
		id = r.ID
		sum := sha256.Sum256(body)
		tx.Emit(queue.Event{Record: r.ID, Kind: kind, Attrs: map[string]string{"doc": doc, "sha256": hex.EncodeToString(sum[:]), "code": code}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l.docs[id] = doc
	return id
}

func (l *logged) verify(t *testing.T) *evidence.Report {
	t.Helper()
	rep, err := evidence.Verify(ctx, l.store, l.log.VerifierKey(), evidence.StoreSums(l.store))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A log of many entries, sealed in several batches and checkpointed
// between them, verifies; each checkpoint is a signed note of the C2SP
// form whose origin is the key's name.
func TestLogVerifies(t *testing.T) {
	l := newLogged(t, nil)
	for i := range 2500 {
		l.send(t, fmt.Sprintf("000.00.07.H26,2026/03/16,%d/UBND", i/3), "sent", "", fmt.Appendf(nil, "<edXML n=%d/>", i))
		if i%700 == 0 {
			if _, err := l.log.Seal(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := l.log.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := l.log.Seal(ctx); err != nil || n != 2500-2101 {
		t.Fatalf("Seal = %d, %v", n, err)
	}
	cp, err := l.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(cp.Note), "\n")
	if lines[0] != "lienthong/000.00.07.H26" || lines[1] != "2500" || !strings.HasPrefix(lines[4], "— lienthong/000.00.07.H26 ") {
		t.Fatalf("checkpoint:\n%s", cp.Note)
	}
	rep := l.verify(t)
	if !rep.OK() || rep.Entries != 2500 || rep.Checkpoints != 5 || rep.Packages != 2500 {
		t.Fatalf("report: %+v", rep)
	}
}

// Each alteration of the store is found and named: a package's bytes, an
// entry, a stored hash, a checkpoint signed by another key.
func TestVerifyNamesAlterations(t *testing.T) {
	l := newLogged(t, evidence.Seal)
	var ids []string
	for i := range 20 {
		ids = append(ids, l.send(t, fmt.Sprint("doc", i), "sent", "", fmt.Appendf(nil, "<edXML n=%d/>", i)))
	}
	l.log.Seal(ctx)
	l.log.Checkpoint(ctx)
	if rep := l.verify(t); !rep.OK() {
		t.Fatalf("before: %+v", rep.Problems)
	}
	// Another key signs a checkpoint of one more entry.
	l.send(t, "doc20", "sent", "", []byte("<edXML n=20/>"))
	other, _, _ := note.GenerateKey(nil, "lienthong/000.00.07.H26")
	forged, err := evidence.New(l.store, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged.Seal(ctx)
	forged.Checkpoint(ctx)
	l.store.Close()
	db, err := bolt.Open(l.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		key := func(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
		e := tx.Bucket([]byte("log.entries"))
		if err := e.Put(key(7), bytes.Replace(e.Get(key(7)), []byte("doc7"), []byte("doc8"), 1)); err != nil {
			return err
		}
		if err := tx.Bucket([]byte("log.hashes")).Put(key(uint64(tlog.StoredHashIndex(0, 18))), make([]byte, 32)); err != nil {
			return err
		}
		p := tx.Bucket([]byte("payloads"))
		return p.Put([]byte(ids[3]), []byte("<edXML n=33/>"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	l.open(t, l.skey)
	rep := l.verify(t)
	all := strings.Join(rep.Problems, "\n")
	for _, want := range []string{
		"checkpoint of size 20: its root hash is not the tree of the entries",
		"stored hash 11 (level 0, node 7) is not the tree's",
		"stored hash 34 (level 0, node 18) is not the tree's",
		"entry 3: the package of record " + ids[3] + " was altered",
		"checkpoint of size 21: checkpoint not signed by lienthong/000.00.07.H26",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem %q in:\n%s", want, all)
		}
	}
}

// A bundle for one document holds its entries, their packages and a proof
// that an inclusion check written here, from RFC 9162 alone, accepts; it
// verifies, and each change to it is named.
func TestBundle(t *testing.T) {
	l := newLogged(t, evidence.Seal)
	for i := range 37 {
		l.send(t, fmt.Sprint("doc", i%5), "sent", "", fmt.Appendf(nil, "<edXML n=%d/>", i))
	}
	l.send(t, "doc2", "received", "03", []byte("<status>03</status>"))
	b, err := l.log.Prove(ctx, evidence.Select{DocumentID: "doc2"}, evidence.StorePackages(l.store))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.log.Prove(ctx, evidence.Select{DocumentID: "nothing"}, evidence.StorePackages(l.store)); !errors.Is(err, evidence.ErrNoEntries) {
		t.Fatalf("a bundle of no entry: %v", err)
	}
	var p evidence.Proof
	if err := json.Unmarshal(b.Files["proof.json"], &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 8 || p.TreeSize != 38 || p.Entries[7].Index != 37 {
		t.Fatalf("proof: %d entries, tree %d", len(p.Entries), p.TreeSize)
	}
	root := checkpointRoot(t, p.Checkpoint)
	dir := t.TempDir()
	if err := b.Write(ctx, dir); err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Entries {
		entry, _ := base64.StdEncoding.DecodeString(e.Entry)
		var path [][]byte
		for _, s := range e.AuditPath {
			h, _ := base64.StdEncoding.DecodeString(s)
			path = append(path, h)
		}
		if !rfc9162Included(e.Index, p.TreeSize, entry, path, root) {
			t.Errorf("entry %d: the RFC 9162 inclusion check fails", e.Index)
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.File))
		sum := sha256.Sum256(data)
		var ent evidence.Entry
		json.Unmarshal(entry, &ent)
		if ent.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("entry %d: file %s is not its package", e.Index, e.File)
		}
	}
	if probs, err := evidence.VerifyBundle(dir, l.log.VerifierKey()); err != nil || len(probs) > 0 {
		t.Fatalf("VerifyBundle = %q, %v", probs, err)
	}
	// As the API hands it out: a tar stream, read into a folder.
	var tarred bytes.Buffer
	if err := b.WriteTar(ctx, &tarred); err != nil {
		t.Fatal(err)
	}
	fromTar := t.TempDir()
	if err := evidence.ReadTar(&tarred, fromTar); err != nil {
		t.Fatal(err)
	}
	if probs, err := evidence.VerifyBundle(fromTar, l.log.VerifierKey()); err != nil || len(probs) > 0 {
		t.Fatalf("VerifyBundle of the tar stream = %q, %v", probs, err)
	}
	file := p.Entries[2].File
	pathHash := p.Entries[4].AuditPath[1]
	sig := strings.Split(p.Checkpoint, "\n")[4]
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"package byte", file, "n=", "m=", "entry " + fmt.Sprint(p.Entries[2].Index) + ": package " + file + " changed"},
		{"entry byte", "entries.jsonl", `"doc2"`, `"doc3"`, "entry 2: changed: proof.json and line 1 of entries.jsonl differ"},
		{"entry byte in proof.json", "proof.json", p.Entries[3].Entry[:16], flip(p.Entries[3].Entry[:16]), "entry " + fmt.Sprint(p.Entries[3].Index) + ": changed"},
		{"audit path hash", "proof.json", pathHash, flip(pathHash), "entry " + fmt.Sprint(p.Entries[4].Index) + ": its audit path does not lead to the checkpoint's root"},
		{"checkpoint signature", "proof.json", jsonString(sig), jsonString(sig[:len(sig)-6] + "AAAAA="), "checkpoint: checkpoint not signed by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			b.Write(ctx, d)
			path := filepath.Join(d, tc.file)
			data, _ := os.ReadFile(path)
			changed := strings.Replace(string(data), tc.old, tc.new, 1)
			if changed == string(data) {
				t.Fatalf("%q not in %s", tc.old, tc.file)
			}
			os.WriteFile(path, []byte(changed), 0o600)
			probs, err := evidence.VerifyBundle(d, l.log.VerifierKey())
			if err != nil || !strings.Contains(strings.Join(probs, "\n"), tc.want) {
				t.Fatalf("VerifyBundle = %q, %v; want %q", probs, err, tc.want)
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// flip changes the first character of a base64 hash to another.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func checkpointRoot(t *testing.T, cp string) []byte {
	t.Helper()
	lines := strings.Split(cp, "\n")
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		t.Fatalf("checkpoint root %q", lines[2])
	}
	return root
}

// rfc9162Included is the inclusion check of RFC 9162, section 2.1.3.2,
// as written there.
func rfc9162Included(index, size int64, entry []byte, path [][]byte, root []byte) bool {
	if index >= size {
		return false
	}
	h := func(parts ...[]byte) []byte {
		d := sha256.New()
		for _, p := range parts {
			d.Write(p)
		}
		return d.Sum(nil)
	}
	fn, sn := index, size-1
	r := h([]byte{0}, entry)
	for _, p := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = h([]byte{1}, p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = h([]byte{1}, r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && bytes.Equal(r, root)
}
