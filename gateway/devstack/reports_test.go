package devstack_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/clocktest"
	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"lienthong/gateway/localapi"
)

// After twenty documents registered by the peer at different speeds, the
// report gives the peer twenty-one sent, the median and 90th percentile
// time to 03 of the documents' own histories, and the one the peer never
// registered as overdue once the next working day is over.
func TestTimelinessReport(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	var ids []string
	for i := range 21 {
		m := memo(fmt.Sprintf("V/v báo cáo %d", i), 0)
		m["codeNumber"] = fmt.Sprint(500 + i)
		acc, err := s.Client.Submit(ctx, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	items := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 21, "our documents at the peer")
	slices.SortFunc(items, func(a, b localapi.InboxItem) int { return strings.Compare(a.CodeNumber, b.CodeNumber) })
	for i, it := range items[:20] {
		// The peer registers one document every i×7 minutes.
		if !stepTo(clock, time.Duration(i)*7*time.Minute) {
			t.Fatal("the loops did not park again")
		}
		if _, err := s.PeerClient.Answer(ctx, it.ID, localapi.StatusRequest{Code: "03", Description: "Đã vào sổ"}); err != nil {
			t.Fatal(err)
		}
	}
	var want []float64
	eventually(t, clock, 500*time.Millisecond, "twenty documents registered", func() bool {
		want = want[:0]
		for _, id := range ids {
			d, err := s.Client.Document(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if at, ok := d.Recipients[0].Codes["03"]; ok && d.SentAt != nil {
				want = append(want, at.Sub(*d.SentAt).Seconds())
			}
		}
		return len(want) == 20
	})
	slices.Sort(want)
	q := url.Values{"by": {"counterpart"}, "since": {"2026-03-01"}, "until": {"2026-04-01"}}
	rep, err := s.Client.Timeliness(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	peer := row(t, rep, devstack.PeerCode)
	// Nearest rank: the 10th and 18th of twenty, to the second kept.
	if peer.Sent.Documents != 21 || peer.Sent.ToRegistered.Count != 20 ||
		abs(peer.Sent.ToRegistered.Median-want[9]) > 1 || abs(peer.Sent.ToRegistered.P90-want[17]) > 1 {
		t.Fatalf("the peer's row: %+v; want 21 sent, 20 registered, median %.0fs, p90 %.0fs", peer.Sent, want[9], want[17])
	}
	t.Logf("time to 03: median %.0fs, p90 %.0fs", peer.Sent.ToRegistered.Median, peer.Sent.ToRegistered.P90)
	if peer.Sent.Overdue != 0 || peer.Sent.ToArrived.Count != 21 || peer.Name == "" {
		t.Fatalf("the peer's row before any deadline passed: %+v", peer)
	}

	// Two days on, the one left unregistered is overdue.
	if !stepTo(clock, 2*24*time.Hour) {
		t.Fatal("the loops did not park again")
	}
	rep, err = s.Client.Timeliness(ctx, url.Values{"month": {"2026-03"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if peer := row(t, rep, devstack.PeerCode); peer.Sent.Overdue != 1 || rep.OverdueCount != 1 {
		t.Fatalf("two days later: %+v, %d overdue", peer.Sent, rep.OverdueCount)
	}
	late := rep.Overdue[0]
	if late.Why != "not registered" || late.Counterpart != devstack.PeerCode || late.Record != ids[20] || !strings.HasSuffix(late.DocumentID, "520/SVD-VP") {
		t.Errorf("the overdue document: %+v, want 520/SVD-VP not registered", late)
	}
	byAgency, err := s.Client.Timeliness(ctx, url.Values{"month": {"2026-03"}, "by": {"agency"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ours := row(t, byAgency, devstack.AgencyCode); ours.Sent.Documents != 21 || ours.Sent.Overdue != 1 {
		t.Errorf("our agency's row: %+v", ours.Sent)
	}

	// The spreadsheet opens in Excel with Vietnamese headings.
	var csv bytes.Buffer
	if _, err := s.Client.Timeliness(ctx, url.Values{"month": {"2026-03"}, "format": {"csv"}}, &csv); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(csv.String(), "\n")
	if !strings.HasPrefix(lines[0], "\uFEFFMã định danh,") || !strings.HasPrefix(lines[1], devstack.PeerCode+",") || !strings.Contains(csv.String(), "Tổng cộng") {
		t.Errorf("CSV:\n%s", csv.String())
	}
	csv.Reset()
	if _, err := s.Client.Timeliness(ctx, url.Values{"month": {"2026-03"}, "format": {"csv"}, "table": {"overdue"}}, &csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "chưa vào sổ") {
		t.Errorf("overdue CSV:\n%s", csv.String())
	}

	// Bad parameters are named; a scoped token sees its own agencies only.
	for _, bad := range []url.Values{{"by": {"city"}}, {"month": {"03/2026"}}, {"since": {"2026-04-01"}, "until": {"2026-03-01"}}, {"format": {"xls"}}} {
		if _, err := s.Client.Timeliness(ctx, bad, nil); status(err) != 422 {
			t.Errorf("%v: %v, want 422", bad, err)
		}
	}
	scoped := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}
	if rep, err := scoped.Timeliness(ctx, url.Values{"month": {"2026-03"}}, nil); err != nil || len(rep.Rows) != 0 {
		t.Errorf("a scoped token's report of another agency's documents: %+v, %v", rep, err)
	}
}

// stepTo moves the clock to d after its start.
func stepTo(clock *fakeClock, d time.Duration) bool {
	if ahead := d - clock.Now().Sub(clocktest.Start); ahead > 0 {
		return stacktest.Step(clock, ahead)
	}
	return true
}

func row(t *testing.T, rep *localapi.TimelinessReport, code string) localapi.TimelinessRow {
	t.Helper()
	for _, r := range rep.Rows {
		if r.Code == code {
			return r
		}
	}
	t.Fatalf("no row for %s in %+v", code, rep.Rows)
	return localapi.TimelinessRow{}
}

func abs(f float64) float64 { return max(f, -f) }
