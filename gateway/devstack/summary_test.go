package devstack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"lienthong/gateway/localapi"
)

// The summary counts a received document the document system has not
// answered, and once the next working day is over calls it overdue, as a
// problem to act on.
func TestSummaryCallsUnansweredOverdue(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	ctx := context.Background()
	in := memo("V/v chưa vào sổ", 0)
	in["to"], in["codeNumber"] = []string{devstack.AgencyCode}, "91"
	if _, err := s.PeerClient.Submit(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the peer's document")
	sum, err := s.Client.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Inbound.Unanswered.Count != 1 || sum.Inbound.Overdue.Count != 0 || sum.Axis.State != "ok" || len(sum.Agencies) != 2 {
		t.Fatalf("summary: %+v", sum)
	}
	if len(sum.Problems) != 0 {
		t.Fatalf("problems of a healthy exchange: %q", sum.Problems)
	}
	if !stacktest.Step(clock, 4*24*time.Hour) {
		t.Fatal("the loops did not park again")
	}
	sum, err = s.Client.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Inbound.Overdue.Count != 1 || len(sum.Problems) == 0 || !strings.Contains(strings.Join(sum.Problems, "\n"), "not registered by the end of the next working day") {
		t.Fatalf("four days later: overdue %+v, problems %q", sum.Inbound.Overdue, sum.Problems)
	}
	scoped := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}
	if _, err := scoped.Summary(ctx); status(err) != 403 {
		t.Errorf("a scoped token's summary: %v, want 403", err)
	}
}
