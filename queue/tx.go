package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tx is one unit of work on the store: everything done through it, and
// every event it emits, becomes durable together or not at all. The
// engine composes these primitives; the store knows no policy.
type Tx interface {
	// Get returns a record by id.
	Get(id string) (*Record, error)
	// GetByKey returns the record holding an idempotency key or alias.
	GetByKey(dir Direction, key string) (*Record, error)
	// Put stores a new record. A key the store holds already stores
	// nothing and returns that record with existed set. A payload larger
	// than a few bytes is staged first with Store.Stage.
	Put(it Item) (rec *Record, existed bool, err error)
	// Lease hands out the most urgent due record of the direction at or
	// above minPriority (ErrEmpty when none), returning expired leases to
	// the queue first.
	Lease(now time.Time, dir Direction, minPriority int) (*Record, error)
	// LeaseRecord leases a given ready record, as Lease would.
	LeaseRecord(now time.Time, id string) (*Record, error)
	// Finish closes a record still under the given lease as done.
	Finish(now time.Time, id string, lease uint64, meta map[string]string) (*Record, error)
	// Reschedule returns a leased record to the queue, due at the time
	// the engine chose, with the error that ended the attempt.
	Reschedule(now time.Time, id string, lease uint64, at time.Time, lastError string) (*Record, error)
	// Release returns a leased record to the queue, due now, counting one
	// more run that died holding it (Record.Crashes).
	Release(now time.Time, id string, lease uint64, reason string) (*Record, error)
	// Kill makes a leased record a dead letter.
	Kill(now time.Time, id string, lease uint64, reason string) (*Record, error)
	// Resend brings a dead record back, due now, with a fresh count of
	// attempts and age.
	Resend(now time.Time, id, reason string) (*Record, error)
	// Change edits a record's metadata or recipients in any state; fn
	// must not change its state or lease.
	Change(id string, fn func(*Record) error) (*Record, error)
	// Claim gives a record a further unique key; it returns the id of the
	// record that holds the key, id itself when it was free.
	Claim(id, key string) (owner string, err error)
	// List returns a page of records, newest first, and the cursor of the
	// next page ("" at the end).
	List(f Filter) (recs []*Record, next string, err error)
	// Emit records an event in the record's history, in this commit.
	Emit(ev Event)
	// Events returns a record's history, oldest first.
	Events(id string) ([]Event, error)
}

