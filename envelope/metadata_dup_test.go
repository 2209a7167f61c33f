package envelope

import (
	"errors"
	"strings"
	"testing"
)

// A field given twice is refused by name, at any depth, never taken
// last-wins.
func TestDecodeMetadataRefusesDuplicateKeys(t *testing.T) {
	tests := []struct{ json, path string }{
		{`{"to":["000.00.00.G22"],"subject":"a","to":["000.00.00.H29"]}`, "to"},
		{`{"documentType":{"type":1,"name":"Công văn","type":2}}`, "documentType.type"},
		{`{"attachments":[{"name":"a"},{"name":"b","name":"c"}]}`, "attachments[1].name"},
		{`{"to":["000.00.00.G22"],"subject":"a"}`, ""},
	}
	for _, tt := range tests {
		_, err := DecodeMetadata(strings.NewReader(tt.json))
		var ps Problems
		switch {
		case tt.path == "":
			if errors.As(err, &ps) && strings.Contains(ps.Error(), "more than once") {
				t.Errorf("%s: %v", tt.json, err)
			}
		case !errors.As(err, &ps) || len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Rule, "more than once"):
			t.Errorf("%s: %v, want the duplicate %s named", tt.json, err, tt.path)
		}
	}
}
