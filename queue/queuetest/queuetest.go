// Package queuetest holds every behaviour the engine relies on of a
// queue.Store, so that any implementation (bbolt on one node, a database
// shared by several) is held to the same contract by the same tests.
package queuetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lienthong/queue"
)

// LeaseTime is the lease time Open must give the store.
const LeaseTime = time.Minute

// Owner is the owner of the leases the store Open makes takes.
const Owner = "node-a"

// Open makes an empty store for one test, with now as its clock,
// LeaseTime as its lease time and Owner as the owner of its leases; the
// store is closed by Run.
type Open func(t *testing.T, now func() time.Time) queue.Store

// Clock is a clock the test moves by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock and returns the new time.
func (c *Clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Run runs every case of the contract against stores that open makes,
// checking each store's invariants after each case.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s queue.Store, c *Clock)
	}{
		{"PutIdempotent", putIdempotent},
		{"PutInvalid", putInvalid},
		{"PriorityThenAge", priorityThenAge},
		{"MinPriority", minPriority},
		{"NotBefore", notBefore},
		{"LeaseExpiresAndStaleFinishRefused", leaseExpires},
		{"Reschedule", reschedule},
		{"DeadLetterAndResend", deadLetterAndResend},
		{"Release", release},
		{"ChangeKeepsState", changeKeepsState},
		{"Claim", claim},
		{"FailedUpdateChangesNothing", failedUpdate},
		{"EventsInTheCommit", eventsInTheCommit},
		{"CursorOrder", cursorOrder},
		{"ViewIsReadOnly", viewIsReadOnly},
		{"Payloads", payloads},
		{"Purge", purge},
		{"GroupCounts", groupCounts},
		{"Ledger", ledger},
		{"ReportRows", reportRows},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
			s := open(t, c.Now)
			defer func() {
				if _, err := s.Check(); err != nil {
					t.Errorf("invariants after the case: %v", err)
				}
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}()
			tc.fn(t, s, c)
		})
	}
}

var ctx = context.Background()

func put(t *testing.T, s queue.Store, it queue.Item) *queue.Record {
	t.Helper()
	if it.Payload == nil {
		it.Payload = []byte("payload " + it.Key)
	}
	var rec *queue.Record
	var existed bool
	err := s.Update(ctx, func(tx queue.Tx) (err error) {
		rec, existed, err = tx.Put(it)
		return err
	})
	if err != nil || existed {
		t.Fatalf("Put(%s) = %v, existed %v", it.Key, err, existed)
	}
	return rec
}

func out(key string, prio int) queue.Item {
	return queue.Item{Dir: queue.Outbound, Key: key, Priority: prio}
}

func lease(t *testing.T, s queue.Store, now time.Time, dir queue.Direction, min int) *queue.Record {
	t.Helper()
	r, err := queue.Lease(ctx, s, now, dir, min)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	return r
}

func update(t *testing.T, s queue.Store, fn func(tx queue.Tx) (*queue.Record, error)) (*queue.Record, error) {
	t.Helper()
	var rec *queue.Record
	err := s.Update(ctx, func(tx queue.Tx) (err error) {
		rec, err = fn(tx)
		return err
	})
	return rec, err
}

func putIdempotent(t *testing.T, s queue.Store, c *Clock) {
	first := put(t, s, out("k", 0))
	var again *queue.Record
	var existed bool
	err := s.Update(ctx, func(tx queue.Tx) (err error) {
		again, existed, err = tx.Put(queue.Item{Dir: queue.Outbound, Key: "k", Payload: []byte("other")})
		return err
	})
	if err != nil || !existed || again.ID != first.ID || again.SHA256 != first.SHA256 {
		t.Fatalf("second Put = %+v, existed %v, %v; want the first record", again, existed, err)
	}
	other := put(t, s, queue.Item{Dir: queue.Inbound, Key: "k"})
	if other.ID == first.ID {
		t.Errorf("the same key in the other direction returned %s", other.ID)
	}
}

func putInvalid(t *testing.T, s queue.Store, c *Clock) {
	for _, it := range []queue.Item{{Dir: "sideways", Key: "k"}, {Dir: queue.Outbound}, {Dir: queue.Outbound, Key: "k", Priority: queue.MaxPriority + 1}} {
		err := s.Update(ctx, func(tx queue.Tx) error {
			_, _, err := tx.Put(it)
			return err
		})
		if !errors.Is(err, queue.ErrInvalid) {
			t.Errorf("Put(%+v) = %v, want ErrInvalid", it, err)
		}
	}
}

