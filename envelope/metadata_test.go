package envelope

import (
	"errors"
	"strings"
	"testing"
)

// A field of the wrong JSON type is named in a vendor's words: what to
// send, never a Go type.
func TestMetadataTypeErrorsReadable(t *testing.T) {
	tests := []struct{ in, field, want string }{
		{`{"from": "000.00.07.H26"}`, "from", `{"organId": "000.00.07.H26"}`},
		{`{"priority": "high"}`, "priority", "a whole number"},
		{`{"to": "000.00.00.G22"}`, "to", "a JSON list"},
		{`{"subject": 5}`, "subject", "a JSON string"},
	}
	for _, tt := range tests {
		_, err := DecodeMetadata(strings.NewReader(tt.in))
		var ps Problems
		if !errors.As(err, &ps) || ps[0].Path != tt.field || !strings.Contains(ps[0].Rule, tt.want) || strings.Contains(ps[0].Rule, "envelope.") {
			t.Errorf("%s: %v, want %s to say %q", tt.in, err, tt.field, tt.want)
		}
	}
}
