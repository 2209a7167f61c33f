package queue

import (
	"encoding/json"
	"errors"
	"time"
)

// Direction separates documents going out to the axis from packages coming
// in from it.
type Direction string

// The two directions.
const (
	Outbound Direction = "out"
	Inbound  Direction = "in"
)

func (d Direction) valid() bool { return d == Outbound || d == Inbound }

func (d Direction) byte() byte {
	if d == Inbound {
		return 'i'
	}
	return 'o'
}

// State is where a record is in its life.
type State string

// The states. A record is in exactly one.
const (
	Ready  State = "ready"  // waiting for its next attempt time
	Leased State = "leased" // handed to a worker until its lease ends
	Done   State = "done"   // finished; purged after the retention time
	Dead   State = "dead"   // given up; an operator may resend it
)

var stateBytes = map[State]byte{Ready: 'r', Leased: 'l', Done: 'd', Dead: 'x'}

// States lists every state, in order of a record's life.
var States = []State{Ready, Leased, Done, Dead}

// MaxPriority is the highest priority (edXML 4, Hỏa tốc hẹn giờ).
const MaxPriority = 4

// Errors the store returns, matched with errors.Is.
var (
	// ErrNotFound is a record id or key the store does not hold.
	ErrNotFound = errors.New("queue: record not found")
	// ErrLeaseLost is a Done, Retry or Dead from a worker whose lease
	// ended and whose record was handed to another worker.
	ErrLeaseLost = errors.New("queue: lease lost")
	// ErrState is an operation the record's state does not allow, such as
	// resending a record that is not dead.
	ErrState = errors.New("queue: operation not allowed in this state")
	// ErrAltered is a payload whose stored bytes no longer hash to the
	// record's SHA-256.
	ErrAltered = errors.New("queue: payload altered")
	// ErrEmpty is returned by Lease when no record is due.
	ErrEmpty = errors.New("queue: nothing due")
	// ErrClosed is any call after Close.
	ErrClosed = errors.New("queue: closed")
	// ErrInUse is a queue file another process has open, usually the
	// running daemon.
	ErrInUse = errors.New("queue file is in use by another process (is lienthongd running?)")
	// ErrInvalid is a Put the store refuses, e.g. an unknown direction.
	ErrInvalid = errors.New("queue: invalid record")
	// ErrUnavailable is a store that cannot be reached now (a database
	// restarting): the work is not lost, it waits.
	ErrUnavailable = errors.New("queue: store unavailable")
)

// Record is one unit of work and its history. Payload bytes are read with
// Store.Payload.
type Record struct {
	ID  string    `json:"id"`
	Dir Direction `json:"dir"`
	Key string    `json:"key"` // the caller's idempotency key
	// Aliases are further keys the record claimed after it was stored.
	Aliases  []string `json:"aliases,omitempty"`
	Priority int      `json:"priority"` // 0-4, higher first
	// Group is what the engine counts the record under, e.g. the agency
	// a document is sent as; the store keeps each group's counts.
	Group     string    `json:"group,omitempty"`
	NotBefore time.Time `json:"notBefore,omitzero"`
	State     State     `json:"state"`
	Attempts  int       `json:"attempts"`
	// NextAttempt is when a Ready record becomes due.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// LeaseUntil is when a Leased record returns to the queue.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// Lease identifies the current lease, a fencing token no earlier lease
	// of the record had: finishing, rescheduling or killing must name it.
	Lease uint64 `json:"lease,omitempty"`
	// Owner is who holds (or last held) the lease: the store's Owner.
	Owner     string            `json:"owner,omitempty"`
	LastError string            `json:"lastError,omitempty"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
	Meta      map[string]string `json:"meta,omitempty"`
	// Data is the engine's own state of the record, kept opaque and
	// changed only through Tx.Change.
	Data json.RawMessage `json:"data,omitempty"`
	// Crashes counts the runs that died while this record was leased,
	// since its last attempt that ended.
	Crashes int          `json:"crashes,omitempty"`
	History []Transition `json:"history"`
	Size    int64        `json:"size"`           // payload bytes
	SHA256  string       `json:"sha256"`         // payload hash, hex
	Blob    bool         `json:"blob,omitempty"` // payload in the blob folder
}

// Transition is one entry of a record's history.
type Transition struct {
	At     time.Time `json:"at"`
	From   State     `json:"from,omitempty"`
	To     State     `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// UnmarshalJSON reads a record, taking the recipients that versions
// before Data kept beside it as the engine's data, where they now live.
func (r *Record) UnmarshalJSON(b []byte) error {
	type plain Record
	var v struct {
		plain
		Recipients json.RawMessage `json:"recipients,omitempty"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Record(v.plain)
	if r.Data == nil && len(v.Recipients) > 0 && string(v.Recipients) != "null" {
		r.Data = append(append([]byte(`{"recipients":`), v.Recipients...), '}')
	}
	return nil
}

// due is when a ready record may be leased.
func (r *Record) due() time.Time {
	if r.NextAttempt.Before(r.NotBefore) {
		return r.NotBefore
	}
	return r.NextAttempt
}

func (r *Record) move(at time.Time, to State, reason string) {
	r.History = append(r.History, Transition{At: at, From: r.State, To: to, Reason: reason})
	r.State = to
	r.Updated = at
}

// ReasonLeaseExpired is the reason of the move back to Ready of a record
// whose lease ended before its holder finished it.
const ReasonLeaseExpired = "lease expired"

// LeaseExpired reports whether the attempt before the current one ended
// with its lease expiring: its holder died or stalled, and what it did
// (an upload begun) is unknown.
func (r *Record) LeaseExpired() bool {
	for i := len(r.History) - 1; i >= 0; i-- {
		if h := r.History[i]; h.To == Ready {
			return h.Reason == ReasonLeaseExpired
		}
	}
	return false
}
