package queue

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// mustOpen opens a store in a temporary folder and checks its invariants
// when the test ends.
func mustOpen(tb testing.TB, opts Options) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "queue.db"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := s.Check(); err != nil {
			tb.Errorf("after the test: %v", err)
		}
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func testOptions(c *clock) Options {
	return Options{Now: c.Now, NoSync: true, LeaseTime: time.Minute, RetryBase: 10 * time.Second, RetryCap: time.Hour,
		Jitter: func(max time.Duration) time.Duration { return max }}
}

func put(t *testing.T, s *Store, key string, prio int) *Record {
	t.Helper()
	r, existed, err := s.Put(Item{Dir: Outbound, Key: key, Priority: prio, Payload: []byte("payload " + key)})
	if err != nil || existed {
		t.Fatalf("Put(%s) = %v, existed %v", key, err, existed)
	}
	return r
}

func lease(t *testing.T, s *Store, now time.Time) *Record {
	t.Helper()
	r, err := s.Lease(now, Outbound, 0)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	return r
}

func TestPutIdempotent(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	first := put(t, s, "doc-1", 0)
	again, existed, err := s.Put(Item{Dir: Outbound, Key: "doc-1", Payload: []byte("other bytes")})
	if err != nil || !existed || again.ID != first.ID {
		t.Fatalf("second Put = %v, %v, %v; want the first record %s", again, existed, err, first.ID)
	}
	if p, _ := s.Payload(again); string(p) != "payload doc-1" {
		t.Errorf("payload = %q, want the first Put's", p)
	}
	// The same key in the other direction is another record.
	if _, existed, _ := s.Put(Item{Dir: Inbound, Key: "doc-1", Payload: nil}); existed {
		t.Error("inbound Put with an outbound key reported existed")
	}
}

func TestPutInvalid(t *testing.T) {
	s := mustOpen(t, testOptions(newClock()))
	for _, it := range []Item{{Dir: "sideways", Key: "k"}, {Dir: Outbound}, {Dir: Outbound, Key: "k", Priority: 5}} {
		if _, _, err := s.Put(it); !errors.Is(err, ErrInvalid) {
			t.Errorf("Put(%+v) = %v, want ErrInvalid", it, err)
		}
	}
}

