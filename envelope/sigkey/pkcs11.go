package sigkey

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// URI is the part of an RFC 7512 PKCS#11 URI that finds a signing key.
type URI struct {
	Module string // module-path
	Token  string // token label
	Serial string // token serial
	Object string // key label
	ID     []byte // key id
	Pin    string // from pin-value or pin-source
}

// ParseURI reads a pkcs11: URI. The PIN comes from pin-source (a file, as
// systemd credentials are) or, for tests, pin-value.
func ParseURI(s string) (*URI, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return nil, errors.New(`PKCS#11 URI must start with "pkcs11:"`)
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	for _, attr := range strings.Split(path, ";") {
		if attr == "" {
			continue
		}
		k, v, _ := strings.Cut(attr, "=")
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("PKCS#11 URI attribute %s: %w", k, err)
		}
		switch k {
		case "token":
			u.Token = val
		case "serial":
			u.Serial = val
		case "object":
			u.Object = val
		case "id":
			u.ID = []byte(val)
		case "type", "manufacturer", "model", "library-description", "library-manufacturer", "library-version", "slot-description", "slot-manufacturer", "slot-id":
			// Narrow the search elsewhere; not needed to find one key.
		default:
			return nil, fmt.Errorf("PKCS#11 URI: unknown attribute %q", k)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 URI query: %w", err)
	}
	u.Module = q.Get("module-path")
	switch {
	case q.Get("pin-source") != "":
		src := strings.TrimPrefix(q.Get("pin-source"), "file:")
		pin, err := readSecret(src)
		if err != nil {
			return nil, fmt.Errorf("PKCS#11 PIN: %w", err)
		}
		u.Pin = string(pin)
	case q.Has("pin-value"):
		u.Pin = q.Get("pin-value")
	}
	switch {
	case u.Module == "":
		return nil, errors.New("PKCS#11 URI needs module-path, e.g. ?module-path=/usr/lib/softhsm/libsofthsm2.so")
	case u.Token == "" && u.Serial == "":
		return nil, errors.New("PKCS#11 URI needs token= or serial= to pick the token")
	case u.Object == "" && u.ID == nil:
		return nil, errors.New("PKCS#11 URI needs object= or id= to pick the key")
	case u.Pin == "":
		return nil, errors.New("PKCS#11 URI needs pin-source=FILE (or pin-value= in tests)")
	}
	if _, err := os.Stat(u.Module); err != nil {
		return nil, fmt.Errorf("PKCS#11 module: %w", err)
	}
	return u, nil
}

// redact drops the PIN from a URI before it is shown.
func redact(s string) string {
	if i := strings.Index(s, "pin-value="); i >= 0 {
		end := strings.IndexByte(s[i:], '&')
		if end < 0 {
			return s[:i] + "pin-value=REDACTED"
		}
		return s[:i] + "pin-value=REDACTED" + s[i+end:]
	}
	return s
}
