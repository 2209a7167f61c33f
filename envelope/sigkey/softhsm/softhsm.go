// Package softhsm sets up SoftHSM2 tokens holding an agency key and its
// certificate, so PKCS#11 signing can be tested and demonstrated with the
// same code path a hardware token takes.
package softhsm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Modules are where Debian and others install the SoftHSM2 module.
var Modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// ErrNotInstalled is returned when SoftHSM2 or its tool is missing.
var ErrNotInstalled = errors.New("SoftHSM2 is not installed (Debian package softhsm2)")

// Module returns the path of the SoftHSM2 PKCS#11 module.
func Module() (string, error) {
	if !cgo {
		return "", ErrNotInstalled
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return "", ErrNotInstalled
	}
	for _, m := range Modules {
		if _, err := os.Stat(m); err == nil {
			return m, nil
		}
	}
	return "", ErrNotInstalled
}

// Token is an initialised SoftHSM2 token in a directory of its own.
type Token struct {
	Module string
	Label  string
	Pin    string
	// Conf is the SoftHSM2 configuration; SOFTHSM2_CONF must name it in
	// the environment of any process that opens the token.
	Conf string
}

// InitToken makes a token store in dir and initialises a token in it. It
// sets SOFTHSM2_CONF for this process.
func InitToken(dir, label, pin string) (*Token, error) {
	mod, err := Module()
	if err != nil {
		return nil, err
	}
	t := &Token{Module: mod, Label: label, Pin: pin, Conf: filepath.Join(dir, "softhsm2.conf")}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	if err := os.WriteFile(t.Conf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := os.Setenv("SOFTHSM2_CONF", t.Conf); err != nil {
		return nil, err
	}
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", pin+"-so")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+t.Conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
	}
	return t, nil
}

// URI is the PKCS#11 URI of a key on the token.
func (t *Token) URI(object string) string {
	return "pkcs11:token=" + t.Label + ";object=" + object + "?module-path=" + t.Module + "&pin-value=" + t.Pin
}
