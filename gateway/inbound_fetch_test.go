package gateway

import (
	"context"
	"io"
	"path/filepath"
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
	n, err := in.pollOnce(context.Background())
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
	in.pollOnce(context.Background())
	if a.gets["huge"] != 1 || a.gets["flaky"] != 1 {
		t.Errorf("fetched huge %d and flaky %d times, want each once (set aside, backing off)", a.gets["huge"], a.gets["flaky"])
	}
	delete(a.errs, "flaky")
	clock.Advance(time.Minute)
	if n, err := in.pollOnce(context.Background()); n != 1 || err != nil {
		t.Errorf("after the backoff pollOnce = %d, %v; want the flaky package stored", n, err)
	}
	if a.gets["huge"] != 1 {
		t.Error("the set-aside package was fetched again")
	}
}
