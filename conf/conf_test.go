package conf

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// files writes the files a valid configuration names into dir.
func files(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"axis.secret", "agency.key", "agency.pem", "ca.pem", "tokens"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const valid = `
state_dir = "state"
[agency]
code = "000.00.07.H26"
name = "Sở Thông tin và Truyền thông Hà Nội"
[axis]
endpoint = "https://axis.example.vn/vxp"
system_id = "00.53.W00"
secret = "file:axis.secret"
[signing]
key_file = "agency.key"
cert_file = "agency.pem"
[trust]
roots = "ca.pem"
[trust.senders]
"000.00.00.G22" = "warn"
[api]
tokens = "file:tokens"
[outbound]
max_document = "20MiB"
retry_cap = "5m"
`

func TestParseValid(t *testing.T) {
	dir := files(t)
	c, err := Parse([]byte(valid), dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.StateDir != filepath.Join(dir, "state") || c.Signing.KeyFile != filepath.Join(dir, "agency.key") {
		t.Errorf("relative paths not resolved: state_dir %q, key_file %q", c.StateDir, c.Signing.KeyFile)
	}
	if c.Outbound.MaxDocument != 20<<20 || time.Duration(c.Outbound.RetryCap) != 5*time.Minute {
		t.Errorf("max_document %d, retry_cap %v", c.Outbound.MaxDocument, c.Outbound.RetryCap)
	}
	if c.Outbound.Workers != 8 || !c.Inbound.AutoArrived || c.API.Listen != "127.0.0.1:8490" {
		t.Errorf("defaults lost: %+v %+v %+v", c.Outbound, c.Inbound, c.API)
	}
	if s, err := c.Axis.Secret.Read(); err != nil || s != "x" {
		t.Errorf("axis secret = %q, %v", s, err)
	}
}

func TestParseProblemsByPath(t *testing.T) {
	dir := files(t)
	bad := strings.NewReplacer(
		`code = "000.00.07.H26"`, `code = "000.00.07.H2"`,
		`secret = "file:axis.secret"`, `secret = "s3cr3t"`,
		`endpoint = "https://axis.example.vn/vxp"`, `endpoint = "axis.example.vn"`,
		`"000.00.00.G22" = "warn"`, `"000.00.00.G22" = "maybe"`,
		`retry_cap = "5m"`, "retry_cap = \"5m\"\nretries = 3",
		`cert_file = "agency.pem"`, `cert_file = "missing.pem"`,
	).Replace(valid)
	_, err := Parse([]byte(bad), dir)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse = %v, want Problems", err)
	}
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	want := []string{"outbound.retries", "agency.code", "axis.endpoint", "axis.secret", "signing.cert_file", "trust.senders.000.00.00.G22"}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", d, err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the error repeats a secret written inline: %v", err)
	}
}

func TestParseSyntaxAndTypes(t *testing.T) {
	for _, tc := range []struct{ name, text, path string }{
		{"syntax", "[agency\ncode = 1", ""},
		{"type", "[outbound]\nworkers = \"two\"", "outbound.workers"},
		{"duration", "[inbound]\npoll_interval = \"soon\"", "inbound.poll_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text), t.TempDir())
			var ps Problems
			// A type problem comes first; the rest of the file is still
			// checked (here: the settings it lacks).
			if !errors.As(err, &ps) || ps[0].Path != tc.path || (tc.path == "" && len(ps) != 1) {
				t.Fatalf("Parse = %v, want the first problem at %q", err, tc.path)
			}
		})
	}
}

func TestCredentialSecret(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "axis-secret"), []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	if v, err := Secret("credential:axis-secret").Read(); err != nil || v != "abc" {
		t.Fatalf("Read = %q, %v", v, err)
	}
	if _, err := Secret("credential:../etc/passwd").Path(); err == nil {
		t.Fatal("a credential name with a slash was accepted")
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if _, err := Secret("credential:axis-secret").Path(); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("Path without credentials = %v, want ErrNoCredentials", err)
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]Size{"1024": 1024, "512KiB": 512 << 10, "100MiB": 100 << 20, "2GiB": 2 << 30, "10 B": 10} {
		var s Size
		if err := s.UnmarshalText([]byte(in)); err != nil || s != want {
			t.Errorf("Size(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	var s Size
	if err := s.UnmarshalText([]byte("-1MiB")); err == nil {
		t.Error("a negative size was accepted")
	}
}

// The shipped example must only lack the files an install provides.
func TestShippedExample(t *testing.T) {
	b, err := os.ReadFile("../deploy/lienthong.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(b, "/etc/lienthong")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse = %v, want only missing-file problems", err)
	}
	for _, p := range ps {
		if !strings.Contains(p.Rule, "cannot be read") && !strings.Contains(p.Rule, "CREDENTIALS_DIRECTORY") {
			t.Errorf("example: %s", p)
		}
	}
}

// Every value of the wrong type is named in one run, not one per run.
func TestEveryTypeProblemAtOnce(t *testing.T) {
	dir := files(t)
	bad := strings.NewReplacer(
		`retry_cap = "5m"`, "retry_cap = 5\nworkers = \"two\"",
		`[api]`, "[api]\nmax_uploads = \"four\"",
	).Replace(valid)
	_, err := Parse([]byte(bad), dir)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse = %v, want problems", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	if diff := cmp.Diff([]string{"api.max_uploads", "outbound.retry_cap", "outbound.workers"}, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s\n%v", diff, ps)
	}
}

