// Package conf turns the daemon's TOML file into Go values and says, by
// dotted path, everything that is wrong with it before anything starts.
package conf

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where packages install the configuration.
const DefaultPath = "/etc/lienthong/lienthong.toml"

// Config is the whole daemon configuration. Field comments give the TOML
// key; Default fills every value a fresh install can live with.
type Config struct {
	StateDir string `toml:"state_dir"` // queue, directory snapshot, spool
	Agency   Agency `toml:"agency"`
	// Agencies are further agencies this gateway serves, for a city's or
	// ministry's shared system: each sends and receives as itself.
	Agencies []Agency `toml:"agencies"`
	// Axis is the national axis, named "national"; Axes are further axes
	// (a province's), or all of them when Axis has no endpoint.
	Axis      Axis      `toml:"axis"`
	Axes      []Axis    `toml:"axes"`
	Signing   Signing   `toml:"signing"`
	Trust     Trust     `toml:"trust"`
	Outbound  Outbound  `toml:"outbound"`
	Inbound   Inbound   `toml:"inbound"`
	API       API       `toml:"api"`
	Metrics   Metrics   `toml:"metrics"`
	Directory Directory `toml:"directory"`
	Spool     Spool     `toml:"spool"`
	Log       Log       `toml:"log"`
	Store     Store     `toml:"store"`
	Evidence  Evidence  `toml:"evidence"`
	Calendar  Calendar  `toml:"calendar"`
	Reports   Reports   `toml:"reports"`
}

// Calendar is the working-day calendar deadlines are counted on. Weekends
// and the fixed public holidays (1/1, 30/4, 1/5, 2/9) are built in; Tết,
// the Hùng Kings' day, the day beside 2/9 and bridge days are decided each
// year, and are given here.
type Calendar struct {
	// Holidays are dates (YYYY-MM-DD) or ranges (YYYY-MM-DD..YYYY-MM-DD).
	Holidays []string `toml:"holidays"`
	// WorkDays are weekend days worked in exchange for a bridge day.
	WorkDays []string `toml:"work_days"`
	// HolidaysFile holds further dates, one date or range per line, then
	// a name; "work DATE" for a weekend day worked; "#" comments.
	HolidaysFile string `toml:"holidays_file"`
}

// Reports keeps what the timeliness reports read.
type Reports struct {
	// Retention is how long a document's report row is kept, long after
	// the document itself is purged.
	Retention Duration `toml:"retention"`
}

// Evidence is the tamper-evident log of every package that crossed the
// boundary, with signed checkpoints an agency can show in a dispute.
type Evidence struct {
	Enabled bool `toml:"enabled"`
	// CheckpointInterval is how often a checkpoint is signed while
	// entries arrive.
	CheckpointInterval Duration `toml:"checkpoint_interval"`
	// Key is the log's own Ed25519 note signer key, given like any
	// secret; unset, evidence.key in state_dir, made at the first start.
	// Nodes sharing a store must all be given the same one.
	Key Secret `toml:"key"`
	// TSA is an RFC 3161 time-stamping authority whose tokens are kept
	// beside the checkpoints; none when empty.
	TSA string `toml:"tsa"`
	// PackageRetention keeps finished records, and so the packages a
	// proof shows, this long when it is longer than outbound.retention;
	// entries are kept for ever whatever it is.
	PackageRetention Duration `toml:"package_retention"`
}

// Store is where the work is kept: a bbolt file in state_dir on one node
// (the default), or a PostgreSQL database several nodes share.
type Store struct {
	Engine string `toml:"engine"` // bbolt or postgres
	// DSN is the database, as a URL or key=value string, given like any
	// secret (file:, credential: or literal).
	DSN Secret `toml:"dsn"`
	// MaxConns bounds the connections to the database.
	MaxConns int `toml:"max_conns"`
	// StatementTimeout bounds each statement.
	StatementTimeout Duration `toml:"statement_timeout"`
}

