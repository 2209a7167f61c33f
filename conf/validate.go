package conf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Validate checks every value and that every named file is readable. It
// reads no secret's content beyond checking that it is there.
func (c *Config) Validate() Problems {
	v := &validator{}
	v.require("state_dir", c.StateDir)
	c.validateAgency(v)
	c.validateAxis(v)
	c.validateSigning(v)
	c.validateTrust(v)
	o := c.Outbound
	v.atLeast("outbound.workers", o.Workers, 1)
	v.atLeast("outbound.urgent_workers", o.UrgentWorkers, 0)
	v.atLeast("outbound.max_attempts", o.MaxAttempts, 1)
	v.atLeast("outbound.breaker_failures", o.BreakerFailures, 1)
	v.positive("outbound.max_age", o.MaxAge)
	v.positive("outbound.retry_base", o.RetryBase)
	v.positive("outbound.retry_cap", o.RetryCap)
	v.positive("outbound.breaker_cooldown", o.BreakerCooldown)
	v.positive("outbound.retention", o.Retention)
	if o.MaxDocument < 1<<10 {
		v.add("outbound.max_document", "must be at least 1KiB")
	}
	v.positive("inbound.poll_interval", c.Inbound.PollInterval)
	v.atLeast("inbound.workers", c.Inbound.Workers, 1)
	v.positive("directory.sync_interval", c.Directory.SyncInterval)
	switch c.Store.Engine {
	case "bbolt":
	case "postgres":
		if d := string(c.Store.DSN); strings.HasPrefix(d, "file:") || strings.HasPrefix(d, "credential:") {
			v.secret("store.dsn", c.Store.DSN)
		} else if _, err := c.Store.ReadDSN(); err != nil {
			v.add("store.dsn", err.Error())
		}
		v.atLeast("store.max_conns", c.Store.MaxConns, 2)
		v.positive("store.statement_timeout", c.Store.StatementTimeout)
	default:
		v.add("store.engine", fmt.Sprintf("%q: want bbolt or postgres", c.Store.Engine))
	}
	if e := c.Evidence; e.Enabled {
		v.positive("evidence.checkpoint_interval", e.CheckpointInterval)
		switch {
		case e.Key.Set():
			v.secret("evidence.key", e.Key)
		case c.Store.Engine == "postgres":
			v.add("evidence.key", "required with store.engine = \"postgres\": every node signs the shared log with the same key (lienthong evidence key -new)")
		}
		if e.TSA != "" {
			v.httpURL("evidence.tsa", e.TSA)
		}
		if e.PackageRetention < 0 {
			v.add("evidence.package_retention", "must not be negative")
		}
	}
	for i, d := range c.Calendar.Holidays {
		v.days(fmt.Sprintf("calendar.holidays[%d]", i), d)
	}
	for i, d := range c.Calendar.WorkDays {
		v.days(fmt.Sprintf("calendar.work_days[%d]", i), d)
	}
	if c.Calendar.HolidaysFile != "" {
		v.file("calendar.holidays_file", c.Calendar.HolidaysFile)
	}
	v.positive("reports.retention", c.Reports.Retention)
	if c.Directory.RetiredFile != "" {
		v.file("directory.retired_file", c.Directory.RetiredFile)
	}
	for i, code := range c.Directory.AcceptChanges {
		v.code(fmt.Sprintf("directory.accept_changes[%d]", i), code)
	}
	c.validateAPI(v)
	if c.Metrics.Listen != "" {
		v.hostPort("metrics.listen", c.Metrics.Listen)
	}
	if c.Spool.Dir != "" {
		v.positive("spool.scan_interval", c.Spool.ScanInterval)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", fmt.Sprintf("%q is not debug, info, warn or error", c.Log.Level))
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		v.add("log.format", fmt.Sprintf("%q is not json or console", c.Log.Format))
	}
	return v.ps
}

