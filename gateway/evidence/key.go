package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"lienthong/queue/atomicfile"
)

func ed25519Public(seed []byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

// KeyFile reads the signer key kept at path, making one named name there
// (mode 0600) when there is none: the log's own key, never the agency's
// signing key.
func KeyFile(path, name string) (skey string, made bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("evidence key: %w", err)
	}
	skey, _, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", false, fmt.Errorf("evidence key: %w", err)
	}
	if err := atomicfile.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("evidence key: %w", err)
	}
	return skey, true, nil
}
