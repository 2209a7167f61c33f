package directory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Entry is one agency of the national directory, in the shape the axis's
// getAgenciesList and getSynchronizeUnit answer with.
type Entry struct {
	ID      string `json:"id,omitempty"`   // the axis's own id
	Code    string `json:"code"`           // identifier code
	Name    string `json:"name"`           // e.g. "Sở Tài chính Hà Nội"
	Parent  string `json:"pid,omitempty"`  // parent's id or code, as the axis gives it
	Mail    string `json:"mail,omitempty"` // the agency's mailbox
	Version int64  `json:"version,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	// Modified is the axis's modifyDate, kept as sent.
	Modified string `json:"modifyDate,omitempty"`
}

// flexString reads a JSON string, number or null as a string: the axis
// sends ids and versions either way.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		*f = flexString(b)
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %s", b)
		}
		*f = flexString(n.String())
	}
	return nil
}

// wireEntry is Entry as it may arrive: loose types, deleted as bool or
// string.
type wireEntry struct {
	ID       flexString `json:"id"`
	Code     string     `json:"code"`
	Name     string     `json:"name"`
	Parent   flexString `json:"pid"`
	Mail     string     `json:"mail"`
	Version  flexString `json:"version"`
	Deleted  flexString `json:"deleted"`
	Modified flexString `json:"modifyDate"`
}

func (w wireEntry) entry() (Entry, error) {
	e := Entry{ID: string(w.ID), Code: strings.TrimSpace(w.Code), Name: strings.TrimSpace(w.Name),
		Parent: strings.TrimSpace(string(w.Parent)), Mail: w.Mail, Modified: string(w.Modified)}
	if w.Version != "" {
		v, err := strconv.ParseInt(string(w.Version), 10, 64)
		if err != nil {
			return e, fmt.Errorf("version %q is not a whole number", w.Version)
		}
		e.Version = v
	}
	switch strings.ToLower(string(w.Deleted)) {
	case "", "false", "0":
	case "true", "1":
		e.Deleted = true
	default:
		return e, fmt.Errorf("deleted %q is not a boolean", w.Deleted)
	}
	return e, nil
}

// ImportReport says what an import or sync took and what it refused.
type ImportReport struct {
	Entries int `json:"entries"`
	// Refused lists entries left out, each with the reason, e.g. a
	// malformed identifier code.
	Refused []string `json:"refused,omitempty"`
	// Held lists changes of agencies we exchange with (a deletion, a new
	// parent) kept for an operator instead of applied.
	Held []string `json:"held,omitempty"`
}

// ReadEntries reads the getAgenciesList JSON shape, {"status":"OK",
// "data":[...]}, a bare list, or one entry per line as "lienthong axis
// agencies" prints them. Entries that cannot be used are reported, not
// silently dropped.
func ReadEntries(r io.Reader) ([]Entry, ImportReport, error) {
	var rep ImportReport
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, rep, err
	}
	raw = bytes.TrimSpace(raw)
	var list []wireEntry
	if len(raw) > 0 && raw[0] == '{' {
		var values []json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(raw))
		for dec.More() {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, rep, fmt.Errorf("directory JSON, value %d: %w", len(values)+1, err)
			}
			values = append(values, v)
		}
		var env struct {
			Status    string      `json:"status"`
			ErrorDesc string      `json:"ErrorDesc"`
			Data      []wireEntry `json:"data"`
		}
		if len(values) == 1 && json.Unmarshal(values[0], &env) == nil && (env.Status != "" || env.Data != nil) {
			if !strings.EqualFold(env.Status, "OK") && env.Status != "" {
				return nil, rep, fmt.Errorf("directory JSON: status %q: %s", env.Status, env.ErrorDesc)
			}
			list = env.Data
		} else {
			for i, v := range values { // one entry per line
				var w wireEntry
				if err := json.Unmarshal(v, &w); err != nil {
					return nil, rep, fmt.Errorf("directory JSON, line %d: %w", i+1, err)
				}
				list = append(list, w)
			}
		}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, rep, fmt.Errorf("directory JSON: %w", err)
	}
	out := make([]Entry, 0, len(list))
	seen := make(map[string]int, len(list))
	for i, w := range list {
		e, err := w.entry()
		if err == nil {
			_, err = ParseCode(e.Code)
		}
		if err != nil {
			rep.Refused = append(rep.Refused, fmt.Sprintf("entry %d (%q): %v", i, w.Code, err))
			continue
		}
		if j, dup := seen[e.Code]; dup {
			out[j] = e // a later entry for the same code wins
			continue
		}
		seen[e.Code] = len(out)
		out = append(out, e)
	}
	rep.Entries = len(out)
	return out, rep, nil
}

// WriteEntries writes entries in the getAgenciesList shape.
func WriteEntries(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(struct {
		Status string  `json:"status"`
		Data   []Entry `json:"data"`
	}{"OK", entries})
}
