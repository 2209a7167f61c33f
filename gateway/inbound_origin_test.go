package gateway

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/envelope/devca"
	"lienthong/gateway/clocktest"
)

const (
	unitA  = "000.01.07.H26" // a unit under codeA
	codeC  = "000.00.08.H26" // a neighbour of codeA
	parent = "000.00.00.H26" // above codeA and codeC
)

func issue(t *testing.T, ca *devca.CA, name, code string) *x509.Certificate {
	t.Helper()
	cert, _, err := ca.Issue(devca.Leaf{Name: name, Code: code, ECDSA: true}, clocktest.Start)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Which agency a signing certificate may sign for: the code it names in a
// configured attribute, as a whole word, or the operator's bindings, a
// subtree only where the line says so.
func TestBoundTo(t *testing.T) {
	ca, err := devca.NewCA("binding CA", clocktest.Start)
	if err != nil {
		t.Fatal(err)
	}
	certA, certC := issue(t, ca, "A", codeA), issue(t, ca, "C", codeC)
	longer := issue(t, ca, "A-like", "1"+codeA)
	integ := issue(t, ca, "Trung tâm tích hợp", "")
	sum := sha256.Sum256(integ.Raw)
	spki := sha256.Sum256(integ.RawSubjectPublicKeyInfo)
	lines := []string{
		"# the integration centre signs for codeA and its units",
		codeA + "/* sha256:" + hex.EncodeToString(sum[:]),
		codeC + " spki:" + strings.ToUpper(hex.EncodeToString(spki[:])),
		parent + " subject:" + certC.Subject.String(),
	}
	file := filepath.Join(t.TempDir(), "bindings")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	b, err := newBinder([]string{"serialNumber", "UID"}, file)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		code string
		want bool
	}{
		{"the code its serial number names", certA, codeA, true},
		{"another agency's code", certA, codeC, false},
		{"a unit of the code it names", certA, unitA, false},
		{"the parent of the code it names", certA, parent, false},
		{"a code that only contains its own", longer, codeA, false},
		{"a bound fingerprint, for the code", integ, codeA, true},
		{"a bound fingerprint, for a unit under a /* line", integ, unitA, true},
		{"a bound fingerprint, outside its subtree", integ, parent, false},
		{"a bound key, exactly its code", integ, codeC, true},
		{"a bound subject, for the code on its line", certC, parent, true},
		{"a bound subject, not for a unit without /*", certC, "000.01.00.H26", false},
	}
	for _, tt := range tests {
		if got := b.boundTo(tt.cert, tt.code); got != tt.want {
			t.Errorf("%s: boundTo(%s, %s) = %v, want %v", tt.name, tt.cert.Subject.CommonName, tt.code, got, tt.want)
		}
	}
	// With no attribute trusted, only the list binds.
	if (&binder{}).boundTo(certA, codeA) {
		t.Error("a certificate bound by an attribute no one configured")
	}
}

func TestParseBinding(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	tests := []struct {
		line, wantErr string
	}{
		{codeA + " sha256:" + hex64, ""},
		{codeA + "/* spki:" + strings.ToUpper(hex64), ""},
		{codeA + " sha256:" + strings.Repeat("AB:", 31) + "AB", ""},
		{codeA + " subject:CN=Sở A,O=UBND", ""},
		{codeA, "want"},
		{"H26 sha256:" + hex64, "13-character"},
		{codeA + " sha256:abc", "not a SHA-256"},
		{codeA + " md5:" + hex64, "want sha256"},
		{codeA + " " + hex64, "want sha256"},
	}
	for _, tt := range tests {
		_, err := parseBinding(tt.line)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseBinding(%q): %v", tt.line, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseBinding(%q) = %v, want an error saying %q", tt.line, err, tt.wantErr)
		}
	}
	file := filepath.Join(t.TempDir(), "bindings")
	os.WriteFile(file, []byte("# fine\n\n"+codeA+" md5:x\n"), 0o600)
	if _, err := newBinder(nil, file); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("a bad line 3: %v, want it named", err)
	}
	if _, err := newBinder(nil, filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing bindings file was accepted")
	}
}

