//go:build !cgo

package sigkey

import (
	"crypto"
	"crypto/x509"
	"errors"
)

// token stands in for a PKCS#11 session in builds without cgo, which
// cannot load a PKCS#11 module.
type token struct {
	signer crypto.Signer
	cert   *x509.Certificate
}

func (t *token) Close() error { return nil }

func openToken(string) (*token, error) {
	return nil, errors.New("this build has no PKCS#11 support: it was built with CGO_ENABLED=0")
}
