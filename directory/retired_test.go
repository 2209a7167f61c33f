package directory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRetired(t *testing.T) {
	r := DefaultRetired()
	if x, ok := r.Of("000.00.00.G04"); !ok || x.Successor != "" || !strings.Contains(x.Why(), "QĐ 09/2025") {
		t.Fatalf("G04: %+v %v", x, ok)
	}
	if x, ok := r.Of("000.00.12.G04"); !ok || !strings.Contains(x.Source, "under 000.00.00.G04") {
		t.Fatalf("a unit of G04: %+v %v, want it retired with its ministry", x, ok)
	}
	if _, ok := r.Of("000.00.00.G22"); ok {
		t.Fatal("G22 is not retired")
	}
	path := filepath.Join(t.TempDir(), "retired.txt")
	os.WriteFile(path, []byte("# the merger of 2025\n000.00.00.G04 000.00.00.G38 # Văn bản 123/VPCP\n000.00.00.G05 +\n000.00.07.H26 -\n"), 0o600)
	f, err := ReadRetired(path, r)
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := f.Of("000.00.00.G04"); x.Successor != "000.00.00.G38" || x.Source != "Văn bản 123/VPCP" {
		t.Fatalf("G04 from the file: %+v", x)
	}
	if _, ok := f.Of("000.00.00.G05"); ok {
		t.Fatal("G05 taken back off the table by the file is still retired")
	}
	if x, ok := f.Of("000.00.07.H26"); !ok || x.Successor != "" || x.Source != path {
		t.Fatalf("H26 unit added without a successor: %+v %v", x, ok)
	}
	os.WriteFile(path, []byte("000.00.00.G04 not-a-code\n"), 0o600)
	if _, err := ReadRetired(path, r); err == nil || !strings.Contains(err.Error(), ":1: successor") {
		t.Fatalf("a malformed successor: %v, want the line and the field named", err)
	}
}
