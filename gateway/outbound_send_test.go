package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"lienthong/envelope"
	"lienthong/envelope/devca"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/clocktest"
	"lienthong/queue"
)

const (
	codeA = "000.00.07.H26"
	codeB = "000.00.00.G22"
)

// sendEnv is the sending side alone, against a reference hub over real
// HTTP, on a fake clock.
type sendEnv struct {
	out   *outbound
	store *queue.Bolt
	hub   *axishub.Hub
	axis  *axis.Client
	clock *clocktest.Clock
}

func newSendEnv(t *testing.T, me string) *sendEnv {
	t.Helper()
	clock := clocktest.New()
	hub, err := axishub.Open(axishub.Options{
		Dir: t.TempDir(), Now: clock.Now, Seed: 1,
		Systems:  []axishub.System{{SystemID: "sys-a", Secret: "secret-a", Codes: []string{codeA}}},
		Agencies: []axis.Agency{{ID: "1", Code: codeA, Name: "A"}, {ID: "2", Code: codeB, Name: "B"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	client, err := axis.New(axis.Config{Endpoint: srv.URL, SystemID: "sys-a", Secret: []byte("secret-a"), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	store, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{Now: clock.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := store.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		store.Close()
	})
	ca, err := devca.NewCA("test CA", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(devca.Leaf{Name: "A", Code: codeA}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := envelope.NewSigner(key, []*x509.Certificate{cert, ca.Cert}, envelope.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	creds := &atomic.Pointer[credentials]{}
	creds.Store(&credentials{signer: signer, agencies: &agencies{primary: me, byCode: map[string]envelope.Organization{me: {OrganID: me}}}})
	p := parts{log: zerolog.New(zerolog.NewTestWriter(t)), clock: clock, store: store, creds: creds, breaker: newBreaker(5, time.Second)}
	p.cfg.Agency.Code, p.cfg.Agency.Name, p.cfg.Outbound.MaxDocument = me, "A", 1<<20
	return &sendEnv{out: newOutbound(p, client), store: store, hub: hub, axis: client, clock: clock}
}

// queued puts one status package to B in the queue.
func (e *sendEnv) queued(t *testing.T) *queue.Record {
	t.Helper()
	rf := envelope.ResponseFor{OrganID: codeB, Code: "7/KT", DocumentID: codeB + ",2026/03/16,7/KT", PromulgationDate: envelope.Date{Year: 2026, Month: 3, Day: 16}}
	r, err := e.out.queueStatus("", codeB, rf, envelope.StatusRegistered, "Đã vào sổ", nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// attempt leases the due record and sends it once.
func (e *sendEnv) attempt(t *testing.T) *queue.Record {
	t.Helper()
	r, err := e.store.Lease(e.clock.Now(), queue.Outbound, 0)
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	e.out.send(context.Background(), r, e.out.axes.all[0], -1)
	got, err := e.store.Get(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// attemptUnder makes one attempt with the hub misbehaving as f.
func (e *sendEnv) attemptUnder(t *testing.T, f axishub.Faults) *queue.Record {
	t.Helper()
	e.hub.SetFaults(f)
	defer e.hub.SetFaults(axishub.Faults{})
	return e.attempt(t)
}

// wantState checks where an attempt left a record.
func wantState(t *testing.T, got *queue.Record, state queue.State, ambiguous bool) outRecord {
	t.Helper()
	rec := readOut(got)
	if got.State != state || rec.Ambiguous != ambiguous {
		t.Errorf("state %s, ambiguous %v; want %s, %v (last error %q)", got.State, rec.Ambiguous, state, ambiguous, got.LastError)
	}
	return rec
}

// atHub is how many status packages the hub holds from A.
func (e *sendEnv) atHub(t *testing.T) int {
	t.Helper()
	items, err := e.axis.GetSentEdocList(context.Background(), axis.MessageStatus, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

func TestSendOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		me     string
		faults axishub.Faults
		want   queue.State
		ambig  bool
		atHub  int
	}{
		{name: "accepted", me: codeA, want: queue.Done, atHub: 1},
		{name: "refused: terminal, dead letter", me: codeB, want: queue.Dead},
		{name: "failed: retried", me: codeA, faults: axishub.Faults{ErrorRate: 1}, want: queue.Ready},
		{name: "dropped after upload: ambiguous", me: codeA, faults: axishub.Faults{DropAfterUpload: 1}, want: queue.Ready, ambig: true, atHub: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSendEnv(t, tt.me)
			e.queued(t)
			got := e.attemptUnder(t, tt.faults)
			rec := wantState(t, got, tt.want, tt.ambig)
			if tt.want == queue.Done && rec.AxisDocID == "" {
				t.Error("sent without the axis DocId")
			}
			if n := e.atHub(t); n != tt.atHub {
				t.Errorf("the hub holds %d packages, want %d", n, tt.atHub)
			}
		})
	}
}

// A send that may have reached the axis is first looked up there: found,
// it is closed without a second upload; not found, it is sent; with the
// axis unreachable, it waits and stays ambiguous.
func TestSendReconciles(t *testing.T) {
	tests := []struct {
		name      string
		uploaded  bool // the ambiguous attempt did reach the hub
		reconcile axishub.Faults
		want      queue.State
		ambig     bool
		atHub     int
	}{
		{name: "found: not sent again", uploaded: true, want: queue.Done, atHub: 1},
		{name: "not found: sent", uploaded: false, want: queue.Done, atHub: 1},
		{name: "axis down: retried, still ambiguous", uploaded: true, reconcile: axishub.Faults{ErrorRate: 1}, want: queue.Ready, ambig: true, atHub: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSendEnv(t, codeA)
			r := e.queued(t)
			if tt.uploaded {
				e.attemptUnder(t, axishub.Faults{DropAfterUpload: 1})
			} else {
				// As a killed process leaves it: marked, never uploaded.
				if _, err := e.store.SetMeta(r.ID, markAmbiguous); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Advance(time.Hour) // past any backoff
			wantState(t, e.attemptUnder(t, tt.reconcile), tt.want, tt.ambig)
			if n := e.atHub(t); n != tt.atHub {
				t.Errorf("the hub holds %d packages, want %d", n, tt.atHub)
			}
		})
	}
}

// A holder that stalls past its lease after its upload reached the axis
// (a node paused, a VM frozen) leaves a record the next holder must not
// send again: it asks the axis first, and while the axis cannot answer
// the record stays marked for that question.
func TestExpiredLeaseReconciles(t *testing.T) {
	e := newSendEnv(t, codeA)
	e.queued(t)
	r, err := e.store.Lease(e.clock.Now(), queue.Outbound, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec := readOut(r)
	up, err := e.out.upload(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.axis.SendEdoc(context.Background(), axis.SendRequest{From: codeA, MessageType: rec.MessageType, To: rec.To, Upload: up}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour) // the holder stalls past its lease
	wantState(t, e.attemptUnder(t, axishub.Faults{ErrorRate: 1}), queue.Ready, true)
	e.clock.Advance(time.Hour)
	wantState(t, e.attempt(t), queue.Done, false)
	if n := e.atHub(t); n != 1 {
		t.Errorf("the hub holds %d packages, want the one upload", n)
	}
}

// The same stalled holder, with the next holder's axis paused: the record
// waits for the axis, its attempt uncounted, still marked for the question,
// though the next lease will not say that one expired.
func TestExpiredLeaseHeldForBreakerReconciles(t *testing.T) {
	e := newSendEnv(t, codeA)
	e.queued(t)
	r, err := e.store.Lease(e.clock.Now(), queue.Outbound, 0)
	if err != nil {
		t.Fatal(err)
	}
	up, err := e.out.upload(r)
	if err != nil {
		t.Fatal(err)
	}
	rec := readOut(r)
	if _, err := e.axis.SendEdoc(context.Background(), axis.SendRequest{From: codeA, MessageType: rec.MessageType, To: rec.To, Upload: up}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	again, err := e.store.Lease(e.clock.Now(), queue.Outbound, 0)
	if err != nil || !again.LeaseExpired() {
		t.Fatalf("second lease: %v, expired %v", err, again != nil && again.LeaseExpired())
	}
	e.out.holdForBreaker(again, e.out.axes.all[0], time.Minute)
	held, err := e.store.Get(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if wantState(t, held, queue.Ready, true); held.Attempts != 1 {
		t.Errorf("attempts %d after a hold for the breaker, want 1: the hold is not an attempt", held.Attempts)
	}
	e.clock.Advance(time.Hour)
	wantState(t, e.attempt(t), queue.Done, false)
	if n := e.atHub(t); n != 1 {
		t.Errorf("the hub holds %d packages, want the one upload", n)
	}
}

// A recall names, in ResponseFor, the agency asked and the document's
// date, as the SDK's library writes it; statuses are routed by it.
func TestRecallNamesTheAgencyAsked(t *testing.T) {
	e := newSendEnv(t, codeA)
	docID := codeA + ",2026/03/16,15/UBND-VP"
	r, _, err := e.store.Put(queue.Item{Dir: queue.Outbound, Key: outDocumentKey(docID), Payload: []byte("<sent/>"), Meta: outRecord{
		Kind: kindDocument, MessageType: axis.MessageEdoc, DocumentID: docID, To: []string{codeB}, Notation: "15/UBND-VP", Title: "V/v",
	}.meta()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.out.Recall(context.Background(), r.ID, ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("recall of a document not sent yet = %v, want ErrConflict", err)
	}
	l, _ := e.store.Lease(e.clock.Now(), queue.Outbound, 0)
	if _, err := e.store.Done(e.clock.Now(), l.ID, l.Lease, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.out.Recall(context.Background(), r.ID, "Ban hành nhầm"); err != nil {
		t.Fatal(err)
	}
	st, err := e.store.GetByKey(queue.Outbound, outStatusKey(codeB, docID, "13"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.store.Payload(st)
	p, err := envelope.ParseBytes(raw, envelope.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rf := p.Status.ResponseFor
	if rf.OrganID != codeB || rf.DocumentID != docID || rf.PromulgationDate != (envelope.Date{Year: 2026, Month: 3, Day: 16}) {
		t.Errorf("recall ResponseFor = %+v, want the agency asked (%s) and the document's date", rf, codeB)
	}
}

// A send that ends in any way settles the breaker's probe: a probe left
// out would stop every send and poll of the gateway for good.
func TestSendSettlesTheProbe(t *testing.T) {
	e := newSendEnv(t, codeA)
	r := e.queued(t)
	if _, err := e.store.SetMeta(r.ID, markAmbiguous); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	for range 5 {
		e.out.axes.all[0].breaker.failure(now)
	}
	later := now.Add(time.Hour)
	e.clock.Advance(time.Hour)
	if ok, _ := e.out.axes.all[0].breaker.allow(later); !ok {
		t.Fatal("no probe after the cooldown")
	}
	e.attemptUnder(t, axishub.Faults{ErrorRate: 1}) // the reconcile fails
	after := e.clock.Now().Add(time.Hour)
	if ok, _ := e.out.axes.all[0].breaker.allow(after); !ok {
		t.Fatal("the probe of a failed reconcile was never settled: the breaker stays shut")
	}
}