func TestContainsCode(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{codeA, true},
		{"MĐĐ:" + codeA, true},
		{codeA + ", Sở TT&TT", true},
		{"1" + codeA, false},
		{codeA + "1", false},
		{codeA + ".X", false},
		{"x1" + codeA + " " + codeA, true}, // a second, whole occurrence
		{"", false},
	}
	for _, tt := range tests {
		if got := containsCode(tt.v, codeA); got != tt.want {
			t.Errorf("containsCode(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// Who may upload for whom: the agency itself, an agency above it by code,
// or one the configuration names; never a neighbour or a unit, and never
// by the synced directory's word, which any axis system can change.
func TestSpeaksFor(t *testing.T) {
	dir, err := directory.Open(filepath.Join(t.TempDir(), "dir.db"), directory.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	const integrator, forger = "000.00.00.G12", "000.00.00.H29"
	// The directory says codeA is the forger's unit: it counts for nothing.
	if err := dir.Replace([]directory.Entry{{Code: codeA, Name: "A", Parent: forger}, {Code: forger, Name: "F"}}, clocktest.Start); err != nil {
		t.Fatal(err)
	}
	in := &inbound{dir: dir, uploaders: map[string][]string{integrator: {codeC, "000.00.00.H30/*"}}}
	tests := []struct {
		uploader, code string
		want           bool
	}{
		{codeA, codeA, true},
		{codeA, unitA, true},
		{parent, codeA, true},
		{integrator, codeC, true},
		{integrator, "000.01.00.H30", true},
		{integrator, "000.00.00.H30", true},
		{integrator, codeA, false},
		{integrator, "000.01.08.H26", false}, // a unit of codeC, which the line does not cover
		{forger, codeA, false},
		{codeC, codeA, false},
		{unitA, codeA, false},
		{codeA, parent, false},
	}
	for _, tt := range tests {
		if got := in.speaksFor(tt.uploader, tt.code); got != tt.want {
			t.Errorf("speaksFor(%s, %s) = %v, want %v", tt.uploader, tt.code, got, tt.want)
		}
	}
}

// What a package's origin allows: applying it needs the axis and a bound
// signature to agree; answering it needs one of them to vouch for the
// sender, or the gateway would reflect refusals at anyone named.
func TestOriginRules(t *testing.T) {
	tests := []struct {
		name                 string
		o                    origin
		authentic, establish bool
	}{
		{"axis and bound signature agree", origin{claimed: codeB, uploader: codeB, axisOK: true, signed: true, bound: true}, true, true},
		{"signed by another agency's certificate", origin{claimed: codeB, uploader: codeB, axisOK: true, signed: true}, false, true},
		{"uploaded by another agency, validly signed", origin{claimed: codeB, uploader: codeC, signed: true, bound: true}, false, true},
		{"uploaded by another agency, unsigned", origin{claimed: codeB, uploader: codeC}, false, false},
		{"unsigned, the axis silent", origin{claimed: codeB, axisOK: true}, false, false},
		{"unsigned under signatures off", origin{claimed: codeB, uploader: codeB, axisOK: true, mode: envelope.Off}, true, true},
		{"signatures off cannot excuse the uploader", origin{claimed: codeB, uploader: codeC, mode: envelope.Off}, false, false},
		{"no sender to answer", origin{uploader: codeB, axisOK: true, signed: true, bound: true}, true, false},
	}
	for _, tt := range tests {
		if got := tt.o.authentic(); got != tt.authentic {
			t.Errorf("%s: authentic = %v, want %v", tt.name, got, tt.authentic)
		}
		if got := tt.o.established(); got != tt.establish {
			t.Errorf("%s: established = %v, want %v", tt.name, got, tt.establish)
		}
	}
	o := origin{claimed: codeB, uploader: codeC, signer: "CN=X"}
	if !strings.Contains(o.bindingProblem(), "CN=X") || !strings.Contains(o.uploaderProblem(), codeC) {
		t.Errorf("the problems do not name the signer and the uploader: %q, %q", o.bindingProblem(), o.uploaderProblem())
	}
}
