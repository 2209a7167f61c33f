package gateway

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lienthong/queue"
	"lienthong/queue/queuetest"
)

func openTestStore(t *testing.T, c *queuetest.Clock) queue.Store {
	t.Helper()
	s, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{Now: c.Now, NoSync: true, LeaseTime: time.Minute, Owner: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := s.Check(); err != nil {
			t.Errorf("after the test: %v", err)
		}
		s.Close()
	})
	return s
}

func putRecord(t *testing.T, s queue.Store, dir queue.Direction, key string) *queue.Record {
	t.Helper()
	var r *queue.Record
	err := s.Update(context.Background(), func(tx queue.Tx) (err error) {
		r, _, err = tx.Put(queue.Item{Dir: dir, Key: key, Payload: []byte("p")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A failed attempt waits base·2^(n-1), capped, with full jitter, then is
// dead after the attempts or the age allowed; each outcome is an event.
func TestRetryPolicy(t *testing.T) {
	c := queuetest.NewClock(time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
	s := openTestStore(t, c)
	var ceilings []time.Duration
	p := retryPolicy{base: 10 * time.Second, cap: 30 * time.Second, maxAttempts: 5, maxAge: time.Hour,
		jitter: func(max time.Duration) time.Duration { ceilings = append(ceilings, max); return max }}
	r := putRecord(t, s, queue.Outbound, "k")
	ctx := context.Background()
	for i := range 4 {
		leased, err := queue.Lease(ctx, s, c.Now(), queue.Outbound, 0)
		if err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		got, err := retryRecord(s, p, c.Now(), leased, errors.New("connection refused"))
		if err != nil || got.State != queue.Ready || got.LastError != "connection refused" {
			t.Fatalf("retry %d = %+v, %v", i+1, got, err)
		}
		c.Add(got.NextAttempt.Sub(c.Now()))
	}
	if want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second}; !slices.Equal(ceilings, want) {
		t.Errorf("jitter ceilings %v, want %v", ceilings, want)
	}
	leased, _ := queue.Lease(ctx, s, c.Now(), queue.Outbound, 0)
	dead, err := retryRecord(s, p, c.Now(), leased, errors.New("still refused"))
	if err != nil || dead.State != queue.Dead || !strings.Contains(dead.LastError, "5 attempts failed, last: still refused") {
		t.Fatalf("after 5 attempts: %+v, %v; want dead", dead, err)
	}
	evs, _ := queue.Events(ctx, s, r.ID)
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if want := []string{evRetry, evRetry, evRetry, evRetry, evDead}; !slices.Equal(kinds, want) || evs[0].Attrs[atError] != "connection refused" || evs[0].Attrs[atNextAttempt] == "" {
		t.Errorf("events %+v, want four retries with their error and time, then dead", evs)
	}

	old := putRecord(t, s, queue.Outbound, "old")
	leased, _ = queue.Lease(ctx, s, c.Add(2*time.Hour), queue.Outbound, 0)
	if leased.ID != old.ID {
		t.Fatalf("leased %s, want %s", leased.ID, old.ID)
	}
	if got, err := retryRecord(s, p, c.Now(), leased, errors.New("timeout")); err != nil || got.State != queue.Dead || !strings.Contains(got.LastError, "older than 1h0m0s") {
		t.Errorf("a record past its age: %+v, %v; want dead", got, err)
	}
}

// At start, work a dead process held is due at once: an outbound send is
// marked for reconciling, and an inbound package whose processing died
// with the process three times in a row is set aside; an outbound one
// never is.
func TestReleaseAtStart(t *testing.T) {
	c := queuetest.NewClock(time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
	s := openTestStore(t, c)
	ctx := context.Background()
	in := putRecord(t, s, queue.Inbound, "poison")
	out := putRecord(t, s, queue.Outbound, "o")
	for crash := 1; crash <= maxCrashes; crash++ {
		for _, dir := range []queue.Direction{queue.Inbound, queue.Outbound} {
			if _, err := queue.Lease(ctx, s, c.Now(), dir, 0); err != nil {
				t.Fatalf("crash %d: lease %s: %v", crash, dir, err)
			}
		}
		left, aside, err := releaseAtStart(s, c.Now(), "node-a")
		if err != nil {
			t.Fatal(err)
		}
		if crash < maxCrashes && (len(aside) != 0 || left[queue.Inbound] != 1 || left[queue.Outbound] != 1) {
			t.Fatalf("crash %d: set aside %d, released %v; want both back in the queue", crash, len(aside), left)
		}
		if crash == maxCrashes && (len(aside) != 1 || aside[0].ID != in.ID || left[queue.Outbound] != 1) {
			t.Fatalf("crash %d: set aside %v, released %v; want the inbound record dead, the outbound one back", crash, aside, left)
		}
	}
	got, _ := queue.Get(ctx, s, in.ID)
	if got.State != queue.Dead || !strings.Contains(got.LastError, "died 3 times") {
		t.Errorf("poison record = %s %q, want dead with the reason", got.State, got.LastError)
	}
	got, _ = queue.Get(ctx, s, out.ID)
	if got.State != queue.Ready || !got.NextAttempt.Equal(c.Now()) || !readOut(got).Ambiguous {
		t.Errorf("outbound record = %+v, want ready now and marked for reconciling", got)
	}
	if left, aside, err := releaseAtStart(s, c.Now(), "node-a"); err != nil || len(left) != 0 || len(aside) != 0 {
		t.Errorf("with nothing held: %v, %v, %v", left, aside, err)
	}
}

// A lease another node holds on a shared store is not this node's to
// release at start: it ends by itself, or its owner releases it.
func TestReleaseAtStartLeavesOtherOwners(t *testing.T) {
	c := queuetest.NewClock(time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "queue.db")
	open := func(owner string) *queue.Bolt {
		s, err := queue.Open(path, queue.Options{Now: c.Now, NoSync: true, LeaseTime: time.Minute, Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	b := open("node-b")
	theirs := putRecord(t, b, queue.Outbound, "theirs")
	if _, err := queue.Lease(ctx, b, c.Now(), queue.Outbound, 0); err != nil {
		t.Fatal(err)
	}
	b.Close()
	a := open("node-a")
	defer a.Close()
	if left, _, err := releaseAtStart(a, c.Now(), "node-a"); err != nil || len(left) != 0 {
		t.Errorf("released %v, %v; want nothing of node-b's", left, err)
	}
	if got, _ := queue.Get(ctx, a, theirs.ID); got.State != queue.Leased || got.Owner != "node-b" {
		t.Errorf("node-b's record = %s held by %q, want still leased to node-b", got.State, got.Owner)
	}
}

// finishFirst is a store on which another node finishes a record just
// before the next write: a lease lost between a read and a change.
type finishFirst struct {
	queue.Store
	now  time.Time
	rec  *queue.Record
	once sync.Once
}

func (s *finishFirst) Update(ctx context.Context, fn func(queue.Tx) error) error {
	var err error
	s.once.Do(func() {
		err = s.Store.Update(ctx, func(tx queue.Tx) error {
			_, err := tx.Finish(s.now, s.rec.ID, s.rec.Lease, nil)
			return err
		})
	})
	if err != nil {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// A record the dead process held, whose lease ran out and which another
// node finished before this one started, is left to it: the node starts,
// and releases the rest.
func TestReleaseAtStartAfterAnotherNodeFinished(t *testing.T) {
	c := queuetest.NewClock(time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
	s := openTestStore(t, c)
	ctx := context.Background()
	putRecord(t, s, queue.Outbound, "finished elsewhere")
	putRecord(t, s, queue.Outbound, "ours")
	first, err := queue.Lease(ctx, s, c.Now(), queue.Outbound, 0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := queue.Lease(ctx, s, c.Now(), queue.Outbound, 0)
	if err != nil {
		t.Fatal(err)
	}
	left, _, err := releaseAtStart(&finishFirst{Store: s, now: c.Now(), rec: first}, c.Now(), "node-a")
	if err != nil || left[queue.Outbound] != 1 {
		t.Fatalf("released %v, %v; want the one record still ours", left, err)
	}
	if got, _ := queue.Get(ctx, s, first.ID); got.State != queue.Done {
		t.Errorf("the record finished elsewhere = %s, want done", got.State)
	}
	if got, _ := queue.Get(ctx, s, second.ID); got.State != queue.Ready {
		t.Errorf("ours = %s, want ready", got.State)
	}
}