// Secrets from systemd credentials are not refused by a check run by
// hand; the check says where they will come from.
func TestCredentialsOutsideTheService(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	dir := files(t)
	text := strings.NewReplacer(`secret = "file:axis.secret"`, `secret = "credential:axis-secret"`,
		`tokens = "file:tokens"`, `tokens = "credential:api-tokens"`).Replace(valid)
	c, err := Parse([]byte(text), dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	notes := strings.Join(c.Notes(), "\n")
	if !strings.Contains(notes, `axis.secret: read at start from the systemd credential "axis-secret"`) || !strings.Contains(notes, "api.tokens") {
		t.Errorf("notes = %q", notes)
	}
}

// A DSN may stand in the configuration only without a password.
func TestStoreDSN(t *testing.T) {
	tests := []struct {
		dsn string
		ok  bool
	}{
		{"host=/run/postgresql dbname=lienthong", true},
		{"postgres:///lienthong?host=/run/postgresql", true},
		{"postgres://lienthong@db.example.vn/lienthong", true},
		{"host=db dbname=lienthong password=bimat", false},
		{"host=db dbname=lienthong PASSWORD = bimat", false},
		{"postgres://lienthong:bimat@db.example.vn/lienthong", false},
		{"", false},
	}
	for _, tt := range tests {
		_, err := Store{Engine: "postgres", DSN: Secret(tt.dsn)}.ReadDSN()
		if (err == nil) != tt.ok {
			t.Errorf("ReadDSN(%q) = %v, want ok %v", tt.dsn, err, tt.ok)
		}
	}
}

// One run names every problem: a value of the wrong type does not hide
// the others, and a misspelt section is told as one.
func TestEveryProblemInOneRun(t *testing.T) {
	text := `state_dir = "/var/lib/lienthong"
[agency]
code = "000.00.07.h26"
name = "Sở"
[outbound]
workers = -1
[inbound]
poll_interval = "10 phút"
[log]
level = "verbose"
[outbond]
workers = 2
`
	_, err := Parse([]byte(text), t.TempDir())
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse = %v", err)
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Path] = p.Rule
	}
	for _, path := range []string{"agency.code", "outbound.workers", "inbound.poll_interval", "log.level", "outbond"} {
		if _, ok := got[path]; !ok {
			t.Errorf("no problem named %s in %v", path, err)
		}
	}
	if _, ok := got["outbond.workers"]; ok {
		t.Error("an unknown section's keys are named one by one")
	}
	if !strings.Contains(got["outbond"], `did you mean "outbound"`) {
		t.Errorf("outbond: %q, want a suggestion of outbound", got["outbond"])
	}
}

// The evidence log is on by default; nodes sharing a database must be
// given its key, and a time-stamping authority must be a URL.
func TestEvidenceSection(t *testing.T) {
	dir := files(t)
	c, err := Parse([]byte(valid), dir)
	if err != nil || !c.Evidence.Enabled || c.Evidence.CheckpointInterval != Duration(time.Minute) {
		t.Fatalf("defaults: %+v, %v", c.Evidence, err)
	}
	for _, tc := range []struct{ add, path string }{
		{"[store]\nengine = \"postgres\"\ndsn = \"host=/run/postgresql dbname=x\"\n", "evidence.key"},
		{"[evidence]\ntsa = \"tsa.example.vn\"\n", "evidence.tsa"},
		{"[evidence]\ncheckpoint_interval = \"0s\"\n", "evidence.checkpoint_interval"},
		{"[evidence]\nkey = \"AbC\"\n", "evidence.key"},
	} {
		_, err := Parse([]byte(valid+tc.add), dir)
		var ps Problems
		if !errors.As(err, &ps) || !slices.ContainsFunc(ps, func(p Problem) bool { return p.Path == tc.path }) {
			t.Errorf("%q: %v, want a problem at %s", tc.add, err, tc.path)
		}
	}
	off := valid + "[store]\nengine = \"postgres\"\ndsn = \"host=/run/postgresql dbname=x\"\n[evidence]\nenabled = false\n"
	if _, err := Parse([]byte(off), dir); err != nil {
		t.Errorf("no key needed with the log off: %v", err)
	}
}