func (c *Config) validateAgency(v *validator) {
	if v.require("agency.code", c.Agency.Code) {
		v.code("agency.code", c.Agency.Code)
	}
	v.require("agency.name", c.Agency.Name)
	seen := map[string]bool{c.Agency.Code: true}
	for i, a := range c.Agencies {
		p := fmt.Sprintf("agencies[%d]", i)
		if v.require(p+".code", a.Code) {
			v.code(p+".code", a.Code)
		}
		if seen[a.Code] {
			v.add(p+".code", fmt.Sprintf("%s is served twice", a.Code))
		}
		seen[a.Code] = true
		v.require(p+".name", a.Name)
	}
}

func (c *Config) validateAxis(v *validator) {
	names := map[string]bool{}
	if c.Axis.Endpoint != "" || len(c.Axes) == 0 {
		validateOneAxis(v, "axis", c.Axis)
		names[NationalAxis] = true
	}
	for i, a := range c.AllAxes()[len(names):] {
		p := fmt.Sprintf("axes[%d]", i)
		switch {
		case !v.require(p+".name", a.Name):
		case names[a.Name]:
			v.add(p+".name", fmt.Sprintf("%q names two axes", a.Name))
		case strings.ContainsAny(a.Name, "/: "):
			v.add(p+".name", fmt.Sprintf("%q: a name without '/', ':' or spaces", a.Name))
		}
		names[a.Name] = true
		validateOneAxis(v, p, a)
	}
	agencies := append([]Agency{c.Agency}, c.Agencies...)
	for i, a := range agencies {
		p := "agency"
		if i > 0 {
			p = fmt.Sprintf("agencies[%d]", i-1)
		}
		if a.Axis != "" && !names[a.Axis] {
			v.add(p+".axis", fmt.Sprintf("%q is no axis of [axis] (national) or [[axes]]", a.Axis))
		}
		if (a.AxisSystemID == "") != (a.AxisSecret == "") {
			v.add(p+".axis_secret", "axis_system_id and axis_secret go together: the agency's own credentials on its axis")
		} else if a.AxisSecret.Set() {
			v.secret(p+".axis_secret", a.AxisSecret)
		}
	}
}

func validateOneAxis(v *validator, p string, a Axis) {
	if v.require(p+".endpoint", a.Endpoint) {
		v.httpURL(p+".endpoint", a.Endpoint)
	}
	v.require(p+".system_id", a.SystemID)
	if v.require(p+".secret", string(a.Secret)) {
		v.secret(p+".secret", a.Secret)
	}
	switch a.Dialect {
	case "", "sdk":
	case "rest-v2":
		if a.TokenURL != "" {
			v.httpURL(p+".token_url", a.TokenURL)
		}
		v.require(p+".token_user", a.TokenUser)
		if v.require(p+".token_password", string(a.TokenPassword)) {
			v.secret(p+".token_password", a.TokenPassword)
		}
		if a.TokenTTL < 0 || a.ListWindow < 0 {
			v.add(p+".list_window", "token_ttl and list_window must not be negative")
		}
	default:
		v.add(p+".dialect", fmt.Sprintf("%q: want sdk or rest-v2", a.Dialect))
	}
	v.file(p+".ca_file", a.CAFile)
	v.file(p+".cert_file", a.CertFile)
	v.file(p+".key_file", a.KeyFile)
	v.pair(p+".key_file", a.CertFile, a.KeyFile, "client certificate and key")
	v.positive(p+".connect_timeout", a.ConnectTimeout)
	v.positive(p+".call_timeout", a.CallTimeout)
	v.atLeast(p+".max_conns", a.MaxConns, 1)
	if a.BreakerFailures < 0 || a.BreakerCooldown < 0 {
		v.add(p+".breaker_failures", "breaker_failures and breaker_cooldown must not be negative")
	}
}

