package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/axis/axistest"
)

func TestAxisCommands(t *testing.T) {
	dir := t.TempDir()
	url, pkg := serveHub(t, dir, axishub.Options{
		Systems: []axishub.System{{SystemID: "A", Secret: "sa", Codes: []string{"000.00.07.H26"}}, {SystemID: "B", Secret: "sb", Codes: []string{"000.00.00.G22"}}},
	})
	os.WriteFile(filepath.Join(dir, "sa"), []byte("sa\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "sb"), []byte("sb\n"), 0o600)
	conn := func(sys string) []string {
		return []string{"--endpoint", url, "--system-id", sys, "--secret-file", filepath.Join(dir, strings.ToLower("s"+sys))}
	}
	ax := func(sub, sys string, rest ...string) (int, string, string) {
		return lienthong(t, "", append(append([]string{"axis", sub}, conn(sys)...), rest...)...)
	}

	code, out, errOut := ax("send", "A", "--from", "000.00.07.H26", pkg)
	id := strings.TrimSpace(out)
	if code != 0 || id == "" {
		t.Fatalf("send: exit %d %q %s", code, out, errOut)
	}
	if code, out, _ := ax("list", "B"); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("list: exit %d %s", code, out)
	}
	if code, out, _ := ax("get", "B", id); code != 0 || !strings.Contains(out, "V/v kiểm thử") {
		t.Fatalf("get: exit %d", code)
	}
	if code, _, errOut := ax("ack", "B", id); code != 0 {
		t.Fatalf("ack: %s", errOut)
	}
	if code, out, _ := ax("sent", "A", "--doc-id", id); code != 0 || !strings.Contains(out, `"receiveStatus":"done"`) {
		t.Fatalf("sent: exit %d %s", code, out)
	}
	if code, out, _ := ax("agencies", "A"); code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("agencies: exit %d %s", code, out)
	}
	// Sending as a code the system does not own is refused, and says so.
	code, _, errOut = ax("send", "B", "--from", "000.00.07.H26", pkg)
	if code != 1 || !strings.Contains(errOut, "terminal") || !strings.Contains(errOut, "000.00.07.H26") {
		t.Fatalf("send as another's code: exit %d %s", code, errOut)
	}
	if code, _, _ := lienthong(t, "", "axis", "list"); code != 2 {
		t.Fatalf("list without connection flags: exit %d, want 2", code)
	}
}

// TestAxisCommandsREST: the same tool against an axis speaking the REST
// dialect, named by the daemon's configuration with --axis and --agency.
func TestAxisCommandsREST(t *testing.T) {
	dir := t.TempDir()
	url, pkg := serveHub(t, dir, axishub.Options{Dialect: axis.DialectREST, Accounts: map[string]string{"qt": "mk"},
		Systems: []axishub.System{{SystemID: "A", Secret: "sa", Codes: []string{"000.00.07.H26"}}, {SystemID: "U", Secret: "su", Codes: []string{"000.00.00.G22"}}},
	})
	for name, v := range map[string]string{"sa": "sa\n", "su": "su\n", "mk": "mk\n"} {
		os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600)
	}
	code, out, errOut := lienthong(t, "", "axis", "send", "--dialect", "rest-v2", "--endpoint", url, "--system-id", "A",
		"--secret-file", filepath.Join(dir, "sa"), "--token-user", "qt", "--token-password-file", filepath.Join(dir, "mk"), "--from", "000.00.07.H26", pkg)
	id := strings.TrimSpace(out)
	if code != 0 || id == "" {
		t.Fatalf("send: exit %d %q %s", code, out, errOut)
	}
	cfg := filepath.Join(dir, "lienthong.toml")
	writeFile(t, cfg, `
[[axes]]
name = "langson"
dialect = "rest-v2"
endpoint = "`+url+`"
system_id = "A"
secret = "file:sa"
token_user = "qt"
token_password = "file:mk"

[[agencies]]
code = "000.00.00.G22"
name = "VPCP"
axis = "langson"
axis_system_id = "U"
axis_secret = "file:su"
`)
	ax := func(sub string, rest ...string) (int, string, string) {
		return lienthong(t, "", append([]string{"axis", sub, "--config", cfg, "--axis", "langson", "--agency", "000.00.00.G22"}, rest...)...)
	}
	if code, out, errOut := ax("list"); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("list with the agency's own credentials: exit %d %s %s", code, out, errOut)
	}
	if code, out, _ := ax("get", id); code != 0 || !strings.Contains(out, "V/v kiểm thử") {
		t.Fatalf("get: exit %d", code)
	}
	if code, _, errOut := ax("ack", "--fail", "--description", "thiếu tệp", id); code != 0 {
		t.Fatalf("ack --fail: %s", errOut)
	}
	if code, _, errOut := ax("agencies"); code != 1 || !strings.Contains(errOut, "rest-v2") {
		t.Fatalf("agencies on rest-v2: exit %d %s, want the dialect named", code, errOut)
	}
	if code, _, errOut := lienthong(t, "", "axis", "list", "--config", cfg, "--axis", "hanoi"); code != 2 || !strings.Contains(errOut, "langson") {
		t.Fatalf("an unknown axis: exit %d %s, want 2 and the known ones named", code, errOut)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveHub serves a hub with o's systems in dir, knowing the two agencies
// of the tests, and writes a document from the first to the second.
func serveHub(t *testing.T, dir string, o axishub.Options) (url, pkg string) {
	t.Helper()
	o.Dir = dir
	o.Agencies = []axis.Agency{{Code: "000.00.07.H26", Name: "Sở"}, {Code: "000.00.00.G22", Name: "VPCP"}}
	hub, err := axishub.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: hub}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); hub.Close() })
	pkg = filepath.Join(dir, "d.edxml")
	writeFile(t, pkg, string(axistest.Document(t, "000.00.07.H26", "000.00.00.G22")))
	return "http://" + ln.Addr().String(), pkg
}
