package softhsm

import (
	"errors"
	"os"
	"testing"
)

// ForTest initialises a token in a temporary directory for one test. Where
// SoftHSM2 is missing it fails the test in CI, which installs it, and skips
// it elsewhere.
func ForTest(t testing.TB, label, pin string) *Token {
	t.Helper()
	t.Setenv("SOFTHSM2_CONF", "") // restored after the test
	tok, err := InitToken(t.TempDir(), label, pin)
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatal("SoftHSM2 missing; .ci/run must install Debian's softhsm2")
		}
		t.Skip("install Debian's softhsm2 to run PKCS#11 tests")
	}
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