func priorityThenAge(t *testing.T, s queue.Store, c *Clock) {
	a := put(t, s, out("a", 0))
	c.Add(time.Second)
	b := put(t, s, out("b", 0))
	urgent := put(t, s, out("c", 3))
	for _, want := range []*queue.Record{urgent, a, b} {
		if got := lease(t, s, c.Now(), queue.Outbound, 0); got.ID != want.ID || got.State != queue.Leased || got.Attempts != 1 || got.Owner != Owner {
			t.Fatalf("leased %s (%s, attempt %d), want %s", got.ID, got.State, got.Attempts, want.ID)
		}
	}
	if _, err := queue.Lease(ctx, s, c.Now(), queue.Outbound, 0); !errors.Is(err, queue.ErrEmpty) {
		t.Errorf("Lease of an empty queue = %v, want ErrEmpty", err)
	}
	if _, err := queue.Lease(ctx, s, c.Now(), queue.Inbound, 0); !errors.Is(err, queue.ErrEmpty) {
		t.Errorf("Lease of the other direction = %v, want ErrEmpty", err)
	}
}

func minPriority(t *testing.T, s queue.Store, c *Clock) {
	put(t, s, out("slow", 0))
	fast := put(t, s, out("fast", 2))
	if got := lease(t, s, c.Now(), queue.Outbound, 2); got.ID != fast.ID {
		t.Fatalf("leased %s, want %s", got.ID, fast.ID)
	}
	if _, err := queue.Lease(ctx, s, c.Now(), queue.Outbound, 2); !errors.Is(err, queue.ErrEmpty) {
		t.Errorf("a priority 0 record leased at minimum 2: %v", err)
	}
}

func notBefore(t *testing.T, s queue.Store, c *Clock) {
	at := c.Now().Add(time.Hour)
	r := put(t, s, queue.Item{Dir: queue.Outbound, Key: "later", Priority: 4, NotBefore: at})
	if _, err := queue.Lease(ctx, s, at.Add(-time.Second), queue.Outbound, 0); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("leased before NotBefore: %v", err)
	}
	if due, ok := s.NextDue(ctx, queue.Outbound); !ok || !due.Equal(at) {
		t.Errorf("NextDue = %v, %v; want %v", due, ok, at)
	}
	if got := lease(t, s, at, queue.Outbound, 0); got.ID != r.ID {
		t.Errorf("leased %s at NotBefore, want %s", got.ID, r.ID)
	}
}

func leaseExpires(t *testing.T, s queue.Store, c *Clock) {
	put(t, s, out("k", 0))
	first := lease(t, s, c.Now(), queue.Outbound, 0)
	if _, err := queue.Lease(ctx, s, c.Now().Add(LeaseTime-time.Second), queue.Outbound, 0); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("leased twice within the lease: %v", err)
	}
	second := lease(t, s, c.Add(LeaseTime), queue.Outbound, 0)
	if second.ID != first.ID || second.Lease == first.Lease || second.Attempts != 2 {
		t.Fatalf("after expiry: %+v, want the same record under a new lease, attempt 2", second)
	}
	_, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) { return tx.Finish(c.Now(), first.ID, first.Lease, nil) })
	if !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("Finish under the stale lease = %v, want ErrLeaseLost", err)
	}
	for name, fn := range map[string]func(tx queue.Tx) (*queue.Record, error){
		"Reschedule": func(tx queue.Tx) (*queue.Record, error) {
			return tx.Reschedule(c.Now(), first.ID, first.Lease, c.Now(), "x")
		},
		"Kill":    func(tx queue.Tx) (*queue.Record, error) { return tx.Kill(c.Now(), first.ID, first.Lease, "x") },
		"Release": func(tx queue.Tx) (*queue.Record, error) { return tx.Release(c.Now(), first.ID, first.Lease, "x") },
	} {
		if _, err := update(t, s, fn); !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("%s under the stale lease = %v, want ErrLeaseLost", name, err)
		}
	}
	done, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Finish(c.Now(), second.ID, second.Lease, map[string]string{"sent": "1"})
	})
	if err != nil || done.State != queue.Done || done.Meta["sent"] != "1" {
		t.Fatalf("Finish = %+v, %v", done, err)
	}
	if got, _ := queue.Get(ctx, s, done.ID); got.State != queue.Done || got.Meta["sent"] != "1" {
		t.Errorf("stored: %+v", got)
	}
}

