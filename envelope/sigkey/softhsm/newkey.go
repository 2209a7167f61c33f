//go:build cgo

package softhsm

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/ThalesGroup/crypto11"

	"lienthong/envelope/devca"
)

// NewKey generates an RSA-2048 key pair on the token, has ca certify it and
// stores the certificate next to it, all under the label object.
func (t *Token) NewKey(object string, ca *devca.CA, now time.Time) (*x509.Certificate, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: t.Module, TokenLabel: t.Label, Pin: t.Pin})
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	id := []byte(object)
	key, err := ctx.GenerateRSAKeyPairWithLabel(id, []byte(object), 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key on the token: %w", err)
	}
	cert, _, err := ca.Issue(devca.Leaf{Name: "Token agency", Key: key}, now)
	if err != nil {
		return nil, err
	}
	if err := ctx.ImportCertificateWithLabel(id, []byte(object), cert); err != nil {
		return nil, fmt.Errorf("store the certificate on the token: %w", err)
	}
	return cert, nil
}
