package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Item is what Put stores.
type Item struct {
	Dir      Direction
	Key      string // idempotency key; a second Put with it returns the first record
	Priority int    // 0-4
	// NotBefore holds the record until then (Hỏa tốc hẹn giờ).
	NotBefore time.Time
	Meta      map[string]string
	Payload   []byte
	// File, instead of Payload, names a file holding the payload, on the
	// store's file system: it is moved into the blob folder, never read
	// whole into memory. Put takes it over; it is gone after a Put.
	File string
	// Also names other records, by id, with metadata (made from this
	// record's id) to merge into each in the same commit: what must become
	// durable exactly when this record does, without a write of its own.
	// Applied also when the key existed, with that record's id.
	Also map[string]func(id string) map[string]string
	// Leased stores a new record already leased to the caller, as Lease
	// would hand it out, in the Put's own commit: whoever stores work to do
	// it at once saves a commit. Should the caller stop, the lease ends and
	// the record goes back to the queue like any other. A key that existed
	// leases nothing.
	Leased bool
	// Finish stores the record as done at once, with this merged into its
	// metadata: work finished before the record was stored, which then
	// takes one commit in all.
	Finish map[string]string
	// Status applies a recipient's status to another record in the Put's
	// commit, as UpdateRecipient would; Put fills in what became of it.
	// A key that existed applies nothing.
	Status *StatusReport

	staged *staged // set by Stage
}

// StatusReport is a recipient's status for Item.Status, and its outcome.
type StatusReport struct {
	ID        string // the record the status is about
	Recipient Recipient
	Replaces  func(current Recipient) bool // see UpdateRecipient
	Applied   bool                         // set by Put
	Record    *Record                      // set by Put: the record as left
}

// check refuses an item the store cannot hold.
func (it *Item) check() error {
	switch {
	case !it.Dir.valid():
		return fmt.Errorf("%w: direction %q", ErrInvalid, it.Dir)
	case it.Key == "":
		return fmt.Errorf("%w: empty idempotency key", ErrInvalid)
	case it.Priority < 0 || it.Priority > MaxPriority:
		return fmt.Errorf("%w: priority %d is not 0-%d", ErrInvalid, it.Priority, MaxPriority)
	}
	return nil
}

// staged is a payload ready to be named by a record: its hash and size,
// and either its bytes or its durable blob file.
type staged struct {
	sum  string
	size int64
	blob bool
	data []byte
}

func inlinePayload(data []byte, threshold int64) *staged {
	sum := sha256.Sum256(data)
	p := &staged{sum: hex.EncodeToString(sum[:]), size: int64(len(data)), data: data}
	p.blob = threshold > 0 && p.size >= threshold
	return p
}

// Stage prepares an item's payload outside any transaction, so a commit
// never waits on a large file: a payload from the blob threshold up is
// made durable as its blob file, a File is taken over. The Update that
// puts the item must come before release is called.
func (s *Store) Stage(it *Item) (release func(), err error) {
	if err := it.check(); err != nil {
		return nil, err
	}
	if it.File != "" {
		defer os.Remove(it.File) // gone after the move; a leftover on failure
		if fi, err := os.Stat(it.File); err == nil && (s.opts.BlobThreshold < 0 || fi.Size() < s.opts.BlobThreshold) {
			// Small enough to keep inside the store, as a Payload would be.
			b, err := os.ReadFile(it.File)
			if err != nil {
				return nil, fmt.Errorf("put %s: %w", it.Key, err)
			}
			it.File, it.Payload = "", b
		}
	}
	var p *staged
	if it.File != "" {
		sum, size, err := hashFile(it.File)
		if err != nil {
			return nil, fmt.Errorf("put %s: %w", it.Key, err)
		}
		p = &staged{sum: sum, size: size, blob: true}
	} else {
		p = inlinePayload(it.Payload, s.opts.BlobThreshold)
	}
	release = func() {}
	if p.blob {
		// The file is durable before the record that names it commits; a
		// crash in between leaves an orphan that Check reports.
		s.blobMu.RLock()
		release = s.blobMu.RUnlock
		if it.File != "" {
			err = s.moveBlob(p.sum, it.File)
		} else {
			err = s.writeBlob(p.sum, it.Payload)
		}
		if err != nil {
			release()
			return nil, err
		}
	}
	it.File, it.staged = "", p
	return release, nil
}

