//go:build cgo

package sigkey

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// token is an open PKCS#11 session pool holding one signing key.
type token struct {
	ctx    *crypto11.Context
	signer crypto.Signer
	cert   *x509.Certificate
}

func (t *token) Close() error { return t.ctx.Close() }

// openToken logs in to the token a URI names and finds its key and, when
// stored there, its certificate.
func openToken(s string) (*token, error) {
	u, err := ParseURI(s)
	if err != nil {
		return nil, err
	}
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path:        u.Module,
		TokenLabel:  u.Token,
		TokenSerial: u.Serial,
		Pin:         u.Pin,
	})
	if err != nil {
		return nil, fmt.Errorf("open PKCS#11 token %s: %w", redact(s), err)
	}
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	signer, err := ctx.FindKeyPair(u.ID, label)
	if err != nil || signer == nil {
		ctx.Close()
		if err == nil {
			err = errors.New("not found")
		}
		return nil, fmt.Errorf("PKCS#11 key %s: %w", redact(s), err)
	}
	cert, _ := ctx.FindCertificate(u.ID, label, nil)
	return &token{ctx: ctx, signer: signer, cert: cert}, nil
}