func TestLeaseOrder(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	var ids []string
	for i, p := range []int{0, 1, 0, 3, 2, 3} {
		c.Add(time.Second)
		ids = append(ids, put(t, s, fmt.Sprint("k", i), p).ID)
	}
	want := []string{ids[3], ids[5], ids[4], ids[1], ids[0], ids[2]}
	var got []string
	for range want {
		got = append(got, lease(t, s, c.Now()).ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lease order (-want +got):\n%s", diff)
	}
	if _, err := s.Lease(c.Now(), Outbound, 0); !errors.Is(err, ErrEmpty) {
		t.Errorf("Lease on an empty queue = %v, want ErrEmpty", err)
	}
}

func TestLeaseMinPriority(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	put(t, s, "normal", 0)
	urgent := put(t, s, "urgent", 3)
	if r, err := s.Lease(c.Now(), Outbound, 2); err != nil || r.ID != urgent.ID {
		t.Fatalf("urgent lane lease = %v, %v", r, err)
	}
	if _, err := s.Lease(c.Now(), Outbound, 2); !errors.Is(err, ErrEmpty) {
		t.Errorf("urgent lane with only a normal record = %v, want ErrEmpty", err)
	}
}

func TestNotBefore(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	at := c.Now().Add(time.Hour)
	timed, _, err := s.Put(Item{Dir: Outbound, Key: "timed", Priority: 4, NotBefore: at, Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	normal := put(t, s, "normal", 0)
	if r := lease(t, s, c.Now()); r.ID != normal.ID {
		t.Errorf("before its time, leased %s, want the normal %s", r.ID, normal.ID)
	}
	if next, ok := s.NextDue(Outbound); !ok || !next.Equal(at) {
		t.Errorf("NextDue = %v %v, want %v", next, ok, at)
	}
	if r := lease(t, s, at); r.ID != timed.ID {
		t.Errorf("at its time, leased %s, want %s", r.ID, timed.ID)
	}
}

func TestLeaseExpiresAndLeaseLost(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	put(t, s, "k", 0)
	first := lease(t, s, c.Now())
	if _, err := s.Lease(c.Now(), Outbound, 0); !errors.Is(err, ErrEmpty) {
		t.Fatalf("leased twice: %v", err)
	}
	second := lease(t, s, c.Add(61*time.Second))
	if second.ID != first.ID || second.Attempts != 2 || second.Lease == first.Lease {
		t.Fatalf("after expiry leased %+v", second)
	}
	if _, err := s.Done(c.Now(), first.ID, first.Lease, nil); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Done with the expired lease = %v, want ErrLeaseLost", err)
	}
	done, err := s.Done(c.Now(), second.ID, second.Lease, map[string]string{"docId": "axis-1"})
	if err != nil || done.State != Done || done.Meta["docId"] != "axis-1" {
		t.Fatalf("Done = %+v, %v", done, err)
	}
	var states []State
	for _, h := range done.History {
		states = append(states, h.To)
	}
	if diff := cmp.Diff([]State{Ready, Leased, Ready, Leased, Done}, states); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// A lone writer never waits for company: with an hour's window, its
// writes still commit one after another at once.
func TestCommitWindowLoneWriter(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.CommitWindow = time.Hour
	s := mustOpen(t, opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			if _, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint("k", i), Payload: []byte("p")}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // twenty lone commits take milliseconds
		t.Fatal("a lone writer waited for company")
	}
	if st := s.Stats(); len(st) != 1 || st[0].Count != 20 {
		t.Errorf("stats = %+v", st)
	}
}

// A record stored leased is the caller's to finish; nobody else leases it
// until its lease ends, and then it is due like any other.
func TestPutLeased(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	r, existed, err := s.Put(Item{Dir: Inbound, Key: "k", Payload: []byte("p"), Leased: true})
	if err != nil || existed || r.State != Leased || r.Attempts != 1 || r.Lease == 0 || !r.LeaseUntil.Equal(c.Now().Add(time.Minute)) {
		t.Fatalf("Put leased = %+v, existed %v, %v", r, existed, err)
	}
	if _, err := s.Lease(c.Now(), Inbound, 0); !errors.Is(err, ErrEmpty) {
		t.Fatalf("a record stored leased was leased again: %v", err)
	}
	again, existed, err := s.Put(Item{Dir: Inbound, Key: "k", Payload: []byte("p"), Leased: true})
	if err != nil || !existed || again.Lease != r.Lease {
		t.Fatalf("second Put of the key = %+v, existed %v, %v; want the first record, its lease untouched", again, existed, err)
	}
	if got := s.Stats(); len(got) != 1 || got[0].State != Leased || got[0].Count != 1 {
		t.Errorf("stats = %+v, want one leased record", got)
	}
	// The caller stopped: the lease ends and the record is due again.
	second, err := s.Lease(c.Add(61*time.Second), Inbound, 0)
	if err != nil || second.ID != r.ID || second.Attempts != 2 {
		t.Fatalf("after the lease ended: %+v, %v", second, err)
	}
	if _, err := s.Done(c.Now(), r.ID, r.Lease, nil); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Done with the ended lease = %v, want ErrLeaseLost", err)
	}
	if _, err := s.Done(c.Now(), second.ID, second.Lease, nil); err != nil {
		t.Error(err)
	}
}

func TestRetryBackoffAndDead(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.MaxAttempts = 4
	s := mustOpen(t, opts)
	put(t, s, "k", 1)
	waits := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}
	for _, w := range waits {
		r := lease(t, s, c.Now())
		r, err := s.Retry(c.Now(), r.ID, r.Lease, errors.New("connection refused"))
		if err != nil || r.State != Ready || r.LastError != "connection refused" {
			t.Fatalf("Retry = %+v, %v", r, err)
		}
		if got := r.NextAttempt.Sub(c.Now()); got != w {
			t.Errorf("attempt %d waits %v, want %v", r.Attempts, got, w)
		}
		if _, err := s.Lease(c.Add(w-time.Nanosecond), Outbound, 0); !errors.Is(err, ErrEmpty) {
			t.Errorf("leased before the backoff ended: %v", err)
		}
		c.Add(time.Nanosecond)
	}
	r := lease(t, s, c.Now())
	r, err := s.Retry(c.Now(), r.ID, r.Lease, errors.New("still refused"))
	if err != nil || r.State != Dead {
		t.Fatalf("after %d attempts: %+v, %v; want dead", opts.MaxAttempts, r, err)
	}
	if _, err := s.Resend("out-0000000099", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resend of a missing record = %v", err)
	}
	r, err = s.Resend(r.ID, "operator fixed the route")
	if err != nil || r.State != Ready || r.Attempts != 0 {
		t.Fatalf("Resend = %+v, %v", r, err)
	}
	if _, err := s.Resend(r.ID, "again"); !errors.Is(err, ErrState) {
		t.Errorf("Resend of a ready record = %v, want ErrState", err)
	}
}

