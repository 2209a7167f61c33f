package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// lienthong runs the tool in-process and returns its exit code and output.
func lienthong(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return exitCode(err), out.String(), errb.String()
}

func TestInspectExample(t *testing.T) {
	code, out, errOut := lienthong(t, "", "envelope", "inspect", "../../docs/examples/cong-van.edxml")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	want := map[string]any{
		"kind": "document", "documentId": "000.00.07.H26,2025/03/14,152/SVD-VP",
		"from": "000.00.07.H26", "to": []any{"000.00.00.G22"},
		"codeNumber": "152", "codeNotation": "SVD-VP", "subject": "V/v báo cáo thử nghiệm liên thông",
		"priority": 1.0, "businessDocType": 0.0, "signed": false,
		"attachments": []any{map[string]any{
			"name": "cong-van-152.pdf", "contentType": "application/pdf", "size": 622.0,
			"sha256": "0ee71da8b6fe43c68dd8f847313460f90a3eeff604ad06bfcc755204ba556ef8",
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inspect output differs (-want +got):\n%s", diff)
	}
}

func TestInspectInvalidListsProblems(t *testing.T) {
	code, out, errOut := lienthong(t, "", "envelope", "inspect", "../../envelope/testdata/invalid-fields.edxml")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) < 10 {
		t.Fatalf("got %d problem lines, want every problem:\n%s", len(lines), errOut)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "edXMLHeader/") && !strings.HasPrefix(l, "edXMLBody/") && !strings.HasPrefix(l, "AttachmentEncoded/") {
			t.Errorf("problem line does not start with an element path: %q", l)
		}
	}
	want := `edXMLHeader/MessageHeader/To[2]/OrganId: "00.00.00.H41" is not a 13-character identifier code`
	if !strings.Contains(errOut, want+"\n") {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
}

func TestInspectUnreadable(t *testing.T) {
	code, _, errOut := lienthong(t, "", "envelope", "inspect", "../../envelope/testdata/hostile-doctype.edxml")
	if code != 1 || !strings.Contains(errOut, "DOCTYPE") {
		t.Errorf("exit %d, stderr %q; want 1 naming DOCTYPE", code, errOut)
	}
	code, _, errOut = lienthong(t, "", "envelope", "inspect", "no-such-file.edxml")
	if code != 1 || !strings.Contains(errOut, "no-such-file.edxml") {
		t.Errorf("exit %d, stderr %q; want 1 naming the file", code, errOut)
	}
}

func TestInspectStdin(t *testing.T) {
	b, err := os.ReadFile("../../envelope/testdata/status-bkav.edxml")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := lienthong(t, string(b), "envelope", "inspect", "-")
	if code != 0 || !strings.Contains(out, `"statusCode":"03"`) || !strings.Contains(out, `"responseForDocumentId":"000.00.07.H26,2025/03/14,152/SVD-VP"`) {
		t.Errorf("exit %d, stdout %s stderr %s", code, out, errOut)
	}
}

func TestBuildThenInspect(t *testing.T) {
	code, out, errOut := lienthong(t, "", "envelope", "build", "--metadata", "../../docs/examples/cong-van.json",
		"--time", "2025-03-14T09:30:00+07:00")
	if code != 0 {
		t.Fatalf("build exit %d:\n%s", code, errOut)
	}
	want, err := os.ReadFile("../../docs/examples/cong-van.edxml")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("build output differs from docs/examples/cong-van.edxml")
	}
	path := filepath.Join(t.TempDir(), "out.edxml")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := lienthong(t, "", "envelope", "inspect", path); code != 0 {
		t.Errorf("inspect of built package: exit %d\n%s", code, errOut)
	}
}

