package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/queue"
)

func TestBreaker(t *testing.T) {
	now := time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC)
	b := newBreaker(3, 10*time.Second)
	for i := range 2 {
		if b.failure(now) {
			t.Fatalf("failure %d opened the breaker, want it to open at the third", i+1)
		}
	}
	if ok, _ := b.allow(now); !ok || b.state(now) != breakerClosed {
		t.Fatal("closed breaker refused a call")
	}
	if !b.failure(now) {
		t.Fatal("third failure did not open the breaker")
	}
	if ok, wait := b.allow(now); ok || wait != 10*time.Second || b.state(now) != breakerOpen {
		t.Fatalf("open breaker: allow = %v, %v; state %d", ok, wait, b.state(now))
	}
	later := now.Add(10 * time.Second)
	if ok, _ := b.allow(later); !ok || b.state(later) != breakerHalfOpen {
		t.Fatal("after the cooldown one probe is let through")
	}
	if ok, _ := b.allow(later); ok {
		t.Fatal("a second probe went out while the first was out")
	}
	// The probe fails: the cooldown doubles.
	b.failure(later)
	if ok, wait := b.allow(later); ok || wait != 20*time.Second {
		t.Fatalf("after a failed probe: allow = %v, %v; want a 20 s wait", ok, wait)
	}
	for range 10 {
		b.failure(later)
	}
	if _, wait := b.allow(later); wait != 160*time.Second {
		t.Fatalf("cooldown grew to %v, want it capped at 16 × 10 s", wait)
	}
	b.success()
	if ok, _ := b.allow(later); !ok || b.state(later) != breakerClosed {
		t.Fatal("a success did not close the breaker")
	}
	// A probe that never reached the axis is given back.
	for range 3 {
		b.failure(later)
	}
	end := later.Add(time.Hour)
	b.allow(end)
	b.release()
	if ok, _ := b.allow(end); !ok {
		t.Fatal("a released probe was not given back")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	deadline := time.Date(2026, 3, 17, 12, 0, 0, 0, envelope.Vietnam)
	out := outRecord{
		Kind: kindDocument, DocumentID: "000.00.07.H26,2026/03/16,15/UBND-VP", MessageType: "edoc",
		To: []string{"000.00.00.G22", "000.00.00.H29"}, Subject: "V/v", Notation: "15/UBND-VP", Title: "V/v",
		Deadline: deadline, Client: "legacy", Promulgated: envelope.Date{Year: 2026, Month: 3, Day: 16},
		Business: envelope.BusinessRevoke,
	}
	r := &queue.Record{Meta: out.meta()}
	got := readOut(r)
	if diff := cmp.Diff(out, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("readOut(meta()) (-want +got):\n%s", diff)
	}
	if !got.sentTo("000.00.00.H29") || got.sentTo("000.00.00.H2") {
		t.Error("sentTo matches by part of a code, want whole codes only")
	}
	now := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	r.Meta = merge(r.Meta, markAmbiguous)
	if !readOut(r).Ambiguous {
		t.Error("markAmbiguous not read back")
	}
	r.Meta = merge(r.Meta, markSent("axis-1", now))
	if got := readOut(r); got.Ambiguous || got.AxisDocID != "axis-1" || !got.SentAt.Equal(now) {
		t.Errorf("after markSent: %+v", got)
	}
	in := inRecord{AxisDocID: "a1", MessageType: "status", From: "000.00.00.G22", Inbox: inboxStatus, Kind: kindStatus, StatusCode: "03"}
	if diff := cmp.Diff(in, readIn(&queue.Record{Meta: in.meta()})); diff != "" {
		t.Errorf("readIn(meta()) (-want +got):\n%s", diff)
	}
	// One record's kinds of key never collide, even on the same words.
	keys := map[string]bool{}
	for _, k := range []string{outDocumentKey("d"), outStatusKey("d", "d", "d"), fetchedKey("d"), deliveredKey("d", "d"), changeKey("d", "d", 1, "d"), unverifiedKey("d", "d", "d")} {
		if keys[k] {
			t.Errorf("key %q made twice", k)
		}
		keys[k] = true
	}
}

// merge is what the store does with a partial update.
func merge(dst, src map[string]string) map[string]string {
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// A progress status written before a refusal or a change's answer, and
// received after it, does not replace it; one written after does.
func TestSupersedes(t *testing.T) {
	t0 := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	answered := recipient{Status: "15", UpdatedAt: t0}
	tests := []struct {
		cur  recipient
		next string
		at   time.Time
		want bool
	}{
		{answered, "01", t0, false},
		{answered, "01", t0.Add(-time.Second), false},
		{answered, "05", t0.Add(time.Second), true},
		{recipient{Status: "02", UpdatedAt: t0}, "03", t0.Add(time.Minute), true},
		{recipient{Status: "02", UpdatedAt: t0}, "01", t0.Add(-time.Minute), false},
		{recipient{Status: "03", UpdatedAt: t0}, "15", t0.Add(-time.Minute), true}, // answers always count
		{recipient{}, "01", time.Time{}, true},
		{recipient{Status: "03", UpdatedAt: t0}, "01", t0.Add(time.Minute), false},
	}
	for _, tt := range tests {
		if got := supersedes(tt.cur, tt.next, tt.at); got != tt.want {
			t.Errorf("supersedes(%s at %s, %s at %s) = %v, want %v", tt.cur.Status, tt.cur.UpdatedAt.Format(time.TimeOnly), tt.next, tt.at.Format(time.TimeOnly), got, tt.want)
		}
	}
}

// TestRetireNamesTheSuccessor: without outbound.follow_successor, a
// recipient whose code was retired is a problem of its field naming the
// successor; with it, the successor takes its place.
func TestRetireNamesTheSuccessor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "retired.txt")
	os.WriteFile(path, []byte("000.00.00.G04 000.00.00.G38 # thử\n"), 0o600)
	table, err := directory.ReadRetired(path, directory.DefaultRetired())
	if err != nil {
		t.Fatal(err)
	}
	o := &outbound{retired: table}
	to, moved, ps := o.retire([]string{"000.00.00.G22", "000.00.00.G04"})
	if len(ps) != 1 || ps[0].Path != "to[1]" || !strings.Contains(ps[0].Rule, "successor is 000.00.00.G38") || len(moved) != 0 || to[1] != "000.00.00.G04" {
		t.Fatalf("refusing: to %v, moved %v, problems %v", to, moved, ps)
	}
	o.followSuccessor = true
	to, moved, ps = o.retire([]string{"000.00.00.G22", "000.00.00.G04"})
	if len(ps) != 0 || to[1] != "000.00.00.G38" || len(moved) != 1 {
		t.Fatalf("following: to %v, moved %v, problems %v", to, moved, ps)
	}
}

// TestLinkOfAUnit: a unit goes out on the nearest configured agency above
// it; a code under none, on the first axis.
func TestLinkOfAUnit(t *testing.T) {
	national, prov, own := &link{axis: "national"}, &link{axis: "langson"}, &link{axis: "langson", id: "langson/000.00.07.H26"}
	ls := &links{all: []*link{national, prov, own}, byAgency: map[string]*link{"000.00.00.H26": prov, "000.00.07.H26": own}}
	for code, want := range map[string]*link{
		"000.00.07.H26": own, "000.01.07.H26": own, "000.00.05.H26": prov, "000.00.00.G22": national, "H37.DN.001": national,
	} {
		if got := ls.of(code); got != want {
			t.Errorf("%s goes out on %+v, want %+v", code, got, want)
		}
	}
}
