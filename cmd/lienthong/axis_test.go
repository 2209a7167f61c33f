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
	hub, err := axishub.Open(axishub.Options{Dir: dir,
		Systems:  []axishub.System{{SystemID: "A", Secret: "sa", Codes: []string{"000.00.07.H26"}}, {SystemID: "B", Secret: "sb", Codes: []string{"000.00.00.G22"}}},
		Agencies: []axis.Agency{{Code: "000.00.07.H26", Name: "Sở"}, {Code: "000.00.00.G22", Name: "VPCP"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: hub}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); hub.Close() })
	url := "http://" + ln.Addr().String()
	pkg := filepath.Join(dir, "d.edxml")
	os.WriteFile(pkg, axistest.Document(t, "000.00.07.H26", "000.00.00.G22"), 0o600)
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