// Event is one change of a record, as the engine names it: the history an
// operator reads and what metrics, webhooks and evidence subscribe to.
type Event struct {
	Seq    uint64    `json:"seq"` // unique and rising across the store
	Record string    `json:"record"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	// Recipient is the agency the event concerns, where there is one.
	Recipient string `json:"recipient,omitempty"`
	// Attrs are the event's facts: code, description, axis DocId, error…
	Attrs map[string]string `json:"attrs,omitempty"`
}

// ErrReadOnly is a change attempted in a View.
var ErrReadOnly = errors.New("queue: read-only transaction")

// Update runs fn in a transaction that commits, durably, with the other
// writers of the moment: when fn returns nil, all it did and emitted is
// on disk; when it returns an error, none of it is. Subscribers hear the
// events after the commit.
func (s *Bolt) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var events []Event
	err := s.write(func(btx *bolt.Tx, d delta) error {
		t := &boltTx{s: s, tx: btx, d: d}
		if err := fn(t); err != nil {
			if t.wrote {
				return dirtyError{err}
			}
			return cleanError{err}
		}
		if err := t.storeEvents(); err != nil {
			return dirtyError{err}
		}
		if err := t.storeLines(); err != nil {
			return dirtyError{err}
		}
		if err := t.storeReportRows(); err != nil {
			return dirtyError{err}
		}
		events = t.events
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(events)
	return nil
}

// View runs fn on a consistent snapshot; changes are refused.
func (s *Bolt) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.view(func(btx *bolt.Tx) error {
		return fn(&boltTx{s: s, tx: btx, ro: true})
	})
}

// Subscribe calls fn with the events of every commit, after it is
// durable, in the committing goroutine: fn must be quick.
func (s *Bolt) Subscribe(fn func([]Event)) { s.subs.Subscribe(fn) }

func (s *Bolt) publish(events []Event) { s.subs.Publish(events) }

// Subscribers are the functions that hear a store's commits.
type Subscribers struct {
	mu  sync.RWMutex
	fns []func([]Event)
}

// Subscribe adds fn.
func (s *Subscribers) Subscribe(fn func([]Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns = append(s.fns, fn)
}

// Publish calls every subscriber with the events of a commit, if any.
func (s *Subscribers) Publish(events []Event) {
	if len(events) == 0 {
		return
	}
	s.mu.RLock()
	fns := s.fns
	s.mu.RUnlock()
	for _, fn := range fns {
		fn(events)
	}
}

// cleanError is an Update that failed before it changed anything: the
// commit it shares goes on for the others.
type cleanError struct{ error }

func (e cleanError) Unwrap() error { return e.error }

// dirtyError is an Update that failed after changing something: the
// shared commit is redone without it.
type dirtyError struct{ error }

func (e dirtyError) Unwrap() error { return e.error }

// unwrapOp is the error the writer sees.
func unwrapOp(err error) error {
	var c cleanError
	if errors.As(err, &c) {
		return c.error
	}
	var d dirtyError
	if errors.As(err, &d) {
		return d.error
	}
	return err
}

// boltTx is Tx on a bbolt transaction.
type boltTx struct {
	s      *Bolt
	tx     *bolt.Tx
	d      delta
	ro     bool
	wrote  bool
	events []Event
	// written are the records this transaction wrote, by id, for their
	// report rows.
	written map[string]*Record
}

// put writes a record and notes it for its report row.
func (t *boltTx) put(r *Record) error {
	if t.s.report != nil {
		if t.written == nil {
			t.written = map[string]*Record{}
		}
		t.written[r.ID] = r
	}
	return putRecord(t.tx, r)
}

// transition moves a stored record to a new state, keeping indexes and
// counts in step.
func (t *boltTx) transition(r *Record, at time.Time, to State, reason string, change func(*Record)) error {
	if err := index(t.tx, r, t.d, false); err != nil {
		return err
	}
	r.move(at, to, reason)
	if change != nil {
		change(r)
	}
	if err := index(t.tx, r, t.d, true); err != nil {
		return err
	}
	return t.put(r)
}

func (t *boltTx) writable() error {
	if t.ro {
		return ErrReadOnly
	}
	t.wrote = true
	return nil
}

func (t *boltTx) Get(id string) (*Record, error) { return getRecord(t.tx, id) }

func (t *boltTx) GetByKey(dir Direction, key string) (*Record, error) {
	id := t.tx.Bucket(bucketKeys).Get(keysKey(dir, key))
	if id == nil {
		return nil, fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	return getRecord(t.tx, string(id))
}

func (t *boltTx) Put(it Item) (*Record, bool, error) {
	if err := it.check(); err != nil {
		return nil, false, err
	}
	keys := t.tx.Bucket(bucketKeys)
	if id := keys.Get(keysKey(it.Dir, it.Key)); id != nil {
		old, err := getRecord(t.tx, string(id))
		return old, err == nil, err
	}
	p := it.staged
	if p == nil {
		if it.file != "" || it.Body != nil {
			return nil, false, fmt.Errorf("%w: a body is staged before its Put", ErrInvalid)
		}
		p = inlinePayload(it.Payload, -1)
	}
	if err := t.writable(); err != nil {
		return nil, false, err
	}
	now := t.s.opts.Now()
	seq, err := t.tx.Bucket(bucketRecords).NextSequence()
	if err != nil {
		return nil, false, err
	}
	r := &Record{
		ID: fmt.Sprintf("%s-%010d", it.Dir, seq), Dir: it.Dir, Key: it.Key, Priority: it.Priority, Group: it.Group,
		NotBefore: it.NotBefore, NextAttempt: now, Created: now, Meta: it.Meta,
		Size: p.size, SHA256: p.sum, Blob: p.blob,
	}
	r.move(now, Ready, "accepted")
	if err := keys.Put(keysKey(it.Dir, it.Key), []byte(r.ID)); err != nil {
		return nil, false, err
	}
	if r.Blob {
		err = addBlobRef(t.tx, r.SHA256, 1)
	} else {
		err = t.tx.Bucket(bucketPayloads).Put([]byte(r.ID), p.data)
	}
	if err != nil {
		return nil, false, err
	}
	if err := index(t.tx, r, t.d, true); err != nil {
		return nil, false, err
	}
	if err := t.put(r); err != nil {
		return nil, false, err
	}
	return r, false, nil
}

func (t *boltTx) Lease(now time.Time, dir Direction, minPriority int) (*Record, error) {
	if err := expireLeases(t, now); err != nil {
		return nil, err
	}
	c := t.tx.Bucket(bucketReady).Cursor()
	for p := MaxPriority; p >= minPriority; p-- {
		prefix := []byte{dir.byte(), byte(255 - p)}
		k, _ := c.Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) || keyTime(k[2:10]).After(now) {
			continue
		}
		r, err := getRecord(t.tx, string(k[10:]))
		if err != nil {
			return nil, err
		}
		return r, t.leaseRecord(r, now)
	}
	return nil, ErrEmpty
}

func (t *boltTx) LeaseRecord(now time.Time, id string) (*Record, error) {
	r, err := getRecord(t.tx, id)
	if err != nil {
		return nil, err
	}
	if r.State != Ready {
		return nil, fmt.Errorf("%w: %s is %s, only ready records are leased", ErrState, id, r.State)
	}
	return r, t.leaseRecord(r, now)
}

// leaseRecord marks a ready record leased until now + LeaseTime, with a
// lease token no earlier lease of it had.
func (t *boltTx) leaseRecord(r *Record, now time.Time) error {
	if err := t.writable(); err != nil {
		return err
	}
	r.Attempts++
	lease := uint64(now.UnixNano())
	if lease <= r.Lease {
		lease = r.Lease + 1
	}
	return t.transition(r, now, Leased, fmt.Sprintf("attempt %d", r.Attempts), func(r *Record) {
		r.LeaseUntil = now.Add(t.s.opts.LeaseTime)
		r.Lease, r.Owner = lease, t.s.opts.Owner
	})
}

// leased loads a record that must still be under the given lease.
func (t *boltTx) leased(id string, lease uint64) (*Record, error) {
	r, err := getRecord(t.tx, id)
	if err != nil {
		return nil, err
	}
	if r.State != Leased || r.Lease != lease {
		return nil, fmt.Errorf("%w: %s is %s", ErrLeaseLost, id, r.State)
	}
	return r, t.writable()
}

func (t *boltTx) Finish(now time.Time, id string, lease uint64, meta map[string]string) (*Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	return r, t.transition(r, now, Done, "done", func(r *Record) {
		r.LeaseUntil = time.Time{}
		r.LastError = ""
		r.Meta = merge(r.Meta, meta)
	})
}

func (t *boltTx) Reschedule(now time.Time, id string, lease uint64, at time.Time, lastError string) (*Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	return r, t.transition(r, now, Ready, "retry: "+lastError, func(r *Record) {
		r.LeaseUntil, r.Crashes = time.Time{}, 0
		r.LastError = lastError
		r.NextAttempt = at
	})
}

func (t *boltTx) Release(now time.Time, id string, lease uint64, reason string) (*Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	return r, t.transition(r, now, Ready, "released: "+reason, func(r *Record) {
		r.LeaseUntil, r.NextAttempt = time.Time{}, now
		r.Crashes++
	})
}

func (t *boltTx) Kill(now time.Time, id string, lease uint64, reason string) (*Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	return r, t.kill(r, now, reason)
}

func (t *boltTx) kill(r *Record, now time.Time, reason string) error {
	return t.transition(r, now, Dead, reason, func(r *Record) {
		r.LeaseUntil = time.Time{}
		r.LastError = reason
	})
}

func (t *boltTx) Resend(now time.Time, id, reason string) (*Record, error) {
	r, err := getRecord(t.tx, id)
	if err != nil {
		return nil, err
	}
	if r.State != Dead {
		return nil, fmt.Errorf("%w: %s is %s, only dead records are resent", ErrState, id, r.State)
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	return r, t.transition(r, now, Ready, "resend: "+reason, func(r *Record) {
		r.Attempts = 0
		r.NextAttempt = now
		r.Created = now // the age limit counts from the resend
	})
}

func (t *boltTx) Change(id string, fn func(*Record) error) (*Record, error) {
	r, err := getRecord(t.tx, id)
	if err != nil {
		return nil, err
	}
	before := *r
	if err := fn(r); err != nil {
		return nil, err
	}
	if r.ID != before.ID || r.State != before.State || r.Lease != before.Lease || r.Priority != before.Priority ||
		!r.NextAttempt.Equal(before.NextAttempt) || r.Key != before.Key || r.Group != before.Group || r.Owner != before.Owner {
		return nil, fmt.Errorf("%w: Change may not move record %s", ErrInvalid, id)
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	return r, t.put(r)
}

func (t *boltTx) Claim(id, key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty key", ErrInvalid)
	}
	r, err := getRecord(t.tx, id)
	if err != nil {
		return "", err
	}
	keys := t.tx.Bucket(bucketKeys)
	if held := keys.Get(keysKey(r.Dir, key)); held != nil {
		return string(held), nil
	}
	if err := t.writable(); err != nil {
		return "", err
	}
	r.Aliases = append(r.Aliases, key)
	if err := keys.Put(keysKey(r.Dir, key), []byte(id)); err != nil {
		return "", err
	}
	return id, t.put(r)
}

func (t *boltTx) Emit(ev Event) {
	if ev.At.IsZero() {
		ev.At = t.s.opts.Now()
	}
	t.events = append(t.events, ev)
}

// eventKey is a record's id, a zero byte and the event's sequence, so a
// record's history is one range, oldest first.
func eventKey(id string, seq uint64) []byte {
	k := append([]byte(id), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func (t *boltTx) storeEvents() error {
	if len(t.events) == 0 {
		return nil
	}
	b := t.tx.Bucket(bucketEvents)
	for i := range t.events {
		ev := &t.events[i]
		if ev.Record == "" {
			return fmt.Errorf("%w: event %q names no record", ErrInvalid, ev.Kind)
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		ev.Seq = seq
		v, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if err := b.Put(eventKey(ev.Record, seq), v); err != nil {
			return err
		}
	}
	return nil
}

func (t *boltTx) Events(id string) ([]Event, error) {
	prefix := append([]byte(id), 0)
	var out []Event
	c := t.tx.Bucket(bucketEvents).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return nil, fmt.Errorf("event %x: %w", k, err)
		}
		out = append(out, ev)
	}
	// Events a transaction emitted and has not yet stored.
	for _, ev := range t.events {
		if ev.Record == id {
			out = append(out, ev)
		}
	}
	return out, nil
}

// deleteEvents removes a purged record's history.
func deleteEvents(tx *bolt.Tx, id string) error {
	prefix := append([]byte(id), 0)
	c := tx.Bucket(bucketEvents).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// expireLeases returns every record whose lease ended by now to the
// queue, due at once, and says so in its history.
func expireLeases(t *boltTx, now time.Time) error {
	c := t.tx.Bucket(bucketLeases).Cursor()
	var ids []string
	for k, _ := c.First(); k != nil && !keyTime(k[:8]).After(now); k, _ = c.Next() {
		ids = append(ids, string(k[8:]))
	}
	for _, id := range ids {
		if err := t.writable(); err != nil {
			return err
		}
		r, err := getRecord(t.tx, id)
		if err != nil {
			return err
		}
		err = t.transition(r, now, Ready, ReasonLeaseExpired, func(r *Record) {
			r.LeaseUntil = time.Time{}
			r.NextAttempt = now
		})
		if err != nil {
			return err
		}
		t.Emit(Event{Record: id, At: now, Kind: "lease-expired", Attrs: map[string]string{"attempt": fmt.Sprint(r.Attempts)}})
	}
	return nil
}
