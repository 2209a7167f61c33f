package envelope

import (
	"bytes"
	"crypto"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dsig "github.com/russellhaering/goxmldsig"

	"lienthong/envelope/devca"
)

// testPKI is one CA with an RSA and an ECDSA agency certificate, made once
// per test binary because RSA key generation is slow.
type testPKI struct {
	ca      *devca.CA
	rsaCert *x509.Certificate
	rsaKey  crypto.Signer
	ecCert  *x509.Certificate
	ecKey   crypto.Signer
	trust   *Trust
}

var (
	pkiOnce sync.Once
	pki     testPKI
	pkiErr  error
)

func testKeys(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		now := time.Now()
		if pki.ca, pkiErr = devca.NewCA("Test CA", now); pkiErr != nil {
			return
		}
		if pki.rsaCert, pki.rsaKey, pkiErr = pki.ca.Issue(devca.Leaf{Name: "Sở Ví Dụ", Code: "000.00.07.H26"}, now); pkiErr != nil {
			return
		}
		if pki.ecCert, pki.ecKey, pkiErr = pki.ca.Issue(devca.Leaf{Name: "Sở Ví Dụ EC", ECDSA: true}, now); pkiErr != nil {
			return
		}
		pki.trust = NewTrust([]*x509.Certificate{pki.ca.Cert}, nil)
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return &pki
}