func reschedule(t *testing.T, s queue.Store, c *Clock) {
	put(t, s, out("k", 1))
	r := lease(t, s, c.Now(), queue.Outbound, 0)
	at := c.Now().Add(10 * time.Second)
	r, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Reschedule(c.Now(), r.ID, r.Lease, at, "connection refused")
	})
	if err != nil || r.State != queue.Ready || r.LastError != "connection refused" || !r.NextAttempt.Equal(at) {
		t.Fatalf("Reschedule = %+v, %v", r, err)
	}
	if _, err := queue.Lease(ctx, s, at.Add(-time.Nanosecond), queue.Outbound, 0); !errors.Is(err, queue.ErrEmpty) {
		t.Errorf("leased before its time: %v", err)
	}
	if got := lease(t, s, at, queue.Outbound, 0); got.ID != r.ID || got.Attempts != 2 {
		t.Errorf("leased %+v at its time, want %s on attempt 2", got, r.ID)
	}
}

func deadLetterAndResend(t *testing.T, s queue.Store, c *Clock) {
	put(t, s, out("k", 0))
	r := lease(t, s, c.Now(), queue.Outbound, 0)
	r, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Kill(c.Now(), r.ID, r.Lease, "unknown recipient 000.00.00.X99")
	})
	if err != nil || r.State != queue.Dead || r.LastError != "unknown recipient 000.00.00.X99" {
		t.Fatalf("Kill = %+v, %v", r, err)
	}
	if _, err := queue.Lease(ctx, s, c.Now(), queue.Outbound, 0); !errors.Is(err, queue.ErrEmpty) {
		t.Errorf("a dead letter was leased: %v", err)
	}
	if _, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) { return tx.Resend(c.Now(), "out-0000000099", "x") }); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Resend of a missing record = %v, want ErrNotFound", err)
	}
	r, err = update(t, s, func(tx queue.Tx) (*queue.Record, error) { return tx.Resend(c.Add(time.Hour), r.ID, "route fixed") })
	if err != nil || r.State != queue.Ready || r.Attempts != 0 {
		t.Fatalf("Resend = %+v, %v", r, err)
	}
	if _, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) { return tx.Resend(c.Now(), r.ID, "again") }); !errors.Is(err, queue.ErrState) {
		t.Errorf("Resend of a ready record = %v, want ErrState", err)
	}
	if got := lease(t, s, c.Now(), queue.Outbound, 0); got.ID != r.ID {
		t.Errorf("leased %s after the resend, want %s", got.ID, r.ID)
	}
}

func release(t *testing.T, s queue.Store, c *Clock) {
	put(t, s, queue.Item{Dir: queue.Inbound, Key: "k"})
	r := lease(t, s, c.Now(), queue.Inbound, 0)
	r, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Release(c.Add(time.Second), r.ID, r.Lease, "its worker died")
	})
	if err != nil || r.State != queue.Ready || r.Crashes != 1 || !r.NextAttempt.Equal(c.Now()) {
		t.Fatalf("Release = %+v, %v; want ready now with one crash", r, err)
	}
	if got := lease(t, s, c.Now(), queue.Inbound, 0); got.ID != r.ID || got.Crashes != 1 {
		t.Errorf("leased %+v, want %s with its crash counted", got, r.ID)
	}
}

func changeKeepsState(t *testing.T, s queue.Store, c *Clock) {
	r := put(t, s, out("k", 0))
	got, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Change(r.ID, func(r *queue.Record) error {
			r.Meta = map[string]string{"recalled": "1"}
			r.Data = []byte(`{"recipients":[{"organId":"000.00.00.G22","status":"03"}]}`)
			return nil
		})
	})
	if err != nil || got.Meta["recalled"] != "1" || !strings.Contains(string(got.Data), `"03"`) {
		t.Fatalf("Change = %+v, %v", got, err)
	}
	_, err = update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Change(r.ID, func(r *queue.Record) error { r.State = queue.Done; return nil })
	})
	if !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("Change of the state = %v, want ErrInvalid", err)
	}
	stored, _ := queue.Get(ctx, s, r.ID)
	if stored.State != queue.Ready || stored.Meta["recalled"] != "1" || !strings.Contains(string(stored.Data), `"03"`) {
		t.Errorf("stored: %+v", stored)
	}
	if _, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Change("out-0000000099", func(*queue.Record) error { return nil })
	}); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Change of a missing record = %v, want ErrNotFound", err)
	}
}

