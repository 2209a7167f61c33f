package queue

import (
	"bytes"
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
}

// StatusReport is a recipient's status for Item.Status, and its outcome.
type StatusReport struct {
	ID        string // the record the status is about
	Recipient Recipient
	Replaces  func(current Recipient) bool // see UpdateRecipient
	Applied   bool                         // set by Put
	Record    *Record                      // set by Put: the record as left
}

// Put stores an item durably and returns its record. A Put whose key the
// store already holds for the direction stores nothing and returns the
// existing record with existed set.
func (s *Store) Put(it Item) (rec *Record, existed bool, err error) {
	switch {
	case !it.Dir.valid():
		return nil, false, fmt.Errorf("%w: direction %q", ErrInvalid, it.Dir)
	case it.Key == "":
		return nil, false, fmt.Errorf("%w: empty idempotency key", ErrInvalid)
	case it.Priority < 0 || it.Priority > MaxPriority:
		return nil, false, fmt.Errorf("%w: priority %d is not 0-%d", ErrInvalid, it.Priority, MaxPriority)
	}
	now := s.opts.Now()
	r := &Record{
		Dir: it.Dir, Key: it.Key, Priority: it.Priority, NotBefore: it.NotBefore,
		NextAttempt: now, Created: now, Meta: it.Meta,
	}
	if it.File != "" {
		defer os.Remove(it.File) // gone after the move; a leftover on failure
		if fi, err := os.Stat(it.File); err == nil && (s.opts.BlobThreshold < 0 || fi.Size() < s.opts.BlobThreshold) {
			// Small enough to keep inside the store, as a Payload would be.
			b, err := os.ReadFile(it.File)
			if err != nil {
				return nil, false, fmt.Errorf("put %s: %w", it.Key, err)
			}
			it.File, it.Payload = "", b
		}
	}
	if it.File != "" {
		sum, size, err := hashFile(it.File)
		if err != nil {
			return nil, false, fmt.Errorf("put %s: %w", it.Key, err)
		}
		r.Size, r.SHA256, r.Blob = size, sum, true
	} else {
		sum := sha256.Sum256(it.Payload)
		r.Size, r.SHA256 = int64(len(it.Payload)), hex.EncodeToString(sum[:])
		r.Blob = s.opts.BlobThreshold > 0 && r.Size >= s.opts.BlobThreshold
	}
	if r.Blob {
		// The file is durable before the record that names it commits; a
		// crash in between leaves an orphan that Check reports.
		s.blobMu.RLock()
		defer s.blobMu.RUnlock()
		var err error
		if it.File != "" {
			err = s.moveBlob(r.SHA256, it.File)
		} else {
			err = s.writeBlob(r.SHA256, it.Payload)
		}
		if err != nil {
			return nil, false, err
		}
	}
	err = s.write(func(tx *bolt.Tx, d delta) error {
		// Every check before any change: a refused write leaves the batch
		// it shares a commit with, not half of itself.
		for other := range it.Also {
			if _, err := getRecord(tx, other); err != nil {
				return err
			}
		}
		if it.Status != nil {
			if _, err := getRecord(tx, it.Status.ID); err != nil {
				return err
			}
		}
		keys := tx.Bucket(bucketKeys)
		if id := keys.Get(keysKey(it.Dir, it.Key)); id != nil {
			old, err := getRecord(tx, string(id))
			if err != nil {
				return err
			}
			rec, existed = old, true
			return putAlso(tx, it.Also, old.ID)
		}
		seq, err := tx.Bucket(bucketRecords).NextSequence()
		if err != nil {
			return err
		}
		nr := *r
		nr.ID = fmt.Sprintf("%s-%010d", it.Dir, seq)
		nr.move(now, Ready, "accepted")
		if err := keys.Put(keysKey(it.Dir, it.Key), []byte(nr.ID)); err != nil {
			return err
		}
		if nr.Blob {
			if err := addBlobRef(tx, nr.SHA256, 1); err != nil {
				return err
			}
		} else if err := tx.Bucket(bucketPayloads).Put([]byte(nr.ID), it.Payload); err != nil {
			return err
		}
		if err := index(tx, &nr, d, true); err != nil {
			return err
		}
		rec, existed = &nr, false
		if err := putRecord(tx, &nr); err != nil {
			return err
		}
		if it.Leased || it.Finish != nil {
			if err := s.leaseRecord(tx, d, &nr, now); err != nil {
				return err
			}
		}
		if it.Finish != nil {
			if err := finish(tx, &nr, d, now, it.Finish); err != nil {
				return err
			}
		}
		if rp := it.Status; rp != nil {
			if rp.Record, rp.Applied, err = updateRecipient(tx, rp.ID, rp.Recipient, rp.Replaces); err != nil {
				return err
			}
		}
		return putAlso(tx, it.Also, nr.ID)
	})
	if err != nil {
		return nil, false, err
	}
	return rec, existed, nil
}

