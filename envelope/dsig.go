package envelope

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// XML-DSig identifiers. Peers name them by URI; these are the ones this
// package writes or accepts.
const (
	DSigNamespace = "http://www.w3.org/2000/09/xmldsig#"

	AlgEnveloped = DSigNamespace + "enveloped-signature"
	AlgExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgC14N10    = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	AlgC14N11    = "http://www.w3.org/2006/12/xml-c14n11"
	// algExcC14NAlias is a misspelt exclusive c14n URI that VNPT and Bkav
	// packages carry; it names the same algorithm.
	algExcC14NAlias = "http://www.w3.org/TR/xml-exc-c14n#"

	AlgRSASHA1     = DSigNamespace + "rsa-sha1"
	AlgRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	AlgECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	AlgECDSASHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	AlgECDSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"

	AlgSHA1   = DSigNamespace + "sha1"
	AlgSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	AlgSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)

// sigMethod is one accepted signature method.
type sigMethod struct {
	hash  crypto.Hash
	ecdsa bool
}

var sigMethods = map[string]sigMethod{
	AlgRSASHA1:     {crypto.SHA1, false},
	AlgRSASHA256:   {crypto.SHA256, false},
	AlgRSASHA384:   {crypto.SHA384, false},
	AlgRSASHA512:   {crypto.SHA512, false},
	AlgECDSASHA256: {crypto.SHA256, true},
	AlgECDSASHA384: {crypto.SHA384, true},
	AlgECDSASHA512: {crypto.SHA512, true},
}

var digestMethods = map[string]crypto.Hash{
	AlgSHA1:   crypto.SHA1,
	AlgSHA256: crypto.SHA256,
	AlgSHA384: crypto.SHA384,
	AlgSHA512: crypto.SHA512,
}

// c14nVariant is a c14n URI that names one of the three algorithms.
type c14nVariant struct {
	base     string
	comments bool
}

// c14nVariants are the with-comments URIs, and the misspelt exclusive c14n
// URI that VNPT and Bkav packages carry.
var c14nVariants = map[string]c14nVariant{
	algExcC14NAlias:             {AlgExcC14N, false},
	AlgExcC14N + "WithComments": {AlgExcC14N, true},
	AlgC14N10 + "#WithComments": {AlgC14N10, true},
	AlgC14N11 + "#WithComments": {AlgC14N11, true},
}

// canonicalizer returns the c14n algorithm a URI names. A with-comments URI
// keeps comments only when keepComments is set: a same-document reference
// drops them whatever the URI says.
func canonicalizer(uri string, keepComments bool) (dsig.Canonicalizer, bool) {
	comments := false
	if v, ok := c14nVariants[uri]; ok {
		uri, comments = v.base, v.comments && keepComments
	}
	switch {
	case uri == AlgExcC14N && comments:
		return dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList(""), true
	case uri == AlgExcC14N:
		return dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(""), true
	case uri == AlgC14N10 && comments:
		return dsig.MakeC14N10WithCommentsCanonicalizer(), true
	case uri == AlgC14N10:
		return dsig.MakeC14N10RecCanonicalizer(), true
	case uri == AlgC14N11 && comments:
		return dsig.MakeC14N11WithCommentsCanonicalizer(), true
	case uri == AlgC14N11:
		return dsig.MakeC14N11Canonicalizer(), true
	}
	return nil, false
}

// SignerOptions choose what a Signer writes.
type SignerOptions struct {
	// LegacySHA1 signs with RSA-SHA1 and SHA-1 digests, for old peers that
	// verify nothing else. RSA keys only.
	LegacySHA1 bool
	// OmitChain leaves the intermediates out of KeyInfo and sends the
	// signing certificate alone.
	OmitChain bool
}

// Signer signs packages for one agency key. It is safe for concurrent use
// when its key is, which holds for the keys of package sigkey.
type Signer struct {
	key       crypto.Signer
	chain     []*x509.Certificate
	method    string
	digest    string
	hash      crypto.Hash
	ecdsa     bool
	curveSize int
	omitChain bool
}

