package envelope

import (
	"errors"
	"fmt"
	"strings"
)

// Errors a read can fail with, matched with errors.Is. Problems from
// validation match ErrInvalid.
var (
	// ErrDTD refuses a DOCTYPE or entity declaration, before anything in it
	// is expanded: edXML needs none, and they carry entity-expansion attacks.
	ErrDTD = errors.New("DOCTYPE and entity declarations are not accepted")
	// ErrLimit is matched by every LimitError.
	ErrLimit = errors.New("package exceeds a limit")
	// ErrSyntax is a package that is not well-formed UTF-8 XML.
	ErrSyntax = errors.New("not well-formed XML")
	// ErrNotEdXML is well-formed XML that is not an edXML package.
	ErrNotEdXML = errors.New("not an edXML package")
	// ErrInvalid is matched by Problems: the package breaks rules of the
	// standard.
	ErrInvalid = errors.New("invalid edXML package")
)

// LimitError names the limit a package went over; reading stops there.
type LimitError struct {
	What  string // e.g. "size", "element depth"
	Limit int64
	Path  string // where in the package, when known
}

func (e *LimitError) Error() string {
	s := fmt.Sprintf("%s over the limit of %d", e.What, e.Limit)
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	return s
}

// Is lets errors.Is(err, ErrLimit) match any LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Problem is one broken rule, located by the element path inside the package
// (e.g. "edXMLHeader/MessageHeader/To[2]/OrganId").
type Problem struct {
	Path  string `json:"field"`
	Rule  string `json:"rule"`  // e.g. "is not a 13-character identifier code"
	Value string `json:"value"` // the offending text, "" when missing
}

func (p Problem) Error() string {
	if p.Value == "" {
		return p.Path + ": " + p.Rule
	}
	return fmt.Sprintf("%s: %q %s", p.Path, p.Value, p.Rule)
}

// Problems is every rule a package breaks, reading problems first, so a sender can
// fix them all in one round.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Is lets errors.Is(err, ErrInvalid) match Problems.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }

// add appends a problem; value is quoted in the message when non-empty.
func (ps *Problems) add(path, rule, value string) {
	*ps = append(*ps, Problem{Path: path, Rule: rule, Value: value})
}

// err returns ps as an error, or nil when there are none.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}
