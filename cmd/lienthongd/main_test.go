package main

import (
	"bytes"
	"context"
	"errors"
	"lienthong/conf"
	"lienthong/envelope/devca"
	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestConfigProblemsNamedByPath(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lienthong.toml")
	os.WriteFile(cfg, []byte("[agency]\ncode = \"000.00.07.H2\"\n[axis]\nsecret = \"inline\"\nendpont = \"x\"\n"), 0o600)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-config", cfg, "-check"}, &out, &errb)
	if err == nil {
		t.Fatal("a broken configuration was accepted")
	}
	for _, want := range []string{"axis.endpont: is not a known setting", "agency.code:", "axis.secret:", "signing.key_file: is required", "api.tokens: is required"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if strings.Contains(errb.String(), "inline") {
		t.Errorf("stderr repeats the inline secret:\n%s", errb.String())
	}
}

func TestDevWritesEnvAndServes(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-dev", "-state", dir}, &out, &errb) }()
	vars := waitForEnv(t, filepath.Join(dir, "dev.env"), 30*time.Second, errb.String)
	for _, k := range []string{"LIENTHONG_API", "LIENTHONG_TOKEN", "LIENTHONG_AGENCY", "LIENTHONG_PEER", "LIENTHONG_METRICS"} {
		if vars[k] == "" {
			t.Errorf("dev.env lacks %s", k)
		}
	}
	resp, err := http.Get(vars["LIENTHONG_METRICS"])
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v", vars["LIENTHONG_METRICS"], err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", vars["LIENTHONG_API"]+"/readyz", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run -dev: %v", err)
	}
	if !strings.Contains(out.String(), "Send a document") {
		t.Errorf("stdout lacks the how-to:\n%s", out.String())
	}
}

// waitForEnv polls for the dev.env a -dev daemon writes once it serves and
// returns its variables; on timeout it fails with what diagnose returns.
func waitForEnv(t *testing.T, path string, within time.Duration, diagnose func() string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if b, err := os.ReadFile(path); err == nil {
			vars := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				k, v, _ := strings.Cut(strings.TrimPrefix(l, "export "), "=")
				vars[k] = strings.Trim(v, "'")
			}
			return vars
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v:\n%s", path, within, diagnose())
		}
		time.Sleep(20 * time.Millisecond) // polling for the file, bounded by the deadline
	}
}

// dev.env works with "." in a POSIX shell, and a -dev restarted on the
// same state folder keeps its URLs.
func TestDevEnvSourcedAndPortsKept(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "dev.env")
	devOnce := func() map[string]string {
		os.Remove(env)
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"-dev", "-state", dir}, &out, &errb) }()
		vars := waitForEnv(t, env, 30*time.Second, errb.String)
		cmd := exec.Command("sh", "-c", `. "$1" && echo "$LIENTHONG_API|$LIENTHONG_TOKEN"`, "sh", env)
		got, err := cmd.Output()
		if want := vars["LIENTHONG_API"] + "|" + vars["LIENTHONG_TOKEN"]; err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf(". dev.env; echo = %q (%v), want %q", got, err, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run -dev: %v", err)
		}
		return vars
	}
	first, second := devOnce(), devOnce()
	for _, k := range []string{"LIENTHONG_API", "LIENTHONG_PEER_API", "LIENTHONG_METRICS"} {
		if first[k] != second[k] {
			t.Errorf("%s moved from %s to %s across a restart", k, first[k], second[k])
		}
	}
}

// The manual page is written by hand; every flag -h lists must be in it,
// and groff must read it without a warning.
func TestManPageCoversFlags(t *testing.T) {
	page, err := os.ReadFile("../../docs/lienthongd.8")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, &errb); err == nil {
		t.Fatal("-h ran the daemon")
	}
	var flags int
	for _, l := range strings.Split(errb.String(), "\n") {
		if !strings.HasPrefix(l, "  -") {
			continue
		}
		name := strings.Fields(l)[0]
		flags++
		if !strings.Contains(string(page), "\n.BI "+strings.ReplaceAll(name, "-", `\-`)+` "`) &&
			!strings.Contains(string(page), "\n.B "+strings.ReplaceAll(name, "-", `\-`)+"\n") {
			t.Errorf("docs/lienthongd.8 has no entry for %s", name)
		}
	}
	if flags < 6 {
		t.Fatalf("found %d flags in the -h output; the test no longer reads it:\n%s", flags, errb.String())
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Fatalf("groff (Debian's groff-base) is needed: %v", err)
	}
	cmd := exec.Command(groff, "-k", "-man", "-Tutf8", "-ww", "-z", "../../docs/lienthongd.8")
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}

// A command line the daemon cannot read is a usage error (exit 2), told
// apart from a daemon that failed (exit 1).
func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-confg", "x"}, {"-check", "extra"}} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("run %q = %v, want a usage error (exit 2)", args, err)
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-config", filepath.Join(t.TempDir(), "none.toml")}, &out, &errb); err == nil || errors.As(err, new(usageError)) {
		t.Errorf("a missing configuration file: %v, want a failure that is not a usage error", err)
	}
}

// -check opens the keys: a signing key that is not its certificate's is
// refused naming both files; a configuration whose keys match passes.
func TestCheckRefusesAKeyOfAnotherCertificate(t *testing.T) {
	dir := t.TempDir()
	s, err := devstack.Open(devstack.Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config
	s.Close()
	write := func(c conf.Config) string {
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(c); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "lienthong.toml")
		os.WriteFile(path, b.Bytes(), 0o600)
		return path
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-config", write(c), "-check"}, &out, &errb); err != nil || !strings.Contains(out.String(), "matches its certificate") {
		t.Fatalf("-check of the dev configuration: %v\n%s%s", err, out.String(), errb.String())
	}
	other, _, _ := stacktest.NewAgencyKey(t, t.TempDir(), "other", devca.Leaf{Name: "Khác", Code: devstack.AgencyCode})
	c.Signing.KeyFile = other
	out.Reset()
	errb.Reset()
	err = run(context.Background(), []string{"-config", write(c), "-check"}, &out, &errb)
	if err == nil || !strings.Contains(errb.String(), other) || !strings.Contains(errb.String(), c.Signing.CertFile) {
		t.Errorf("-check with another certificate's key: %v\n%s, want a refusal naming %s and %s", err, errb.String(), other, c.Signing.CertFile)
	}
}
