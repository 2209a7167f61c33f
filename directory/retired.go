package directory

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Retirement is an agency code withdrawn by a reorganisation: documents
// still in flight name it, so it is told apart from a code never known,
// with its successor where one is known and where that fact comes from.
type Retirement struct {
	Code      Code
	Successor Code // "" when none is known
	Source    string
}

// Why says what happened to the code, for an error or a flag.
func (r Retirement) Why() string {
	s := fmt.Sprintf("%s is a retired agency code (%s)", r.Code, r.Source)
	if r.Successor == "" {
		return s + "; its successor is not known: ask the recipient's new agency for its code"
	}
	return s + "; its successor is " + string(r.Successor)
}

// Retired is the table of withdrawn codes; a unit under a withdrawn code
// is withdrawn with it.
type Retired struct {
	byCode map[Code]Retirement
}

// note2025 is where the shipped table comes from.
const note2025 = "QĐ 09/2025/QĐ-TTg amending QĐ 20/2020, from an integrator's note, to be confirmed"

// DefaultRetired is what is known of the codes the 2025 merger of
// ministries withdrew: the ten level-1 codes the note names, none with a
// successor the note gives. An operator adds successors, or more codes,
// with a file (ReadRetired).
func DefaultRetired() *Retired {
	r := &Retired{byCode: map[Code]Retirement{}}
	for _, g := range []string{"G04", "G05", "G07", "G13", "G23", "G24", "G25", "G26", "G34", "G37"} {
		c := Code("000.00.00." + g)
		r.byCode[c] = Retirement{Code: c, Source: note2025}
	}
	return r
}

// ReadRetired reads a file over base: one code a line, then its successor
// or "-" when none is known, then optionally "#" and where the fact comes
// from. "OLD +" takes a code back off the table. Blank lines and lines
// starting with "#" are skipped.
func ReadRetired(path string, base *Retired) (*Retired, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &Retired{byCode: map[Code]Retirement{}}
	for c, x := range base.byCode {
		r.byCode[c] = x
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, source, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s", path, n, why) }
		if len(fields) != 2 {
			return nil, bad(`want "CODE SUCCESSOR", "CODE -" or "CODE +", then "# source"`)
		}
		old, err := ParseCode(fields[0])
		if err != nil {
			return nil, bad(err.Error())
		}
		x := Retirement{Code: old, Source: strings.TrimSpace(source)}
		if x.Source == "" {
			x.Source = path
		}
		switch fields[1] {
		case "+":
			delete(r.byCode, old)
			continue
		case "-":
		default:
			if x.Successor, err = ParseCode(fields[1]); err != nil {
				return nil, bad("successor: " + err.Error())
			}
		}
		r.byCode[old] = x
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Of is the retirement of a code, or of the nearest withdrawn code above
// it; a unit's successor is known only when the table names the unit.
func (r *Retired) Of(code string) (Retirement, bool) {
	if r == nil {
		return Retirement{}, false
	}
	c, err := ParseCode(code)
	if err != nil {
		return Retirement{}, false
	}
	if x, ok := r.byCode[c]; ok {
		return x, true
	}
	for p := c.Parent(); p != ""; p = p.Parent() {
		if x, ok := r.byCode[p]; ok {
			return Retirement{Code: c, Source: fmt.Sprintf("under %s, %s", p, x.Source)}, true
		}
	}
	return Retirement{}, false
}

// Len counts the codes on the table.
func (r *Retired) Len() int { return len(r.byCode) }