func TestBackoffCappedWithFullJitter(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	var maxes []time.Duration
	opts.Jitter = func(max time.Duration) time.Duration { maxes = append(maxes, max); return 0 }
	opts.RetryCap = 30 * time.Second
	s := mustOpen(t, opts)
	put(t, s, "k", 0)
	for i := 0; i < 4; i++ {
		r := lease(t, s, c.Now())
		if _, err := s.Retry(c.Now(), r.ID, r.Lease, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second}
	if diff := cmp.Diff(want, maxes); diff != "" {
		t.Errorf("jitter ceilings (-want +got):\n%s", diff)
	}
}

func TestDeadAfterMaxAge(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.MaxAge = time.Hour
	s := mustOpen(t, opts)
	put(t, s, "k", 0)
	r := lease(t, s, c.Add(2*time.Hour))
	r, err := s.Retry(c.Now(), r.ID, r.Lease, errors.New("timeout"))
	if err != nil || r.State != Dead {
		t.Fatalf("Retry of an old record = %+v, %v; want dead", r, err)
	}
}

func TestDeadDirectly(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	put(t, s, "k", 0)
	r := lease(t, s, c.Now())
	r, err := s.Dead(c.Now(), r.ID, r.Lease, "unknown recipient 000.00.00.X99")
	if err != nil || r.State != Dead || r.LastError != "unknown recipient 000.00.00.X99" {
		t.Fatalf("Dead = %+v, %v", r, err)
	}
}

func TestRecipientsAndMeta(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	r := put(t, s, "k", 0)
	for _, rc := range []Recipient{
		{OrganID: "000.00.00.G22", Status: "01", UpdatedAt: c.Now()},
		{OrganID: "000.00.00.H26", Status: "01", UpdatedAt: c.Now()},
		{OrganID: "000.00.00.G22", Status: "03", Description: "vào sổ 12", UpdatedAt: c.Now()},
	} {
		if _, _, err := s.UpdateRecipient(r.ID, rc, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetMeta(r.ID, map[string]string{"documentId": "d1"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []Recipient{
		{OrganID: "000.00.00.G22", Status: "03", Description: "vào sổ 12", UpdatedAt: c.Now()},
		{OrganID: "000.00.00.H26", Status: "01", UpdatedAt: c.Now()},
	}
	if diff := cmp.Diff(want, got.Recipients); diff != "" || got.Meta["documentId"] != "d1" {
		t.Errorf("recipients (-want +got):\n%s meta %v", diff, got.Meta)
	}
}

// Reports racing each other: only one that passes the test against the
// entry as it is when written wins, so the highest status stays.
func TestUpdateRecipientTestsInsideTheWrite(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	r := put(t, s, "k", 0)
	forward := func(next string) func(Recipient) bool {
		return func(cur Recipient) bool { return next > cur.Status }
	}
	var wg sync.WaitGroup
	for range 20 {
		for _, code := range []string{"01", "03", "04", "05", "06"} {
			wg.Go(func() {
				if _, _, err := s.UpdateRecipient(r.ID, Recipient{OrganID: "000.00.00.G22", Status: code}, forward(code)); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	got, err := s.Get(r.ID)
	if err != nil || len(got.Recipients) != 1 || got.Recipients[0].Status != "06" {
		t.Fatalf("after racing reports: %+v, %v; want one recipient at 06", got.Recipients, err)
	}
	if _, applied, err := s.UpdateRecipient(r.ID, Recipient{OrganID: "000.00.00.G22", Status: "01"}, forward("01")); err != nil || applied {
		t.Errorf("a late 01: applied %v, %v; want kept at 06", applied, err)
	}
}

// A report and the end of the record that carried it commit together:
// both, or, when the carrier's lease is lost, neither.
func TestApplyReportIsOneWrite(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	sent := put(t, s, "sent", 0)
	put(t, s, "carrier", 0)
	lease(t, s, c.Now()) // sent, the older
	carrier := lease(t, s, c.Now())
	rc := Recipient{OrganID: "000.00.00.G22", Status: "03"}
	if _, _, _, err := s.ApplyReport(c.Now(), carrier.ID, carrier.Lease+1, nil, sent.ID, rc, nil, false); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("with a lost lease: %v, want ErrLeaseLost", err)
	}
	if got, _ := s.Get(sent.ID); len(got.Recipients) != 0 {
		t.Fatalf("the report was kept without its carrier's end: %+v", got.Recipients)
	}
	third := put(t, s, "third", 0)
	rec, applied, next, err := s.ApplyReport(c.Now(), carrier.ID, carrier.Lease, map[string]string{"k": "v"}, sent.ID, rc, nil, true)
	if err != nil || !applied || len(rec.Recipients) != 1 {
		t.Fatalf("ApplyReport = %+v, %v, %v", rec, applied, err)
	}
	if next == nil || next.ID != third.ID || next.State != Leased {
		t.Errorf("the next record, leased in the same commit: %+v", next)
	}
	if got, _ := s.Get(carrier.ID); got.State != Done || got.Meta["k"] != "v" {
		t.Errorf("carrier after the report: %s %v, want done with its meta", got.State, got.Meta)
	}
}

// A status received and applied before it was stored takes one commit:
// the record done, the status on the record it is about. A key stored
// already applies nothing again; a record gone stores nothing.
func TestPutFinishedWithStatus(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	sent := put(t, s, "sent", 0)
	later := func(cur Recipient) bool { return cur.Status < "03" }
	st := &StatusReport{ID: sent.ID, Recipient: Recipient{OrganID: "000.00.00.G22", Status: "03"}, Replaces: later}
	r, existed, err := s.Put(Item{Dir: Inbound, Key: "in", Payload: []byte("status"), Finish: map[string]string{"k": "v"}, Status: st})
	if err != nil || existed || r.State != Done || r.Meta["k"] != "v" || r.Attempts != 1 {
		t.Fatalf("Put finished = %+v, existed %v, %v", r, existed, err)
	}
	if !st.Applied || len(st.Record.Recipients) != 1 || st.Record.Recipients[0].Status != "03" {
		t.Fatalf("status outcome = applied %v, %+v", st.Applied, st.Record)
	}
	if got, _ := s.Get(sent.ID); len(got.Recipients) != 1 || got.Recipients[0].Status != "03" {
		t.Errorf("the record it is about: %+v", got.Recipients)
	}
	again := &StatusReport{ID: sent.ID, Recipient: Recipient{OrganID: "000.00.00.G22", Status: "05"}}
	if _, existed, err := s.Put(Item{Dir: Inbound, Key: "in", Payload: []byte("status"), Finish: map[string]string{}, Status: again}); err != nil || !existed || again.Applied {
		t.Fatalf("second Put of the key: existed %v, applied %v, %v", existed, again.Applied, err)
	}
	if got, _ := s.Get(sent.ID); got.Recipients[0].Status != "03" {
		t.Errorf("a stored key applied its status again: %+v", got.Recipients)
	}
	gone := &StatusReport{ID: "out-9999999999", Recipient: Recipient{OrganID: "000.00.00.G22", Status: "03"}}
	if _, _, err := s.Put(Item{Dir: Inbound, Key: "other", Payload: []byte("s"), Finish: map[string]string{}, Status: gone}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a status about a record gone: %v, want ErrNotFound", err)
	}
	if _, err := s.GetByKey(Inbound, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stored although its status could not be applied: %v", err)
	}
}

// Put's Also lands in the same commit, with the new record's id, also
// when the key existed; naming a record that is gone stores nothing.
func TestPutAlso(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	other := put(t, s, "other", 0)
	also := map[string]func(string) map[string]string{other.ID: func(id string) map[string]string { return map[string]string{"by": id} }}
	r, _, err := s.Put(Item{Dir: Outbound, Key: "k", Payload: []byte("p"), Also: also})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(other.ID); got.Meta["by"] != r.ID {
		t.Errorf("other's meta = %v, want by=%s", got.Meta, r.ID)
	}
	if _, existed, err := s.Put(Item{Dir: Outbound, Key: "k", Payload: []byte("p"), Also: map[string]func(string) map[string]string{other.ID: func(id string) map[string]string { return map[string]string{"again": id} }}}); err != nil || !existed {
		t.Fatalf("second Put: existed %v, %v", existed, err)
	}
	if got, _ := s.Get(other.ID); got.Meta["again"] != r.ID {
		t.Errorf("Also of an existing key: %v", got.Meta)
	}
	gone := map[string]func(string) map[string]string{"outbound-9999999999": func(string) map[string]string { return nil }}
	if _, _, err := s.Put(Item{Dir: Outbound, Key: "k2", Payload: []byte("p"), Also: gone}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Also naming a missing record: %v, want ErrNotFound", err)
	}
	if _, err := s.GetByKey(Outbound, "k2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the record was stored although its Also failed: %v", err)
	}
}

// Closing a record and leasing the next is one commit; with nothing due,
// the record is closed and next is nil.
func TestDoneAndLease(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	put(t, s, "a", 0)
	put(t, s, "b", 2)
	first := lease(t, s, c.Now())
	before := s.Flushes()
	done, next, err := s.DoneAndLease(c.Now(), first.ID, first.Lease, map[string]string{"sent": "1"}, Outbound, 0)
	if err != nil || done.State != Done || done.Meta["sent"] != "1" || next == nil || next.State != Leased {
		t.Fatalf("DoneAndLease = %+v, %+v, %v", done, next, err)
	}
	if n := s.Flushes() - before; n != 0 {
		t.Errorf("%d flushes counted with syncing off", n)
	}
	if _, last, err := s.DoneAndLease(c.Now(), next.ID, next.Lease, nil, Outbound, 0); err != nil || last != nil {
		t.Errorf("with nothing due: next %+v, %v", last, err)
	}
	if got, _ := s.Get(next.ID); got.State != Done {
		t.Errorf("the second record: %s, want done", got.State)
	}
}

func TestBlobPayloadsAndPurge(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.BlobThreshold = 1024
	s := mustOpen(t, opts)
	big := bytes.Repeat([]byte("b"), 4096)
	r1, _, err := s.Put(Item{Dir: Outbound, Key: "a", Payload: big})
	if err != nil || !r1.Blob {
		t.Fatalf("Put big = %+v, %v; want a blob", r1, err)
	}
	r2, _, _ := s.Put(Item{Dir: Outbound, Key: "b", Payload: big}) // same content, same file
	if p, err := s.Payload(r2); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("Payload = %d bytes, %v", len(p), err)
	}
	for range 2 {
		r := lease(t, s, c.Now())
		if _, err := s.Done(c.Now(), r.ID, r.Lease, nil); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
	}
	// Only the first is old enough: the shared file must stay.
	if n, err := s.Purge(c.Now().Add(-90 * time.Minute)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if _, err := s.Payload(r2); err != nil {
		t.Fatalf("shared blob removed with the first record: %v", err)
	}
	if n, err := s.Purge(c.Now()); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if entries, _ := os.ReadDir(s.blobs); len(entries) != 0 {
		t.Errorf("blob folder still holds %d files", len(entries))
	}
	if _, err := s.Get(r1.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("purged record still there: %v", err)
	}
	// A purged key may be used again.
	if _, existed, _ := s.Put(Item{Dir: Outbound, Key: "a", Payload: big}); existed {
		t.Error("a purged key still reported existed")
	}
}

func TestStatsAndList(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	first := put(t, s, "a", 0)
	c.Add(time.Minute)
	put(t, s, "b", 0)
	put(t, s, "c", 3)
	lease(t, s, c.Now()) // takes c
	got := s.Stats()
	want := []GroupStats{
		{Dir: Outbound, State: Ready, Priority: 0, Count: 2, Oldest: first.Created},
		{Dir: Outbound, State: Leased, Priority: 3, Count: 1, Oldest: c.Now()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	list, _, err := s.List(Filter{Dir: Outbound, States: []State{Ready}})
	if err != nil || len(list) != 2 || list[1].ID != first.ID {
		t.Errorf("List ready = %d records, %v", len(list), err)
	}
}

func TestConcurrentPutsShareCommits(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, _, err := s.Put(Item{Dir: Inbound, Key: fmt.Sprint(g, "-", i), Payload: []byte("x")}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	list, _, _ := s.List(Filter{Limit: 10000})
	if len(list) != 800 {
		t.Errorf("stored %d records, want 800", len(list))
	}
}

func TestCheckFindsBrokenIndex(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := put(t, s, "k", 0)
	err = s.write(func(tx *bolt.Tx, d delta) error { return tx.Bucket(bucketReady).Delete(readyKey(r)) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(); err == nil {
		t.Fatal("Check passed with a record missing from the ready index")
	}
}

func TestBackupAndCompact(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.BlobThreshold = 1024
	dir := t.TempDir()
	path := filepath.Join(dir, "q.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		size := 100
		if i%50 == 0 {
			size = 5000
		}
		if _, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint(i), Payload: bytes.Repeat([]byte{byte(i)}, size)}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	s.Close()

	restored := filepath.Join(t.TempDir(), "queue.db")
	extract(t, &buf, filepath.Dir(restored))
	r, err := Open(restored, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Check(); err != nil || rep.Records != 200 {
		t.Fatalf("restored backup: %+v, %v", rep, err)
	}
	r.Close()

	before, after, err := Compact(path)
	if err != nil || after <= 0 || after > before {
		t.Fatalf("Compact = %d → %d, %v", before, after, err)
	}
	s, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := s.Check(); err != nil || rep.Records != 200 {
		t.Fatalf("after compact: %+v, %v", rep, err)
	}
	if _, _, err := Compact(path); err == nil {
		t.Error("Compact of an open store succeeded")
	}
}

func extract(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, _, err := s.Put(Item{Dir: Outbound, Key: "k"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
}

// TestCloseWhileWriting races writers with Close: every write must either
// commit or fail with ErrClosed, none may hang.
func TestCloseWhileWriting(t *testing.T) {
	for range 20 {
		s, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					_, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint(g, "-", i), Payload: []byte("x")})
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		s.Close()
		wg.Wait()
	}
}

func TestClaim(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	a, b := put(t, s, "a", 0), put(t, s, "b", 0)
	if owner, err := s.Claim(a.ID, "doc:X"); err != nil || owner != a.ID {
		t.Fatalf("Claim(a, doc:X) = %q, %v; want %q", owner, err, a.ID)
	}
	if owner, err := s.Claim(b.ID, "doc:X"); err != nil || owner != a.ID {
		t.Fatalf("Claim(b, doc:X) = %q, %v; want the first claimer %q", owner, err, a.ID)
	}
	if r, err := s.GetByKey(Outbound, "doc:X"); err != nil || r.ID != a.ID {
		t.Fatalf("GetByKey(doc:X) = %v, %v; want %s", r, err, a.ID)
	}
	if _, err := s.Claim(b.ID, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Claim with an empty key = %v, want ErrInvalid", err)
	}
	r := lease(t, s, c.Now())
	if _, err := s.Done(c.Now(), r.ID, r.Lease, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Purge(c.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if _, err := s.GetByKey(Outbound, "doc:X"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after purge GetByKey(doc:X) = %v, want ErrNotFound", err)
	}
	if owner, err := s.Claim(b.ID, "doc:X"); err != nil || owner != b.ID {
		t.Fatalf("Claim after purge = %q, %v; want %q", owner, err, b.ID)
	}
}

// Leases left by a dead process are released at start, due at once, each
// with the mark for its direction.
func TestReleaseLeasesAtStart(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	out := put(t, s, "o", 3)
	if _, _, err := s.Put(Item{Dir: Inbound, Key: "i", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	lease(t, s, c.Now())
	if _, err := s.Lease(c.Now(), Inbound, 0); err != nil {
		t.Fatal(err)
	}
	n, _, err := s.ReleaseLeases(c.Now(), map[Direction]map[string]string{Outbound: {"ambiguous": "1"}})
	if err != nil || n[Outbound] != 1 || n[Inbound] != 1 {
		t.Fatalf("ReleaseLeases = %v, %v; want one lease each way", n, err)
	}
	got, err := s.Get(out.ID)
	if err != nil || got.State != Ready || !got.NextAttempt.Equal(c.Now()) || got.Meta["ambiguous"] != "1" {
		t.Fatalf("released record = %+v, %v; want ready now with the mark", got, err)
	}
	if r, err := s.Lease(c.Now(), Outbound, 0); err != nil || r.ID != out.ID {
		t.Fatalf("Lease after release = %v, %v; want %s again at once", r, err, out.ID)
	}
}

// An inbound record whose processing kills the process is set aside as
// dead after MaxCrashes deaths in a row; an outbound one never is.
func TestPoisonSetAsideAfterCrashes(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	in, _, err := s.Put(Item{Dir: Inbound, Key: "poison", Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	out := put(t, s, "o", 0)
	for crash := 1; crash <= 3; crash++ {
		if _, err := s.Lease(c.Now(), Inbound, 0); err != nil {
			t.Fatalf("crash %d: lease: %v", crash, err)
		}
		lease(t, s, c.Now())
		n, aside, err := s.ReleaseLeases(c.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if crash < 3 && (len(aside) != 0 || n[Inbound] != 1) {
			t.Fatalf("crash %d: set aside %d, released %v; want it back in the queue", crash, len(aside), n)
		}
		if crash == 3 && (len(aside) != 1 || aside[0].ID != in.ID || n[Outbound] != 1) {
			t.Fatalf("crash 3: set aside %v, released %v; want the inbound record dead, the outbound one back", aside, n)
		}
	}
	got, _ := s.Get(in.ID)
	if got.State != Dead || !strings.Contains(got.LastError, "died 3 times") {
		t.Errorf("poison record = %s %q, want dead with the reason", got.State, got.LastError)
	}
	if got, _ := s.Get(out.ID); got.State != Ready {
		t.Errorf("outbound record = %s, want ready", got.State)
	}
}

// An empty or truncated queue file is refused with its name and the way
// back, never opened as an empty queue or mapped past its end.
func TestOpenRefusesDamagedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, _, err := s.Put(Item{Dir: Inbound, Key: fmt.Sprint(i), Payload: bytes.Repeat([]byte("x"), 8000), Meta: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	fi, _ := os.Stat(path)
	for _, size := range []int64{0, fi.Size() / 2, 100} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{NoSync: true})
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "queue backup") {
			t.Errorf("Open of a %d-byte file = %v, want ErrDamaged naming the recovery", size, err)
		}
	}
}

// A payload handed over as a file is moved into the store, not copied
// whole through memory; a small one is kept inline as a Payload would be.
func TestPutFile(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	for _, size := range []int{100, 200 << 10} {
		data := bytes.Repeat([]byte("x"), size)
		f, err := os.CreateTemp(s.TempDir(), "in-*")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
		f.Close()
		r, _, err := s.Put(Item{Dir: Inbound, Key: fmt.Sprint(size), File: f.Name()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("size %d: the handed-over file is still there", size)
		}
		got, err := s.Payload(r)
		if err != nil || !bytes.Equal(got, data) || r.Blob != (size >= 64<<10) {
			t.Errorf("size %d: payload %d bytes, %v, blob %v", size, len(got), err, r.Blob)
		}
		if p, err := s.PayloadPath(r); err != nil || (p != "") != r.Blob {
			t.Errorf("size %d: PayloadPath = %q, %v", size, p, err)
		}
	}
}