func claim(t *testing.T, s queue.Store, c *Clock) {
	a := put(t, s, queue.Item{Dir: queue.Inbound, Key: "axis:1"})
	b := put(t, s, queue.Item{Dir: queue.Inbound, Key: "axis:2"})
	if owner, err := queue.Claim(ctx, s, a.ID, "doc:X"); err != nil || owner != a.ID {
		t.Fatalf("first Claim = %s, %v", owner, err)
	}
	if owner, err := queue.Claim(ctx, s, b.ID, "doc:X"); err != nil || owner != a.ID {
		t.Fatalf("second Claim = %s, %v; want %s", owner, err, a.ID)
	}
	if got, err := queue.GetByKey(ctx, s, queue.Inbound, "doc:X"); err != nil || got.ID != a.ID {
		t.Errorf("GetByKey of the claim = %v, %v", got, err)
	}
	if _, err := queue.GetByKey(ctx, s, queue.Outbound, "doc:X"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("a claim seen in the other direction: %v", err)
	}
}

func failedUpdate(t *testing.T, s queue.Store, c *Clock) {
	kept := put(t, s, out("kept", 0))
	boom := errors.New("boom")
	var wg sync.WaitGroup
	var okErr error
	wg.Add(1)
	go func() { // a writer beside the failing one commits its own
		defer wg.Done()
		okErr = s.Update(ctx, func(tx queue.Tx) error {
			_, _, err := tx.Put(queue.Item{Dir: queue.Outbound, Key: "beside", Payload: []byte("x")})
			return err
		})
	}()
	err := s.Update(ctx, func(tx queue.Tx) error {
		r, _, err := tx.Put(queue.Item{Dir: queue.Outbound, Key: "lost", Payload: []byte("x")})
		if err != nil {
			return err
		}
		tx.Emit(queue.Event{Record: r.ID, Kind: "accepted"})
		if _, err := tx.Change(kept.ID, func(r *queue.Record) error { r.Meta = map[string]string{"x": "1"}; return nil }); err != nil {
			return err
		}
		return boom
	})
	wg.Wait()
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want its own error", err)
	}
	if okErr != nil {
		t.Errorf("the writer beside it: %v", okErr)
	}
	if _, err := queue.GetByKey(ctx, s, queue.Outbound, "lost"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("a failed Update's Put was kept: %v", err)
	}
	if got, _ := queue.Get(ctx, s, kept.ID); got.Meta["x"] != "" {
		t.Errorf("a failed Update's Change was kept: %v", got.Meta)
	}
	if _, err := queue.GetByKey(ctx, s, queue.Outbound, "beside"); err != nil {
		t.Errorf("the writer beside it was lost: %v", err)
	}
	if stats := s.Stats(); len(stats) != 1 || stats[0].Count != 2 {
		t.Errorf("Stats = %+v, want the two records that were kept", stats)
	}
}