func (c *Config) validateSigning(v *validator) {
	s := c.Signing
	switch {
	case s.KeyFile == "" && s.PKCS11URI == "":
		v.add("signing.key_file", "is required, or signing.pkcs11_uri for a token")
	case s.KeyFile != "" && s.PKCS11URI != "":
		v.add("signing.pkcs11_uri", "set either signing.key_file or signing.pkcs11_uri, not both")
	}
	if strings.HasPrefix(s.KeyFile, "credential:") {
		v.secret("signing.key_file", Secret(s.KeyFile))
	} else {
		v.file("signing.key_file", s.KeyFile)
	}
	if s.KeyPassword.Set() {
		v.secret("signing.key_password", s.KeyPassword)
	}
	if s.KeyFile != "" {
		v.require("signing.cert_file", s.CertFile)
	}
	v.file("signing.cert_file", s.CertFile)
	v.file("signing.chain_file", s.ChainFile)
	v.file("signing.key_dir", s.KeyDir)
}

func (c *Config) validateTrust(v *validator) {
	t := c.Trust
	v.signatureMode("trust.signatures", t.Signatures)
	for i, a := range t.CodeAttributes {
		switch a {
		case "serialNumber", "UID", "CN", "OU", "O", "SAN":
		default:
			v.add(fmt.Sprintf("trust.code_attributes[%d]", i), fmt.Sprintf("%q: want serialNumber, UID, CN, OU, O or SAN", a))
		}
	}
	v.file("trust.bindings", t.Bindings)
	for code, mode := range t.Senders {
		v.signatureMode("trust.senders."+code, mode)
		v.code("trust.senders."+code, code)
	}
	for up, codes := range t.Uploaders {
		v.code("trust.uploaders."+up, up)
		for i, c := range codes {
			v.code(fmt.Sprintf("trust.uploaders.%s[%d]", up, i), strings.TrimSuffix(c, "/*"))
		}
	}
	if t.Signatures != "off" {
		v.require("trust.roots", t.Roots)
	}
	v.file("trust.roots", t.Roots)
	v.file("trust.crls", t.CRLs)
}

func (c *Config) validateAPI(v *validator) {
	a := c.API
	if v.require("api.listen", a.Listen) {
		v.hostPort("api.listen", a.Listen)
	}
	if v.require("api.tokens", string(a.Tokens)) {
		v.secret("api.tokens", a.Tokens)
	}
	v.file("api.tls_cert", a.TLSCert)
	v.file("api.tls_key", a.TLSKey)
	v.file("api.client_ca", a.ClientCA)
	v.pair("api.tls_key", a.TLSCert, a.TLSKey, "TLS certificate and key")
	if a.ClientCA != "" && a.TLSCert == "" {
		v.add("api.client_ca", "client certificates need api.tls_cert and api.tls_key")
	}
	if host, _, err := net.SplitHostPort(a.Listen); err == nil && a.TLSCert == "" && !loopback(host) {
		v.add("api.listen", fmt.Sprintf("%q is reachable from other machines: set api.tls_cert and api.tls_key, or listen on 127.0.0.1", a.Listen))
	}
	v.atLeast("api.max_connections", a.MaxConnections, 8)
	v.atLeast("api.max_uploads", a.MaxUploads, 1)
	if a.Webhook != "" {
		v.httpURL("api.webhook", a.Webhook)
		if v.require("api.webhook_secret", string(a.WebhookSecret)) {
			v.secret("api.webhook_secret", a.WebhookSecret)
		}
	}
}

// loopback reports whether a listen host is reachable from this machine
// only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type validator struct{ ps Problems }

