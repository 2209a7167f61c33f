// Package tsatest is an RFC 3161 time-stamping authority written for the
// tests, as an independent party the gateway's tokens are checked with.
package tsatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TSA is an RFC 3161 time-stamping authority for tests: it answers a
// request with a token, a CMS SignedData over a TSTInfo, signed with
// ECDSA by a certificate of its own.
type TSA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	// Now is the time its tokens state.
	Now time.Time
	// Lie puts another message's hash in the tokens.
	Lie atomic.Bool
	// Down answers every request 503.
	Down atomic.Bool
	// Stamped counts the tokens given.
	Stamped atomic.Int64
}

// New makes an authority with a fresh key and certificate.
func New(t testing.TB) *TSA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "TSA thử nghiệm"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &TSA{key: key, cert: cert, Now: time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC)}
}

type algID struct {
	Algorithm asn1.ObjectIdentifier
}

// ServeHTTP answers a TimeStampReq.
func (a *TSA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.Down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Version int
		Imprint struct {
			Alg  algID
			Hash []byte
		}
		Nonce   *big.Int `asn1:"optional"`
		CertReq bool     `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(body, &req); err != nil || r.Header.Get("Content-Type") != "application/timestamp-query" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if a.Lie.Load() {
		sum := sha256.Sum256([]byte("another"))
		req.Imprint.Hash = sum[:]
	}
	sha := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	info, _ := asn1.Marshal(struct {
		Version int
		Policy  asn1.ObjectIdentifier
		Imprint struct {
			Alg  algID
			Hash []byte
		}
		Serial  *big.Int
		GenTime time.Time `asn1:"generalized"`
		Nonce   *big.Int
	}{1, asn1.ObjectIdentifier{1, 2, 3, 4}, req.Imprint, big.NewInt(1), a.Now, req.Nonce})
	digest := sha256.Sum256(info)
	attrs, _ := asn1.Marshal([]struct {
		Type   asn1.ObjectIdentifier
		Values []asn1.RawValue `asn1:"set"`
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}, []asn1.RawValue{raw(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4})}},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}, []asn1.RawValue{raw(digest[:])}},
	})
	attrs[0] = 0x31 // a SET, as signed
	h := sha256.Sum256(attrs)
	sig, _ := ecdsa.SignASN1(rand.Reader, a.key, h[:])
	signer := struct {
		Version   int
		SID       asn1.RawValue
		DigestAlg algID
		Attrs     asn1.RawValue
		SigAlg    algID
		Signature []byte
	}{1, raw(struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}{asn1.RawValue{FullBytes: a.cert.RawIssuer}, a.cert.SerialNumber}),
		algID{sha}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner(attrs)},
		algID{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, sig}
	sd, _ := asn1.Marshal(struct {
		Version int
		Digests []algID `asn1:"set"`
		Content struct {
			Type    asn1.ObjectIdentifier
			Content []byte `asn1:"explicit,tag:0"`
		}
		Certs   asn1.RawValue
		Signers []asn1.RawValue `asn1:"set"`
	}{3, []algID{{sha}}, struct {
		Type    asn1.ObjectIdentifier
		Content []byte `asn1:"explicit,tag:0"`
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}, info},
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: a.cert.Raw},
		[]asn1.RawValue{raw(signer)}})
	token, _ := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
	resp, _ := asn1.Marshal(struct {
		Status struct{ Status int }
		Token  asn1.RawValue
	}{struct{ Status int }{0}, asn1.RawValue{FullBytes: token}})
	a.Stamped.Add(1)
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(resp)
}

func raw(v any) asn1.RawValue {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{FullBytes: b}
}

// inner is the content of a DER element, without its tag and length.
func inner(der []byte) []byte {
	var rv asn1.RawValue
	asn1.Unmarshal(der, &rv)
	return rv.Bytes
}
