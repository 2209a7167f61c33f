package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Entry is one package that crossed the boundary, as the log states it.
// Its JSON, one line, is the leaf of the tree: field order and spelling
// are part of the format.
type Entry struct {
	Seq         int64  `json:"seq"`
	Time        string `json:"time"` // UTC, RFC 3339
	Kind        string `json:"kind"`
	Direction   string `json:"direction"` // out or in
	Agency      string `json:"agency"`    // ours
	Counterpart string `json:"counterpart"`
	DocumentID  string `json:"documentId"`
	AxisDocID   string `json:"axisDocId"`
	Record      string `json:"record"`
	StatusCode  string `json:"statusCode,omitempty"`
	// SHA256 is of the exact package bytes sent or received, hex.
	SHA256 string `json:"sha256"`
	Reason string `json:"reason,omitempty"`
}

// Kinds of entries.
const (
	KindSent        = "sent"        // a document or status the axis accepted
	KindFetched     = "fetched"     // a package fetched from the axis and stored
	KindDelivered   = "delivered"   // a document handed to the document system
	KindQuarantined = "quarantined" // a package refused, with the reason
	KindReceived    = "received"    // a status received
)

// Pending is the line an entry waits as until the log gives it its
// number.
func Pending(e Entry, at time.Time) []byte {
	e.Seq = 0
	e.Time = at.UTC().Format(time.RFC3339Nano)
	b, _ := marshal(e) // strings only: cannot fail
	return b
}

// marshal is one line of JSON with the text as written: an entry is read
// by people too.
func marshal(e Entry) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// pendingPrefix opens every pending line: Pending writes seq 0 first.
const pendingPrefix = `{"seq":0,`

// numbered is a pending line as the entry of index seq: its number put
// in place, the rest of its bytes as they were.
func numbered(line []byte, seq int64) ([]byte, error) {
	rest, ok := bytes.CutPrefix(line, []byte(pendingPrefix))
	if !ok {
		return nil, fmt.Errorf("pending evidence line does not begin %s", pendingPrefix)
	}
	out := make([]byte, 0, len(line)+20)
	out = strconv.AppendInt(append(out, `{"seq":`...), seq, 10)
	return append(append(out, ','), rest...), nil
}

// ParseEntry reads an entry's line.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("entry: %w", err)
	}
	return e, nil
}
