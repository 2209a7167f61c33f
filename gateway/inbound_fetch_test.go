package gateway

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axistest"
	"lienthong/gateway/clocktest"
	"lienthong/queue"
)

// listedAxis is the axis as the receiving side sees it: a list, packages
// that fail their own way, and the acknowledgements given. Safe for the
// fetchers' concurrent calls, as the real client is.
type listedAxis struct {
	mu    sync.Mutex
	items []axis.ReceivedItem
	pkgs  map[string][]byte
	errs  map[string]error
	gets  map[string]int
	acks  map[string]string
}

func (a *listedAxis) GetReceivedEdocList(_ context.Context, mt string) ([]axis.ReceivedItem, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if mt != axis.MessageEdoc {
		return nil, nil
	}
	var out []axis.ReceivedItem
	for _, it := range a.items {
		if a.acks[it.DocID] != axis.StatusDone {
			out = append(out, it)
		}
	}
	return out, nil
}

func (a *listedAxis) GetEdocTo(_ context.Context, id string, w io.Writer) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gets[id]++
	if err := a.errs[id]; err != nil {
		return 0, err
	}
	n, err := w.Write(a.pkgs[id])
	return int64(n), err
}

func (a *listedAxis) UpdateStatus(_ context.Context, id, status string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acks[id] = status
	return nil
}