func TestBuildProblemsNameFields(t *testing.T) {
	meta := `{"from":{"organId":"000.00.07.H26"},"to":["000.00.00.G2"],"codeNumber":"1","codeNotation":"X",
		"promulgationDate":"2025-03-14","documentType":{"type":1},"subject":"","priority":0}`
	code, out, errOut := lienthong(t, meta, "envelope", "build", "--metadata", "-")
	if code != 1 || out != "" {
		t.Fatalf("exit %d stdout %q, want 1 and nothing", code, out)
	}
	for _, want := range []string{`to[0]: "000.00.00.G2" is not a 13-character identifier code`, `subject: is required`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestDirParse(t *testing.T) {
	tests := []struct {
		code     string
		exit     int
		out, err string
	}{
		{"000.00.07.H26", 0, `{"code":"000.00.07.H26","level":2,"parent":"000.00.00.H26","group":"H"}` + "\n", ""},
		{"000.00.00.G22", 0, `{"code":"000.00.00.G22","level":1,"parent":"","group":"G"}` + "\n", ""},
		{"00.00.00.H41", 1, "", `lienthong: identifier code "00.00.00.H41" is not a 13-character identifier code` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			code, out, errOut := lienthong(t, "", "dir", "parse", tt.code)
			if code != tt.exit || out != tt.out || errOut != tt.err {
				t.Errorf("dir parse %s = %d %q %q, want %d %q %q", tt.code, code, out, errOut, tt.exit, tt.out, tt.err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"envelope", "-h"}, {"envelope", "inspect", "-h"}, {"envelope", "build", "-h"},
		{"dir", "-h"}, {"dir", "parse", "-h"}, {"dir", "search", "-h"}, {"dir", "lookup", "-h"},
	} {
		code, out, _ := lienthong(t, "", args...)
		if code != 0 || !strings.Contains(out, "Example") {
			t.Errorf("lienthong %v: exit %d, want 0 and help with an example:\n%s", args, code, out)
		}
	}
	// Every command in the tree, in each spelling of help, exits 0 with
	// its usage on standard output.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		for _, h := range []string{"-h", "--help", "-help"} {
			code, out, errOut := lienthong(t, "", append(slices.Clone(path), h)...)
			if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
				t.Errorf("lienthong %v %s: exit %d, stdout %.80q, stderr %q", path, h, code, out, errOut)
			}
		}
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
	}
	walk(newRoot(&env{ctx: context.Background()}))

	// A line the tool cannot read: exit 2, the error first, then the usage.
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"frobnicate"}, `lienthong: unknown command "frobnicate"`},
		{[]string{"envelop"}, `lienthong: unknown command "envelop"; did you mean "envelope"?`},
		{[]string{"envelope"}, "lienthong envelope: a command is needed"},
		{[]string{"outbox", "resnd", "x"}, `lienthong outbox: unknown command "resnd"; did you mean "resend"?`},
		{[]string{"envelope", "inspect"}, "lienthong envelope inspect: got 0 argument(s), want FILE"},
		{[]string{"envelope", "inspect", "--max-bytes", "many", "f"}, `lienthong envelope inspect: invalid argument "many" for "--max-bytes"`},
		{[]string{"envelope", "build"}, "lienthong envelope build: --metadata is required"},
		{[]string{"queue", "stats"}, "lienthong queue stats: --db FILE or --dsn DATABASE is required"},
		{[]string{"inbox", "get", "ID", "1", "--colour"}, "lienthong inbox get: unknown flag: --colour"},
	} {
		code, out, errOut := lienthong(t, "", c.args...)
		first, rest, _ := strings.Cut(errOut, "\n")
		if code != 2 || out != "" || !strings.HasPrefix(first, c.err) || !strings.Contains(rest, "Usage:") {
			t.Errorf("lienthong %q: exit %d, stdout %q, stderr:\n%s\nwant 2 and %q before the usage", c.args, code, out, errOut, c.err)
		}
	}
}

func TestDirSearchAndLookup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agencies.json")
	data := `{"status":"OK","data":[
		{"id":1,"code":"000.00.00.H26","name":"UBND Thành phố Hà Nội","pid":0,"mail":"hn@hanoi.gov.vn"},
		{"id":2,"code":"000.00.07.H26","name":"Sở Tài chính Hà Nội","pid":1,"mail":"stc@hanoi.gov.vn"},
		{"id":3,"code":"000.00.00.G12","name":"Bộ Tài chính","pid":0},
		{"id":4,"code":"bad","name":"x"},
		{"id":5,"code":"000.00.09.H26","name":"Sở TT&TT Hà Nội","pid":1}]}`
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SỞ TÀI CHÍNH HÀ NỘI", "so tai chinh ha noi"} {
		code, out, errOut := lienthong(t, "", "dir", "search", "--file", file, q)
		first, _, _ := strings.Cut(out, "\n")
		if code != 0 || !strings.Contains(first, `"code":"000.00.07.H26","name":"Sở Tài chính Hà Nội"`) {
			t.Errorf("dir search %q: exit %d, first line %s\n%s", q, code, first, errOut)
		}
		if !strings.Contains(errOut, `left out entry 3 ("bad")`) {
			t.Errorf("the malformed entry was dropped silently: %q", errOut)
		}
	}
	code, out, _ := lienthong(t, "", "dir", "search", "--file", file, "tai", "chinh")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.HasPrefix(out, `{"id":"3","code":"000.00.00.G12"`) {
		t.Errorf("dir search tai chinh: exit %d\n%s", code, out)
	}
	// Names print as written, not with \u0026 for &.
	if code, out, _ := lienthong(t, "", "dir", "lookup", "--file", file, "000.00.09.H26"); code != 0 || !strings.Contains(out, `"name":"Sở TT&TT Hà Nội"`) {
		t.Errorf("dir lookup of a name with &: exit %d %s", code, out)
	}
	code, out, _ = lienthong(t, "", "dir", "lookup", "--file", file, "000.00.07.H26")
	if code != 0 || !strings.Contains(out, `"mail":"stc@hanoi.gov.vn"`) {
		t.Errorf("dir lookup: exit %d %s", code, out)
	}
	// What "axis agencies" prints, one agency per line, reads too.
	lines := filepath.Join(t.TempDir(), "agencies.jsonl")
	os.WriteFile(lines, []byte(`{"id":"2","code":"000.00.07.H26","name":"Sở Tài chính Hà Nội","pid":"1"}`+"\n"+`{"id":"3","code":"000.00.00.G12","name":"Bộ Tài chính","pid":"0"}`+"\n"), 0o600)
	if code, out, errOut := lienthong(t, "", "dir", "lookup", "--file", lines, "000.00.00.G12"); code != 0 || !strings.Contains(out, "Bộ Tài chính") {
		t.Errorf("dir lookup in a file of JSON lines: exit %d %s %s", code, out, errOut)
	}
	code, _, errOut := lienthong(t, "", "dir", "lookup", "--file", file, "000.00.00.H29")
	if code != 1 || !strings.Contains(errOut, "000.00.00.H29: not in the agency directory") {
		t.Errorf("dir lookup of an unknown code: exit %d %q", code, errOut)
	}
}
