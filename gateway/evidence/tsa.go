package evidence

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"
)

// RFC 3161 time-stamping of checkpoints: the time a checkpoint existed
// then rests on a third party's signature, not on the gateway's clock.

var (
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256RSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	Nonce          *big.Int `asn1:"optional"`
	CertReq        bool     `asn1:"optional"`
}

type timeStampResp struct {
	Status asn1.RawValue
	Token  asn1.RawValue `asn1:"optional"`
}

type pkiStatus struct {
	Status int
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, read by hand
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContent     encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	Serial         *big.Int
	GenTime        time.Time `asn1:"generalized"`
}

// Timestamp asks the time-stamping authority at url for a token over
// data (a checkpoint's signed note) and checks the answer.
func Timestamp(ctx context.Context, client *http.Client, url string, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	req, err := asn1.Marshal(timeStampReq{Version: 1, MessageImprint: messageImprint{
		HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, HashedMessage: sum[:]},
		Nonce: nonce, CertReq: true})
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("time-stamping authority: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("time-stamping authority: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("time-stamping authority: HTTP %d", resp.StatusCode)
	}
	var tr timeStampResp
	if _, err := asn1.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("time-stamping authority: not a TimeStampResp: %w", err)
	}
	var st pkiStatus
	if _, err := asn1.Unmarshal(tr.Status.FullBytes, &st); err != nil {
		return nil, fmt.Errorf("time-stamping authority: status: %w", err)
	}
	if st.Status > 1 || len(tr.Token.FullBytes) == 0 { // granted, or granted with mods
		return nil, fmt.Errorf("time-stamping authority refused: PKIStatus %d", st.Status)
	}
	if _, err := CheckTimestamp(tr.Token.FullBytes, data); err != nil {
		return nil, fmt.Errorf("time-stamping authority: %w", err)
	}
	return tr.Token.FullBytes, nil
}

// CheckTimestamp checks that token is a time-stamp token over data signed
// by the certificate it carries, and returns the time it states. Whether
// that authority is trusted is for the reader of the proof to judge from
// the certificate.
func CheckTimestamp(token, data []byte) (time.Time, error) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(token, &ci); err != nil || !ci.ContentType.Equal(oidSignedData) ||
		ci.Content.Class != asn1.ClassContextSpecific || ci.Content.Tag != 0 {
		return time.Time{}, errors.New("timestamp: not a CMS SignedData")
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return time.Time{}, fmt.Errorf("timestamp: %w", err)
	}
	if !sd.EncapContent.EContentType.Equal(oidTSTInfo) {
		return time.Time{}, errors.New("timestamp: the signed content is not a TSTInfo")
	}
	var info tstInfo
	if _, err := asn1.Unmarshal(sd.EncapContent.EContent, &info); err != nil {
		return time.Time{}, fmt.Errorf("timestamp: TSTInfo: %w", err)
	}
	sum := sha256.Sum256(data)
	if !info.MessageImprint.HashAlgorithm.Algorithm.Equal(oidSHA256) || !bytes.Equal(info.MessageImprint.HashedMessage, sum[:]) {
		return time.Time{}, errors.New("timestamp: it is not over this checkpoint")
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil || len(certs) == 0 {
		return time.Time{}, errors.New("timestamp: carries no certificate of its authority")
	}
	if len(sd.SignerInfos) != 1 {
		return time.Time{}, fmt.Errorf("timestamp: %d signers, want one", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if !si.DigestAlgorithm.Algorithm.Equal(oidSHA256) || len(si.SignedAttrs.Bytes) == 0 {
		return time.Time{}, errors.New("timestamp: want SHA-256 signed attributes")
	}
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(si.SignedAttrs.FullBytes, &attrs, "set,tag:0"); err != nil {
		return time.Time{}, fmt.Errorf("timestamp: signed attributes: %w", err)
	}
	content := sha256.Sum256(sd.EncapContent.EContent)
	digestOK := false
	for _, a := range attrs {
		if a.Type.Equal(oidMessageDigest) && len(a.Values) == 1 {
			var d []byte
			if _, err := asn1.Unmarshal(a.Values[0].FullBytes, &d); err == nil && bytes.Equal(d, content[:]) {
				digestOK = true
			}
		}
	}
	if !digestOK {
		return time.Time{}, errors.New("timestamp: its signed digest is not of its content")
	}
	var algo x509.SignatureAlgorithm
	switch sa := si.SignatureAlgorithm.Algorithm; {
	case sa.Equal(oidRSA), sa.Equal(oidSHA256RSA):
		algo = x509.SHA256WithRSA
	case sa.Equal(oidECDSASHA256):
		algo = x509.ECDSAWithSHA256
	default:
		return time.Time{}, fmt.Errorf("timestamp: signature algorithm %v", sa)
	}
	// The signature is over the attributes as a SET, not as the [0] they
	// are tagged with in the SignerInfo.
	signed := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	for _, c := range certs {
		if c.CheckSignature(algo, signed, si.Signature) == nil {
			return info.GenTime, nil
		}
	}
	return time.Time{}, errors.New("timestamp: no certificate it carries made its signature")
}
