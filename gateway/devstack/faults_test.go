package devstack_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
)

// submitN sends n memos with distinct numbers and returns their ids.
func submitN(t *testing.T, s *devstack.Stack, n, first int, subject string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		m := memo(fmt.Sprintf("%s %d", subject, i), i%4)
		m["codeNumber"] = fmt.Sprint(first + i)
		acc, err := s.Client.Submit(context.Background(), m, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	return ids
}

// deliveredOnce waits until every document is registered (03) and checks
// the peer holds each exactly once and nothing else.
func deliveredOnce(t *testing.T, s *devstack.Stack, clock *fakeClock, ids []string) {
	t.Helper()
	eventually(t, clock, time.Second, "every document registered (03)", func() bool {
		for _, id := range ids {
			if recipientStatus(t, s.Client, id) != "03" {
				return false
			}
		}
		return true
	})
	items := newInbox(t, s.PeerClient, "")
	if len(items) != len(ids) {
		t.Errorf("peer inbox holds %d items, want the %d documents", len(items), len(ids))
	}
	seen := map[string]int{}
	for _, it := range items {
		seen[it.DocumentID]++
	}
	for _, id := range ids {
		d, _ := s.Client.Document(context.Background(), id)
		if seen[d.DocumentID] != 1 {
			t.Errorf("%s (%s) is in the peer's inbox %d times, want once", id, d.DocumentID, seen[d.DocumentID])
		}
	}
}

// An axis that fails half its calls, answers slowly, drops the connection
// after storing half the uploads and delivers acknowledged packages again:
// everything arrives, once.
func TestFlakyAxisDeliversEverythingOnce(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	s.Hub.SetFaults(axishub.Faults{ErrorRate: 0.3, LatencyMin: time.Millisecond, LatencyMax: 20 * time.Millisecond, DropAfterUpload: 0.5, Duplicate: true})
	ids := submitN(t, s, 12, 300, "V/v trục chập chờn")
	deliveredOnce(t, s, clock, ids)
	// The statuses the axis listed again after they were acknowledged
	// were acknowledged again, and counted.
	eventually(t, clock, 500*time.Millisecond, "packages listed again counted", func() bool {
		return regexp.MustCompile(`(?m)^lienthong_axis_relisted_total\{axis="national"\} [1-9]`).MatchString(stacktest.Metrics(t, s.MetricsURL))
	})
}

// During a long outage the gateways back off: the calls the axis sees per
// minute stay a handful, whatever the backlog.
func TestOutageRequestRateBounded(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	outage := 30 * time.Minute
	s.Hub.SetFaults(axishub.Faults{OutageUntil: clock.Now().Add(outage)})
	ids := submitN(t, s, 40, 400, "V/v mất kết nối dài")
	before, began := s.Hub.Calls(), clock.Now()
	for clock.Now().Sub(began) < outage-time.Minute {
		// Every loop the step wakes runs until it parks again, so the
		// count is the same on an idle or a loaded machine.
		if !stacktest.Step(clock, 5*time.Second) {
			t.Fatal("the loops did not park again")
		}
	}
	calls := s.Hub.Calls() - before
	perMinute := float64(calls) / (outage - time.Minute).Minutes()
	t.Logf("%d calls to the failing axis in %v (%.1f a minute) for 2 gateways and %d documents", calls, outage-time.Minute, perMinute, len(ids))
	// Two gateways, each with a circuit breaker shared by its polls and
	// sends, cooling down up to 8 minutes: a few probes a minute at most.
	if perMinute > 6 {
		t.Errorf("%.1f calls a minute to a failing axis, want at most 6", perMinute)
	}
	deliveredOnce(t, s, clock, ids)
}