// putAlso merges an Item's Also into the records it names, which Put
// checked first.
func putAlso(tx *bolt.Tx, also map[string]func(id string) map[string]string, id string) error {
	for other, meta := range also {
		r, err := getRecord(tx, other)
		if err != nil {
			return err
		}
		r.Meta = merge(r.Meta, meta(id))
		if err := putRecord(tx, r); err != nil {
			return err
		}
	}
	return nil
}

// Lease hands out the due record of the direction with the highest priority
// (at least minPriority), the one due longest first, and marks it leased
// until now + LeaseTime. Leases that ended before now are returned to the
// queue first. ErrEmpty means nothing is due.
func (s *Store) Lease(now time.Time, dir Direction, minPriority int) (*Record, error) {
	if !s.anyDue(now, dir, minPriority) {
		return nil, ErrEmpty // no write, so idle workers cost no fsync
	}
	var rec *Record
	err := s.write(func(tx *bolt.Tx, d delta) (err error) {
		rec, err = s.lease(tx, d, now, dir, minPriority)
		return err
	})
	return rec, err
}

// DoneAndLease is Done, then Lease, in one commit: a send slot closes the
// record it sent and takes the next due one with one flush instead of
// two. next is nil when nothing is due.
func (s *Store) DoneAndLease(now time.Time, id string, lease uint64, meta map[string]string, dir Direction, minPriority int) (done, next *Record, err error) {
	err = s.write(func(tx *bolt.Tx, d delta) error {
		r, err := leased(tx, id, lease)
		if err != nil {
			return err
		}
		if err := finish(tx, r, d, now, meta); err != nil {
			return err
		}
		done = r
		next, err = s.lease(tx, d, now, dir, minPriority)
		if errors.Is(err, ErrEmpty) {
			next, err = nil, nil
		}
		return err
	})
	return done, next, err
}

// lease is Lease inside a write.
func (s *Store) lease(tx *bolt.Tx, d delta, now time.Time, dir Direction, minPriority int) (*Record, error) {
	if err := expireLeases(tx, d, now); err != nil {
		return nil, err
	}
	c := tx.Bucket(bucketReady).Cursor()
	for p := MaxPriority; p >= minPriority; p-- {
		prefix := []byte{dir.byte(), byte(255 - p)}
		k, _ := c.Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) || keyTime(k[2:10]).After(now) {
			continue
		}
		r, err := getRecord(tx, string(k[10:]))
		if err != nil {
			return nil, err
		}
		return r, s.leaseRecord(tx, d, r, now)
	}
	return nil, ErrEmpty
}

// leaseRecord marks a ready record leased until now + LeaseTime, with a
// lease token no earlier lease of it had.
func (s *Store) leaseRecord(tx *bolt.Tx, d delta, r *Record, now time.Time) error {
	r.Attempts++
	lease := uint64(now.UnixNano())
	if lease <= r.Lease {
		lease = r.Lease + 1
	}
	return transition(tx, r, d, now, Leased, fmt.Sprintf("attempt %d", r.Attempts), func(r *Record) {
		r.LeaseUntil = now.Add(s.opts.LeaseTime)
		r.Lease = lease
	})
}

