package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
	"lienthong/queue/pgstore"
	"lienthong/queue/pgstore/pgtest"
	"lienthong/queue/queuetest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(m, &cluster) }

func open(t *testing.T, dsn string, now func() time.Time) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Now: now, LeaseTime: queuetest.LeaseTime, Owner: queuetest.Owner, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The PostgreSQL store meets the store contract, unchanged.
func TestPostgresConformance(t *testing.T) {
	pgtest.Need(t, cluster)
	queuetest.Run(t, func(t *testing.T, now func() time.Time) queue.Store {
		return open(t, cluster.NewDatabase(t), now)
	})
}

// twoNodes opens two stores on one new database, as two nodes would,
// closed when the test ends.
func twoNodes(t *testing.T) (a, b *pgstore.Store, clock *queuetest.Clock, dsn string) {
	t.Helper()
	pgtest.Need(t, cluster)
	dsn = cluster.NewDatabase(t)
	clock = queuetest.NewClock(time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
	a, b = open(t, dsn, clock.Now), open(t, dsn, clock.Now)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, clock, dsn
}

// Two nodes leasing from one database at once never hold one record
// together, and every record is leased exactly once; the most urgent go
// first whichever node asks.
func TestTwoNodesLeaseEachRecordOnce(t *testing.T) {
	a, b, clock, _ := twoNodes(t)
	ctx := context.Background()
	const n = 200
	for i := range n {
		err := a.Update(ctx, func(tx queue.Tx) error {
			_, _, err := tx.Put(queue.Item{Dir: queue.Outbound, Key: fmt.Sprint("k", i), Priority: i % 3, Payload: []byte{byte(i)}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var order []int
	var wg sync.WaitGroup
	for _, s := range []*pgstore.Store{a, b, a, b} {
		wg.Go(func() {
			for {
				r, err := queue.Lease(ctx, s, clock.Now(), queue.Outbound, 0)
				if errors.Is(err, queue.ErrEmpty) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[r.ID]++
				order = append(order, r.Priority)
				mu.Unlock()
				if err := s.Update(ctx, func(tx queue.Tx) error { _, err := tx.Finish(clock.Now(), r.ID, r.Lease, nil); return err }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d records leased, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s leased %d times", id, k)
		}
	}
	// Four workers at once: a less urgent record may start while the last
	// few urgent ones are in flight, never before.
	for i, p := range order {
		if p < 2 && i < n/3-4 {
			t.Errorf("a priority %d record was leased %dth, before the urgent ones", p, i+1)
			break
		}
	}
	if _, err := a.Check(); err != nil {
		t.Error(err)
	}
}

// A lease taken by one node and expired is taken over by the other; the
// first node's finish is then refused, so it stops.
func TestLeaseFencedAcrossNodes(t *testing.T) {
	pgtest.Need(t, cluster)
	dsn := cluster.NewDatabase(t)
	clock := queuetest.NewClock(time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
	a := open(t, dsn, clock.Now)
	b, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Now: clock.Now, LeaseTime: queuetest.LeaseTime, Owner: "node-b", Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	if err := a.Update(ctx, func(tx queue.Tx) error {
		_, _, err := tx.Put(queue.Item{Dir: queue.Inbound, Key: "x", Payload: []byte("x")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	first, err := queue.Lease(ctx, a, clock.Now(), queue.Inbound, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Lease(ctx, b, clock.Now(), queue.Inbound, 0); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("a held record was leased again: %v", err)
	}
	clock.Add(queuetest.LeaseTime + time.Second)
	second, err := queue.Lease(ctx, b, clock.Now(), queue.Inbound, 0)
	if err != nil || second.ID != first.ID || second.Owner != "node-b" || second.Lease == first.Lease {
		t.Fatalf("after expiry node b leased %+v, %v", second, err)
	}
	err = a.Update(ctx, func(tx queue.Tx) error { _, err := tx.Finish(clock.Now(), first.ID, first.Lease, nil); return err })
	if !errors.Is(err, queue.ErrLeaseLost) {
		t.Errorf("the first holder's finish after losing the lease: %v, want ErrLeaseLost", err)
	}
}

// A record one node puts wakes the other at once: it hears the direction
// when the commit is done, and nothing for a put that rolled back.
func TestPutWakesOtherNodes(t *testing.T) {
	a, b, _, _ := twoNodes(t)
	heard := make(chan queue.Direction, 4)
	b.OnPut(func(d queue.Direction) { heard <- d })
	ctx := context.Background()
	put := func(dir queue.Direction, key string, fail bool) {
		err := a.Update(ctx, func(tx queue.Tx) error {
			if _, _, err := tx.Put(queue.Item{Dir: dir, Key: key, Priority: 3, Payload: []byte("x")}); err != nil {
				return err
			}
			if fail {
				return errors.New("rolled back")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatal(err)
		}
	}
	// The listener starts in the background: put until it hears one.
	deadline := time.After(time.Minute)
	for i := 0; ; i++ {
		put(queue.Outbound, fmt.Sprint("k", i), false)
		select {
		case d := <-heard:
			if d != queue.Outbound {
				t.Fatalf("heard %q, want out", d)
			}
		case <-time.After(100 * time.Millisecond):
			continue // not listening yet: put again
		case <-deadline:
			t.Fatal("node b never heard of node a's put")
		}
		break
	}
	// A put that rolls back is never told: notifications come in commit
	// order, so one for it would come before the next put's.
	put(queue.Inbound, "rolled-back", true)
	put(queue.Outbound, "after", false)
	for {
		select {
		case d := <-heard:
			if d == queue.Inbound {
				t.Fatal("a put that rolled back was told")
			}
			if len(heard) == 0 {
				return
			}
		case <-deadline:
			t.Fatal("node b did not hear the put after the rollback")
		}
	}
}

// A node follows the inbound records another changes, in order, even
// when a change that took its number first commits after a later one;
// outbound records and changes that roll back are not handed on, and
// taking a lock one node holds fails on the other until it is let go.
func TestFollowInboundAcrossNodes(t *testing.T) {
	a, b, _, dsn := twoNodes(t)
	ctx := context.Background()
	heard := make(chan string, 100)
	b.FollowInbound(func(recs []*queue.Record, all bool) {
		for _, r := range recs {
			heard <- r.Key
		}
	})
	put := func(dir queue.Direction, key string) {
		t.Helper()
		err := a.Update(ctx, func(tx queue.Tx) error {
			_, _, err := tx.Put(queue.Item{Dir: dir, Key: key, Payload: []byte(key)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The follower starts from the changes made after it: wait for one.
	deadline := time.After(time.Minute)
	for i := 0; ; i++ {
		put(queue.Inbound, fmt.Sprint("first", i))
		select {
		case <-heard:
		case <-time.After(100 * time.Millisecond):
			continue
		case <-deadline:
			t.Fatal("node b never followed node a")
		}
		break
	}
	for len(heard) > 0 {
		<-heard
	}
	// A commit that took its number in the log first commits after a
	// later one (a node's transaction between its log row and its commit).
	slow, err := queue.GetByKey(ctx, a, queue.Inbound, "first0")
	if err != nil {
		t.Fatal(err)
	}
	inFlight := changeInFlight(t, dsn, slow.ID)
	put(queue.Outbound, "not followed")
	put(queue.Inbound, "fast")
	if err := a.Update(ctx, func(tx queue.Tx) error {
		if _, _, err := tx.Put(queue.Item{Dir: queue.Inbound, Key: "rolled back", Payload: []byte("x")}); err != nil {
			return err
		}
		return errors.New("roll back")
	}); err == nil {
		t.Fatal("the update did not fail")
	}
	want := map[string]bool{"fast": true, "first0": true}
	for len(want) > 0 {
		select {
		case k := <-heard:
			if !want[k] {
				t.Fatalf("followed %q, want only fast and, once committed, first0", k)
			}
			delete(want, k)
			if k == "fast" {
				if err := inFlight.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
		case <-deadline:
			t.Fatalf("not followed: %v", want)
		}
	}

	unlock, ok, err := a.TryLock(ctx, "axis:1")
	if err != nil || !ok {
		t.Fatalf("node a's lock: %v %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "axis:1"); err != nil || ok {
		t.Fatalf("node b took a lock node a holds: %v %v", ok, err)
	}
	unlock()
	unlockB, ok, err := b.TryLock(ctx, "axis:1")
	if err != nil || !ok {
		t.Fatalf("node b after node a let go: %v %v", ok, err)
	}
	unlockB()
}

// changeInFlight takes a number in the inbound log for record id in a
// transaction left open, as a node's commit between its log row and its
// commit: the caller commits it.
func changeInFlight(t *testing.T, dsn, id string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO lienthong_inbound_changes (record) VALUES ($1)`, id); err != nil {
		t.Fatal(err)
	}
	return tx
}

// A node that starts reads its inbox after opening the store and follows
// the others after that: what they commit in between is handed on, and so
// is a change that took its number before the node opened and commits
// after it.
func TestFollowerStartsWhereTheNodeOpened(t *testing.T) {
	a, _, clock, dsn := twoNodes(t)
	ctx := context.Background()
	put := func(key string) *queue.Record {
		t.Helper()
		var r *queue.Record
		err := a.Update(ctx, func(tx queue.Tx) (err error) {
			r, _, err = tx.Put(queue.Item{Dir: queue.Inbound, Key: key, Payload: []byte(key)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	slow := put("slow")
	inFlight := changeInFlight(t, dsn, slow.ID)
	put("before")
	c := open(t, dsn, clock.Now)
	defer c.Close()
	put("between")
	if err := inFlight.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	heard := make(chan string, 100)
	c.FollowInbound(func(recs []*queue.Record, all bool) {
		for _, r := range recs {
			heard <- r.Key
		}
	})
	want := map[string]bool{"between": true, "slow": true}
	deadline := time.After(time.Minute)
	for len(want) > 0 {
		select {
		case k := <-heard:
			if k == "before" {
				t.Fatal("a change committed before the node opened was handed on")
			}
			delete(want, k)
		case <-deadline:
			t.Fatalf("not followed: %v", want)
		}
	}
}

// A node whose own clock is an hour slow still reckons the database's
// time, and its leases and due times are written in it.
func TestNodeKeepsTheDatabasesTime(t *testing.T) {
	pgtest.Need(t, cluster)
	dsn := cluster.NewDatabase(t)
	slow := func() time.Time { return time.Now().Add(-time.Hour) }
	s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, HostClock: slow, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if off := s.ClockOffset(); (off - time.Hour).Abs() > 5*time.Second {
		t.Fatalf("offset %v, want about an hour", off)
	}
	if d := time.Until(s.DatabaseNow()).Abs(); d > 5*time.Second {
		t.Fatalf("the database's time is %v off this host's, which shares its clock", d)
	}
	var rec *queue.Record
	err = s.Update(context.Background(), func(tx queue.Tx) error {
		rec, _, err = tx.Put(queue.Item{Dir: queue.Outbound, Key: "k", Payload: []byte("x")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(rec.Created).Abs(); d > 5*time.Second {
		t.Fatalf("record created at %v, %v from the database's time", rec.Created, d)
	}
}

// Two nodes modifying one board document at once lose no change, and the
// other node reads what was written.
func TestBoardModifyIsSerialised(t *testing.T) {
	a, b, _, _ := twoNodes(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, s := range []*pgstore.Store{a, b, a, b} {
		wg.Go(func() {
			for j := range 10 {
				err := s.Modify(ctx, "list", func(old []byte) ([]byte, error) {
					return fmt.Appendf(old, "%d.%d;", i, j), nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	data, at, ok, err := b.Read(ctx, "list", time.Time{})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n := strings.Count(string(data), ";"); n != 40 {
		t.Fatalf("%d changes kept of 40: %s", n, data)
	}
	if _, _, ok, err := a.Read(ctx, "list", at); ok || err != nil {
		t.Fatal("a document not written since was read again", ok, err)
	}
	if _, _, ok, err := a.Read(ctx, "none", time.Time{}); ok || err != nil {
		t.Fatal("a document never written was read", ok, err)
	}
}
