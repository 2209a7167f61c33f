package devstack_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// One gateway for two agencies: a department and one of its units, each
// sending as itself with its own key, each with its own inbox items and
// answers, and a token scoped to the unit kept to the unit.
func TestTwoAgenciesOneGateway(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	unit := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}

	// The unit sends as itself; the peer, which checks that the signer is
	// bound to From, takes it: it was signed with the unit's certificate.
	m := memo("V/v từ phòng", 1)
	m["from"] = map[string]string{"organId": devstack.UnitCode}
	acc, err := unit.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 1, "the unit's document at the peer")[0]
	if got.From != devstack.UnitCode || got.DocumentID != acc.DocumentID || got.SignatureWarning != "" {
		t.Errorf("at the peer: %+v, want it from %s, signed by it", got, devstack.UnitCode)
	}
	if q := newInbox(t, s.PeerClient, localapi.InboxQuarantined); len(q) != 0 {
		t.Errorf("the peer quarantined %+v", q)
	}

	// The scoped token cannot act for the department.
	if _, err := unit.Submit(ctx, memo("V/v không được phép", 0), nil); status(err) != 403 {
		t.Errorf("scoped token sending as the department: %v, want 403", err)
	}
	dept, err := s.Client.Submit(ctx, memo("V/v của sở", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unit.Document(ctx, dept.ID); status(err) != 403 {
		t.Errorf("scoped token reading the department's document: %v, want 403", err)
	}

	// A peer document to both agencies: two items, answered separately.
	pm := memo("V/v gửi cả sở và phòng", 0)
	pm["to"], pm["codeNumber"] = []string{devstack.AgencyCode, devstack.UnitCode}, "700"
	sent, err := s.PeerClient.Submit(ctx, pm, nil)
	if err != nil {
		t.Fatal(err)
	}
	var items []localapi.InboxItem
	eventually(t, clock, 500*time.Millisecond, "two inbox items", func() bool {
		items = newInbox(t, s.Client, localapi.InboxNew)
		return len(items) == 2
	})
	var agencies []string
	for _, it := range items {
		agencies = append(agencies, it.Agency)
	}
	slices.Sort(agencies)
	if !slices.Equal(agencies, []string{devstack.AgencyCode, devstack.UnitCode}) || items[0].ID == items[1].ID {
		t.Fatalf("items %+v, want one for each agency", items)
	}
	if mine := newInbox(t, unit, ""); len(mine) != 1 || mine[0].Agency != devstack.UnitCode {
		t.Errorf("the scoped token sees %+v, want the unit's item only", mine)
	}
	for _, it := range items {
		c := s.Client
		if it.Agency == devstack.AgencyCode {
			if _, err := unit.InboxItem(ctx, it.ID); status(err) != 403 {
				t.Errorf("scoped token reading the department's item: %v, want 403", err)
			}
		}
		code := map[string]string{devstack.AgencyCode: "03", devstack.UnitCode: "04"}[it.Agency]
		if _, err := c.Answer(ctx, it.ID, localapi.StatusRequest{Code: "03"}); err != nil {
			t.Fatal(err)
		}
		if code == "04" {
			if _, err := c.Answer(ctx, it.ID, localapi.StatusRequest{Code: "04"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, clock, 500*time.Millisecond, "each agency's own status at the peer", func() bool {
		d, err := s.PeerClient.Document(ctx, sent.ID)
		if err != nil || len(d.Recipients) != 2 {
			return false
		}
		st := map[string]string{}
		for _, r := range d.Recipients {
			st[r.OrganID] = r.StatusCode
		}
		return st[devstack.AgencyCode] == "03" && st[devstack.UnitCode] == "04"
	})
	list, err := s.Client.Agencies(ctx)
	if err != nil || len(list) != 2 || list[1].Code != devstack.UnitCode || list[1].Key != "own" || list[1].NotAfter == nil {
		t.Errorf("agencies = %+v, %v", list, err)
	}
	if l, _ := unit.Agencies(ctx); len(l) != 1 {
		t.Errorf("the scoped token lists %+v, want its agency only", l)
	}
}

// A document to two of our agencies is two inbox items; a recall naming
// one marks that one's item, whichever of the package's items it is.
func TestRecallMarksTheAgencyAsked(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	m := memo("V/v gửi hai đơn vị", 0)
	m["to"] = []string{devstack.UnitCode, devstack.AgencyCode} // the unit first: its item is the record's first
	acc, err := s.PeerClient.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	items := waitInbox(t, clock, s.Client, localapi.InboxNew, 2, "the document at both agencies")
	byAgency := map[string]string{}
	for _, it := range items {
		byAgency[it.Agency] = it.ID
	}
	if len(byAgency) != 2 || byAgency[devstack.AgencyCode] == "" || byAgency[devstack.UnitCode] == "" {
		t.Fatalf("items %+v, want one per agency", items)
	}
	eventually(t, clock, 100*time.Millisecond, "the document sent", func() bool {
		d, err := s.PeerClient.Document(ctx, acc.ID)
		return err == nil && d.State == localapi.StateSent
	})
	if _, err := s.PeerClient.Recall(ctx, acc.ID, "Gửi nhầm"); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 100*time.Millisecond, "both items asked back", func() bool {
		for _, id := range byAgency {
			if it, err := s.Client.InboxItem(ctx, id); err != nil || it.State != localapi.InboxRecall {
				return false
			}
		}
		return true
	})
}

// A scoped client's long poll is not ended by another agency's mail: it
// waits out its wait, so its timing tells nothing of the others'.
func TestScopedLongPollIgnoresOthersMail(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	unit := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}
	const wait = 3 * time.Second
	type polled struct {
		items []localapi.InboxItem
		took  time.Duration
		err   error
	}
	done := make(chan polled, 1)
	began := time.Now()
	go func() {
		items, err := unit.Inbox(ctx, localapi.InboxNew, wait)
		done <- polled{items, time.Since(began), err}
	}()
	m := memo("V/v chỉ gửi sở", 0)
	m["to"], m["codeNumber"] = []string{devstack.AgencyCode}, "960"
	if _, err := s.PeerClient.Submit(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the department's document")
	p := <-done
	if p.err != nil || len(p.items) != 0 {
		t.Fatalf("the unit's poll = %+v, %v; want nothing", p.items, p.err)
	}
	if p.took < wait-100*time.Millisecond {
		t.Errorf("the unit's poll ended after %v, before its %v wait: another agency's mail woke it", p.took, wait)
	}
}
