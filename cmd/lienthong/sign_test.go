package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/envelope/devca"
	"lienthong/envelope/sigkey/softhsm"
)

func TestDevCASignVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	code, out, errOut := lienthong(t, "", "dev-ca", dir)
	if code != 0 || !strings.Contains(out, "ca.pem") || !strings.Contains(errOut, devca.Marker) {
		t.Fatalf("dev-ca: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := lienthong(t, "", "dev-ca", dir); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("dev-ca over existing files: exit %d, %s", code, errOut)
	}
	code, signed, errOut := lienthong(t, "", "envelope", "sign", "--key", filepath.Join(dir, "agency.key"), "--cert", filepath.Join(dir, "agency.pem"), "../../docs/examples/cong-van.edxml")
	if code != 0 {
		t.Fatalf("sign: exit %d: %s", code, errOut)
	}
	_, inspected, _ := lienthong(t, "", "envelope", "inspect", "../../docs/examples/cong-van.edxml")

	code, verified, errOut := lienthong(t, signed, "envelope", "verify", "--trust", dir, "-")
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, errOut)
	}
	// verify prints what inspect prints, but signed.
	var a, b map[string]any
	if err := errors.Join(json.Unmarshal([]byte(inspected), &a), json.Unmarshal([]byte(verified), &b)); err != nil {
		t.Fatal(err)
	}
	a["signed"] = true
	if ja, jb := must(json.Marshal(a)), must(json.Marshal(b)); string(ja) != string(jb) {
		t.Errorf("verify output\n%s\ndiffers from inspect's\n%s", jb, ja)
	}

	tampered := strings.Replace(signed, "V/v báo cáo", "V/v bao cao", 1)
	code, out, errOut = lienthong(t, tampered, "envelope", "verify", "--trust", filepath.Join(dir, "ca.pem"), "-")
	if code != 1 || out != "" || !strings.Contains(errOut, "digest mismatch") {
		t.Fatalf("tampered: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A CA nobody trusts.
	other := filepath.Join(t.TempDir(), "other")
	lienthong(t, "", "dev-ca", other)
	code, _, errOut = lienthong(t, signed, "envelope", "verify", "--trust", filepath.Join(other, "ca.pem"), "-")
	if code != 1 || !strings.Contains(errOut, "untrusted certificate") || !strings.Contains(errOut, "issued by") {
		t.Fatalf("untrusted: exit %d, %s", code, errOut)
	}
	// Certificates checked at a time before they were made.
	code, _, errOut = lienthong(t, signed, "envelope", "verify", "--trust", dir, "--at", time.Now().AddDate(-1, 0, 0).Format(time.RFC3339), "-")
	if code != 1 || !strings.Contains(errOut, "expired or not yet valid") {
		t.Fatalf("--at a year ago: exit %d, %s", code, errOut)
	}
	if code, _, _ := lienthong(t, signed, "envelope", "verify", "-"); code != 2 {
		t.Fatalf("verify without --trust: exit %d, want 2", code)
	}
}

func TestVerifyPlaceholderSample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	lienthong(t, "", "dev-ca", dir)
	code, _, errOut := lienthong(t, "", "envelope", "verify", "--trust", dir, "../../envelope/testdata/wrapping/placeholder-signature.edxml")
	if code != 1 || !strings.Contains(errOut, "placeholder") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestSignWithPKCS11(t *testing.T) {
	tok := softhsm.ForTest(t, "agency", "4321")
	ca, err := devca.NewCA("Token CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.NewKey("signing", ca, time.Now()); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pemCert(ca.Cert.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	code, signed, errOut := lienthong(t, "", "envelope", "sign", "--pkcs11-uri", tok.URI("signing"), "../../docs/examples/cong-van.edxml")
	if code != 0 {
		t.Fatalf("sign with token: exit %d: %s", code, errOut)
	}
	if code, _, errOut := lienthong(t, signed, "envelope", "verify", "--trust", caFile, "-"); code != 0 {
		t.Fatalf("verify: exit %d: %s", code, errOut)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
