package gateway

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules holds the design's import rules: imports point inward
// (cmd → gateway → envelope, queue, directory, conf), never back; conf is
// a leaf; the operator tool links no part of the engine (the evidence
// package, which checks proofs from a store or a bundle, is none).
func TestImportRules(t *testing.T) {
	imports := goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}}`, "lienthong/...")
	for pkg, deps := range imports {
		for _, d := range deps {
			if !strings.HasPrefix(d, "lienthong/") && d != "lienthong" {
				if pkg == "lienthong/queue" && strings.Contains(d, "prometheus") {
					t.Errorf("%s imports %s: the store exposes Stats, the engine exports them", pkg, d)
				}
				continue
			}
			switch {
			case strings.HasPrefix(d, "lienthong/cmd/"):
				t.Errorf("%s imports %s: nothing imports a command", pkg, d)
			case pkg == "lienthong/conf":
				t.Errorf("conf imports %s: conf is a leaf", d)
			case isLeaf(pkg) && (strings.HasPrefix(d, "lienthong/gateway") || d == "lienthong/conf"):
				t.Errorf("%s imports %s: envelope, queue and directory never import the engine or its configuration", pkg, d)
			case pkg == "lienthong/queue" && strings.HasPrefix(d, "lienthong/envelope"):
				t.Errorf("queue imports %s: the store knows no edXML", d)
			}
		}
	}
	for _, d := range imports["lienthong/gateway/evidence"] {
		if strings.HasPrefix(d, "lienthong/gateway") {
			t.Errorf("the evidence package imports %s: it stays a library anyone may check proofs with", d)
		}
	}
	for pkg := range goList(t, "-deps", "lienthong/gateway/api") {
		if strings.HasPrefix(pkg, "lienthong/queue") || pkg == "lienthong/gateway" {
			t.Errorf("the local API links %s; it asks the engine through an interface, in localapi's terms", pkg)
		}
	}
	for pkg := range goList(t, "-deps", "lienthong/cmd/lienthong") {
		if strings.HasPrefix(pkg, "lienthong/gateway") && pkg != "lienthong/gateway/localapi" && pkg != "lienthong/gateway/axis" && pkg != "lienthong/gateway/evidence" {
			t.Errorf("the operator tool links %s; it may link only the local API client, the axis client and the evidence verifier", pkg)
		}
	}
}

func isLeaf(pkg string) bool {
	for _, p := range []string{"lienthong/envelope", "lienthong/queue", "lienthong/directory"} {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// goList runs go list and returns each output line's first word with the
// rest.
func goList(t *testing.T, args ...string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}
