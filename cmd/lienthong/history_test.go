package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/localapi"
)

// history asks the document's or the inbox item's events by the id's
// side, prints JSON when its output is not a terminal, and a table of one
// line per event for a person.
func TestHistory(t *testing.T) {
	at := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	evs := []localapi.Event{
		{Time: at, Kind: "accepted", Client: "dms"},
		{Time: at, Kind: "sent", AxisDocID: "D1"},
		{Time: at.Add(time.Minute), Kind: "status", Recipient: "000.00.00.G22", Direction: "in", Code: "03", Description: "Đã vào sổ", Staff: "Văn thư"},
	}
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		json.NewEncoder(w).Encode(evs)
	}))
	defer srv.Close()
	t.Setenv("LIENTHONG_API", srv.URL)
	t.Setenv("LIENTHONG_TOKEN", "t")
	code, out, errOut := lienthong(t, "", "history", "out-0000000001")
	var got []localapi.Event
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 3 || got[2].Code != "03" {
		t.Fatalf("history = %d %q %q, want the events as JSON", code, out, errOut)
	}
	if code, _, _ := lienthong(t, "", "history", "in-0000000002"); code != 0 {
		t.Fatalf("history of an inbox item: exit %d", code)
	}
	if want := []string{"/v1/documents/out-0000000001/events", "/v1/inbox/in-0000000002/events"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("asked %v, want %v", paths, want)
	}
	var b strings.Builder
	if err := historyTable(&b, evs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "EVENT") || !strings.Contains(lines[3], "status 03 received") ||
		!strings.Contains(lines[3], "000.00.00.G22") || !strings.Contains(lines[3], "by Văn thư") || !strings.Contains(lines[2], "axis D1") {
		t.Errorf("table:\n%s", b.String())
	}
}
