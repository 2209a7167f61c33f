package envelope

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

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
		pkg.Signed = false // Build writes no signature
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
