package timeliness

import (
	"encoding/binary"
	"errors"
	"time"
)

// Row is what a report needs of one document, kept by the store beside
// its record and after it: a few hundred bytes read a million times.
type Row struct {
	Sent       bool // we sent it; otherwise we received it
	DocumentID string
	Subject    string
	// Uploaded is when the package reached the axis: when the axis took
	// ours, or when the sender's reached it. Zero while ours is queued.
	Uploaded time.Time
	// Deadline is when ours had to be sent (zero for received ones).
	Deadline time.Time
	Recalled bool
	// Dropped is set for ours given up before it was sent.
	Dropped bool
	Parties []Party

	// intern holds the codes and reasons decoded so far: a few hundred
	// agencies recur in a million rows.
	intern map[string]string
}

// Party is one recipient of a document: for one we sent, its code and
// its answers; for one we received, our agency's answers to the sender.
type Party struct {
	Agency      string // ours
	Counterpart string
	Arrived     time.Time // 01
	Refused     time.Time // 02
	Registered  time.Time // 03
	Reason      string    // given with 02
}

// version is the first byte of a row, for rows of later layouts.
const version = 1

// maxSubject bounds the subject kept: enough to recognise a document.
const maxSubject = 160

// Encode writes the row.
func (r *Row) Encode() []byte {
	b := make([]byte, 0, 128+len(r.Parties)*48)
	b = append(b, version)
	var flags byte
	if r.Sent {
		flags |= 1
	}
	if r.Recalled {
		flags |= 2
	}
	if r.Dropped {
		flags |= 4
	}
	b = append(b, flags)
	b = appendString(b, r.DocumentID)
	subject := r.Subject
	if len(subject) > maxSubject {
		subject = truncate(subject, maxSubject)
	}
	b = appendString(b, subject)
	b = appendTime(b, r.Uploaded)
	b = appendTime(b, r.Deadline)
	b = binary.AppendUvarint(b, uint64(len(r.Parties)))
	for _, p := range r.Parties {
		b = appendString(b, p.Agency)
		b = appendString(b, p.Counterpart)
		b = appendTime(b, p.Arrived)
		b = appendTime(b, p.Refused)
		b = appendTime(b, p.Registered)
		b = appendString(b, p.Reason)
	}
	return b
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendTime writes Unix seconds, 0 for the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.Unix())
}

var errRow = errors.New("report row damaged")

// decoder reads a row; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errRow, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = errRow, nil
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) string() string { return string(d.bytes()) }

// interned reads a string that recurs, allocated once.
func (d *decoder) interned(into map[string]string) string {
	b := d.bytes()
	if s, ok := into[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(into) < 100_000 {
		into[s] = s
	}
	return s
}

func (d *decoder) time() time.Time {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errRow, nil
		return time.Time{}
	}
	d.b = d.b[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(v, 0)
}

// Decode reads a row Encode wrote, reusing r's parties.
func (r *Row) Decode(b []byte) error {
	if len(b) < 2 || b[0] != version {
		return errRow
	}
	flags := b[1]
	d := decoder{b: b[2:]}
	r.Sent, r.Recalled, r.Dropped = flags&1 != 0, flags&2 != 0, flags&4 != 0
	r.DocumentID = d.string()
	r.Subject = d.string()
	r.Uploaded = d.time()
	r.Deadline = d.time()
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return errRow
	}
	if r.intern == nil {
		r.intern = map[string]string{}
	}
	r.Parties = r.Parties[:0]
	for range n {
		r.Parties = append(r.Parties, Party{
			Agency: d.interned(r.intern), Counterpart: d.interned(r.intern),
			Arrived: d.time(), Refused: d.time(), Registered: d.time(), Reason: d.interned(r.intern),
		})
	}
	return d.err
}
