package sigkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/youmark/pkcs8"

	"lienthong/envelope"
	"lienthong/envelope/devca"
	"lienthong/envelope/sigkey/softhsm"
)

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// signAndVerify proves a loaded key signs packages that verify.
func signAndVerify(t *testing.T, k *Key, ca *devca.CA) {
	t.Helper()
	s, err := envelope.NewSigner(k.Signer, k.Chain, envelope.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := &envelope.Status{
		From:        envelope.Organization{OrganID: "000.00.00.G22"},
		ResponseFor: envelope.ResponseFor{OrganID: "000.00.07.H26", Code: "152/SVD-VP", PromulgationDate: envelope.Date{Year: 2025, Month: 3, Day: 14}, DocumentID: "000.00.07.H26,2025/03/14,152/SVD-VP"},
		StatusCode:  envelope.StatusArrived,
		Timestamp:   time.Date(2025, 3, 14, 10, 0, 0, 0, envelope.Vietnam),
	}
	// Signing is safe from many goroutines.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			b, err := s.SignBytes(&envelope.Package{Kind: envelope.KindStatus, Status: st}, envelope.BuildOptions{})
			if err == nil {
				_, err = envelope.VerifyBytes(b, envelope.VerifyOptions{Trust: envelope.NewTrust([]*x509.Certificate{ca.Cert}, nil)})
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadPEMForms(t *testing.T) {
	now := time.Now()
	ca, err := devca.NewCA("Key CA", now)
	if err != nil {
		t.Fatal(err)
	}
	rsaCert, rsaKey, err := ca.Issue(devca.Leaf{Name: "RSA"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ecCert, ecKey, err := ca.Issue(devca.Leaf{Name: "EC", ECDSA: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rsaCertFile := write(t, dir, "rsa.pem", pemOf("CERTIFICATE", rsaCert.Raw))
	ecCertFile := write(t, dir, "ec.pem", pemOf("CERTIFICATE", ecCert.Raw))
	p8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey.(*ecdsa.PrivateKey))
	enc, err := pkcs8.MarshalPrivateKey(rsaKey, []byte("mật khẩu"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pass := write(t, dir, "pass", []byte("mật khẩu\n"))
	wrong := write(t, dir, "wrong", []byte("sai\n"))

	for _, c := range []struct {
		name, block string
		der         []byte
		cert, pass  string
		wantErr     string
	}{
		{"pkcs1", "RSA PRIVATE KEY", pkcs1(rsaKey), rsaCertFile, "", ""},
		{"pkcs8", "PRIVATE KEY", p8, rsaCertFile, "", ""},
		{"sec1", "EC PRIVATE KEY", sec1, ecCertFile, "", ""},
		{"encrypted", "ENCRYPTED PRIVATE KEY", enc, rsaCertFile, pass, ""},
		{"encrypted, no passphrase", "ENCRYPTED PRIVATE KEY", enc, rsaCertFile, "", "passphrase file"},
		{"encrypted, wrong passphrase", "ENCRYPTED PRIVATE KEY", enc, rsaCertFile, wrong, "cannot decrypt"},
		{"key of another certificate", "PRIVATE KEY", p8, ecCertFile, "", "does not match"},
		{"not a key", "CERTIFICATE", rsaCert.Raw, rsaCertFile, "", "not a private key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			keyFile := write(t, t.TempDir(), "key.pem", pemOf(c.block, c.der))
			k, err := Load(Config{KeyFile: keyFile, PassFile: c.pass, CertFile: c.cert})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			signAndVerify(t, k, ca)
		})
	}
}

func pkcs1(k crypto.Signer) []byte { return x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey)) }

func TestLegacyEncryptedPEMRefused(t *testing.T) {
	f := write(t, t.TempDir(), "old.key", []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,0011223344556677\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	if _, err := ReadKey(f, ""); err == nil || !strings.Contains(err.Error(), "openssl pkcs8") {
		t.Fatalf("err = %v, want advice to convert", err)
	}
}

func TestPKCS11SoftHSM(t *testing.T) {
	tok := softhsm.ForTest(t, "lienthong", "1234")
	now := time.Now()
	ca, err := devca.NewCA("Token CA", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tok.NewKey("signing", ca, now)
	if err != nil {
		t.Fatal(err)
	}
	// The certificate is read from the token when --cert is not given.
	k, err := Load(Config{PKCS11URI: tok.URI("signing")})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Chain[0].Equal(cert) {
		t.Fatalf("certificate from the token is %q", k.Chain[0].Subject)
	}
	signAndVerify(t, k, ca)
	// A token stays logged in while any session is open, so the wrong-PIN
	// case below needs this one closed.
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	pinFile := write(t, t.TempDir(), "pin", []byte("1234\n"))
	uri := "pkcs11:token=lienthong;object=signing?module-path=" + tok.Module + "&pin-source=file:" + pinFile
	k2, err := Load(Config{PKCS11URI: uri})
	if err != nil {
		t.Fatalf("PIN from a file: %v", err)
	}
	k2.Close()

	for _, bad := range []struct{ uri, want string }{
		{strings.Replace(tok.URI("signing"), "pin-value=1234", "pin-value=9999", 1), "open PKCS#11 token"},
		{tok.URI("missing"), "PKCS#11 key"},
		{"pkcs11:token=lienthong;object=signing", "module-path"},
		{"pkcs11:object=signing?module-path=" + tok.Module + "&pin-value=1", "token="},
	} {
		_, err := Load(Config{PKCS11URI: bad.uri})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want %q", bad.uri, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "9999") {
			t.Errorf("the PIN shows in the error: %v", err)
		}
	}
}