// Agency is who we are on the axis.
type Agency struct {
	Code  string `toml:"code"` // identifier code, e.g. 000.00.07.H26
	Name  string `toml:"name"`
	Email string `toml:"email"`
	Phone string `toml:"phone"`
	// Units serves every unit under the code too, as the synced directory
	// knows them, each under its own name.
	Units bool `toml:"units"`
	// Axis names the axis the agency exchanges on; the first when empty.
	// AxisSystemID and AxisSecret are its own credentials there, where
	// the axis issues them per unit; the axis's own when empty.
	Axis         string `toml:"axis"`
	AxisSystemID string `toml:"axis_system_id"`
	AxisSecret   Secret `toml:"axis_secret"`
}

// Axis says how to reach an axis adapter, and in which dialect.
type Axis struct {
	Name     string `toml:"name"`    // [[axes]] only; [axis] is "national"
	Dialect  string `toml:"dialect"` // sdk (default) or rest-v2
	Endpoint string `toml:"endpoint"`
	// The rest-v2 dialect's login: where, with which account, as a form
	// or JSON, and how long a token is kept; ListWindow is how far back
	// its received list looks.
	TokenURL       string   `toml:"token_url"`
	TokenUser      string   `toml:"token_user"`
	TokenPassword  Secret   `toml:"token_password"`
	TokenForm      bool     `toml:"token_form"`
	TokenTTL       Duration `toml:"token_ttl"`
	ListWindow     Duration `toml:"list_window"`
	SystemID       string   `toml:"system_id"`
	Secret         Secret   `toml:"secret"`
	CAFile         string   `toml:"ca_file"`
	CertFile       string   `toml:"cert_file"`
	KeyFile        string   `toml:"key_file"`
	PaddedHashFile bool     `toml:"padded_hash_file"`
	ConnectTimeout Duration `toml:"connect_timeout"`
	CallTimeout    Duration `toml:"call_timeout"`
	MaxConns       int      `toml:"max_conns"`
	// BreakerFailures and BreakerCooldown pause this axis alone; the
	// [outbound] ones when unset.
	BreakerFailures int      `toml:"breaker_failures"`
	BreakerCooldown Duration `toml:"breaker_cooldown"`
}

// NationalAxis is the name of the axis [axis] describes.
const NationalAxis = "national"

// AllAxes is every axis, [axis] first as "national" when it has an
// endpoint, with defaults filled in.
func (c *Config) AllAxes() []Axis {
	var all []Axis
	if c.Axis.Endpoint != "" || len(c.Axes) == 0 {
		a := c.Axis
		a.Name = NationalAxis
		all = append(all, a)
	}
	for _, a := range c.Axes {
		a.ConnectTimeout = cmp.Or(a.ConnectTimeout, c.Axis.ConnectTimeout)
		a.CallTimeout = cmp.Or(a.CallTimeout, c.Axis.CallTimeout)
		a.MaxConns = cmp.Or(a.MaxConns, c.Axis.MaxConns)
		all = append(all, a)
	}
	for i := range all {
		all[i].BreakerFailures = cmp.Or(all[i].BreakerFailures, c.Outbound.BreakerFailures)
		all[i].BreakerCooldown = cmp.Or(all[i].BreakerCooldown, c.Outbound.BreakerCooldown)
	}
	return all
}

// Signing names the agency's signing key: a PEM file or a PKCS#11 token.
type Signing struct {
	KeyFile     string `toml:"key_file"`
	KeyPassword Secret `toml:"key_password"` // for an encrypted PKCS#8 key
	PKCS11URI   string `toml:"pkcs11_uri"`   // RFC 7512; the PIN via pin-source=file:
	CertFile    string `toml:"cert_file"`
	ChainFile   string `toml:"chain_file"`
	LegacySHA1  bool   `toml:"legacy_sha1"`
	// KeyDir holds one key per agency served, CODE.key with CODE.pem (and
	// CODE.chain.pem): each agency signs with its own certificate.
	KeyDir string `toml:"key_dir"`
	// Shared lets an agency without a key of its own in KeyDir sign with
	// the key above; otherwise such an agency cannot send (503).
	Shared bool `toml:"shared"`
}

