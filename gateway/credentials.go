package gateway

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"lienthong/conf"
	"lienthong/envelope"
	"lienthong/envelope/sigkey"
)

// credentials are what a certificate rotation changes: the signing key
// and the trust in other agencies' signatures. They are swapped whole.
type credentials struct {
	key    *sigkey.Key
	signer *envelope.Signer
	trust  *envelope.Trust
	policy envelope.SignaturePolicy
	binder *binder
	// allowNoKeyUsage accepts signing certificates without key usage.
	allowNoKeyUsage bool
	// agencies are those served; agencyKeys their own keys; shared lets
	// the others sign with key.
	agencies   *agencies
	agencyKeys map[string]agencyKey
	shared     bool
}

// close releases every key the credentials hold.
func (cr *credentials) close() error {
	var errs []error
	errs = append(errs, cr.key.Close())
	for _, k := range cr.agencyKeys {
		errs = append(errs, k.key.Close())
	}
	return errors.Join(errs...)
}

func (g *Gateway) openCredentials(c conf.Config) (_ *credentials, err error) {
	s, t := c.Signing, c.Trust
	cr := &credentials{agencies: newAgencies(c), shared: s.Shared}
	if cr.key, cr.signer, err = g.openKey(s); err != nil {
		return nil, err
	}
	if cr.agencyKeys, err = openAgencyKeys(s); err != nil {
		cr.key.Close()
		return nil, err
	}
	if cr.trust, cr.policy, err = openTrust(t); err != nil {
		cr.close()
		return nil, err
	}
	if cr.binder, err = newBinder(t.CodeAttributes, t.Bindings); err != nil {
		cr.close()
		return nil, err
	}
	cr.allowNoKeyUsage = t.AllowNoKeyUsage
	return cr, nil
}

func (g *Gateway) openKey(s conf.Signing) (*sigkey.Key, *envelope.Signer, error) {
	keyFile := s.KeyFile
	if strings.HasPrefix(keyFile, "credential:") {
		p, err := conf.Secret(keyFile).Path()
		if err != nil {
			return nil, nil, fmt.Errorf("signing.key_file: %w", err)
		}
		keyFile = p
	}
	kc := sigkey.Config{KeyFile: keyFile, PKCS11URI: s.PKCS11URI, CertFile: s.CertFile, ChainFile: s.ChainFile}
	if s.KeyPassword.Set() {
		p, err := s.KeyPassword.Path()
		if err != nil {
			return nil, nil, fmt.Errorf("signing.key_password: %w", err)
		}
		kc.PassFile = p
	}
	key, err := sigkey.Load(kc)
	if err != nil {
		where := "signing.key_file " + keyFile
		if s.PKCS11URI != "" {
			// Without its query, which may carry a PIN.
			where = "signing.pkcs11_uri " + strings.SplitN(s.PKCS11URI, "?", 2)[0]
		}
		return nil, nil, fmt.Errorf("load signing key (%s, signing.cert_file %s): %w", where, s.CertFile, err)
	}
	signer, err := envelope.NewSigner(key.Signer, key.Chain, envelope.SignerOptions{LegacySHA1: s.LegacySHA1})
	if err != nil {
		key.Close()
		return nil, nil, fmt.Errorf("signing key: %w", err)
	}
	// A key that cannot sign (a token logged out, a wrong PIN) shows now,
	// not at the first document.
	digest := sha256.Sum256([]byte("lienthong start"))
	if _, err := key.Signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		key.Close()
		return nil, nil, fmt.Errorf("signing key cannot sign: %w", err)
	}
	cert := signer.Certificate()
	if left := cert.NotAfter.Sub(g.clock.Now()); left < 30*24*time.Hour {
		g.log.Warn().Time("not_after", cert.NotAfter).Str("subject", cert.Subject.String()).
			Msg("signing certificate expires within 30 days: renew it and set signing.cert_file")
	}
	return key, signer, nil
}