// Put stores an item durably and returns its record. A Put whose key the
// store already holds for the direction stores nothing and returns the
// existing record with existed set.
func (s *Store) Put(it Item) (rec *Record, existed bool, err error) {
	release, err := s.Stage(&it)
	if err != nil {
		return nil, false, err
	}
	defer release()
	err = s.Update(context.Background(), func(tx Tx) error {
		rec, existed, err = PutComposed(tx, it)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return rec, existed, nil
}

// PutComposed is Put with what an Item asks besides the record itself:
// Also, Leased, Finish and Status, in the transaction tx.
func PutComposed(tx Tx, it Item) (rec *Record, existed bool, err error) {
	rec, existed, err = tx.Put(it)
	if err != nil {
		return nil, false, err
	}
	if !existed {
		now := rec.Created
		if it.Leased || it.Finish != nil {
			if rec, err = tx.LeaseRecord(now, rec.ID); err != nil {
				return nil, false, err
			}
		}
		if it.Finish != nil {
			if rec, err = tx.Finish(now, rec.ID, rec.Lease, it.Finish); err != nil {
				return nil, false, err
			}
		}
		if rp := it.Status; rp != nil {
			if rp.Record, rp.Applied, err = UpdateRecipientTx(tx, rp.ID, rp.Recipient, rp.Replaces); err != nil {
				return nil, false, err
			}
		}
	}
	return rec, existed, putAlso(tx, it.Also, rec.ID)
}

// putAlso merges an Item's Also into the records it names.
func putAlso(tx Tx, also map[string]func(id string) map[string]string, id string) error {
	for other, meta := range also {
		_, err := tx.Change(other, func(r *Record) error {
			r.Meta = merge(r.Meta, meta(id))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// update runs fn in an Update and returns its record.
func (s *Store) update(fn func(tx Tx) (*Record, error)) (rec *Record, err error) {
	err = s.Update(context.Background(), func(tx Tx) error {
		rec, err = fn(tx)
		return err
	})
	return rec, err
}

// Lease hands out the due record of the direction with the highest priority
// (at least minPriority), the one due longest first, and marks it leased
// until now + LeaseTime. Leases that ended before now are returned to the
// queue first. ErrEmpty means nothing is due.
func (s *Store) Lease(now time.Time, dir Direction, minPriority int) (*Record, error) {
	if !s.AnyDue(now, dir, minPriority) {
		return nil, ErrEmpty // no write, so idle workers cost no fsync
	}
	return s.update(func(tx Tx) (*Record, error) { return tx.Lease(now, dir, minPriority) })
}

// DoneAndLease is Done, then Lease, in one commit: a send slot closes the
// record it sent and takes the next due one with one flush instead of
// two. next is nil when nothing is due.
func (s *Store) DoneAndLease(now time.Time, id string, lease uint64, meta map[string]string, dir Direction, minPriority int) (done, next *Record, err error) {
	err = s.Update(context.Background(), func(tx Tx) error {
		if done, err = tx.Finish(now, id, lease, meta); err != nil {
			return err
		}
		next, err = LeaseNext(tx, now, dir, minPriority)
		return err
	})
	return done, next, err
}

// LeaseNext is Lease with nothing due being no error: the next record, or
// nil.
func LeaseNext(tx Tx, now time.Time, dir Direction, minPriority int) (*Record, error) {
	r, err := tx.Lease(now, dir, minPriority)
	if errors.Is(err, ErrEmpty) {
		return nil, nil
	}
	return r, err
}

// AnyDue reports, in a read transaction, whether Lease could hand out or
// expire anything, so an idle worker asks without a write.
func (s *Store) AnyDue(now time.Time, dir Direction, minPriority int) bool {
	due := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketLeases).Cursor().First(); k != nil && !keyTime(k[:8]).After(now) {
			due = true
			return nil
		}
		c := tx.Bucket(bucketReady).Cursor()
		for p := MaxPriority; p >= minPriority && !due; p-- {
			prefix := []byte{dir.byte(), byte(255 - p)}
			k, _ := c.Seek(prefix)
			due = k != nil && bytes.HasPrefix(k, prefix) && !keyTime(k[2:10]).After(now)
		}
		return nil
	})
	return due
}

// ReleaseLeases returns to the queue, due now, every record still leased,
// merging meta[its direction] into each, and counts them by direction.
// Only the process holding the store's lock calls it, at start: a lease
// found then was held by a process that died, and its work must not wait
// for the lease to run out.
func (s *Store) ReleaseLeases(now time.Time, meta map[Direction]map[string]string) (n map[Direction]int, setAside []*Record, err error) {
	err = s.Update(context.Background(), func(x Tx) error {
		t := x.(*boltTx)
		n, setAside = map[Direction]int{}, nil
		var ids []string
		err := t.tx.Bucket(bucketLeases).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k[8:]))
			return nil
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		t.wrote = true
		for _, id := range ids {
			r, err := getRecord(t.tx, id)
			if err != nil {
				return err
			}
			r.Crashes++
			if r.Dir == Inbound && r.Crashes >= s.opts.MaxCrashes {
				reason := fmt.Sprintf("set aside: the process died %d times in a row while processing it", r.Crashes)
				if err := t.kill(r, now, reason); err != nil {
					return err
				}
				t.Emit(Event{Record: id, At: now, Kind: "dead", Attrs: map[string]string{"reason": reason}})
				setAside = append(setAside, r)
				continue
			}
			err = transition(t.tx, r, t.d, now, Ready, "released at start: its worker died", func(r *Record) {
				r.LeaseUntil, r.NextAttempt, r.Meta = time.Time{}, now, merge(r.Meta, meta[r.Dir])
			})
			if err != nil {
				return err
			}
			t.Emit(Event{Record: id, At: now, Kind: "released", Attrs: map[string]string{"reason": "its worker died"}})
			n[r.Dir]++
		}
		return nil
	})
	return n, setAside, err
}

// Done finishes a leased record, merging meta into its metadata (e.g. the
// axis's id for the sent package).
func (s *Store) Done(now time.Time, id string, lease uint64, meta map[string]string) (*Record, error) {
	return s.update(func(tx Tx) (*Record, error) { return tx.Finish(now, id, lease, meta) })
}

// Retry returns a leased record to the queue after a failed attempt, due
// after a backoff with full jitter, or makes it dead when the attempts or
// the age allowed are used up. The returned record says which.
func (s *Store) Retry(now time.Time, id string, lease uint64, cause error) (*Record, error) {
	p := RetryPolicy{Base: s.opts.RetryBase, Cap: s.opts.RetryCap, MaxAttempts: s.opts.MaxAttempts, MaxAge: s.opts.MaxAge, Jitter: s.opts.Jitter}
	return s.update(func(tx Tx) (*Record, error) { return p.Retry(tx, now, id, lease, cause) })
}

// RetryPolicy decides what becomes of a failed attempt: when to try again,
// with exponential backoff and full jitter, or that it is dead.
type RetryPolicy struct {
	Base, Cap   time.Duration
	MaxAttempts int
	MaxAge      time.Duration
	// Jitter returns a random duration in [0, max].
	Jitter func(max time.Duration) time.Duration
}

// Retry applies the policy to a leased record in tx: rescheduled after a
// backoff, or dead once the attempts or the age allowed are used up.
func (p RetryPolicy) Retry(tx Tx, now time.Time, id string, lease uint64, cause error) (*Record, error) {
	p = p.withDefaults()
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	r, err := tx.Get(id)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Attempts >= p.MaxAttempts:
		return tx.Kill(now, id, lease, fmt.Sprintf("%d attempts failed, last: %s", r.Attempts, msg))
	case now.Sub(r.Created) >= p.MaxAge:
		return tx.Kill(now, id, lease, fmt.Sprintf("older than %s, last: %s", p.MaxAge, msg))
	}
	return tx.Reschedule(now, id, lease, now.Add(p.Jitter(p.Backoff(r.Attempts))), msg)
}

