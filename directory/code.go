package directory

import (
	"errors"
	"fmt"
)

// CodeLen is the length of an identifier code such as "000.00.00.H26".
const CodeLen = 13

// ErrInvalidCode is matched by every error ParseCode returns, so callers can
// tell a malformed code from other failures with errors.Is.
var ErrInvalidCode = errors.New("invalid identifier code")

// CodeError says which rule an identifier code breaks, quoting the code, so an
// operator reading a refusal can see both what was sent and what was wrong.
type CodeError struct {
	Code string // the text as given
	Rule string // e.g. "is not a 13-character identifier code"
}

func (e *CodeError) Error() string { return fmt.Sprintf("%q %s", e.Code, e.Rule) }

// Is lets errors.Is(err, ErrInvalidCode) match any CodeError.
func (e *CodeError) Is(target error) bool { return target == ErrInvalidCode }

// Code is an agency identifier code (mã định danh, QCVN 102:2016 §1): four
// dot-separated groups NNN.NN.NN.XNN read right to left, the last naming the
// level-1 unit by a group letter and a number. Only ParseCode makes a valid
// Code; the zero Code is "no agency".
type Code string

// groups are the [start, end) byte ranges of the four groups.
var groups = [4][2]int{{0, 3}, {4, 6}, {7, 9}, {10, 13}}

// ParseCode checks s against the identifier-code rules and returns it as a
// Code. Codes are exact: no case folding or trimming, because the axis
// compares them byte for byte.
func ParseCode(s string) (Code, error) {
	if len(s) != CodeLen {
		return "", &CodeError{s, "is not a 13-character identifier code"}
	}
	if s[3] != '.' || s[6] != '.' || s[9] != '.' {
		return "", &CodeError{s, "is not of the form NNN.NN.NN.XNN"}
	}
	for i := 0; i < CodeLen; i++ {
		c := s[i]
		switch {
		case i == 3 || i == 6 || i == 9:
		case i == 10:
			if c < 'A' || c > 'Z' {
				return "", &CodeError{s, "does not start its last group with an upper-case letter A-Z"}
			}
		case c < '0' || c > '9':
			return "", &CodeError{s, fmt.Sprintf("has %q at position %d where a digit is required", c, i+1)}
		}
	}
	return Code(s), nil
}

// MustParseCode is ParseCode for constants in tests and examples; it panics on
// an invalid code.
func MustParseCode(s string) Code {
	c, err := ParseCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the code as written.
func (c Code) String() string { return string(c) }

// Level is 1 for a level-1 unit (000.00.00.XNN) up to 4 for NNN.NN.NN.XNN:
// the position of the left-most group that is not all zeros (§1.4 rule 5).
// It is 0 for the zero Code.
func (c Code) Level() int {
	if len(c) != CodeLen {
		return 0
	}
	for i, g := range groups[:3] {
		if !allZero(string(c[g[0]:g[1]])) {
			return 4 - i
		}
	}
	return 1
}

// Parent derives the superior unit's code by zeroing the left-most non-zero
// group (§1.5). A level-1 unit has no parent and gets the zero Code. The
// directory's explicit parent, where known, is better than this derivation.
func (c Code) Parent() Code {
	lvl := c.Level()
	if lvl <= 1 {
		return ""
	}
	g := groups[4-lvl]
	b := []byte(c)
	for i := g[0]; i < g[1]; i++ {
		b[i] = '0'
	}
	return Code(b)
}

// Group is the level-1 group letter (e.g. 'H' for provinces), or 0 for the
// zero Code.
func (c Code) Group() byte {
	if len(c) != CodeLen {
		return 0
	}
	return c[10]
}

// Root is the level-1 unit this code belongs to (000.00.00.XNN).
func (c Code) Root() Code {
	if len(c) != CodeLen {
		return ""
	}
	return Code("000.00.00." + string(c[10:]))
}

// groupNames are the level-1 groups whose letters are confirmed in practice.
var groupNames = map[byte]string{
	'A': "Party bodies",
	'G': "Government: ministries and government agencies",
	'H': "Provinces and centrally-run cities",
}

// GroupName describes the level-1 group, or "" where the letter's meaning is
// not established.
func (c Code) GroupName() string { return groupNames[c.Group()] }

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// Under reports whether c is ancestor or one of its units, by the code
// hierarchy alone: which agency a unit belongs to is read from its code,
// never from a directory someone else may change.
func (c Code) Under(ancestor Code) bool {
	for ; c != ""; c = c.Parent() {
		if c == ancestor {
			return true
		}
		if c.Level() <= 1 {
			break
		}
	}
	return false
}
