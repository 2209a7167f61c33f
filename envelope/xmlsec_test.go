package envelope

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needTool finds a program the interop tests run. CI installs them all, so
// there a missing one fails; elsewhere the test is skipped with the
// package to install.
func needTool(t *testing.T, name, debPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found; .ci/run must install Debian's %s", name, debPackage)
	}
	t.Skipf("%s not found; install Debian's %s to run this test", name, debPackage)
	return ""
}

func writePEMFile(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// xmlsecFiles writes the test PKI where xmlsec1 can read it.
func xmlsecFiles(t *testing.T, k *testPKI) (dir, ca, cert, key string) {
	dir = t.TempDir()
	ca = writePEMFile(t, dir, "ca.pem", "CERTIFICATE", k.ca.Cert.Raw)
	cert = writePEMFile(t, dir, "agency.pem", "CERTIFICATE", k.rsaCert.Raw)
	der, err := x509.MarshalPKCS8PrivateKey(k.rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	key = writePEMFile(t, dir, "agency.key", "PRIVATE KEY", der)
	return dir, ca, cert, key
}

// xmlsecVerify runs xmlsec1 --verify, checking certificates at at (now
// when zero).
func xmlsecVerify(t *testing.T, bin, ca string, doc []byte, at time.Time) error {
	t.Helper()
	f := filepath.Join(t.TempDir(), "in.edxml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--verify", "--trusted-pem", ca}
	if !at.IsZero() {
		args = append(args, "--verification-gmt-time", at.UTC().Format(time.DateTime))
	}
	out, err := exec.Command(bin, append(args, f)...).CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

// TestXmlsecVerifiesOurs: packages we sign, RSA and ECDSA, pass Debian's
// xmlsec1, and a changed byte outside the signature fails it.
func TestXmlsecVerifiesOurs(t *testing.T) {
	bin := needTool(t, "xmlsec1", "xmlsec1")
	k := testKeys(t)
	_, ca, _, _ := xmlsecFiles(t, k)
	ec, err := NewSigner(k.ecKey, []*x509.Certificate{k.ecCert}, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Signer{k.signer(t, SignerOptions{}), ec, k.signer(t, SignerOptions{LegacySHA1: true})} {
		for _, p := range []*Package{memoPackage(), {Kind: KindStatus, Status: testStatus()}} {
			b := signed(t, s, p)
			if err := xmlsecVerify(t, bin, ca, b, time.Time{}); err != nil {
				t.Fatalf("%s: xmlsec1 refuses our signature:\n%s", s.Method(), err)
			}
			i := bytes.Index(b, []byte("000.00.07.H26")) + 12
			c := bytes.Clone(b)
			c[i] = flip(c[i])
			if err := xmlsecVerify(t, bin, ca, c, time.Time{}); err == nil {
				t.Fatalf("%s: xmlsec1 accepts a changed package", s.Method())
			}
		}
	}
}

// xmlsecTemplate is a signature template for xmlsec1 --sign: it fills the
// digest, the value and the certificate.
const xmlsecTemplate = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
	`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
	`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>` +
	`<ds:Reference URI=""><ds:Transforms>` +
	`<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>` +
	`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
	`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>` +
	`</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>`

// TestWeVerifyXmlsec: packages xmlsec1 signs from a template pass our
// verifier, and a changed byte outside the signature fails it.
func TestWeVerifyXmlsec(t *testing.T) {
	bin := needTool(t, "xmlsec1", "xmlsec1")
	k := testKeys(t)
	dir, _, cert, key := xmlsecFiles(t, k)
	for i, p := range []*Package{memoPackage(), {Kind: KindStatus, Status: testStatus()}} {
		var tmpl bytes.Buffer
		if err := build(&tmpl, p, BuildOptions{}, &sigSlot{sig: []byte(xmlsecTemplate)}); err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(dir, "tmpl.edxml")
		out := filepath.Join(dir, "signed.edxml")
		if err := os.WriteFile(in, tmpl.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if msg, err := exec.Command(bin, "--sign", "--privkey-pem", key+","+cert, "--output", out, in).CombinedOutput(); err != nil {
			t.Fatalf("xmlsec1 --sign: %v\n%s", err, msg)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		v, err := VerifyBytes(b, VerifyOptions{Trust: k.trust})
		if err != nil {
			t.Fatalf("case %d: we refuse xmlsec1's signature: %v\n%s", i, err, b)
		}
		if !v.Signer.Equal(k.rsaCert) {
			t.Errorf("signer %q", v.Signer.Subject)
		}
		j := bytes.Index(b, []byte("000.00.00.G22")) + 12
		b[j] = flip(b[j])
		if _, err := VerifyBytes(b, VerifyOptions{Trust: k.trust}); !errors.Is(err, ErrDigest) {
			t.Errorf("case %d: changed package: err = %v, want digest mismatch", i, err)
		}
	}
}
