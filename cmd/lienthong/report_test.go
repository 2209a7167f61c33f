package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"lienthong/gateway/localapi"
)

// report prints the dev peer's row as a table, the report as JSON, the
// overdue list as CSV for Excel, and refuses what it cannot do.
func TestReport(t *testing.T) {
	s := devStack(t)
	api := apiArgs(t, s)
	acc, err := s.Client.Submit(context.Background(), stacktest.Memo("V/v báo cáo", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) { // polling the API, bounded by the deadline
		d, err := s.Client.Document(context.Background(), acc.ID)
		if err == nil && d.Recipients[0].StatusCode == "03" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dev peer did not register the document within a minute: %+v, %v", d, err)
		}
	}
	code, out, errOut := lienthong(t, "", append([]string{"report", "-o", "table"}, api...)...)
	// The memo was signed in March 2026: sent late, which the list says.
	if code != 0 || !strings.Contains(out, "03 MEDIAN") || !regexp.MustCompile(devstack.PeerCode+`.*sent\s+1\s`).MatchString(out) || !strings.Contains(out, "sent late") {
		t.Errorf("table: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = lienthong(t, "", append([]string{"report", "--by", "agency"}, api...)...)
	var r localapi.TimelinessReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.By != "agency" || len(r.Rows) != 1 || r.Rows[0].Code != devstack.AgencyCode || r.Rows[0].Sent.ToRegistered.Count != 1 {
		t.Errorf("JSON off a terminal: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = lienthong(t, "", append([]string{"report", "-o", "csv", "--overdue"}, api...)...)
	if code != 0 || !strings.HasPrefix(out, "\uFEFFBản ghi,Mã văn bản") {
		t.Errorf("overdue CSV: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := lienthong(t, "", append([]string{"report", "--overdue"}, api...)...); code != 2 || !strings.Contains(errOut, "--overdue goes with -o csv") {
		t.Errorf("--overdue without csv: exit %d, %s", code, errOut)
	}
	if code, _, errOut := lienthong(t, "", append([]string{"report", "--month", "11/2026"}, api...)...); code != 1 || !strings.Contains(errOut, "month: must be a month YYYY-MM") {
		t.Errorf("a bad month: exit %d, %s", code, errOut)
	}
}

// The lists print as tables when asked (a terminal's default), as JSON
// otherwise, with Vietnamese as written.
func TestListsAsTables(t *testing.T) {
	s := devStack(t)
	api := apiArgs(t, s)
	if _, err := s.Client.Submit(context.Background(), stacktest.Memo("V/v bảng & cột", 0), nil); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := lienthong(t, "", append([]string{"outbox", "-o", "table"}, api...)...)
	if code != 0 || !strings.HasPrefix(out, "ID ") || !strings.Contains(out, "out-0000000001") || !strings.Contains(out, "V/v bảng & cột") || strings.Count(out, "\n") != 2 {
		t.Errorf("outbox table: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = lienthong(t, "", append([]string{"agencies", "-o", "table"}, api...)...)
	if code != 0 || !strings.Contains(out, "CERTIFICATE UNTIL") || !strings.Contains(out, devstack.AgencyCode) {
		t.Errorf("agencies table: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = lienthong(t, "", append([]string{"inbox", "-o", "table"}, api...)...)
	if code != 0 || !strings.Contains(out, "(none)") {
		t.Errorf("empty inbox table: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = lienthong(t, "", append([]string{"inbound", "-o", "table"}, api...)...)
	if code != 0 || !strings.HasPrefix(out, "ID ") || !strings.Contains(out, "(none)") {
		t.Errorf("inbound problems table: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := lienthong(t, "", append([]string{"inbound", "refetch", "001a2419378533ac61f6b2655"}, api...)...); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("refetch of a package not failing: exit %d, %s", code, errOut)
	}
	if code, _, errOut := lienthong(t, "", append([]string{"inbound", "set-aside", "in-0000000001"}, api...)...); code != 2 || !strings.Contains(errOut, "--reason is required") {
		t.Errorf("set-aside without a reason: exit %d, %s", code, errOut)
	}
	code, out, _ = lienthong(t, "", append([]string{"outbox"}, api...)...)
	var docs []localapi.Document
	if code != 0 || json.Unmarshal([]byte(out), &docs) != nil || len(docs) != 1 || strings.Contains(out, `\u0026`) {
		t.Errorf("outbox off a terminal: exit %d\n%s", code, out)
	}
}

// apiArgs are the flags that point the tool at a dev stack's API, with
// its token in a file.
func apiArgs(t *testing.T, s *devstack.Stack) []string {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(s.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--api", s.Client.Base, "--token-file", tokenFile}
}
