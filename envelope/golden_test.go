package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files from the current output")

// goldenView is what a parse golden file records: the whole model, with
// attachment bytes replaced by their size and hash, and every problem.
type goldenView struct {
	Summary  *Summary  `json:"summary,omitempty"`
	Package  *Package  `json:"package,omitempty"`
	Data     []string  `json:"attachmentData,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	Error    string    `json:"error,omitempty"`
}

func viewOf(pkg *Package, err error) goldenView {
	var v goldenView
	var ps Problems
	switch {
	case errors.As(err, &ps):
		v.Problems = ps
	case err != nil:
		v.Error = err.Error()
	}
	if pkg == nil {
		return v
	}
	s := pkg.Summary()
	v.Summary = &s
	cp := *pkg
	if pkg.Document != nil {
		d := *pkg.Document
		d.Attachments = append([]Attachment(nil), d.Attachments...)
		for i := range d.Attachments {
			sum := sha256.Sum256(d.Attachments[i].Data)
			v.Data = append(v.Data, hex.EncodeToString(sum[:]))
			d.Attachments[i].Data = nil
		}
		cp.Document = &d
	}
	v.Package = &cp
	return v
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.edxml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pkg, err := ParseBytes(b, ParseOptions{})
			out, jerr := json.MarshalIndent(viewOf(pkg, err), "", "  ")
			if jerr != nil {
				t.Fatal(jerr)
			}
			checkGolden(t, strings.TrimSuffix(f, ".edxml")+".golden", append(out, '\n'))
		})
	}
}

// TestBuildGolden builds every testdata/build/*.json metadata (with the
// files it names) and compares the bytes: the writer is byte-stable.
func TestBuildGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/build/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	at := time.Date(2025, 3, 14, 9, 30, 0, 0, Vietnam)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, zip := range []bool{false, true} {
				got := buildFromMetadata(t, f, at, zip)
				name := strings.TrimSuffix(f, ".json")
				if zip {
					name += ".zip"
				}
				checkGolden(t, name+".edxml", got)
				again := buildFromMetadata(t, f, at, zip)
				if !bytes.Equal(got, again) {
					t.Errorf("two builds of %s differ", f)
				}
				pkg, err := ParseBytes(got, ParseOptions{Unzip: true})
				if err != nil {
					t.Fatalf("Parse(Build(%s)): %v", f, err)
				}
				if pkg.Document.Attachments[0].ContentType == ContentTypeZip {
					t.Errorf("unzipped attachment still typed %s", ContentTypeZip)
				}
			}
		})
	}
}

func buildFromMetadata(t *testing.T, path string, at time.Time, zip bool) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := DecodeMetadata(f)
	if err != nil {
		t.Fatal(err)
	}
	var atts []Attachment
	for _, a := range m.Attachments {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(path), a.File))
		if err != nil {
			t.Fatal(err)
		}
		atts = append(atts, Attachment{Name: filepath.Base(a.File), Data: data})
	}
	doc, err := m.Document(m.From.Organization(), at, atts)
	if err != nil {
		t.Fatalf("Metadata.Document: %v", err)
	}
	out, err := BuildBytes(&Package{Kind: KindDocument, Document: doc}, BuildOptions{Zip: zip})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out
}