func newFetchEnv(t *testing.T, a *listedAxis) (*inbound, *queue.Bolt, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New()
	store, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{Now: clock.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	p := parts{log: zerolog.New(zerolog.NewTestWriter(t)), clock: clock, store: store, breaker: newBreaker(5, time.Second)}
	return newInbound(p, a, nil), store, clock
}

// A package that can never be fetched is set aside, reported to the axis
// as failed, and does not hold back the ones behind it; one that fails now
// and then waits on its own backoff.
func TestFetchFailuresArePerPackage(t *testing.T) {
	a := &listedAxis{
		items: []axis.ReceivedItem{{DocID: "huge"}, {DocID: "flaky"}, {DocID: "good"}},
		pkgs:  map[string][]byte{"good": axistest.Document(t, codeB, codeA), "flaky": axistest.Document(t, codeB, codeA)},
		errs: map[string]error{
			"huge":  &axis.Error{Op: "getEdoc", Class: axis.Terminal, Desc: "answer over 268435456 bytes"},
			"flaky": &axis.Error{Op: "getEdoc", Class: axis.Retryable, Desc: "HTTP 500"},
		},
		gets: map[string]int{}, acks: map[string]string{},
	}
	in, store, clock := newFetchEnv(t, a)
	n, err := in.pollOnce(context.Background(), in.axes.all[0])
	if n != 1 || err == nil {
		t.Fatalf("pollOnce = %d, %v; want the good package stored and the flaky failure reported", n, err)
	}
	if _, err := store.GetByKey(queue.Inbound, fetchedKey("good")); err != nil || a.acks["good"] != axis.StatusDone {
		t.Errorf("the package behind the failures: %v, ack %q", err, a.acks["good"])
	}
	if a.acks["huge"] != axis.StatusFail {
		t.Errorf("the unfetchable package was acknowledged %q, want fail", a.acks["huge"])
	}
	// Polled again at once: neither failed package is asked for again yet.
	in.pollOnce(context.Background(), in.axes.all[0])
	if a.gets["huge"] != 1 || a.gets["flaky"] != 1 {
		t.Errorf("fetched huge %d and flaky %d times, want each once (set aside, backing off)", a.gets["huge"], a.gets["flaky"])
	}
	delete(a.errs, "flaky")
	clock.Advance(time.Minute)
	if n, err := in.pollOnce(context.Background(), in.axes.all[0]); n != 1 || err != nil {
		t.Errorf("after the backoff pollOnce = %d, %v; want the flaky package stored", n, err)
	}
	if a.gets["huge"] != 1 {
		t.Error("the set-aside package was fetched again")
	}
}

// The packages that could not be handled are listed while the daemon
// runs: an unfetchable one is fetched again on demand, a dead record is
// processed again or set aside with a reason, each action in its history.
func TestInboundProblemTools(t *testing.T) {
	a := &listedAxis{
		items: []axis.ReceivedItem{{DocID: "huge", From: codeB}},
		pkgs:  map[string][]byte{"huge": axistest.Document(t, codeB, codeA)},
		errs:  map[string]error{"huge": &axis.Error{Op: "getEdoc", Class: axis.Terminal, Desc: "answer over 268435456 bytes"}},
		gets:  map[string]int{}, acks: map[string]string{},
	}
	in, store, clock := newFetchEnv(t, a)
	ctx := context.Background()
	in.pollOnce(ctx, in.axes.all[0])
	// Two records given up while processing.
	var dead []string
	for _, key := range []string{"axis:d1", "axis:d2"} {
		err := store.Update(ctx, func(tx queue.Tx) error {
			r, _, err := tx.Put(queue.Item{Dir: queue.Inbound, Key: key, Payload: []byte("<edXML/>"), Meta: map[string]string{metaAxisDocID: key[5:], metaFrom: codeB}})
			if err != nil {
				return err
			}
			l, err := tx.LeaseRecord(clock.Now(), r.ID)
			if err != nil {
				return err
			}
			_, err = tx.Kill(clock.Now(), r.ID, l.Lease, "the daemon died on it 3 times")
			dead = append(dead, r.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ps, err := in.problems(ctx)
	if err != nil || len(ps) != 3 || ps[0].State != problemDead || ps[1].State != problemDead || ps[0].AxisDocID != "d1" ||
		ps[2].ID != "huge" || ps[2].State != problemUnfetchable || !ps[2].SetAside || ps[2].From != codeB || !strings.Contains(ps[2].LastError, "268435456") {
		t.Fatalf("problems: %+v, %v", ps, err)
	}
	if n, _ := in.unfetchable(); n != 1 {
		t.Errorf("unfetchable: %d, want 1", n)
	}

	// The unfetchable package, once the cause is fixed.
	if _, err := in.setAside(ctx, "huge", "ops", "đã xử lý"); !errors.Is(err, ErrConflict) {
		t.Errorf("set-aside of an unfetchable package: %v, want a conflict", err)
	}
	delete(a.errs, "huge")
	if p, err := in.refetch(ctx, "huge", "ops"); err != nil || p.State != problemRefetching {
		t.Fatalf("refetch: %+v, %v", p, err)
	}
	if n, err := in.pollOnce(ctx, in.axes.all[0]); n != 1 || err != nil || a.acks["huge"] != axis.StatusDone {
		t.Errorf("the poll after the refetch: %d, %v, ack %q; want it stored and acknowledged", n, err, a.acks["huge"])
	}
	if _, err := in.refetch(ctx, "huge", "ops"); !errors.Is(err, ErrNotFound) {
		t.Errorf("refetch of a package no longer failing: %v, want not found", err)
	}

	// The dead records: one set aside, one processed again.
	if _, err := in.setAside(ctx, dead[0], "ops", " "); err == nil {
		t.Error("a set-aside without a reason was taken")
	}
	if p, err := in.setAside(ctx, dead[0], "ops", "Đã đề nghị nơi gửi gửi lại"); err != nil || p.State != problemSetAside {
		t.Fatalf("set-aside: %+v, %v", p, err)
	}
	if p, err := in.refetch(ctx, dead[1], "ops"); err != nil || p.State != problemRefetching {
		t.Fatalf("refetch of a dead record: %+v, %v", p, err)
	}
	for i, want := range []struct {
		state queue.State
		event string
	}{{queue.Done, evSetAside}, {queue.Ready, evResent}} {
		r, _ := store.Get(dead[i])
		evs, _ := store.Events(dead[i])
		last := evs[len(evs)-1]
		if r.State != want.state || last.Kind != want.event || last.Attrs[atClient] != "ops" {
			t.Errorf("%s: %s, last event %+v; want %s, %s by ops", dead[i], r.State, last, want.state, want.event)
		}
	}
	if r, _ := store.Get(dead[0]); r.Meta[metaSetAside] != "Đã đề nghị nơi gửi gửi lại" {
		t.Errorf("the reason kept: %q", r.Meta[metaSetAside])
	}
	if _, err := in.refetch(ctx, dead[0], "ops"); !errors.Is(err, ErrConflict) {
		t.Errorf("refetch of a record set aside: %v, want a conflict", err)
	}
	if ps, _ := in.problems(ctx); len(ps) != 0 {
		t.Errorf("problems left: %+v", ps)
	}
}