func (k *testPKI) signer(t testing.TB, opts SignerOptions) *Signer {
	t.Helper()
	s, err := NewSigner(k.rsaKey, []*x509.Certificate{k.rsaCert, k.ca.Cert}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signed(t testing.TB, s *Signer, p *Package) []byte {
	t.Helper()
	b, err := s.SignBytes(p, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func memoPackage() *Package {
	d := memo(2048)
	d.Trace = []TraceHeader{{OrganID: "000.00.07.H26", Timestamp: time.Date(2025, 3, 14, 9, 30, 0, 0, Vietnam)}}
	return &Package{Kind: KindDocument, Document: d}
}

// TestBuilderIsCanonical pins the fast path Sign relies on: for any
// package, the builder's canonical output is byte for byte what exclusive
// c14n of the parsed package gives.
func TestBuilderIsCanonical(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(7, 8))}
	for i := 0; i < 200; i++ {
		p := &Package{Kind: KindDocument, Document: g.document()}
		if i%3 == 0 {
			p = &Package{Kind: KindStatus, Status: g.status()}
		}
		var fast bytes.Buffer
		if err := build(&fast, p, BuildOptions{Zip: i%2 == 0}, &sigSlot{canonical: true}); err != nil {
			t.Fatal(err)
		}
		doc, err := readTree(bytes.NewReader(fast.Bytes()), Limits{})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		slow, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(doc.Root())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fast.Bytes(), slow) {
			t.Fatalf("case %d: builder output is not canonical:\n%s", i, cmp.Diff(string(slow), fast.String()))
		}
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := testKeys(t)
	rsaSigner := k.signer(t, SignerOptions{})
	ecSigner, err := NewSigner(k.ecKey, []*x509.Certificate{k.ecCert}, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sha1Signer := k.signer(t, SignerOptions{LegacySHA1: true})
	g := gen{rand.New(rand.NewPCG(9, 10))}
	for i := 0; i < 60; i++ {
		p := &Package{Kind: KindDocument, Document: g.document()}
		if i%3 == 0 {
			p = &Package{Kind: KindStatus, Status: g.status()}
		}
		s := []*Signer{rsaSigner, ecSigner, sha1Signer}[i%3]
		b := signed(t, s, p)
		v, err := VerifyBytes(b, VerifyOptions{Trust: k.trust, LegacySHA1: s == sha1Signer})
		if err != nil {
			t.Fatalf("case %d (%s): %v\n%s", i, s.Method(), err, b)
		}
		if v.SignatureMethod != s.Method() || !v.Signer.Equal(s.Certificate()) {
			t.Errorf("case %d: verified %s by %q", i, v.SignatureMethod, v.Signer.Subject)
		}
		p.Signed = true
		if diff := cmp.Diff(p, v.Package, cmpPackage); diff != "" {
			t.Fatalf("case %d: verified package differs (-signed +verified):\n%s", i, diff)
		}
		// The signed bytes still read as the package, signature and all.
		if got, err := ParseBytes(b, ParseOptions{}); err != nil || !got.Signed {
			t.Fatalf("case %d: signed package does not parse as signed: %v", i, err)
		}
	}
}

func TestSignatureIsLastChildOfHeader(t *testing.T) {
	k := testKeys(t)
	b := signed(t, k.signer(t, SignerOptions{}), memoPackage())
	doc, err := readTree(bytes.NewReader(b), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	hdr := doc.Root().SelectElement("edXMLEnvelope").SelectElement("edXMLHeader")
	kids := hdr.ChildElements()
	last := kids[len(kids)-1]
	if last.Tag != "Signature" || last.NamespaceURI() != DSigNamespace {
		t.Fatalf("last child of edXMLHeader is <%s> in %q", last.FullTag(), last.NamespaceURI())
	}
	if n := len(last.FindElements(".//X509Certificate")); n != 2 {
		t.Errorf("KeyInfo carries %d certificates, want leaf and CA", n)
	}
}

// TestChangedByteFails flips one character in each part of a signed
// package outside the signature.
func TestChangedByteFails(t *testing.T) {
	k := testKeys(t)
	b := signed(t, k.signer(t, SignerOptions{}), memoPackage())
	sigStart := bytes.Index(b, []byte("<ds:Signature"))
	sigEnd := bytes.Index(b, []byte("</ds:Signature>")) + len("</ds:Signature>")
	for _, at := range []string{"V/v báo cáo", "000.00.00.G22", "<ContentTransferEncoded>", "cong-van.pdf", "2025/03/14"} {
		i := bytes.Index(b, []byte(at))
		if i < 0 || (i > sigStart && i < sigEnd) {
			t.Fatalf("%q not found outside the signature", at)
		}
		i += len(at) - 1
		if at == "<ContentTransferEncoded>" {
			i += 10
		}
		c := bytes.Clone(b)
		c[i] = flip(c[i])
		_, err := VerifyBytes(c, VerifyOptions{Trust: k.trust})
		if !errors.Is(err, ErrSignature) {
			t.Errorf("changed byte in %q: err = %v, want a refused signature", at, err)
		}
	}
}

// flip changes a byte to another that keeps the XML well-formed.
func flip(c byte) byte {
	switch {
	case c >= 'a' && c < 'z', c >= 'A' && c < 'Z', c >= '0' && c < '9':
		return c + 1
	case c == 'z' || c == 'Z' || c == '9':
		return c - 1
	}
	return 'x'
}

func TestVerifyRefusals(t *testing.T) {
	k := testKeys(t)
	now := time.Now()
	s := k.signer(t, SignerOptions{})
	good := signed(t, s, memoPackage())

	expired, _, err := k.ca.Issue(devca.Leaf{Name: "Expired", Key: k.rsaKey, NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(0, 0, -10)}, now)
	if err != nil {
		t.Fatal(err)
	}
	noSign, _, err := k.ca.Issue(devca.Leaf{Name: "Encipher only", Key: k.rsaKey, KeyUsage: x509.KeyUsageKeyEncipherment}, now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := devca.NewCA("Other CA", now)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _, err := other.Issue(devca.Leaf{Name: "Stranger", Key: k.rsaKey}, now)
	if err != nil {
		t.Fatal(err)
	}
	with := func(c *x509.Certificate) []byte {
		s, err := NewSigner(k.rsaKey, []*x509.Certificate{c}, SignerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return signed(t, s, memoPackage())
	}
	crlDir := t.TempDir()
	crl, err := k.ca.Revoke(now.Add(-time.Minute), k.rsaCert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crlDir, "ca.crl"), crl, 0o644); err != nil {
		t.Fatal(err)
	}
	revoking := NewTrust([]*x509.Certificate{k.ca.Cert}, nil)
	if err := revoking.AddCRLs(crlDir); err != nil {
		t.Fatal(err)
	}

	weakKey, err := rsa.GenerateKey(crand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak, _, err := k.ca.Issue(devca.Leaf{Name: "RSA-1024", Key: weakKey}, now)
	if err != nil {
		t.Fatal(err)
	}
	withKey := func(c *x509.Certificate, key crypto.Signer) []byte {
		s, err := NewSigner(key, []*x509.Certificate{c}, SignerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return signed(t, s, memoPackage())
	}
	tlsOnly, _, err := k.ca.Issue(devca.Leaf{Name: "TLS server", Key: k.rsaKey, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, now)
	if err != nil {
		t.Fatal(err)
	}
	noUsage, _, err := k.ca.Issue(devca.Leaf{Name: "No usage", Key: k.rsaKey, NoKeyUsage: true}, now)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		in    []byte
		opts  VerifyOptions
		want  error
		words string
	}{
		{"RSA-1024", withKey(weak, weakKey), VerifyOptions{Trust: k.trust}, ErrWeakKey, "1024 bits"},
		{"TLS server only", with(tlsOnly), VerifyOptions{Trust: k.trust}, ErrKeyUsage, "TLS"},
		{"no key usage", with(noUsage), VerifyOptions{Trust: k.trust}, ErrKeyUsage, "no key usage"},
		{"expired", with(expired), VerifyOptions{Trust: k.trust, SigningGrace: -1}, ErrExpired, "Expired"},
		{"expired beyond grace", with(expired), VerifyOptions{Trust: k.trust}, ErrExpired, "valid from"},
		{"key usage", with(noSign), VerifyOptions{Trust: k.trust}, ErrKeyUsage, "Encipher only"},
		{"other CA", with(stranger), VerifyOptions{Trust: k.trust}, ErrUntrusted, `issued by "CN=Other CA`},
		{"revoked", good, VerifyOptions{Trust: revoking}, ErrRevoked, "revoked on"},
		{"SHA-1 without legacy", signed(t, k.signer(t, SignerOptions{LegacySHA1: true}), memoPackage()), VerifyOptions{Trust: k.trust}, ErrAlgorithm, "legacy SHA-1"},
		{"clock before validity", good, VerifyOptions{Trust: k.trust, Now: func() time.Time { return now.AddDate(-1, 0, 0) }}, ErrExpired, "checked at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyBytes(c.in, c.opts)
			if !errors.Is(err, c.want) || !errors.Is(err, ErrSignature) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.words) {
				t.Errorf("error %q does not say %q", err, c.words)
			}
		})
	}
}

// TestReceivedTimeGrace: a certificate that expired after the axis received
// the package still passes within the grace, checked at the time received;
// a time the signer wrote never counts.
func TestReceivedTimeGrace(t *testing.T) {
	k := testKeys(t)
	signedAt := time.Date(2025, 3, 14, 9, 30, 0, 0, Vietnam)
	ca, err := devca.NewCA("Grace CA", signedAt)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.Issue(devca.Leaf{Name: "Short", Key: k.rsaKey, NotBefore: signedAt.Add(-time.Hour), NotAfter: signedAt.Add(time.Hour)}, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k.rsaKey, []*x509.Certificate{cert}, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := signed(t, s, memoPackage())
	trust := NewTrust([]*x509.Certificate{ca.Cert}, nil)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return signedAt.Add(d) } }

	received := signedAt.Add(30 * time.Minute)
	v, err := VerifyBytes(b, VerifyOptions{Trust: trust, Now: at(24 * time.Hour), ReceivedAt: received})
	if err != nil {
		t.Fatalf("a day after it was received: %v", err)
	}
	if !v.CheckedAt.Equal(received) {
		t.Errorf("CheckedAt = %v, want the time received %v", v.CheckedAt, received)
	}
	for _, o := range []VerifyOptions{
		{Trust: trust, Now: at(24 * time.Hour)}, // the package's own timestamps give no grace
		{Trust: trust, Now: at(5 * 24 * time.Hour), ReceivedAt: received},
		{Trust: trust, Now: at(24 * time.Hour), ReceivedAt: signedAt.Add(2 * time.Hour)}, // received after expiry
		{Trust: trust, Now: at(24 * time.Hour), ReceivedAt: received, SigningGrace: -1},
	} {
		if _, err := VerifyBytes(b, o); !errors.Is(err, ErrExpired) {
			t.Errorf("grace %v at %v: err = %v, want expiry", o.SigningGrace, o.Now(), err)
		}
	}
}