// withDefaults fills the zero fields as Options does.
func (p RetryPolicy) withDefaults() RetryPolicy {
	o := Options{RetryBase: p.Base, RetryCap: p.Cap, MaxAttempts: p.MaxAttempts, MaxAge: p.MaxAge, Jitter: p.Jitter}.withDefaults()
	return RetryPolicy{Base: o.RetryBase, Cap: o.RetryCap, MaxAttempts: o.MaxAttempts, MaxAge: o.MaxAge, Jitter: o.Jitter}
}

// Backoff is the ceiling of the wait after attempt n: Base·2^(n-1),
// capped at Cap.
func (p RetryPolicy) Backoff(n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Cap; i++ {
		d *= 2
	}
	return min(d, p.Cap)
}

// Dead gives up on a leased record for a reason that retrying cannot fix.
func (s *Store) Dead(now time.Time, id string, lease uint64, reason string) (*Record, error) {
	return s.update(func(tx Tx) (*Record, error) { return tx.Kill(now, id, lease, reason) })
}

// Resend brings a dead record back to the queue, due now, with a fresh
// count of attempts; the operator's reason goes into its history.
func (s *Store) Resend(id, reason string) (*Record, error) {
	now := s.opts.Now()
	return s.update(func(tx Tx) (*Record, error) { return tx.Resend(now, id, reason) })
}