func openTrust(t conf.Trust) (*envelope.Trust, envelope.SignaturePolicy, error) {
	mode, err := envelope.ParseSignatureMode(t.Signatures)
	if err != nil {
		return nil, envelope.SignaturePolicy{}, fmt.Errorf("trust.signatures: %w", err)
	}
	policy := envelope.SignaturePolicy{Mode: mode, Senders: map[string]envelope.SignatureMode{}}
	for code, s := range t.Senders {
		m, err := envelope.ParseSignatureMode(s)
		if err != nil {
			return nil, policy, fmt.Errorf("trust.senders.%s: %w", code, err)
		}
		policy.Senders[code] = m
	}
	if t.Roots == "" {
		return envelope.NewTrust(nil, nil), policy, nil
	}
	trust, err := envelope.LoadTrust(t.Roots)
	if err != nil {
		return nil, policy, fmt.Errorf("trust.roots: %w", err)
	}
	if t.CRLs != "" {
		if err := trust.AddCRLs(t.CRLs); err != nil {
			return nil, policy, fmt.Errorf("trust.crls: %w", err)
		}
	}
	return trust, policy, nil
}

// Reload takes a new signing key and certificate and new trust settings
// without a restart, so a certificate is rotated while documents flow. The
// new set is loaded and tested first; on any error the running one stays.
// It returns the names of other sections that changed, which only take
// effect at the next start.
func (g *Gateway) Reload(c conf.Config) (restartNeeded []string, err error) {
	g.reload.Lock()
	defer g.reload.Unlock()
	cr, err := g.openCredentials(c)
	if err != nil {
		return nil, err
	}
	// Unlike at start, where receiving goes on under an expired key, a
	// rotation to a certificate that cannot sign now is a mistake.
	if cert, now := cr.signer.Certificate(), g.clock.Now(); now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		cr.close()
		return nil, fmt.Errorf("signing.cert_file: certificate %q is valid from %s to %s, not now (%s)",
			cert.Subject.CommonName, cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	old := g.creds.Swap(cr)
	g.retired = append(g.retired, old) // a send may still be signing with it
	oc, nc := old.signer.Certificate(), cr.signer.Certificate()
	g.m.certExpiry.Set(float64(nc.NotAfter.Unix()))
	g.log.Info().Str("old_subject", oc.Subject.String()).Str("old_serial", oc.SerialNumber.String()).
		Str("subject", nc.Subject.String()).Str("serial", nc.SerialNumber.String()).Time("not_after", nc.NotAfter).
		Msg("reloaded signing key and trust")
	g.log.Info().Int("agencies", len(cr.agencies.byCode)).Int("agency_keys", len(cr.agencyKeys)).Msg("agencies served")
	was, now := g.cfg, c
	was.Signing, was.Trust, now.Signing, now.Trust = conf.Signing{}, conf.Trust{}, conf.Signing{}, conf.Trust{}
	was.Agencies, now.Agencies = nil, nil
	restartNeeded = conf.Changed(was, now)
	// The axes' credentials are rotated here too: secrets, token
	// passwords, an agency's own pair. Another set of links waits.
	rotated, err := g.axes.reload(c, g.axisClient)
	switch {
	case err != nil:
		g.log.Error().Err(err).Msg("axis credentials not reloaded: the old ones stay in use")
	case rotated:
		restartNeeded = slices.DeleteFunc(restartNeeded, func(s string) bool { return s == "axis" || s == "axes" })
		g.log.Info().Int("links", len(g.axes.all)).Msg("reloaded axis credentials")
		// The breakers keep their settings until a restart.
		if !slices.EqualFunc(g.cfg.AllAxes(), c.AllAxes(), func(a, b conf.Axis) bool {
			return a.BreakerFailures == b.BreakerFailures && a.BreakerCooldown == b.BreakerCooldown
		}) {
			restartNeeded = append(restartNeeded, "axes")
		}
	case !slices.Contains(restartNeeded, "axes"):
		restartNeeded = append(restartNeeded, "axes")
	}
	return restartNeeded, nil
}