// anyDue reports, in a read transaction, whether Lease could hand out or
// expire anything.
func (s *Store) anyDue(now time.Time, dir Direction, minPriority int) bool {
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

// expireLeases returns every record whose lease ended by now to the queue,
// due at once.
func expireLeases(tx *bolt.Tx, d delta, now time.Time) error {
	c := tx.Bucket(bucketLeases).Cursor()
	var ids []string
	for k, _ := c.First(); k != nil && !keyTime(k[:8]).After(now); k, _ = c.Next() {
		ids = append(ids, string(k[8:]))
	}
	for _, id := range ids {
		r, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		err = transition(tx, r, d, now, Ready, "lease expired", func(r *Record) {
			r.LeaseUntil = time.Time{}
			r.NextAttempt = now
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReleaseLeases returns to the queue, due now, every record still leased,
// merging meta[its direction] into each, and counts them by direction.
// Only the process holding the store's lock calls it, at start: a lease
// found then was held by a process that died, and its work must not wait
// for the lease to run out.
func (s *Store) ReleaseLeases(now time.Time, meta map[Direction]map[string]string) (n map[Direction]int, setAside []*Record, err error) {
	err = s.write(func(tx *bolt.Tx, d delta) error {
		n, setAside = map[Direction]int{}, nil
		var ids []string
		err := tx.Bucket(bucketLeases).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k[8:]))
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			r.Crashes++
			if r.Dir == Inbound && r.Crashes >= s.opts.MaxCrashes {
				err := s.kill(tx, r, d, now, fmt.Sprintf("set aside: the process died %d times in a row while processing it", r.Crashes))
				if err != nil {
					return err
				}
				setAside = append(setAside, r)
				continue
			}
			err = transition(tx, r, d, now, Ready, "released at start: its worker died", func(r *Record) {
				r.LeaseUntil, r.NextAttempt, r.Meta = time.Time{}, now, merge(r.Meta, meta[r.Dir])
			})
			if err != nil {
				return err
			}
			n[r.Dir]++
		}
		return nil
	})
	return n, setAside, err
}

// leased loads a record that must still be under the given lease.
func leased(tx *bolt.Tx, id string, lease uint64) (*Record, error) {
	r, err := getRecord(tx, id)
	if err != nil {
		return nil, err
	}
	if r.State != Leased || r.Lease != lease {
		return nil, fmt.Errorf("%w: %s is %s", ErrLeaseLost, id, r.State)
	}
	return r, nil
}

// onLease runs fn on a record that must still be under the given lease, in
// the next commit, and returns the record as fn left it.
func (s *Store) onLease(id string, lease uint64, fn func(tx *bolt.Tx, r *Record, d delta) error) (*Record, error) {
	var rec *Record
	err := s.write(func(tx *bolt.Tx, d delta) error {
		r, err := leased(tx, id, lease)
		if err != nil {
			return err
		}
		rec = r
		return fn(tx, r, d)
	})
	return rec, err
}

// Done finishes a leased record, merging meta into its metadata (e.g. the
// axis's id for the sent package).
func (s *Store) Done(now time.Time, id string, lease uint64, meta map[string]string) (*Record, error) {
	return s.onLease(id, lease, func(tx *bolt.Tx, r *Record, d delta) error {
		return finish(tx, r, d, now, meta)
	})
}

func finish(tx *bolt.Tx, r *Record, d delta, now time.Time, meta map[string]string) error {
	return transition(tx, r, d, now, Done, "done", func(r *Record) {
		r.LeaseUntil = time.Time{}
		r.LastError = ""
		r.Meta = merge(r.Meta, meta)
	})
}

// Retry returns a leased record to the queue after a failed attempt, due
// after a backoff with full jitter, or makes it dead when the attempts or
// the age allowed are used up. The returned record says which.
func (s *Store) Retry(now time.Time, id string, lease uint64, cause error) (*Record, error) {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	return s.onLease(id, lease, func(tx *bolt.Tx, r *Record, d delta) error {
		switch {
		case r.Attempts >= s.opts.MaxAttempts:
			return s.kill(tx, r, d, now, fmt.Sprintf("%d attempts failed, last: %s", r.Attempts, msg))
		case now.Sub(r.Created) >= s.opts.MaxAge:
			return s.kill(tx, r, d, now, fmt.Sprintf("older than %s, last: %s", s.opts.MaxAge, msg))
		}
		wait := s.opts.Jitter(s.backoff(r.Attempts))
		return transition(tx, r, d, now, Ready, "retry: "+msg, func(r *Record) {
			r.LeaseUntil, r.Crashes = time.Time{}, 0
			r.LastError = msg
			r.NextAttempt = now.Add(wait)
		})
	})
}

// backoff is the ceiling of the wait after attempt n: RetryBase·2^(n-1),
// capped at RetryCap.
func (s *Store) backoff(n int) time.Duration {
	d := s.opts.RetryBase
	for i := 1; i < n && d < s.opts.RetryCap; i++ {
		d *= 2
	}
	return min(d, s.opts.RetryCap)
}

func (s *Store) kill(tx *bolt.Tx, r *Record, d delta, now time.Time, reason string) error {
	return transition(tx, r, d, now, Dead, reason, func(r *Record) {
		r.LeaseUntil = time.Time{}
		r.LastError = reason
	})
}

// Dead gives up on a leased record for a reason that retrying cannot fix.
func (s *Store) Dead(now time.Time, id string, lease uint64, reason string) (*Record, error) {
	return s.onLease(id, lease, func(tx *bolt.Tx, r *Record, d delta) error {
		return s.kill(tx, r, d, now, reason)
	})
}

// Resend brings a dead record back to the queue, due now, with a fresh
// count of attempts; the operator's reason goes into its history.
func (s *Store) Resend(id, reason string) (*Record, error) {
	now := s.opts.Now()
	var rec *Record
	err := s.write(func(tx *bolt.Tx, d delta) error {
		r, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if r.State != Dead {
			return fmt.Errorf("%w: %s is %s, only dead records are resent", ErrState, id, r.State)
		}
		rec = r
		return transition(tx, r, d, now, Ready, "resend: "+reason, func(r *Record) {
			r.Attempts = 0
			r.NextAttempt = now
			r.Created = now // the age limit counts from the resend
		})
	})
	return rec, err
}

// UpdateRecipient records the business state a recipient reported, in any
// state of the record, replacing that recipient's previous entry when
// replaces (nil: always) says so of it. The test runs in the same
// transaction, so two reports racing each other cannot both pass it
// against the same old entry. applied is false when the entry was kept.
func (s *Store) UpdateRecipient(id string, rc Recipient, replaces func(current Recipient) bool) (rec *Record, applied bool, err error) {
	err = s.write(func(tx *bolt.Tx, d delta) error {
		rec, applied, err = updateRecipient(tx, id, rc, replaces)
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
	err = s.write(func(tx *bolt.Tx, d delta) error {
		// Every check before any change: a refused write (a lost lease, a
		// record gone) leaves the batch it shares a commit with, not half
		// of itself.
		r, err := leased(tx, doneID, lease)
		if err != nil {
			return err
		}
		// updateRecipient reads record id before it changes anything.
		if rec, applied, err = updateRecipient(tx, id, rc, replaces); err != nil {
			return err
		}
		if err := finish(tx, r, d, now, meta); err != nil {
			return err
		}
		if !leaseNext {
			return nil
		}
		next, err = s.lease(tx, d, now, r.Dir, 0)
		if errors.Is(err, ErrEmpty) {
			next, err = nil, nil
		}
		return err
	})
	return rec, applied, next, err
}

func updateRecipient(tx *bolt.Tx, id string, rc Recipient, replaces func(current Recipient) bool) (*Record, bool, error) {
	r, err := getRecord(tx, id)
	if err != nil {
		return nil, false, err
	}
	i := slices.IndexFunc(r.Recipients, func(c Recipient) bool { return c.OrganID == rc.OrganID })
	switch {
	case i < 0:
		r.Recipients = append(r.Recipients, rc)
	case replaces == nil || replaces(r.Recipients[i]):
		r.Recipients[i] = rc
	default:
		return r, false, nil
	}
	return r, true, putRecord(tx, r)
}

// SetMeta merges meta into a record's metadata in any state.
func (s *Store) SetMeta(id string, meta map[string]string) (*Record, error) {
	var rec *Record
	err := s.write(func(tx *bolt.Tx, d delta) error {
		r, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		r.Meta = merge(r.Meta, meta)
		rec = r
		return putRecord(tx, r)
	})
	return rec, err
}

// Claim gives a stored record a further unique key of its direction, for
// facts learnt only after the payload was stored (e.g. the sender's
// DocumentId of a fetched package). It returns the id of the record that
// holds the key: id itself, or the earlier record that claimed it first.
func (s *Store) Claim(id, key string) (owner string, err error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty key", ErrInvalid)
	}
	err = s.write(func(tx *bolt.Tx, d delta) error {
		r, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		keys := tx.Bucket(bucketKeys)
		if held := keys.Get(keysKey(r.Dir, key)); held != nil {
			owner = string(held)
			return nil
		}
		owner = id
		r.Aliases = append(r.Aliases, key)
		if err := keys.Put(keysKey(r.Dir, key), []byte(id)); err != nil {
			return err
		}
		return putRecord(tx, r)
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
func (s *Store) Get(id string) (*Record, error) {
	var rec *Record
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		rec, err = getRecord(tx, id)
		return err
	})
	return rec, err
}

// GetByKey returns the record holding an idempotency key.
func (s *Store) GetByKey(dir Direction, key string) (*Record, error) {
	var rec *Record
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		id := tx.Bucket(bucketKeys).Get(keysKey(dir, key))
		if id == nil {
			return fmt.Errorf("%w: key %q", ErrNotFound, key)
		}
		rec, err = getRecord(tx, string(id))
		return err
	})
	return rec, err
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
	Dir   Direction
	State State
	Limit int // zero means 100
}

// List returns records matching f, oldest first within each state.
func (s *Store) List(f Filter) ([]*Record, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []*Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachInState(tx, f.Dir, f.State, func(id string) (bool, error) {
			r, err := getRecord(tx, id)
			if err != nil {
				return false, err
			}
			out = append(out, r)
			return len(out) < f.Limit, nil
		})
	})
	return out, err
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