// Trust decides which inbound signatures are accepted.
type Trust struct {
	Roots      string            `toml:"roots"` // a PEM file or a folder of them
	CRLs       string            `toml:"crls"`
	Signatures string            `toml:"signatures"` // require, warn or off
	Senders    map[string]string `toml:"senders"`    // per-sender exceptions
	// RefuseInvalid answers a quarantined package with status 02, when its
	// sender is established.
	RefuseInvalid bool `toml:"refuse_invalid"`
	// CodeAttributes are the certificate attributes that may name the
	// signing agency's code: subject serialNumber, UID, CN, OU, O, or SAN
	// (any subject alternative name).
	CodeAttributes []string `toml:"code_attributes"`
	// Bindings is a file binding agency codes (or a code and its units,
	// CODE/*) to certificates: sha256:FINGERPRINT, spki:SHA256 or
	// subject:DN, one per line; reloaded with the key.
	Bindings string `toml:"bindings"`
	// AllowNoKeyUsage accepts signing certificates without a key usage
	// extension.
	AllowNoKeyUsage bool `toml:"allow_no_key_usage"`
	// Uploaders lets an agency upload to the axis for agencies outside
	// its own code tree (CODE, or CODE/* for a code and its units), as an
	// integration centre does; within its tree it always may. The synced
	// directory never grants this: any axis system can change it.
	Uploaders map[string][]string `toml:"uploaders"`
}

// Outbound tunes sending.
type Outbound struct {
	Workers         int      `toml:"workers"`        // all priorities
	UrgentWorkers   int      `toml:"urgent_workers"` // Khẩn and above only
	MaxAttempts     int      `toml:"max_attempts"`
	MaxAge          Duration `toml:"max_age"`
	RetryBase       Duration `toml:"retry_base"`
	RetryCap        Duration `toml:"retry_cap"`
	MaxDocument     Size     `toml:"max_document"`
	BreakerFailures int      `toml:"breaker_failures"`
	BreakerCooldown Duration `toml:"breaker_cooldown"`
	Retention       Duration `toml:"retention"` // how long finished records stay
	// FollowSuccessor sends a document addressed to a retired code to its
	// successor, with a warning and an event, instead of refusing it.
	FollowSuccessor bool `toml:"follow_successor"`
}

// Inbound tunes receiving.
type Inbound struct {
	PollInterval Duration `toml:"poll_interval"`
	Workers      int      `toml:"workers"`
	AutoArrived  bool     `toml:"auto_arrived"` // answer 01 on delivery
}

// API is the local API the legacy system calls.
type API struct {
	Listen   string `toml:"listen"`
	Tokens   Secret `toml:"tokens"` // lines "client-name token"
	TLSCert  string `toml:"tls_cert"`
	TLSKey   string `toml:"tls_key"`
	ClientCA string `toml:"client_ca"` // require client certificates from it
	// Webhook, when set, is told of new inbound packages and status changes.
	Webhook       string `toml:"webhook"`
	WebhookSecret Secret `toml:"webhook_secret"`
	// MaxConnections caps open connections; more are closed at once, so
	// idle or slow clients cannot take every descriptor.
	MaxConnections int `toml:"max_connections"`
	// MaxUploads caps document submissions read at once; more are answered
	// 503 with Retry-After.
	MaxUploads int `toml:"max_uploads"`
}

// Metrics is the Prometheus listener.
type Metrics struct {
	Listen string `toml:"listen"` // empty turns it off
}

// Directory tunes the agency directory sync.
type Directory struct {
	SyncInterval Duration `toml:"sync_interval"`
	// AcceptChanges are the codes whose held directory changes (the
	// deletion or re-parenting of an agency we exchange with) an operator
	// confirmed; they apply at the next sync.
	AcceptChanges []string `toml:"accept_changes"`
	// RetiredFile adds to, or corrects, the shipped table of agency codes
	// withdrawn by reorganisations: "OLD NEW # source", "OLD - # source"
	// (no successor known) or "OLD +" (not retired after all).
	RetiredFile string `toml:"retired_file"`
}

// Spool is the folder interface for software that can only write files.
type Spool struct {
	Dir          string   `toml:"dir"` // empty turns it off
	ScanInterval Duration `toml:"scan_interval"`
}

