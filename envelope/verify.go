package envelope

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Reasons a signature is refused. Every one is returned as a
// *SignatureError, which matches both ErrSignature and its reason.
var (
	// ErrSignature is matched by every refused signature.
	ErrSignature = errors.New("signature refused")

	ErrNoSignature        = errors.New("no XML-DSig signature")
	ErrSignatureCount     = errors.New("more than one signature")
	ErrSignaturePlacement = errors.New("signature in the wrong place")
	ErrSignatureShape     = errors.New("malformed signature")
	ErrReference          = errors.New("wrong reference")
	ErrTransform          = errors.New("forbidden transform")
	ErrAlgorithm          = errors.New("forbidden algorithm")
	ErrDigest             = errors.New("digest mismatch: the package was changed after signing")
	ErrSignatureValue     = errors.New("signature value does not verify")
	ErrUntrusted          = errors.New("untrusted certificate")
	ErrExpired            = errors.New("certificate expired or not yet valid")
	ErrRevoked            = errors.New("certificate revoked")
	ErrKeyUsage           = errors.New("certificate not allowed to sign")
	ErrWeakKey            = errors.New("signing key too weak")
)

// SignatureError says why a signature was refused, in words an operator can
// act on.
type SignatureError struct {
	Reason error // one of the Err* reasons above
	Detail string
}

func (e *SignatureError) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Detail
}

// Unwrap makes the error match ErrSignature and its reason.
func (e *SignatureError) Unwrap() []error { return []error{ErrSignature, e.Reason} }

