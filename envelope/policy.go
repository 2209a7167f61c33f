package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// SignatureMode says what an inbound package's signature must be. Peers
// still send placeholder signatures, so an agency may need to accept some
// unsigned traffic while it chases them.
type SignatureMode int

const (
	// Require refuses a package whose signature does not verify.
	Require SignatureMode = iota
	// Warn accepts it, marks it and lets the caller count it.
	Warn
	// Off does not look at signatures.
	Off
)

func (m SignatureMode) String() string {
	switch m {
	case Warn:
		return "warn"
	case Off:
		return "off"
	}
	return "require"
}

// ParseSignatureMode reads "require", "warn" or "off".
func ParseSignatureMode(s string) (SignatureMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "require", "":
		return Require, nil
	case "warn":
		return Warn, nil
	case "off":
		return Off, nil
	}
	return Require, fmt.Errorf("signature mode %q: want require, warn or off", s)
}

// SignaturePolicy is the inbound rule: a mode, with exceptions per sender
// code. An exception is looked up by the sender the package claims, before
// anything is verified, so it lowers the bar for anyone who can send under
// that code: keep the list short.
type SignaturePolicy struct {
	Mode    SignatureMode
	Senders map[string]SignatureMode
}

// For is the mode that applies to a sender.
func (p SignaturePolicy) For(sender string) SignatureMode {
	if m, ok := p.Senders[sender]; ok {
		return m
	}
	return p.Mode
}

// Inbound is a received package read under a SignaturePolicy.
type Inbound struct {
	Package *Package
	// Verified is set when the signature held; Package then comes from it.
	Verified *Verified
	Mode     SignatureMode
	// SignatureErr is why the signature did not hold, when Mode let the
	// package through anyway.
	SignatureErr error
	// Claimed is the package as it reads before any check, also beside an
	// error, so a refusal can name the sender without reading it again.
	Claimed *Package
}

// Sender is the agency code a package claims to come from.
func (p *Package) Sender() string {
	switch {
	case p.Document != nil:
		return p.Document.Header.From.OrganID
	case p.Status != nil:
		return p.Status.From.OrganID
	}
	return ""
}

// OpenInbound reads a received package under the policy. With Require, a
// bad signature is an error matching ErrSignature, beside an Inbound that
// holds only Claimed; with Warn, the package read from the raw bytes comes
// back with SignatureErr set. Rule problems come back as Problems next to
// the package, as from Parse.
func OpenInbound(raw []byte, pol SignaturePolicy, opts VerifyOptions) (*Inbound, error) {
	return OpenInboundReader(bytes.NewReader(raw), pol, opts)
}

// OpenInboundReader is OpenInbound reading the package from r, so that a
// caller holding it in a file need not hold it in memory as well.
func OpenInboundReader(r io.Reader, pol SignaturePolicy, opts VerifyOptions) (*Inbound, error) {
	doc, err := readTree(r, opts.Parse.Limits)
	if err != nil {
		return nil, err
	}
	return openInbound(doc, pol, opts)
}

func openInbound(doc *etree.Document, pol SignaturePolicy, opts VerifyOptions) (*Inbound, error) {
	// What the package claims, its files left undecoded: when the
	// signature holds, what is read is decoded from what it covers.
	headerOnly := opts.Parse
	headerOnly.noData = true
	claimed, perr := Decode(doc.Root(), headerOnly)
	if claimed == nil {
		return nil, perr
	}
	// whole decodes the package as sent, files included, for a policy
	// that takes it unverified.
	whole := func() (*Package, error) {
		p, err := Decode(doc.Root(), opts.Parse)
		if p == nil {
			return claimed, perr
		}
		p.Signed, p.SignaturePlaceholder = claimed.Signed, claimed.SignaturePlaceholder
		return p, err
	}
	in := &Inbound{Mode: pol.For(claimed.Sender()), Claimed: claimed}
	if in.Mode == Off {
		var werr error
		in.Package, werr = whole()
		return in, werr
	}
	// Decode read the tree without changing it; verify the same tree.
	v, err := verifyTree(doc, opts)
	switch {
	case err == nil || (v != nil && errors.Is(err, ErrInvalid)):
		in.Verified, in.Package = v, v.Package
		return in, err
	case errors.Is(err, ErrSignature) && in.Mode == Warn:
		var werr error
		in.Package, werr = whole()
		in.SignatureErr = err
		return in, werr
	}
	return in, err
}
