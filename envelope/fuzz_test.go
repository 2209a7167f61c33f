package envelope

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds arbitrary bytes to the parser. It must never panic, must
// fail only with its documented errors, and a package it accepts as valid
// must survive Build and Parse unchanged.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.edxml")
	more, _ := filepath.Glob("testdata/build/*.edxml")
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := Limits{MaxBytes: 1 << 20}
		pkg, err := ParseBytes(in, ParseOptions{Limits: lim})
		if err != nil {
			for _, known := range []error{ErrSyntax, ErrDTD, ErrLimit, ErrNotEdXML, ErrInvalid} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Parse failed with an undocumented error: %v", err)
		}
		pkg.Signed, pkg.SignaturePlaceholder = false, false // Build writes no signature
		out, err := BuildBytes(pkg, BuildOptions{})
		if err != nil {
			t.Fatalf("Build of a valid parsed package: %v", err)
		}
		again, err := ParseBytes(out, ParseOptions{})
		if err != nil {
			t.Fatalf("Parse(Build(Parse(in))): %v\n%s", err, out)
		}
		if diff := cmp.Diff(pkg, again, cmpPackage); diff != "" {
			t.Fatalf("Parse(Build(p)) != p (-p +again):\n%s", diff)
		}
	})
}

// FuzzVerify feeds arbitrary bytes, seeded with the wrapping corpus, to the
// verifier. It must never panic and must fail only with documented errors;
// what it accepts must verify again to the same canonical bytes, and must
// still carry the one signature in its place.
func FuzzVerify(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(wrappingDir, "*.edxml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	trust, err := LoadTrust(filepath.Join(wrappingDir, "ca.pem"))
	if err != nil {
		f.Fatal(err)
	}
	roots, _ := ReadCertificates(filepath.Join(wrappingDir, "ca.pem"))
	opts := VerifyOptions{
		Trust: trust,
		Now:   func() time.Time { return roots[0].NotBefore.Add(2 * time.Hour) },
		Parse: ParseOptions{Limits: Limits{MaxBytes: 1 << 20}},
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := VerifyBytes(in, opts)
		if err != nil {
			for _, known := range []error{ErrSignature, ErrSyntax, ErrDTD, ErrLimit, ErrNotEdXML, ErrInvalid} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Verify failed with an undocumented error: %v", err)
		}
		if v.Package == nil || !v.Package.Signed || len(v.Chain) < 2 {
			t.Fatalf("verified without a package or a chain: %+v", v)
		}
		again, err := VerifyBytes(in, opts)
		if err != nil || !bytes.Equal(again.Canonical, v.Canonical) {
			t.Fatalf("second verification differs: %v", err)
		}
	})
}