// UpdateRecipient records the business state a recipient reported, in any
// state of the record, replacing that recipient's previous entry when
// replaces (nil: always) says so of it. The test runs in the same
// transaction, so two reports racing each other cannot both pass it
// against the same old entry. applied is false when the entry was kept.
func (s *Store) UpdateRecipient(id string, rc Recipient, replaces func(current Recipient) bool) (rec *Record, applied bool, err error) {
	err = s.Update(context.Background(), func(tx Tx) error {
		rec, applied, err = UpdateRecipientTx(tx, id, rc, replaces)
		return err
	})
	return rec, applied, err
}

// ApplyReport is UpdateRecipient on record id and Done on the leased
// record doneID that carried the report, in one commit: a received status
// and its being processed become durable together, with one flush. With
// leaseNext, the same commit leases the next due record of doneID's
// direction, returned as next (nil when none is due).
func (s *Store) ApplyReport(now time.Time, doneID string, lease uint64, meta map[string]string, id string, rc Recipient, replaces func(current Recipient) bool, leaseNext bool) (rec *Record, applied bool, next *Record, err error) {
	err = s.Update(context.Background(), func(tx Tx) error {
		if rec, applied, err = UpdateRecipientTx(tx, id, rc, replaces); err != nil {
			return err
		}
		r, err := tx.Finish(now, doneID, lease, meta)
		if err != nil || !leaseNext {
			return err
		}
		next, err = LeaseNext(tx, now, r.Dir, 0)
		return err
	})
	return rec, applied, next, err
}

// UpdateRecipientTx is UpdateRecipient in the transaction tx.
func UpdateRecipientTx(tx Tx, id string, rc Recipient, replaces func(current Recipient) bool) (rec *Record, applied bool, err error) {
	rec, err = tx.Get(id)
	if err != nil {
		return nil, false, err
	}
	i := slices.IndexFunc(rec.Recipients, func(c Recipient) bool { return c.OrganID == rc.OrganID })
	if i >= 0 && replaces != nil && !replaces(rec.Recipients[i]) {
		return rec, false, nil
	}
	rec, err = tx.Change(id, func(r *Record) error {
		if i < 0 {
			r.Recipients = append(r.Recipients, rc)
		} else {
			r.Recipients[i] = rc
		}
		return nil
	})
	return rec, err == nil, err
}

