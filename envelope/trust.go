package envelope

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Trust holds the roots a signer's certificate must chain to and the
// revocation lists to check it against. Agencies trust the licensed CAs
// (the Government CA first), not individual certificates.
type Trust struct {
	roots         *x509.CertPool
	intermediates []*x509.Certificate
	crls          []*x509.RevocationList
}

// NewTrust trusts the given roots. Intermediates help build chains for
// senders that send their certificate alone.
func NewTrust(roots, intermediates []*x509.Certificate) *Trust {
	t := &Trust{roots: x509.NewCertPool(), intermediates: intermediates}
	for _, r := range roots {
		t.roots.AddCert(r)
	}
	return t
}

// LoadTrust reads trust roots from a PEM file or from every *.pem, *.crt
// and *.cer file of a directory. Every certificate found is trusted as a
// root, so keep agency certificates out of that directory.
func LoadTrust(path string) (*Trust, error) {
	fs, err := files("trust roots", path, ".pem", ".crt", ".cer")
	if err != nil {
		return nil, err
	}
	var roots []*x509.Certificate
	for _, f := range fs {
		cs, err := ReadCertificates(f)
		if err != nil {
			return nil, err
		}
		roots = append(roots, cs...)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("trust roots %s: no certificate found", path)
	}
	return NewTrust(roots, nil), nil
}

// files lists path itself, or the files of a directory path with one of
// the extensions, sorted.
func files(what, path string, exts ...string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && slices.Contains(exts, strings.ToLower(filepath.Ext(e.Name()))) {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadCertificates reads every certificate of a PEM file, or one DER
// certificate.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("%s: neither PEM nor a DER certificate: %w", path, err)
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no CERTIFICATE block", path)
	}
	return out, nil
}

// AddCRLs reads certificate revocation lists (PEM or DER) from a file or a
// directory of *.crl and *.pem files. A list is used only once its issuer's
// signature on it checks.
func (t *Trust) AddCRLs(path string) error {
	fs, err := files("CRL", path, ".crl", ".pem")
	if err != nil {
		return err
	}
	for _, f := range fs {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("CRL: %w", err)
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		l, err := x509.ParseRevocationList(b)
		if err != nil {
			return fmt.Errorf("CRL %s: %w", f, err)
		}
		t.crls = append(t.crls, l)
	}
	return nil
}

// verify chains certs (leaf first, then whatever the sender added) to the
// roots at time at, and checks key usage and revocation.
func (t *Trust) verify(certs []*x509.Certificate, at time.Time) ([]*x509.Certificate, error) {
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	for _, c := range t.intermediates {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         t.roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			c := inv.Cert
			return nil, sigErr(ErrExpired, "certificate %q is valid from %s to %s, checked at %s",
				c.Subject, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		case errors.As(err, &ua):
			if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
				return nil, sigErr(ErrUntrusted, "certificate %q is self-signed and not among the trust roots", leaf.Subject)
			}
			return nil, sigErr(ErrUntrusted, "certificate %q issued by %q does not chain to a trusted root", leaf.Subject, leaf.Issuer)
		default:
			return nil, sigErr(ErrUntrusted, "certificate %q issued by %q: %v", leaf.Subject, leaf.Issuer, err)
		}
	}
	chain := chains[0]
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, sigErr(ErrKeyUsage, "certificate %q has no digitalSignature or nonRepudiation key usage", leaf.Subject)
	}
	if err := t.revoked(chain, at); err != nil {
		return nil, err
	}
	return chain, nil
}

// revoked looks up every certificate of the chain below the root in the
// CRLs its issuer signed.
func (t *Trust) revoked(chain []*x509.Certificate, at time.Time) error {
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		for _, l := range t.crls {
			if !bytes.Equal(l.RawIssuer, c.RawIssuer) || l.CheckSignatureFrom(issuer) != nil {
				continue
			}
			for _, e := range l.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(c.SerialNumber) == 0 && !e.RevocationTime.After(at) {
					return sigErr(ErrRevoked, "certificate %q (serial %X) was revoked on %s by %q",
						c.Subject, c.SerialNumber, e.RevocationTime.UTC().Format(time.RFC3339), l.Issuer)
				}
			}
		}
	}
	return nil
}
