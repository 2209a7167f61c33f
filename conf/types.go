package conf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "30s" or "72h".
type Duration time.Duration

// UnmarshalText reads Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 30s or 72h", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes Go duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Size is a byte count written as 1048576, "512KiB", "100MiB" or "2GiB".
type Size int64

// UnmarshalText reads a byte count with an optional binary unit.
func (s *Size) UnmarshalText(b []byte) error {
	t := strings.TrimSpace(string(b))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a size like 100MiB", b)
	}
	*s = Size(n * mult)
	return nil
}

// Secret says where a secret lives, never the secret itself:
// "file:/path" or "credential:name" for a systemd credential in
// $CREDENTIALS_DIRECTORY. Its String form is safe to log.
type Secret string

// ErrNoCredentials is returned for a credential when the service was not
// started with any (no $CREDENTIALS_DIRECTORY).
var ErrNoCredentials = errors.New("$CREDENTIALS_DIRECTORY is not set: add LoadCredential= to the unit")

// Set reports whether a secret was configured.
func (s Secret) Set() bool { return s != "" }

// Path is the file that holds the secret.
func (s Secret) Path() (string, error) {
	if f, ok := strings.CutPrefix(string(s), "file:"); ok && f != "" {
		return f, nil
	}
	if name, ok := strings.CutPrefix(string(s), "credential:"); ok && name != "" {
		if strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
			return "", fmt.Errorf("credential name %q is not a plain name", name)
		}
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return "", ErrNoCredentials
		}
		return filepath.Join(dir, name), nil
	}
	return "", errors.New(`is not "file:/path" or "credential:name"; secrets never live in the configuration itself`)
}

// Read returns the secret with surrounding white space removed.
func (s Secret) Read() (string, error) {
	p, err := s.Path()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", p)
	}
	return v, nil
}

// String names where the secret comes from, never its value.
func (s Secret) String() string {
	if s == "" {
		return "(none)"
	}
	return string(s)
}

// ReadDSN returns the store's database: read as a secret from file: or
// credential:, or given in place when it holds no password (a Unix
// socket with peer authentication, a password in ~/.pgpass).
func (s Store) ReadDSN() (string, error) {
	v := string(s.DSN)
	if strings.HasPrefix(v, "file:") || strings.HasPrefix(v, "credential:") {
		return s.DSN.Read()
	}
	if v == "" {
		return "", errors.New("is required with store.engine = \"postgres\"")
	}
	if dsnPassword.MatchString(v) {
		return "", errors.New(`holds a password: give the DSN as "file:/path" or "credential:name", never in the configuration itself`)
	}
	return v, nil
}

// dsnPassword finds a password in a key=value DSN or a URL's user part.
var dsnPassword = regexp.MustCompile(`(?i)(^|\s)password\s*=|://[^/@]*:[^/@]*@`)