// SetMeta merges meta into a record's metadata in any state.
func (s *Store) SetMeta(id string, meta map[string]string) (*Record, error) {
	return s.update(func(tx Tx) (*Record, error) {
		return tx.Change(id, func(r *Record) error {
			r.Meta = merge(r.Meta, meta)
			return nil
		})
	})
}

// Claim gives a stored record a further unique key of its direction, for
// facts learnt only after the payload was stored (e.g. the sender's
// DocumentId of a fetched package). It returns the id of the record that
// holds the key: id itself, or the earlier record that claimed it first.
func (s *Store) Claim(id, key string) (owner string, err error) {
	err = s.Update(context.Background(), func(tx Tx) error {
		owner, err = tx.Claim(id, key)
		return err
	})
	return owner, err
}

func merge(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]string, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// Get returns a record by id.
func (s *Store) Get(id string) (rec *Record, err error) {
	err = s.View(context.Background(), func(tx Tx) error {
		rec, err = tx.Get(id)
		return err
	})
	return rec, err
}

// GetByKey returns the record holding an idempotency key.
func (s *Store) GetByKey(dir Direction, key string) (rec *Record, err error) {
	err = s.View(context.Background(), func(tx Tx) error {
		rec, err = tx.GetByKey(dir, key)
		return err
	})
	return rec, err
}

// Events returns a record's history, oldest first.
func (s *Store) Events(id string) (evs []Event, err error) {
	err = s.View(context.Background(), func(tx Tx) error {
		evs, err = tx.Events(id)
		return err
	})
	return evs, err
}

// Payload returns a copy of a record's payload bytes, checked against the
// hash taken when it was stored.
func (s *Store) Payload(r *Record) ([]byte, error) {
	var data []byte
	if r.Blob {
		b, err := os.ReadFile(s.blobPath(r.SHA256))
		if err != nil {
			return nil, fmt.Errorf("payload of %s: %w", r.ID, err)
		}
		data = b
	} else {
		err := s.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketPayloads).Get([]byte(r.ID))
			if v == nil {
				return fmt.Errorf("%w: payload of %s", ErrNotFound, r.ID)
			}
			data = bytes.Clone(v)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != r.SHA256 {
		return nil, fmt.Errorf("payload of %s does not match its hash %s", r.ID, r.SHA256)
	}
	return data, nil
}

// PayloadPath is the file holding a record's payload, checked against its
// hash by a streaming read, for sending a large payload without holding
// it; "" for a payload kept inside the store, which Payload reads.
func (s *Store) PayloadPath(r *Record) (string, error) {
	if !r.Blob {
		return "", nil
	}
	p := s.blobPath(r.SHA256)
	sum, _, err := hashFile(p)
	if err != nil {
		return "", fmt.Errorf("payload of %s: %w", r.ID, err)
	}
	if sum != r.SHA256 {
		return "", fmt.Errorf("payload of %s does not match its hash %s", r.ID, r.SHA256)
	}
	return p, nil
}

// OpenPayload reads a record's payload, checked against its hash, from its
// blob file when it has one: a large payload is never held whole. What it
// returns can also be read by offset (io.ReaderAt): an *os.File, or a
// reader over the payload kept inside the store, with its Size.
func (s *Store) OpenPayload(r *Record) (io.ReadCloser, error) {
	path, err := s.PayloadPath(r)
	if err != nil {
		return nil, err
	}
	if path != "" {
		return os.Open(path)
	}
	b, err := s.Payload(r)
	if err != nil {
		return nil, err
	}
	return memPayload{bytes.NewReader(b)}, nil
}

// memPayload is a payload kept inside the store, opened.
type memPayload struct{ *bytes.Reader }

