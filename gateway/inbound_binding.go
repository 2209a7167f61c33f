package gateway

import (
	"bufio"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"lienthong/directory"
)

// binder decides whether a signing certificate may sign for an agency: a
// trusted CA vouches for who holds a key, not for which agency that is.
// A certificate is bound to the code it names in one of the configured
// attributes, and to whatever the operator's binding list gives it.
type binder struct {
	attrs    []string
	bindings []binding
}

// binding is one line of the operator's list.
type binding struct {
	code    string
	subtree bool   // CODE/*: the code and every unit under it
	kind    string // sha256, spki or subject
	value   string
}

// Subject attributes that may carry an agency code.
var codeAttributeOIDs = map[string]asn1.ObjectIdentifier{
	"serialNumber": {2, 5, 4, 5},
	"UID":          {0, 9, 2342, 19200300, 100, 1, 1},
	"CN":           {2, 5, 4, 3},
	"OU":           {2, 5, 4, 11},
	"O":            {2, 5, 4, 10},
}

func newBinder(attrs []string, file string) (*binder, error) {
	b := &binder{attrs: attrs}
	if file == "" {
		return b, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("trust.bindings: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bd, err := parseBinding(line)
		if err != nil {
			return nil, fmt.Errorf("trust.bindings %s line %d: %w", file, n, err)
		}
		b.bindings = append(b.bindings, bd)
	}
	return b, sc.Err()
}

func parseBinding(line string) (binding, error) {
	code, what, ok := strings.Cut(line, " ")
	if !ok {
		return binding{}, fmt.Errorf("want \"CODE[/*] sha256:FINGERPRINT|spki:SHA256|subject:DN\"")
	}
	bd := binding{}
	bd.code, bd.subtree = strings.CutSuffix(code, "/*")
	if _, err := directory.ParseCode(bd.code); err != nil {
		return binding{}, err
	}
	kind, value, ok := strings.Cut(strings.TrimSpace(what), ":")
	switch {
	case !ok:
		return binding{}, fmt.Errorf("%q: want sha256:HEX, spki:HEX or subject:DN", what)
	case kind == "sha256" || kind == "spki":
		v := strings.ToLower(strings.ReplaceAll(value, ":", ""))
		if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
			return binding{}, fmt.Errorf("%s:%s is not a SHA-256 in hex", kind, value)
		}
		bd.kind, bd.value = kind, v
	case kind == "subject":
		bd.kind, bd.value = kind, strings.TrimSpace(value)
	default:
		return binding{}, fmt.Errorf("%q: want sha256:HEX, spki:HEX or subject:DN", kind)
	}
	return bd, nil
}

// boundTo reports whether cert may sign for the agency code.
func (b *binder) boundTo(cert *x509.Certificate, code string) bool {
	for _, a := range b.attrs {
		for _, v := range attributeValues(cert, a) {
			if containsCode(v, code) {
				return true
			}
		}
	}
	for _, bd := range b.bindings {
		if (bd.code == code || (bd.subtree && under(code, bd.code))) && bd.matches(cert) {
			return true
		}
	}
	return false
}

func (bd binding) matches(cert *x509.Certificate) bool {
	switch bd.kind {
	case "sha256":
		sum := sha256.Sum256(cert.Raw)
		return hex.EncodeToString(sum[:]) == bd.value
	case "spki":
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		return hex.EncodeToString(sum[:]) == bd.value
	}
	return cert.Subject.String() == bd.value
}

func attributeValues(cert *x509.Certificate, attr string) []string {
	if attr == "SAN" {
		out := append(append([]string{}, cert.DNSNames...), cert.EmailAddresses...)
		for _, u := range cert.URIs {
			out = append(out, u.String())
		}
		return out
	}
	oid, ok := codeAttributeOIDs[attr]
	if !ok {
		return nil
	}
	var out []string
	for _, n := range cert.Subject.Names {
		if s, ok := n.Value.(string); ok && n.Type.Equal(oid) {
			out = append(out, s)
		}
	}
	return out
}

// containsCode finds code in an attribute value as a whole word, so that
// "MĐĐ:000.00.07.H26" names 000.00.07.H26 and "1000.00.07.H26" does not.
func containsCode(v, code string) bool {
	for i := 0; ; {
		j := strings.Index(v[i:], code)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(code)
		if (start == 0 || !codeChar(v[start-1])) && (end == len(v) || !codeChar(v[end])) {
			return true
		}
		i = start + 1
	}
}

func codeChar(c byte) bool {
	return c == '.' || ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z')
}

// under reports whether code is ancestor or one of its units; a code that
// does not parse is under nothing.
func under(code, ancestor string) bool {
	c, err := directory.ParseCode(code)
	return err == nil && c.Under(directory.Code(ancestor))
}