func sigErr(reason error, format string, args ...any) error {
	return &SignatureError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// VerifyOptions configure Verify. Trust is required.
type VerifyOptions struct {
	Trust *Trust
	// Now is the clock certificates are checked against; time.Now when nil.
	Now func() time.Time
	// LegacySHA1 accepts RSA-SHA1 signatures and SHA-1 digests from old peers.
	LegacySHA1 bool
	// ReceivedAt is when the axis received the package, as the receiver
	// knows it (never a time the signer wrote); zero when unknown.
	ReceivedAt time.Time
	// SigningGrace lets a certificate that has expired since the axis
	// received the package pass, when it was valid at ReceivedAt and that
	// lies no further back than this. Zero means 72 hours, the time a
	// sender may keep retrying; negative turns it off.
	SigningGrace time.Duration
	// AllowNoKeyUsage accepts a signing certificate without a key usage
	// extension; by default one is required, allowing digitalSignature or
	// nonRepudiation.
	AllowNoKeyUsage bool
	// Parse configures reading: limits, unzipping and validation.
	Parse ParseOptions
}

// Verified is a package whose signature held. Package is decoded from
// Canonical, the bytes the digest covered, never from the input as sent.
type Verified struct {
	Package   *Package
	Canonical []byte
	Signer    *x509.Certificate
	// Chain runs from the signer to a trusted root.
	Chain           []*x509.Certificate
	SignatureMethod string
	DigestMethod    string
	// CheckedAt is when the chain was found valid: now, or the stated
	// signing time when the certificate has expired since.
	CheckedAt time.Time
}

// Verify checks the enveloped signature of an edXML package and returns
// what it covers. The rules are strict because signature wrapping lives in
// leniency: exactly one signature, as the last child of edXMLHeader, one
// Reference URI="", enveloped-signature then one c14n transform, RSA or
// ECDSA with SHA-2 (SHA-1 only under LegacySHA1), and a certificate that
// chains to Trust, is valid, unrevoked and allowed to sign.
//
// A package with a good signature but broken rules returns the Verified
// package with Problems.
func Verify(r io.Reader, opts VerifyOptions) (*Verified, error) {
	doc, err := readTree(r, opts.Parse.Limits)
	if err != nil {
		return nil, err
	}
	return verifyTree(doc, opts)
}

// VerifyBytes is Verify over a byte slice.
func VerifyBytes(b []byte, opts VerifyOptions) (*Verified, error) {
	return Verify(bytes.NewReader(b), opts)
}

func verifyTree(doc *etree.Document, opts VerifyOptions) (*Verified, error) {
	if opts.Trust == nil {
		return nil, errors.New("verify: no trust roots configured")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	root := doc.Root()
	if root == nil || root.Tag != "edXML" {
		return nil, fmt.Errorf("%w: the root element is not <edXML>", ErrNotEdXML)
	}
	sig, err := findSignature(root)
	if err != nil {
		return nil, err
	}
	s, err := readSignature(sig, opts.LegacySHA1)
	if err != nil {
		return nil, err
	}
	if err := s.checkValue(sig); err != nil {
		return nil, err
	}

	// The enveloped transform: the signature leaves the tree, which is ours.
	sig.Parent().RemoveChild(sig)
	canon, err := s.refC14N.Canonicalize(root)
	if err != nil {
		return nil, sigErr(ErrSignatureShape, "cannot canonicalise the package: %v", err)
	}
	// Read what was signed, not what was sent. A package read by offset
	// has its attachments decoded while the digest is computed, both
	// streaming from the file, and dropped if the digest does not hold.
	type parsed struct {
		pkg *Package
		err error
	}
	read := make(chan parsed, 1)
	parse := func() {
		p, err := ParseBytes(canon, opts.Parse)
		read <- parsed{p, err}
	}
	sp := opts.Parse.splices
	if sp != nil {
		go parse()
	}
	h := s.digestHash.New()
	var herr error
	if sp != nil {
		herr = sp.writeCanonical(h, canon)
	} else {
		h.Write(canon)
		parse()
	}
	res := <-read
	pkg, perr := res.pkg, res.err
	switch {
	case herr != nil:
		removeFiles(pkg)
		return nil, herr
	case subtle.ConstantTimeCompare(h.Sum(nil), s.digest) != 1:
		removeFiles(pkg)
		return nil, sigErr(ErrDigest, "the %s digest of the package differs from the signed DigestValue", s.digestHash)
	case pkg == nil:
		return nil, perr
	}
	pkg.Signed = true

	at := now()
	chain, err := opts.Trust.verify(s.certs, at)
	if t := opts.ReceivedAt; errors.Is(err, ErrExpired) && opts.SigningGrace >= 0 && !t.IsZero() {
		if t.Before(at) && at.Sub(t) <= grace(opts.SigningGrace) {
			if c, err2 := opts.Trust.verify(s.certs, t); err2 == nil {
				chain, err, at = c, nil, t
			}
		}
	}
	if err == nil {
		err = keyPolicy(chain[0], opts.AllowNoKeyUsage)
	}
	if err != nil {
		removeFiles(pkg)
		return nil, err
	}
	if opts.Parse.splices != nil {
		canon = nil // markers stand for the attachments
	}
	v := &Verified{
		Package:         pkg,
		Canonical:       canon,
		Signer:          chain[0],
		Chain:           chain,
		SignatureMethod: s.method,
		DigestMethod:    s.digestMethod,
		CheckedAt:       at,
	}
	return v, perr
}

func grace(d time.Duration) time.Duration {
	if d == 0 {
		return 72 * time.Hour
	}
	return d
}

// findSignature returns the one ds:Signature, checked to sit as the last
// child of edXML/edXMLEnvelope/edXMLHeader.
func findSignature(root *etree.Element) (*etree.Element, error) {
	var sigs []*etree.Element
	placeholder := ""
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, c := range e.ChildElements() {
			if c.Tag == "Signature" {
				if c.NamespaceURI() == DSigNamespace {
					sigs = append(sigs, c)
				} else if placeholder == "" {
					placeholder = elementPath(c)
				}
			}
			walk(c)
		}
	}
	walk(root)
	switch {
	case len(sigs) == 0 && placeholder != "":
		return nil, sigErr(ErrNoSignature, "%s is not in the %s namespace, so it is a placeholder and not a signature", placeholder, DSigNamespace)
	case len(sigs) == 0:
		return nil, sigErr(ErrNoSignature, "the package carries no Signature element")
	case len(sigs) > 1:
		where := make([]string, len(sigs))
		for i, s := range sigs {
			where[i] = elementPath(s)
		}
		return nil, sigErr(ErrSignatureCount, "%d signatures (%s); exactly one is allowed", len(sigs), strings.Join(where, ", "))
	}
	sig := sigs[0]
	hdr := sig.Parent()
	ok := hdr != nil && hdr.Tag == "edXMLHeader" && hdr.Parent() != nil && hdr.Parent().Tag == "edXMLEnvelope" && hdr.Parent().Parent() == root
	if ok {
		kids := hdr.ChildElements()
		ok = kids[len(kids)-1] == sig
	}
	if !ok {
		return nil, sigErr(ErrSignaturePlacement, "found at %s; it must be the last child of edXML/edXMLEnvelope/edXMLHeader", elementPath(sig))
	}
	return sig, nil
}

// elementPath names an element by its local names from the root, with the
// position among same-named siblings when there are several.
func elementPath(e *etree.Element) string {
	var parts []string
	for ; e != nil && e.Tag != ""; e = e.Parent() {
		part := e.Tag
		if p := e.Parent(); p != nil {
			n, at := 0, 0
			for _, c := range p.ChildElements() {
				if c.Tag == e.Tag {
					n++
					if c == e {
						at = n
					}
				}
			}
			if n > 1 {
				part = fmt.Sprintf("%s[%d]", part, at)
			}
		}
		parts = append(parts, part)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// signature is a ds:Signature read and checked against the allow-lists.
type signature struct {
	signedInfo   *etree.Element
	siC14N       dsig.Canonicalizer
	method       string
	sigHash      crypto.Hash
	ecdsa        bool
	refC14N      dsig.Canonicalizer
	digestMethod string
	digestHash   crypto.Hash
	digest       []byte
	value        []byte
	certs        []*x509.Certificate
}

// dsChildren returns the element children of e, refusing any outside the
// XML-DSig namespace.
func dsChildren(e *etree.Element) ([]*etree.Element, error) {
	kids := e.ChildElements()
	for _, k := range kids {
		if k.NamespaceURI() != DSigNamespace {
			return nil, sigErr(ErrSignatureShape, "%s holds <%s>, which is not an XML-DSig element", elementPath(e), k.FullTag())
		}
	}
	return kids, nil
}

// expect checks that kids are named as want, in order; a trailing "*" in
// want allows any number of further elements of that name, "?" at most one.
func expect(parent *etree.Element, kids []*etree.Element, want ...string) error {
	i := 0
	for _, w := range want {
		name, many, opt := strings.TrimRight(w, "*?"), strings.HasSuffix(w, "*"), strings.HasSuffix(w, "?")
		n := 0
		for i < len(kids) && kids[i].Tag == name {
			i++
			n++
			if !many {
				break
			}
		}
		if n == 0 && !many && !opt {
			return sigErr(ErrSignatureShape, "%s lacks <%s>", elementPath(parent), name)
		}
	}
	if i < len(kids) {
		return sigErr(ErrSignatureShape, "%s holds an unexpected <%s>", elementPath(parent), kids[i].Tag)
	}
	return nil
}

func algorithm(e *etree.Element) string {
	return strings.TrimSpace(e.SelectAttrValue("Algorithm", ""))
}

func readSignature(sig *etree.Element, legacy bool) (*signature, error) {
	kids, err := dsChildren(sig)
	if err != nil {
		return nil, err
	}
	if err := expect(sig, kids, "SignedInfo", "SignatureValue", "KeyInfo?", "Object*"); err != nil {
		return nil, err
	}
	s := &signature{signedInfo: kids[0]}
	si, err := dsChildren(s.signedInfo)
	if err != nil {
		return nil, err
	}
	if err := expect(s.signedInfo, si, "CanonicalizationMethod", "SignatureMethod", "Reference*"); err != nil {
		return nil, err
	}
	refs := si[2:]
	if len(refs) != 1 {
		return nil, sigErr(ErrReference, "SignedInfo holds %d references; exactly one, URI=\"\" for the whole package, is allowed", len(refs))
	}

	cm := algorithm(si[0])
	var ok bool
	if s.siC14N, ok = canonicalizer(cm, true); !ok {
		return nil, sigErr(ErrTransform, "canonicalization method %q is not one of the c14n family", cm)
	}

	s.method = algorithm(si[1])
	m, ok := sigMethods[s.method]
	switch {
	case strings.Contains(strings.ToLower(s.method), "hmac"):
		return nil, sigErr(ErrAlgorithm, "signature method %q is an HMAC; a shared key proves nothing about the sender", s.method)
	case !ok:
		return nil, sigErr(ErrAlgorithm, "signature method %q is not accepted; use RSA or ECDSA with SHA-256, SHA-384 or SHA-512", s.method)
	case m.hash == crypto.SHA1 && !legacy:
		return nil, sigErr(ErrAlgorithm, "signature method %q uses SHA-1, accepted only with the legacy SHA-1 option", s.method)
	}
	s.sigHash, s.ecdsa = m.hash, m.ecdsa

	if err := s.readReference(refs[0], legacy); err != nil {
		return nil, err
	}
	if s.value, err = base64Field(kids[1]); err != nil {
		return nil, err
	}
	if len(kids) > 2 && kids[2].Tag == "KeyInfo" {
		for _, x := range kids[2].SelectElements("X509Data") {
			for _, c := range x.SelectElements("X509Certificate") {
				der, err := base64Field(c)
				if err != nil {
					return nil, err
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, sigErr(ErrUntrusted, "KeyInfo certificate cannot be read: %v", err)
				}
				s.certs = append(s.certs, cert)
			}
		}
	}
	if len(s.certs) == 0 {
		return nil, sigErr(ErrUntrusted, "KeyInfo carries no X509Certificate to check the signer against")
	}
	s.certs = leafFirst(s.certs)
	return s, nil
}

func (s *signature) readReference(ref *etree.Element, legacy bool) error {
	uri := ref.SelectAttr("URI")
	if uri == nil {
		return sigErr(ErrReference, "Reference has no URI; only URI=\"\" (the whole package) is accepted")
	}
	if uri.Value != "" {
		return sigErr(ErrReference, "Reference URI=%q points into the package; only URI=\"\" (the whole package) is accepted", uri.Value)
	}
	kids, err := dsChildren(ref)
	if err != nil {
		return err
	}
	if err := expect(ref, kids, "Transforms?", "DigestMethod", "DigestValue"); err != nil {
		return err
	}
	if kids[0].Tag != "Transforms" {
		return sigErr(ErrTransform, "Reference has no enveloped-signature transform, so the signature would cover itself")
	}
	ts, err := dsChildren(kids[0])
	if err != nil {
		return err
	}
	var algs []string
	for _, t := range ts {
		if t.Tag != "Transform" {
			return sigErr(ErrSignatureShape, "Transforms holds an unexpected <%s>", t.Tag)
		}
		a := algorithm(t)
		if len(t.ChildElements()) > 0 {
			return sigErr(ErrTransform, "transform %q has parameters (%s); only enveloped-signature and c14n without parameters are accepted", a, t.ChildElements()[0].Tag)
		}
		algs = append(algs, a)
	}
	switch {
	case len(algs) == 0 || algs[0] != AlgEnveloped:
		first := ""
		if len(algs) > 0 {
			first = algs[0]
		}
		if _, c14n := canonicalizer(first, false); first != "" && !c14n {
			return sigErr(ErrTransform, "transform %q is not accepted; only enveloped-signature followed by one c14n", first)
		}
		return sigErr(ErrTransform, "the first transform must be enveloped-signature")
	case len(algs) > 2:
		return sigErr(ErrTransform, "%d transforms; only enveloped-signature followed by one c14n is accepted", len(algs))
	case len(algs) == 2:
		c, ok := canonicalizer(algs[1], false)
		if !ok {
			return sigErr(ErrTransform, "transform %q is not accepted; only enveloped-signature followed by one c14n", algs[1])
		}
		s.refC14N = c
	default:
		// Without a c14n transform the node-set becomes octets by C14N 1.0.
		s.refC14N, _ = canonicalizer(AlgC14N10, false)
	}

	s.digestMethod = algorithm(kids[1])
	h, ok := digestMethods[s.digestMethod]
	switch {
	case !ok:
		return sigErr(ErrAlgorithm, "digest method %q is not accepted; use SHA-256, SHA-384 or SHA-512", s.digestMethod)
	case h == crypto.SHA1 && !legacy:
		return sigErr(ErrAlgorithm, "digest method %q is SHA-1, accepted only with the legacy SHA-1 option", s.digestMethod)
	}
	s.digestHash = h
	s.digest, err = base64Field(kids[2])
	return err
}

// base64Field decodes the base64 text of a signature element, line breaks
// and all.
func base64Field(e *etree.Element) ([]byte, error) {
	t := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, e.Text())
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil || len(b) == 0 {
		return nil, sigErr(ErrSignatureShape, "%s is not base64", elementPath(e))
	}
	return b, nil
}

// leafFirst orders KeyInfo certificates so the one that issued none of the
// others comes first: senders list the chain in either order.
func leafFirst(certs []*x509.Certificate) []*x509.Certificate {
	for i, c := range certs {
		issuer := false
		for j, o := range certs {
			if i != j && bytes.Equal(o.RawIssuer, c.RawSubject) && o.CheckSignatureFrom(c) == nil {
				issuer = true
				break
			}
		}
		if !issuer {
			out := append([]*x509.Certificate{c}, certs[:i]...)
			return append(out, certs[i+1:]...)
		}
	}
	return certs
}

// checkValue checks SignatureValue over SignedInfo as canonicalised in
// place, with the signer's key.
func (s *signature) checkValue(sig *etree.Element) error {
	ctx, err := etreeutils.NSBuildParentContext(s.signedInfo)
	if err != nil {
		return sigErr(ErrSignatureShape, "SignedInfo namespaces: %v", err)
	}
	detached, err := etreeutils.NSDetatch(ctx, s.signedInfo)
	if err != nil {
		return sigErr(ErrSignatureShape, "SignedInfo namespaces: %v", err)
	}
	canon, err := s.siC14N.Canonicalize(detached)
	if err != nil {
		return sigErr(ErrSignatureShape, "cannot canonicalise SignedInfo: %v", err)
	}
	h := s.sigHash.New()
	h.Write(canon)
	sum := h.Sum(nil)
	leaf := s.certs[0]
	switch pub := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if s.ecdsa {
			return sigErr(ErrAlgorithm, "signature method %q does not fit the RSA key of %q", s.method, leaf.Subject)
		}
		if err := rsa.VerifyPKCS1v15(pub, s.sigHash, sum, s.value); err != nil {
			return sigErr(ErrSignatureValue, "SignedInfo was not signed by the key of %q", leaf.Subject)
		}
	case *ecdsa.PublicKey:
		if !s.ecdsa {
			return sigErr(ErrAlgorithm, "signature method %q does not fit the ECDSA key of %q", s.method, leaf.Subject)
		}
		n := len(s.value) / 2
		if len(s.value) == 0 || len(s.value)%2 != 0 {
			return sigErr(ErrSignatureValue, "ECDSA SignatureValue has odd length %d", len(s.value))
		}
		r, ss := new(big.Int).SetBytes(s.value[:n]), new(big.Int).SetBytes(s.value[n:])
		if !ecdsa.Verify(pub, sum, r, ss) {
			return sigErr(ErrSignatureValue, "SignedInfo was not signed by the key of %q", leaf.Subject)
		}
	default:
		return sigErr(ErrAlgorithm, "certificate of %q has a %T key; RSA or ECDSA is required", leaf.Subject, pub)
	}
	return nil
}

// keyPolicy refuses signing keys and certificates a document signature
// must not rest on: RSA under 2048 bits, elliptic curves under P-256, a
// certificate without key usage (unless allowed), and one whose extended
// key usage is for TLS or other work only.
func keyPolicy(leaf *x509.Certificate, allowNoKeyUsage bool) error {
	switch pub := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := pub.N.BitLen(); n < 2048 {
			return sigErr(ErrWeakKey, "certificate %q has an RSA key of %d bits; at least 2048 are required", leaf.Subject, n)
		}
	case *ecdsa.PublicKey:
		if n := pub.Curve.Params().BitSize; n < 256 {
			return sigErr(ErrWeakKey, "certificate %q has an elliptic-curve key of %d bits; P-256 or stronger is required", leaf.Subject, n)
		}
	default:
		return sigErr(ErrWeakKey, "certificate %q has a %s key; RSA or ECDSA is required", leaf.Subject, leaf.PublicKeyAlgorithm)
	}
	if leaf.KeyUsage == 0 && !allowNoKeyUsage {
		return sigErr(ErrKeyUsage, "certificate %q has no key usage; a signing certificate must allow digitalSignature or nonRepudiation", leaf.Subject)
	}
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return nil
	}
	for _, u := range leaf.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageAny, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageCodeSigning:
			return nil
		}
	}
	for _, oid := range leaf.UnknownExtKeyUsage {
		for _, doc := range documentSigningEKUs {
			if oid.Equal(doc) {
				return nil
			}
		}
	}
	return sigErr(ErrKeyUsage, "certificate %q has an extended key usage that does not allow signing documents (only TLS or other work)", leaf.Subject)
}

// documentSigningEKUs are extended key usages issued for signing
// documents: RFC 9336 documentSigning, Microsoft's and Adobe's.
var documentSigningEKUs = []asn1.ObjectIdentifier{
	{1, 3, 6, 1, 5, 5, 7, 3, 36},
	{1, 3, 6, 1, 4, 1, 311, 10, 3, 12},
	{1, 2, 840, 113583, 1, 1, 5},
}