// Log sets logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // json or console
}

// Default is the configuration before the file is read.
func Default() Config {
	return Config{
		StateDir: "/var/lib/lienthong",
		Axis: Axis{
			ConnectTimeout: Duration(10 * time.Second), CallTimeout: Duration(10 * time.Minute), MaxConns: 4,
		},
		Trust: Trust{Signatures: "require", RefuseInvalid: true, CodeAttributes: []string{"serialNumber", "UID"}},
		Outbound: Outbound{
			Workers: 8, UrgentWorkers: 1, MaxAttempts: 50, MaxAge: Duration(72 * time.Hour),
			RetryBase: Duration(10 * time.Second), RetryCap: Duration(30 * time.Minute),
			MaxDocument: 100 << 20, BreakerFailures: 5, BreakerCooldown: Duration(30 * time.Second),
			Retention: Duration(30 * 24 * time.Hour),
		},
		Inbound:   Inbound{PollInterval: Duration(30 * time.Second), Workers: 2, AutoArrived: true},
		API:       API{Listen: "127.0.0.1:8490", MaxConnections: 256, MaxUploads: 4},
		Metrics:   Metrics{Listen: "127.0.0.1:9490"},
		Directory: Directory{SyncInterval: Duration(24 * time.Hour)},
		Spool:     Spool{ScanInterval: Duration(5 * time.Second)},
		Log:       Log{Level: "info", Format: "json"},
		Store:     Store{Engine: "bbolt", MaxConns: 8, StatementTimeout: Duration(30 * time.Second)},
		Evidence:  Evidence{Enabled: true, CheckpointInterval: Duration(time.Minute)},
		Reports:   Reports{Retention: Duration(3 * 366 * 24 * time.Hour)},
	}
}

// Load reads, decodes and validates the file at path. Every problem is
// reported, not just the first.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(b, filepath.Dir(path))
}

// Parse decodes TOML text on top of Default and validates it; relative
// paths in it are taken from dir.
func Parse(b []byte, dir string) (Config, error) {
	c := Default()
	// Values of the wrong type are named, then left out, so the rest is
	// still decoded and checked: one run names every problem.
	typed, b := typeProblems(b)
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return c, Problems{{Path: pe.LastKey, Rule: fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)}}
		}
		// Type mismatches come as text naming the key.
		if m := lastKey.FindStringSubmatch(err.Error()); m != nil {
			return c, Problems{{Path: m[2], Rule: "line " + m[1] + ":" + m[3]}}
		}
		return c, Problems{{Rule: err.Error()}}
	}
	ps := typed
	unknown := map[string]bool{}
	for _, k := range md.Undecoded() {
		unknown[k.String()] = true
		// An unknown section is one problem, not one per key in it.
		if len(k) > 1 && unknown[toml.Key(k[:len(k)-1]).String()] {
			continue
		}
		ps = append(ps, Problem{Path: k.String(), Rule: unknownRule(k)})
	}
	c.resolve(dir)
	for _, p := range c.Validate() {
		// A value left out for its type is not also "required".
		if !slices.ContainsFunc(typed, func(q Problem) bool { return q.Path == p.Path }) {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return c, ps
	}
	return c, nil
}