func (memPayload) Close() error { return nil }

func hashFile(path string) (sum string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Filter selects records for List. Zero fields select everything.
type Filter struct {
	Dir    Direction
	States []State
	// Since and Until bound the records' creation time: [Since, Until).
	Since, Until time.Time
	// Match, when set, keeps only the records it accepts; the page is
	// still filled while matching records remain.
	Match func(*Record) bool
	// After is the cursor a previous page returned.
	After string
	Limit int // zero means 100
}

// List returns records matching f, newest first, and the cursor of the
// next page.
func (s *Store) List(f Filter) (recs []*Record, next string, err error) {
	err = s.View(context.Background(), func(tx Tx) error {
		recs, next, err = tx.List(f)
		return err
	})
	return recs, next, err
}

// eachInState calls fn with the id of every record of the direction and
// state ("" for any), oldest first within each state, seeking to the
// matching range of the state index instead of walking all of it. fn
// returns false to stop.
func eachInState(tx *bolt.Tx, dir Direction, state State, fn func(id string) (bool, error)) error {
	dirs := []Direction{Inbound, Outbound} // index order: 'i' before 'o'
	if dir != "" {
		dirs = []Direction{dir}
	}
	c := tx.Bucket(bucketStates).Cursor()
	for _, d := range dirs {
		prefix := []byte{d.byte()}
		if state != "" {
			prefix = append(prefix, stateBytes[state])
		}
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			more, err := fn(string(k[11:]))
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// NextDue is when the earliest ready record of the direction becomes due,
// so an idle worker knows how long it may wait; ok is false when none is
// ready.
func (s *Store) NextDue(dir Direction) (at time.Time, ok bool) {
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReady).Cursor()
		for p := MaxPriority; p >= 0; p-- {
			prefix := []byte{dir.byte(), byte(255 - p)}
			if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
				if t := keyTime(k[2:10]); !ok || t.Before(at) {
					at, ok = t, true
				}
			}
		}
		return nil
	})
	return at, ok
}

// Purge deletes done records last updated before cutoff, with their
// payloads and keys, and returns how many went. Dead records stay until an
// operator resends or they are purged by PurgeDead.
func (s *Store) Purge(cutoff time.Time) (int, error) {
	return s.purge(Done, cutoff)
}

// PurgeDead deletes dead records last updated before cutoff.
func (s *Store) PurgeDead(cutoff time.Time) (int, error) {
	return s.purge(Dead, cutoff)
}

func (s *Store) purge(state State, cutoff time.Time) (int, error) {
	var n int
	var unref []string
	err := s.write(func(tx *bolt.Tx, d delta) error {
		n, unref = 0, nil
		var victims []*Record
		err := eachInState(tx, "", state, func(id string) (bool, error) {
			r, err := getRecord(tx, id)
			if err == nil && r.Updated.Before(cutoff) {
				victims = append(victims, r)
			}
			return true, err
		})
		if err != nil {
			return err
		}
		for _, r := range victims {
			if err := index(tx, r, d, false); err != nil {
				return err
			}
			if err := deleteEvents(tx, r.ID); err != nil {
				return err
			}
			dels := []struct{ b, k []byte }{
				{bucketRecords, []byte(r.ID)}, {bucketPayloads, []byte(r.ID)}, {bucketKeys, keysKey(r.Dir, r.Key)},
			}
			for _, a := range r.Aliases {
				dels = append(dels, struct{ b, k []byte }{bucketKeys, keysKey(r.Dir, a)})
			}
			for _, del := range dels {
				if err := tx.Bucket(del.b).Delete(del.k); err != nil {
					return err
				}
			}
			if r.Blob {
				if err := addBlobRef(tx, r.SHA256, -1); err != nil {
					return err
				}
				if tx.Bucket(bucketBlobRefs).Get([]byte(r.SHA256)) == nil {
					unref = append(unref, r.SHA256)
				}
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, s.removeUnreferenced(unref)
}