func eventsInTheCommit(t *testing.T, s queue.Store, c *Clock) {
	var mu sync.Mutex
	var heard []queue.Event
	s.Subscribe(func(evs []queue.Event) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, evs...)
	})
	r := put(t, s, out("k", 0))
	err := s.Update(ctx, func(tx queue.Tx) error {
		tx.Emit(queue.Event{Record: r.ID, Kind: "accepted", Attrs: map[string]string{"client": "dms"}})
		tx.Emit(queue.Event{Record: r.ID, Kind: "signed"})
		evs, err := tx.Events(r.ID)
		if len(evs) != 2 {
			return fmt.Errorf("inside the transaction: %d events, %v", len(evs), err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Second)
	lr := lease(t, s, c.Now(), queue.Outbound, 0)
	err = s.Update(ctx, func(tx queue.Tx) error {
		if _, err := tx.Finish(c.Now(), lr.ID, lr.Lease, nil); err != nil {
			return err
		}
		tx.Emit(queue.Event{Record: r.ID, Kind: "sent", Attrs: map[string]string{"axisDocId": "D1"}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Update(ctx, func(tx queue.Tx) error {
		tx.Emit(queue.Event{Record: r.ID, Kind: "never"})
		return errors.New("rolled back")
	})
	evs, err := queue.Events(ctx, s, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i, ev := range evs {
		kinds = append(kinds, ev.Kind)
		if ev.Record != r.ID || ev.At.IsZero() || (i > 0 && ev.Seq <= evs[i-1].Seq) {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	if !slices.Equal(kinds, []string{"accepted", "signed", "sent"}) || evs[0].Attrs["client"] != "dms" || evs[2].Attrs["axisDocId"] != "D1" {
		t.Errorf("history = %+v", evs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 3 || heard[2].Kind != "sent" {
		t.Errorf("subscribers heard %+v, want the three committed events", heard)
	}
	if evs, _ := queue.Events(ctx, s, "out-0000000099"); len(evs) != 0 {
		t.Errorf("events of a missing record: %+v", evs)
	}
	if err := s.Update(ctx, func(tx queue.Tx) error { tx.Emit(queue.Event{Kind: "orphan"}); return nil }); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("an event naming no record = %v, want ErrInvalid", err)
	}
}

func cursorOrder(t *testing.T, s queue.Store, c *Clock) {
	var want []string
	for i := range 25 {
		dir := queue.Outbound
		if i%3 == 0 {
			dir = queue.Inbound
		}
		r := put(t, s, queue.Item{Dir: dir, Key: fmt.Sprint("k", i), Priority: i % 5, Meta: map[string]string{"n": fmt.Sprint(i % 2)}})
		want = append([]string{r.ID}, want...)
		c.Add(time.Second)
	}
	walk := func(f queue.Filter) []string {
		var ids []string
		for pages := 0; ; pages++ {
			recs, next, err := queue.List(ctx, s, f)
			if err != nil {
				t.Fatal(err)
			}
			if next != "" && len(recs) != f.Limit {
				t.Errorf("a page of %d, not %d, says more follow", len(recs), f.Limit)
			}
			for _, r := range recs {
				ids = append(ids, r.ID)
			}
			if next == "" || pages > 30 {
				return ids
			}
			f.After = next
		}
	}
	if got := walk(queue.Filter{Limit: 10}); !slices.Equal(got, want) {
		t.Errorf("all, 10 a page:\n got %v\nwant %v", got, want)
	}
	var even []string
	for _, id := range want {
		r, _ := queue.Get(ctx, s, id)
		if r.Meta["n"] == "0" && r.Dir == queue.Outbound {
			even = append(even, id)
		}
	}
	f := queue.Filter{Dir: queue.Outbound, Limit: 3, Match: func(r *queue.Record) bool { return r.Meta["n"] == "0" }}
	if got := walk(f); !slices.Equal(got, even) {
		t.Errorf("matching, 3 a page:\n got %v\nwant %v", got, even)
	}
	lease(t, s, c.Now(), queue.Outbound, 0)
	if got := walk(queue.Filter{States: []queue.State{queue.Leased}, Limit: 5}); len(got) != 1 {
		t.Errorf("leased: %v, want one", got)
	}
	if _, _, err := queue.List(ctx, s, queue.Filter{After: "not a cursor"}); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("a made-up cursor = %v, want ErrInvalid", err)
	}
}

func viewIsReadOnly(t *testing.T, s queue.Store, c *Clock) {
	err := s.View(ctx, func(tx queue.Tx) error {
		_, _, err := tx.Put(queue.Item{Dir: queue.Outbound, Key: "k", Payload: []byte("x")})
		return err
	})
	if !errors.Is(err, queue.ErrReadOnly) {
		t.Errorf("Put in a View = %v, want ErrReadOnly", err)
	}
}

func payloads(t *testing.T, s queue.Store, c *Clock) {
	for _, size := range []int{0, 100, 1 << 20} {
		data := bytes.Repeat([]byte("văn bản "), size/9+1)[:size]
		it := queue.Item{Dir: queue.Outbound, Key: fmt.Sprint("size", size), Payload: data}
		rel, err := s.Stage(ctx, &it)
		if err != nil {
			t.Fatal(err)
		}
		r := put(t, s, it)
		rel()
		if r.Size != int64(size) {
			t.Errorf("size %d stored as %d", size, r.Size)
		}
		p, err := s.OpenPayload(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("payload of %d bytes read back as %d, %v", size, len(got), err)
		}
		at, ok := p.(interface {
			io.ReaderAt
			Size() int64
		})
		if !ok {
			t.Errorf("payload of %d bytes is not readable by offset with its size", size)
		} else if at.Size() != int64(size) {
			t.Errorf("payload Size = %d, want %d", at.Size(), size)
		}
		p.Close()
	}
}

func purge(t *testing.T, s queue.Store, c *Clock) {
	old := put(t, s, out("old", 0))
	r := lease(t, s, c.Now(), queue.Outbound, 0)
	err := s.Update(ctx, func(tx queue.Tx) error {
		if _, err := tx.Finish(c.Now(), r.ID, r.Lease, nil); err != nil {
			return err
		}
		tx.Emit(queue.Event{Record: r.ID, Kind: "sent"})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Hour)
	waiting := put(t, s, out("waiting", 0))
	if n, err := s.Purge(ctx, queue.Done, c.Now().Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want the one done record", n, err)
	}
	if _, err := queue.Get(ctx, s, old.ID); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("purged record still there: %v", err)
	}
	if evs, _ := queue.Events(ctx, s, old.ID); len(evs) != 0 {
		t.Errorf("purged record's events still there: %+v", evs)
	}
	if _, err := queue.Get(ctx, s, waiting.ID); err != nil {
		t.Errorf("a ready record was purged: %v", err)
	}
	again := put(t, s, out("old", 0))
	if again.ID == old.ID {
		t.Errorf("a purged key came back as the purged record")
	}
}

func groupCounts(t *testing.T, s queue.Store, c *Clock) {
	first := put(t, s, queue.Item{Dir: queue.Outbound, Key: "a1", Group: "A"})
	c.Add(time.Minute)
	put(t, s, queue.Item{Dir: queue.Outbound, Key: "a2", Group: "A"})
	put(t, s, queue.Item{Dir: queue.Outbound, Key: "b1", Group: "B", Priority: 3})
	put(t, s, queue.Item{Dir: queue.Outbound, Key: "none"})
	r := lease(t, s, c.Now(), queue.Outbound, 3) // B's
	count := func(st queue.State) map[string]queue.GroupStats {
		gs, err := s.Groups(ctx, queue.Outbound, st)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]queue.GroupStats{}
		for _, g := range gs {
			m[g.Group] = g
		}
		return m
	}
	ready := count(queue.Ready)
	if len(ready) != 1 || ready["A"].Count != 2 || !ready["A"].Oldest.Equal(first.Created) {
		t.Errorf("ready by group = %+v, want A: 2, oldest %v", ready, first.Created)
	}
	if leased := count(queue.Leased); len(leased) != 1 || leased["B"].Count != 1 {
		t.Errorf("leased by group = %+v, want B: 1", leased)
	}
	if _, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) { return tx.Finish(c.Now(), r.ID, r.Lease, nil) }); err != nil {
		t.Fatal(err)
	}
	if done := count(queue.Done); done["B"].Count != 1 || len(count(queue.Leased)) != 0 {
		t.Errorf("after finishing: done %+v, leased %+v", done, count(queue.Leased))
	}
	if _, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		return tx.Change(first.ID, func(r *queue.Record) error { r.Group = "B"; return nil })
	}); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("Change of the group = %v, want ErrInvalid", err)
	}
}

// ledger: the lines a commit's events make are pending once it commits,
// and none of a failed commit; sealing moves them, oldest first, with the
// hashes the sealer makes, and a failed seal moves nothing; checkpoints
// are kept by size, the first of a size staying.
func ledger(t *testing.T, s queue.Store, c *Clock) {
	l, ok := s.(queue.Ledger)
	if !ok {
		t.Fatal("the store keeps no evidence log (queue.Ledger)")
	}
	enter := func(evs []queue.Event) (lines [][]byte) {
		for _, ev := range evs {
			if ev.Kind == "sent" {
				lines = append(lines, []byte(ev.Record+" "+ev.Attrs["n"]))
			}
		}
		return lines
	}
	l.Enter(enter, nil)
	r := put(t, s, out("k", 0))
	for i := range 3 {
		err := s.Update(ctx, func(tx queue.Tx) error {
			tx.Emit(queue.Event{Record: r.ID, Kind: "sent", Attrs: map[string]string{"n": fmt.Sprint(i)}})
			tx.Emit(queue.Event{Record: r.ID, Kind: "retry"})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Update(ctx, func(tx queue.Tx) error {
		tx.Emit(queue.Event{Record: r.ID, Kind: "sent", Attrs: map[string]string{"n": "failed"}})
		return errors.New("no")
	})
	if n, err := l.Pending(ctx); n != 3 || err != nil {
		t.Fatalf("pending = %d, %v; want the 3 lines of the commits", n, err)
	}
	hash := func(b []byte) (h [32]byte) { copy(h[:], b); return h }
	seal := func(size int64, pending [][]byte, read func([]int64) ([][32]byte, error)) ([][]byte, [][32]byte, error) {
		if size > 0 {
			if _, err := read([]int64{size - 1}); err != nil {
				return nil, nil, err
			}
		}
		var es [][]byte
		var hs [][32]byte
		for i, p := range pending {
			e := fmt.Appendf(nil, "%d:%s", size+int64(i), p)
			es, hs = append(es, e), append(hs, hash(e))
		}
		return es, hs, nil
	}
	if _, err := l.Seal(ctx, 10, func(int64, [][]byte, func([]int64) ([][32]byte, error)) ([][]byte, [][32]byte, error) {
		return nil, nil, errors.New("refused")
	}); err == nil {
		t.Fatal("a failed seal reported no error")
	}
	for _, want := range []int{2, 1, 0} {
		if n, err := l.Seal(ctx, 2, seal); n != want || err != nil {
			t.Fatalf("Seal = %d, %v; want %d", n, err, want)
		}
	}
	if e, h, err := l.LogSize(ctx); e != 3 || h != 3 || err != nil {
		t.Fatalf("LogSize = %d, %d, %v", e, h, err)
	}
	es, err := l.LogEntries(ctx, 1, 10)
	if err != nil || len(es) != 2 || string(es[0]) != "1:"+r.ID+" 1" || string(es[1]) != "2:"+r.ID+" 2" {
		t.Fatalf("LogEntries(1) = %q, %v", es, err)
	}
	hs, err := l.LogHashes(ctx, []int64{2, 0})
	if err != nil || hs[0] != hash(es[1]) || hs[1] != hash([]byte("0:"+r.ID+" 0")) {
		t.Fatalf("LogHashes = %x, %v", hs, err)
	}
	if _, err := l.LogHashes(ctx, []int64{3}); !errors.Is(err, queue.ErrLogDamaged) {
		t.Fatalf("a hash never stored: %v", err)
	}
	if _, ok, err := l.LastCheckpoint(ctx); ok || err != nil {
		t.Fatal("a checkpoint before any was added", err)
	}
	for _, cp := range []queue.Checkpoint{{Size: 2, Note: []byte("two")}, {Size: 3, Note: []byte("three")}, {Size: 2, Note: []byte("again")}} {
		cp.At = c.Now()
		if err := l.AddCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.StampCheckpoint(ctx, 3, []byte("token")); err != nil {
		t.Fatal(err)
	}
	if err := l.StampCheckpoint(ctx, 9, []byte("token")); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("stamp of no checkpoint: %v", err)
	}
	cps, err := l.Checkpoints(ctx, 0, 10)
	if err != nil || len(cps) != 2 || string(cps[0].Note) != "two" || cps[1].Size != 3 || string(cps[1].Timestamp) != "token" {
		t.Fatalf("Checkpoints = %+v, %v", cps, err)
	}
	if cps, _ := l.Checkpoints(ctx, 3, 10); len(cps) != 1 {
		t.Fatalf("Checkpoints from 3 = %+v", cps)
	}
	if last, ok, err := l.LastCheckpoint(ctx); !ok || err != nil || last.Size != 3 || !last.At.Equal(c.Now()) {
		t.Fatalf("LastCheckpoint = %+v, %v, %v", last, ok, err)
	}
	// Given a sealer, a store may seal a commit's lines in it: either way
	// each line is an entry once Seal ran, in the order of the commits.
	l.Enter(enter, seal)
	for i := 3; i < 5; i++ {
		err := s.Update(ctx, func(tx queue.Tx) error {
			tx.Emit(queue.Event{Record: r.ID, Kind: "sent", Attrs: map[string]string{"n": fmt.Sprint(i)}})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pending, _ := l.Pending(ctx)
	size, _, _ := l.LogSize(ctx)
	if pending+size != 5 {
		t.Fatalf("%d pending and %d sealed of 5 lines", pending, size)
	}
	if _, err := l.Seal(ctx, 10, seal); err != nil {
		t.Fatal(err)
	}
	if es, err := l.LogEntries(ctx, 3, 10); err != nil || len(es) != 2 || string(es[1]) != "4:"+r.ID+" 4" {
		t.Fatalf("entries sealed with a sealer: %q, %v", es, err)
	}
}

// reportRows: a record's row is made in each commit that writes it, from
// the record as committed, read by creation time, and kept after the
// record is purged until its own purge.
func reportRows(t *testing.T, s queue.Store, c *Clock) {
	rp, ok := s.(queue.Reporter)
	if !ok {
		t.Fatal("the store keeps no report rows (queue.Reporter)")
	}
	rp.ReportRows(func(r *queue.Record) []byte {
		if r.Meta["skip"] != "" {
			return nil
		}
		return []byte(fmt.Sprintf("%s %s %s", r.Key, r.State, r.Meta["code"]))
	})
	start := c.Now()
	var ids []string
	for i := range 5 {
		r := put(t, s, queue.Item{Dir: queue.Outbound, Key: fmt.Sprint("r", i), Payload: []byte("x"), Meta: map[string]string{"code": "00"}})
		ids = append(ids, r.ID)
		c.Add(time.Minute)
	}
	put(t, s, queue.Item{Dir: queue.Outbound, Key: "skipped", Payload: []byte("x"), Meta: map[string]string{"skip": "1"}})
	r := lease(t, s, c.Now(), queue.Outbound, 0)
	if _, err := update(t, s, func(tx queue.Tx) (*queue.Record, error) {
		if _, err := tx.Finish(c.Now(), r.ID, r.Lease, map[string]string{"code": "01"}); err != nil {
			return nil, err
		}
		return queue.MergeMeta(tx, r.ID, map[string]string{"code": "03"})
	}); err != nil {
		t.Fatal(err)
	}
	// A failed update writes no row.
	if err := s.Update(ctx, func(tx queue.Tx) error {
		if _, err := queue.MergeMeta(tx, ids[1], map[string]string{"code": "99"}); err != nil {
			return err
		}
		return errors.New("rolled back")
	}); err == nil {
		t.Fatal("the update did not fail")
	}
	read := func(since, until time.Time) []string {
		t.Helper()
		var got []string
		err := rp.EachReportRow(ctx, since, until, func(id string, created time.Time, row []byte) bool {
			if created.Before(since) || !created.Before(until) {
				t.Errorf("row of %s created %v, outside [%v, %v)", id, created, since, until)
			}
			got = append(got, id+" "+string(row))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := []string{
		ids[0] + " r0 done 03", ids[1] + " r1 ready 00", ids[2] + " r2 ready 00", ids[3] + " r3 ready 00", ids[4] + " r4 ready 00",
	}
	if got := read(start, c.Now().Add(time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("rows:\n%q\nwant\n%q", got, want)
	}
	if got := read(start.Add(time.Minute), start.Add(3*time.Minute)); !slices.Equal(got, want[1:3]) {
		t.Fatalf("rows of [1m, 3m): %q, want %q", got, want[1:3])
	}
	// Purging the finished record keeps its row; purging rows keeps the newer.
	if n, err := s.Purge(ctx, queue.Done, c.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if got := read(start, c.Now().Add(time.Hour)); len(got) != 5 {
		t.Fatalf("rows after the record's purge: %q", got)
	}
	if n, err := rp.PurgeReportRows(ctx, start.Add(2*time.Minute)); err != nil || n != 2 {
		t.Fatalf("rows purged: %d, %v; want 2", n, err)
	}
	if got := read(start, c.Now().Add(time.Hour)); !slices.Equal(got, want[2:]) {
		t.Fatalf("rows after their purge: %q, want %q", got, want[2:])
	}
}