var lastKey = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\):(.*)$`)

// resolve makes relative paths relative to the configuration's folder.
func (c *Config) resolve(dir string) {
	for _, p := range []*string{
		&c.StateDir, &c.Axis.CAFile, &c.Axis.CertFile, &c.Axis.KeyFile, &c.Signing.KeyFile, &c.Signing.CertFile,
		&c.Signing.ChainFile, &c.Signing.KeyDir, &c.Trust.Roots, &c.Trust.CRLs, &c.Trust.Bindings, &c.API.TLSCert, &c.API.TLSKey, &c.API.ClientCA, &c.Spool.Dir, &c.Calendar.HolidaysFile, &c.Directory.RetiredFile,
	} {
		if *p != "" && !filepath.IsAbs(*p) && !strings.HasPrefix(*p, "credential:") {
			*p = filepath.Join(dir, *p)
		}
	}
	secrets := []*Secret{&c.Axis.Secret, &c.Axis.TokenPassword, &c.Signing.KeyPassword, &c.API.Tokens, &c.API.WebhookSecret}
	for i := range c.Axes {
		a := &c.Axes[i]
		for _, p := range []*string{&a.CAFile, &a.CertFile, &a.KeyFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
		secrets = append(secrets, &a.Secret, &a.TokenPassword)
	}
	for i := range c.Agencies {
		secrets = append(secrets, &c.Agencies[i].AxisSecret)
	}
	secrets = append(secrets, &c.Agency.AxisSecret)
	for _, s := range secrets {
		if f, ok := strings.CutPrefix(string(*s), "file:"); ok && f != "" && !filepath.IsAbs(f) {
			*s = Secret("file:" + filepath.Join(dir, f))
		}
	}
}

// Problem is one thing wrong with the configuration, named by the dotted
// path of its key.
type Problem struct {
	Path string
	Rule string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Rule
	}
	return p.Path + ": " + p.Rule
}

// Problems is every problem Load found; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "configuration: " + strings.Join(s, "; ")
}

// Changed names the top-level settings that differ between two
// configurations, so a reload can say which of them wait for a restart.
func Changed(a, b Config) []string {
	var names []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			names = append(names, strings.Split(va.Type().Field(i).Tag.Get("toml"), ",")[0])
		}
	}
	return names
}

// typeProblems finds every value of the wrong type, not only the first
// the decoder stops at: each setting is decoded on its own. It returns the
// file without them, for the rest to be decoded.
func typeProblems(b []byte) (Problems, []byte) {
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return nil, b // a syntax error: Parse reports it with its line
	}
	var ps Problems
	var walk func(prefix []string, m map[string]any)
	walk = func(prefix []string, m map[string]any) {
		for k, v := range m {
			path := append(slices.Clone(prefix), k)
			if sub, ok := v.(map[string]any); ok && !(len(path) == 2 && path[0] == "trust" && (path[1] == "senders" || path[1] == "uploaders")) {
				walk(path, sub)
				continue
			}
			var one any = v
			for i := len(path) - 1; i >= 0; i-- {
				one = map[string]any{path[i]: one}
			}
			var text bytes.Buffer
			if toml.NewEncoder(&text).Encode(one) != nil {
				continue
			}
			c := Default()
			if _, err := toml.Decode(text.String(), &c); err != nil {
				ps = append(ps, Problem{Path: strings.Join(path, "."), Rule: typeRule(err)})
				delete(m, k)
			}
		}
	}
	walk(nil, raw)
	if len(ps) == 0 {
		return nil, b
	}
	slices.SortFunc(ps, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	var rest bytes.Buffer
	if toml.NewEncoder(&rest).Encode(raw) != nil {
		return ps, b
	}
	return ps, rest.Bytes()
}

// unknownRule names an unknown setting, with the known one nearest to it
// when there is one: a misspelt section is told as one.
func unknownRule(k toml.Key) string {
	known := settingNames(reflect.TypeOf(Config{}), k[:len(k)-1])
	best, dist := "", 3
	for _, n := range known {
		if d := editDistance(k[len(k)-1], n); d < dist {
			best, dist = n, d
		}
	}
	if best == "" {
		return "is not a known setting"
	}
	return fmt.Sprintf("is not a known setting; did you mean %q?", strings.Join(append(slices.Clone([]string(k[:len(k)-1])), best), "."))
}

// settingNames are the keys the table at path takes.
func settingNames(t reflect.Type, path []string) []string {
	for _, p := range path {
		found := false
		for i := range t.NumField() {
			if strings.Split(t.Field(i).Tag.Get("toml"), ",")[0] == p {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return nil
		}
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if n := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]; n != "" && n != "-" {
			out = append(out, n)
		}
	}
	return out
}

// editDistance is the Levenshtein distance of two keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// typeRule is the decoder's complaint without its line, which would be
// the line of the one-setting document.
func typeRule(err error) string {
	if m := lastKey.FindStringSubmatch(err.Error()); m != nil {
		return strings.TrimSpace(m[3])
	}
	return err.Error()
}
