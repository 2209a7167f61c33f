//go:build !cgo

package softhsm

import (
	"crypto/x509"
	"time"

	"lienthong/envelope/devca"
)

// NewKey needs cgo to reach the token; without it SoftHSM2 counts as
// missing.
func (t *Token) NewKey(object string, ca *devca.CA, now time.Time) (*x509.Certificate, error) {
	return nil, ErrNotInstalled
}
