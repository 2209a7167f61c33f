package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"lienthong/conf"
	"lienthong/envelope"
	"lienthong/envelope/sigkey"
)

// agencies are the agencies one gateway serves: the configured ones and,
// where asked, every unit under them that the synced directory knows. A
// city's shared system sends and receives for all of them, each as itself.
type agencies struct {
	primary string
	byCode  map[string]envelope.Organization
	units   []string // codes whose units are served too
}

func newAgencies(c conf.Config) *agencies {
	a := &agencies{primary: c.Agency.Code, byCode: map[string]envelope.Organization{}}
	for _, ag := range append([]conf.Agency{c.Agency}, c.Agencies...) {
		a.byCode[ag.Code] = envelope.Organization{OrganID: ag.Code, OrganName: ag.Name, Email: ag.Email, Telephone: ag.Phone}
		if ag.Units {
			a.units = append(a.units, ag.Code)
		}
	}
	return a
}

// serves returns the agency a code names when this gateway serves it. The
// cost does not grow with the number of agencies: a map, and the code's
// few ancestors.
func (a *agencies) serves(code string, dir senders) (envelope.Organization, bool) {
	if o, ok := a.byCode[code]; ok {
		return o, true
	}
	for _, u := range a.units {
		if code != u && under(code, u) {
			o := envelope.Organization{OrganID: code}
			if dir != nil {
				if e, ok := dir.Lookup(code); ok {
					o.OrganName = e.Name
				}
			}
			return o, true
		}
	}
	return envelope.Organization{}, false
}

// ours is the recipients of a package that this gateway serves, in the
// package's order.
func (a *agencies) ours(to []envelope.Organization, dir senders) []envelope.Organization {
	var out []envelope.Organization
	for _, t := range to {
		if o, ok := a.serves(t.OrganID, dir); ok && !slices.ContainsFunc(out, func(x envelope.Organization) bool { return x.OrganID == o.OrganID }) {
			out = append(out, o)
		}
	}
	return out
}

// codes are the configured agencies, the primary first.
func (a *agencies) codes() []string {
	out := []string{a.primary}
	for c := range a.byCode {
		if c != a.primary {
			out = append(out, c)
		}
	}
	slices.Sort(out[1:])
	return out
}

// agencyKey is one agency's own signing key from signing.key_dir.
type agencyKey struct {
	key    *sigkey.Key
	signer *envelope.Signer
}

// openAgencyKeys loads CODE.key with CODE.pem (and CODE.chain.pem) from
// the key folder for every file pair there.
func openAgencyKeys(s conf.Signing) (map[string]agencyKey, error) {
	out := map[string]agencyKey{}
	if s.KeyDir == "" {
		return out, nil
	}
	names, err := filepath.Glob(filepath.Join(s.KeyDir, "*.key"))
	if err != nil {
		return nil, err
	}
	closeAll := func() {
		for _, k := range out {
			k.key.Close()
		}
	}
	for _, kf := range names {
		code := strings.TrimSuffix(filepath.Base(kf), ".key")
		kc := sigkey.Config{KeyFile: kf, CertFile: strings.TrimSuffix(kf, ".key") + ".pem"}
		if ch := strings.TrimSuffix(kf, ".key") + ".chain.pem"; fileExists(ch) {
			kc.ChainFile = ch
		}
		key, err := sigkey.Load(kc)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("signing.key_dir: %s: %w", code, err)
		}
		signer, err := envelope.NewSigner(key.Signer, key.Chain, envelope.SignerOptions{LegacySHA1: s.LegacySHA1})
		if err != nil {
			key.Close()
			closeAll()
			return nil, fmt.Errorf("signing.key_dir: %s: %w", code, err)
		}
		out[code] = agencyKey{key: key, signer: signer}
	}
	return out, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// signerFor is the key an agency signs with: its own from the key folder,
// else the main key for the primary agency or when the operator shares it.
func (cr *credentials) signerFor(code string) (*envelope.Signer, error) {
	if k, ok := cr.agencyKeys[code]; ok {
		return k.signer, nil
	}
	if code == cr.agencies.primary || cr.shared || code == "" {
		return cr.signer, nil
	}
	return nil, fmt.Errorf("%w: agency %s has no signing key: put %s.key and %s.pem in signing.key_dir and reload, or set signing.shared",
		ErrUnavailable, code, code, code)
}

// validNow refuses an agency's new work when its certificate cannot sign
// now: recipients would refuse the package.
func validNow(s *envelope.Signer, code string, now time.Time) error {
	cert := s.Certificate()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return fmt.Errorf("%w: the signing certificate %q of %s is valid from %s to %s, not now: install a valid one and reload the gateway",
			ErrUnavailable, cert.Subject.CommonName, code, cert.NotBefore.Format("2006-01-02"), cert.NotAfter.Format("2006-01-02"))
	}
	return nil
}

var errNotServed = errors.New("not an agency this gateway serves")
