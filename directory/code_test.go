package directory

import (
	"errors"
	"testing"
)

func TestParseCode(t *testing.T) {
	tests := []struct {
		in     string
		level  int
		parent Code
		group  byte
	}{
		{"000.00.00.H26", 1, "", 'H'},
		{"000.00.00.G22", 1, "", 'G'},
		{"000.00.07.H26", 2, "000.00.00.H26", 'H'},
		{"000.00.01.A53", 2, "000.00.00.A53", 'A'},
		{"000.12.07.H26", 3, "000.00.07.H26", 'H'},
		{"001.12.07.H26", 4, "000.12.07.H26", 'H'},
		{"001.00.10.H47", 4, "000.00.10.H47", 'H'},
		{"000.12.00.H26", 3, "000.00.00.H26", 'H'},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseCode(tt.in)
			if err != nil {
				t.Fatalf("ParseCode(%q) = %v", tt.in, err)
			}
			if got := c.Level(); got != tt.level {
				t.Errorf("Level() = %d, want %d", got, tt.level)
			}
			if got := c.Parent(); got != tt.parent {
				t.Errorf("Parent() = %q, want %q", got, tt.parent)
			}
			if got := c.Group(); got != tt.group {
				t.Errorf("Group() = %q, want %q", got, tt.group)
			}
		})
	}
}

func TestParseCodeInvalid(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"00.00.00.H41", `"00.00.00.H41" is not a 13-character identifier code`},
		{"", `"" is not a 13-character identifier code`},
		{"000-00-00-H26", `"000-00-00-H26" is not of the form NNN.NN.NN.XNN`},
		{"000.00.00.h26", `"000.00.00.h26" does not start its last group with an upper-case letter A-Z`},
		{"000.00.00.226", `"000.00.00.226" does not start its last group with an upper-case letter A-Z`},
		{"000.0A.00.H26", `"000.0A.00.H26" has 'A' at position 6 where a digit is required`},
		{"000.00.00.H2x", `"000.00.00.H2x" has 'x' at position 13 where a digit is required`},
		{"00.53.W00", `"00.53.W00" is not a 13-character identifier code`},
		{"vxp.saas.03", `"vxp.saas.03" is not a 13-character identifier code`},
		{" 000.00.00.H26", `" 000.00.00.H26" is not a 13-character identifier code`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseCode(tt.in)
			if !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("ParseCode(%q) = %v, want ErrInvalidCode", tt.in, err)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseCode(%q) error = %q, want %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestCodeZero(t *testing.T) {
	var c Code
	if c.Level() != 0 || c.Parent() != "" || c.Group() != 0 || c.Root() != "" {
		t.Errorf("zero Code: level %d parent %q group %q root %q", c.Level(), c.Parent(), c.Group(), c.Root())
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"000.00.00.H26", "001.12.07.H26", "00.00.00.H41", "000.00.00.h26", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("ParseCode(%q) error %v does not match ErrInvalidCode", s, err)
			}
			return
		}
		if string(c) != s {
			t.Fatalf("ParseCode(%q) = %q", s, c)
		}
		lvl := c.Level()
		if lvl < 1 || lvl > 4 {
			t.Fatalf("%q: level %d", s, lvl)
		}
		// Walking up the parents reaches the level-1 root in fewer steps than the level.
		steps := 0
		for p := c; p != ""; p = p.Parent() {
			if _, err := ParseCode(string(p)); err != nil {
				t.Fatalf("%q: parent %q is invalid: %v", s, p, err)
			}
			if steps++; steps > lvl {
				t.Fatalf("%q: parent chain longer than level %d", s, lvl)
			}
			if p.Parent() == "" && p != c.Root() {
				t.Fatalf("%q: chain ends at %q, want root %q", s, p, c.Root())
			}
		}
	})
}

func TestCodeUnder(t *testing.T) {
	tests := []struct {
		code, ancestor Code
		want           bool
	}{
		{"000.00.07.H26", "000.00.07.H26", true},
		{"000.01.07.H26", "000.00.07.H26", true},  // a unit of the department
		{"001.01.07.H26", "000.00.07.H26", true},  // a unit of a unit
		{"000.00.07.H26", "000.00.00.H26", true},  // the department under the city
		{"000.00.00.H26", "000.00.07.H26", false}, // the city is not under its department
		{"000.00.07.H26", "000.00.00.H29", false},
		{"000.00.08.H26", "000.00.07.H26", false}, // a sibling
		{"", "000.00.07.H26", false},
	}
	for _, tt := range tests {
		if got := tt.code.Under(tt.ancestor); got != tt.want {
			t.Errorf("%q.Under(%q) = %v, want %v", tt.code, tt.ancestor, got, tt.want)
		}
	}
}
