// Package devca makes a throwaway certificate authority and agency
// certificates for development, demos and tests, so signing and verifying
// can be tried without a licensed CA. Nothing it makes is fit for
// production: every subject says so.
package devca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Marker is in every subject this package writes, so a development
// certificate is recognised wherever it turns up.
const Marker = "NOT FOR PRODUCTION"

// CA is a development certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed CA valid from now for ten years.
func NewCA(name string, now time.Time) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name + " (" + Marker + ")", Organization: []string{"lienthong development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Leaf describes a certificate to issue. Zero fields take defaults: a new
// RSA-2048 key, validity of two years from one hour ago, and the
// digitalSignature and nonRepudiation key usages.
type Leaf struct {
	Name      string // the agency's name
	Code      string // its identifier code, written as the serial number attribute
	Key       crypto.Signer
	ECDSA     bool // generate a P-256 key instead of RSA-2048
	NotBefore time.Time
	NotAfter  time.Time
	KeyUsage  x509.KeyUsage
	// NoKeyUsage leaves the key usage extension out, for tests of the
	// policy that refuses such certificates.
	NoKeyUsage  bool
	ExtKeyUsage []x509.ExtKeyUsage
	IsCA        bool
}

// Issue signs a certificate for l and returns it with its key.
func (ca *CA) Issue(l Leaf, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key := l.Key
	var err error
	switch {
	case key != nil:
	case l.ECDSA:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return nil, nil, err
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = now.Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = now.AddDate(2, 0, 0)
	}
	if l.KeyUsage == 0 && !l.NoKeyUsage {
		l.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: l.Name + " (" + Marker + ")", SerialNumber: l.Code, Country: []string{"VN"}},
		NotBefore:             l.NotBefore,
		NotAfter:              l.NotAfter,
		KeyUsage:              l.KeyUsage,
		ExtKeyUsage:           l.ExtKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  l.IsCA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// Revoke returns a DER CRL of the CA listing the given certificates.
func (ca *CA) Revoke(now time.Time, certs ...*x509.Certificate) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, c := range certs {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now})
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(now.Unix()),
		ThisUpdate:                now,
		NextUpdate:                now.AddDate(0, 0, 7),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

// Files are where Write put a development CA and agency credentials.
type Files struct {
	CACert    string // trust root for verifiers
	AgencyCrt string
	AgencyKey string
}

// Write makes a CA and one agency certificate in dir: ca.pem (the trust
// root), agency.pem and agency.key (PKCS#8, unencrypted, mode 0600) and a
// README saying what they are. It refuses to overwrite an existing key.
func Write(dir, agencyName, agencyCode string, now time.Time) (*Files, error) {
	f := &Files{
		CACert:    filepath.Join(dir, "ca.pem"),
		AgencyCrt: filepath.Join(dir, "agency.pem"),
		AgencyKey: filepath.Join(dir, "agency.key"),
	}
	if _, err := os.Stat(f.AgencyKey); err == nil {
		return nil, fmt.Errorf("%s exists; remove the directory's files to make new ones", f.AgencyKey)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := NewCA("lienthong development CA", now)
	if err != nil {
		return nil, err
	}
	cert, key, err := ca.Issue(Leaf{Name: agencyName, Code: agencyCode}, now)
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	readme := "Development credentials made by `lienthong dev-ca` on " + now.Format(time.RFC3339) + ".\n" +
		Marker + ": the CA key was thrown away, but these certificates prove nothing\n" +
		"about anyone. Never configure ca.pem as a trust root outside development.\n"
	return f, errors.Join(
		writePEM(f.CACert, "CERTIFICATE", ca.Cert.Raw, 0o644),
		writePEM(f.AgencyCrt, "CERTIFICATE", cert.Raw, 0o644),
		writePEM(f.AgencyKey, "PRIVATE KEY", pk, 0o600),
		os.WriteFile(filepath.Join(dir, "README"), []byte(readme), 0o644),
	)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
