// Package sigkey loads an agency's signing key and certificate, from PEM
// files or from a PKCS#11 token, because agencies keep their keys both ways
// and the signer should not care which.
package sigkey

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/youmark/pkcs8"

	"lienthong/envelope"
)

// Config names where the key and certificates are. Either KeyFile or
// PKCS11URI is set.
type Config struct {
	KeyFile  string // PEM: PKCS#1, PKCS#8 (encrypted or not) or SEC 1 EC
	PassFile string // passphrase of an encrypted key, trailing newline ignored
	// PKCS11URI is an RFC 7512 URI such as
	// pkcs11:token=agency;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/credentials/pin
	PKCS11URI string
	CertFile  string // signing certificate (PEM or DER); with a token, optional: read from the token
	ChainFile string // intermediates sent along in KeyInfo
}

// Key is a loaded signing key with its certificate chain, leaf first.
type Key struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate
	closer io.Closer
}

// Close releases a token session; it is a no-op for file keys.
func (k *Key) Close() error {
	if k.closer == nil {
		return nil
	}
	return k.closer.Close()
}

// Load opens the key c names and checks it matches its certificate.
func Load(c Config) (*Key, error) {
	if (c.KeyFile == "") == (c.PKCS11URI == "") {
		return nil, errors.New("give a key file or a PKCS#11 URI, not both or neither")
	}
	k := &Key{}
	var err error
	if c.KeyFile != "" {
		if c.CertFile == "" {
			return nil, errors.New("a key file needs its certificate file")
		}
		if k.Signer, err = ReadKey(c.KeyFile, c.PassFile); err != nil {
			return nil, err
		}
	} else {
		var tok *token
		if tok, err = openToken(c.PKCS11URI); err != nil {
			return nil, err
		}
		k.Signer, k.closer = tok.signer, tok
		if c.CertFile == "" {
			if tok.cert == nil {
				k.Close()
				return nil, fmt.Errorf("%s: no certificate on the token for this key; give --cert", redact(c.PKCS11URI))
			}
			k.Chain = []*x509.Certificate{tok.cert}
		}
	}
	if c.CertFile != "" {
		if k.Chain, err = envelope.ReadCertificates(c.CertFile); err != nil {
			k.Close()
			return nil, err
		}
	}
	if c.ChainFile != "" {
		more, err := envelope.ReadCertificates(c.ChainFile)
		if err != nil {
			k.Close()
			return nil, err
		}
		k.Chain = append(k.Chain, more...)
	}
	if _, err := envelope.NewSigner(k.Signer, k.Chain, envelope.SignerOptions{}); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// ReadKey reads a PEM private key, decrypting PKCS#8 with the passphrase in
// passFile.
func ReadKey(path, passFile string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if _, legacy := blk.Headers["Proc-Type"]; legacy {
		return nil, fmt.Errorf("%s: legacy OpenSSL encryption (Proc-Type) is weak and not read; convert with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW", path)
	}
	var key any
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		if passFile == "" {
			return nil, fmt.Errorf("%s: the key is encrypted; give its passphrase file", path)
		}
		pass, perr := readSecret(passFile)
		if perr != nil {
			return nil, perr
		}
		key, err = pkcs8.ParsePKCS8PrivateKey(blk.Bytes, pass)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot decrypt with the passphrase in %s: %w", path, passFile, err)
		}
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a private key", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T key cannot sign", path, key)
	}
	return s, nil
}

// readSecret reads a secret file, dropping one trailing newline.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")), nil
}