// Notes are what a check by hand could not see: each secret read from a
// systemd credential, which exists only inside the service.
func (c *Config) Notes() []string {
	if os.Getenv("CREDENTIALS_DIRECTORY") != "" {
		return nil
	}
	var out []string
	for _, s := range []struct {
		path string
		v    Secret
	}{{"axis.secret", c.Axis.Secret}, {"api.tokens", c.API.Tokens}, {"api.webhook_secret", c.API.WebhookSecret}, {"signing.key_password", c.Signing.KeyPassword},
		{"signing.key_file", Secret(c.Signing.KeyFile)}} {
		if name, ok := strings.CutPrefix(string(s.v), "credential:"); ok {
			out = append(out, fmt.Sprintf("%s: read at start from the systemd credential %q (LoadCredential=%s:/etc/lienthong/credentials/%s in the unit); checked only inside the service", s.path, name, name, name))
		}
	}
	return out
}

func (v *validator) add(path, rule string) { v.ps = append(v.ps, Problem{Path: path, Rule: rule}) }

func (v *validator) require(path, value string) bool {
	if value == "" {
		v.add(path, "is required")
	}
	return value != ""
}

func (v *validator) atLeast(path string, n, min int) {
	if n < min {
		v.add(path, fmt.Sprintf("is %d, must be at least %d", n, min))
	}
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, fmt.Sprintf("is %v, must be more than zero", time.Duration(d)))
	}
}

// pair refuses one of two settings that only work together.
func (v *validator) pair(path, a, b, what string) {
	if (a == "") != (b == "") {
		v.add(path, what+" go together: set both or neither")
	}
}

func (v *validator) httpURL(path, s string) {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.add(path, fmt.Sprintf("%q is not an http(s) URL", s))
	}
}

func (v *validator) hostPort(path, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		v.add(path, fmt.Sprintf("%q is not host:port", addr))
	}
}

func (v *validator) file(path, name string) {
	if name == "" {
		return
	}
	if _, err := os.Stat(name); err != nil {
		v.add(path, fmt.Sprintf("cannot be read: %v", err))
	}
}

func (v *validator) secret(path string, s Secret) {
	p, err := s.Path()
	if errors.Is(err, ErrNoCredentials) {
		// Checked by hand, outside the service: the credential is there
		// only when systemd starts the unit (and ExecStartPre checks it).
		// Notes says so.
		return
	}
	if err != nil {
		v.add(path, err.Error())
		return
	}
	if _, err := os.Stat(p); err != nil {
		v.add(path, fmt.Sprintf("cannot be read: %v", err))
	}
}

// codePattern is the shape of an agency identifier code (mã định danh),
// NNN.NN.NN.XNN; the directory gives codes their meaning.
var codePattern = regexp.MustCompile(`^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$`)

// days checks a date or a range of dates of the calendar.
func (v *validator) days(path, s string) {
	if _, _, err := DayRange(s); err != nil {
		v.add(path, err.Error())
	}
}

// DayRange reads a calendar date (YYYY-MM-DD) or range of dates
// (YYYY-MM-DD..YYYY-MM-DD, within a month) as its first and last day:
// the form of [calendar] and of its holiday file.
func DayRange(s string) (first, last time.Time, err error) {
	from, to, isRange := strings.Cut(s, "..")
	if first, err = time.Parse(time.DateOnly, from); err != nil {
		return first, last, fmt.Errorf("%q is not a date YYYY-MM-DD", from)
	}
	last = first
	if isRange {
		if last, err = time.Parse(time.DateOnly, to); err != nil {
			return first, last, fmt.Errorf("%q is not a date YYYY-MM-DD", to)
		}
		if last.Before(first) || last.Sub(first) > 31*24*time.Hour {
			return first, last, fmt.Errorf("range %s: the end must follow the start, within a month", s)
		}
	}
	return first, last, nil
}

func (v *validator) code(path, s string) {
	if !codePattern.MatchString(s) {
		v.add(path, fmt.Sprintf("%q is not an agency identifier code of the form NNN.NN.NN.XNN", s))
	}
}

// signatureMode checks the word; the engine gives it meaning.
func (v *validator) signatureMode(path, s string) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "require", "warn", "off", "":
	default:
		v.add(path, fmt.Sprintf("signature mode %q: want require, warn or off", s))
	}
}