// NewSigner pairs a key with its certificate chain, leaf first, and checks
// that they match, so a wrong key is found at start and not by a peer.
func NewSigner(key crypto.Signer, chain []*x509.Certificate, opts SignerOptions) (*Signer, error) {
	if key == nil || len(chain) == 0 {
		return nil, errors.New("signer needs a key and its certificate")
	}
	leaf := chain[0]
	s := &Signer{key: key, chain: chain, omitChain: opts.OmitChain}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		lp, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok || !lp.Equal(pub) {
			return nil, fmt.Errorf("the key does not match the certificate of %q", leaf.Subject)
		}
		s.method, s.digest, s.hash = AlgRSASHA256, AlgSHA256, crypto.SHA256
		if opts.LegacySHA1 {
			s.method, s.digest, s.hash = AlgRSASHA1, AlgSHA1, crypto.SHA1
		}
	case *ecdsa.PublicKey:
		lp, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok || !lp.Equal(pub) {
			return nil, fmt.Errorf("the key does not match the certificate of %q", leaf.Subject)
		}
		if opts.LegacySHA1 {
			return nil, errors.New("the legacy RSA-SHA1 option needs an RSA key")
		}
		s.ecdsa = true
		s.curveSize = (pub.Curve.Params().BitSize + 7) / 8
		switch s.curveSize {
		case 32:
			s.method, s.digest, s.hash = AlgECDSASHA256, AlgSHA256, crypto.SHA256
		case 48:
			s.method, s.digest, s.hash = AlgECDSASHA384, AlgSHA384, crypto.SHA384
		default:
			s.method, s.digest, s.hash = AlgECDSASHA512, AlgSHA512, crypto.SHA512
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T: use RSA or ECDSA", pub)
	}
	return s, nil
}

// Certificate is the signing certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.chain[0] }

// Method is the signature method URI the signer writes.
func (s *Signer) Method() string { return s.method }

// Sign builds p like Build and writes it with an enveloped signature as the
// last child of edXMLHeader. The package is built twice, once into the
// digest and once into w, so memory stays flat whatever the attachments
// weigh: the builder's output is already the exclusive canonical form.
func (s *Signer) Sign(w io.Writer, p *Package, opts BuildOptions) error {
	h := s.hash.New()
	if err := build(h, p, opts, &sigSlot{canonical: true}); err != nil {
		return err
	}
	sig, err := s.signature(h.Sum(nil))
	if err != nil {
		return err
	}
	return build(w, p, opts, &sigSlot{sig: sig, validated: true})
}

// SignBytes is Sign into a byte slice.
func (s *Signer) SignBytes(p *Package, opts BuildOptions) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(buildSize(p))
	if err := s.Sign(&buf, p, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// signature returns the serialised Signature element over a digest of the
// canonical package.
func (s *Signer) signature(digest []byte) ([]byte, error) {
	si := signedInfo(AlgExcC14N, s.method, "", []string{AlgEnveloped, AlgExcC14N}, s.digest, digest)
	value, err := s.signSignedInfo(si)
	if err != nil {
		return nil, err
	}
	certs := s.chain
	if s.omitChain {
		certs = certs[:1]
	}
	return signatureElement(si, value, certs)
}

// signSignedInfo canonicalises SignedInfo as it will read in place and
// signs it.
func (s *Signer) signSignedInfo(si *etree.Element) ([]byte, error) {
	c := si.Copy()
	c.CreateAttr("xmlns:ds", DSigNamespace)
	canon, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(c)
	if err != nil {
		return nil, fmt.Errorf("canonicalise SignedInfo: %w", err)
	}
	h := s.hash.New()
	h.Write(canon)
	value, err := s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
	if err != nil {
		return nil, fmt.Errorf("sign with the key of %q: %w", s.chain[0].Subject, err)
	}
	if s.ecdsa {
		return ecdsaRaw(value, s.curveSize)
	}
	return value, nil
}

// signedInfo makes a ds:SignedInfo with one reference.
func signedInfo(canon, method, uri string, transforms []string, digestMethod string, digest []byte) *etree.Element {
	si := etree.NewElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", canon)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", method)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", uri)
	ts := ref.CreateElement("ds:Transforms")
	for _, t := range transforms {
		ts.CreateElement("ds:Transform").CreateAttr("Algorithm", t)
	}
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestMethod)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
	return si
}

// signatureElement serialises ds:Signature on one line, so nothing of it is
// left behind when a verifier removes it.
func signatureElement(si *etree.Element, value []byte, certs []*x509.Certificate) ([]byte, error) {
	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", DSigNamespace)
	sig.AddChild(si)
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	x := sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data")
	for _, c := range certs {
		x.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}
	doc := etree.NewDocument()
	doc.SetRoot(sig)
	return doc.WriteToBytes()
}

// ecdsaRaw turns an ASN.1 ECDSA signature into XML-DSig's r||s form.
func ecdsaRaw(der []byte, size int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return nil, fmt.Errorf("ECDSA signature from the key: %w", err)
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}
