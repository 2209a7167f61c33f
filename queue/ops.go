package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Item is what Put stores.
type Item struct {
	Dir      Direction
	Key      string // idempotency key; a second Put with it returns the first record
	Priority int    // 0-4
	Group    string // see Record.Group
	// NotBefore holds the record until then (Hỏa tốc hẹn giờ).
	NotBefore time.Time
	Meta      map[string]string
	Payload   []byte
	// Body, instead of Payload, is a payload written through NewPayload:
	// a large one is never held whole in memory. Stage takes it over.
	Body PayloadWriter
	// file is a file holding the payload on the store's file system,
	// moved into the blob folder; Put takes it over.
	file string

	staged *staged // set by Stage
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

// MarkStaged is how another store's Stage says the item's payload is
// stored already, under its hash and size: Put then only names it.
func (it *Item) MarkStaged(sum string, size int64) {
	it.Payload, it.Body, it.file = nil, nil, ""
	it.staged = &staged{sum: sum, size: size}
}

// Staged is the hash and size of the payload Stage stored; ok is false
// when the item was not staged.
func (it *Item) Staged() (sum string, size int64, ok bool) {
	if it.staged == nil {
		return "", 0, false
	}
	return it.staged.sum, it.staged.size, true
}

// Check refuses an item no store can hold, naming the rule.
func (it *Item) Check() error { return it.check() }

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
// made durable as its blob file, a Body is taken over. The Update that
// puts the item must come before release is called.
func (s *Bolt) Stage(ctx context.Context, it *Item) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if it.Body != nil {
		p, ok := it.Body.(*FilePayload)
		if !ok {
			return nil, fmt.Errorf("%w: the body of %s was not made by this store", ErrInvalid, it.Key)
		}
		if err := p.f.Close(); err != nil {
			os.Remove(p.f.Name())
			return nil, fmt.Errorf("put %s: %w", it.Key, err)
		}
		it.file, it.Body = p.f.Name(), nil
	}
	if err := it.check(); err != nil {
		return nil, err
	}
	if it.file != "" {
		defer os.Remove(it.file) // gone after the move; a leftover on failure
		if fi, err := os.Stat(it.file); err == nil && (s.opts.BlobThreshold < 0 || fi.Size() < s.opts.BlobThreshold) {
			// Small enough to keep inside the store, as a Payload would be.
			b, err := os.ReadFile(it.file)
			if err != nil {
				return nil, fmt.Errorf("put %s: %w", it.Key, err)
			}
			it.file, it.Payload = "", b
		}
	}
	var p *staged
	if it.file != "" {
		sum, size, err := hashFile(it.file)
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
		if it.file != "" {
			err = s.moveBlob(p.sum, it.file)
		} else {
			err = s.writeBlob(p.sum, it.Payload)
		}
		if err != nil {
			release()
			return nil, err
		}
	}
	it.file, it.staged = "", p
	return release, nil
}

// NewPayload starts a payload as a file in the store's temporary folder,
// on the file system of its blobs, so a Stage moves it into place.
func (s *Bolt) NewPayload(ctx context.Context) (PayloadWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return NewFilePayload(s.TempDir())
}

// FilePayload is a payload being written to a local file, as every store
// takes a large one before it holds it: never whole in memory.
type FilePayload struct {
	f *os.File
	n int64
}

// NewFilePayload starts a payload in a new file in dir.
func NewFilePayload(dir string) (*FilePayload, error) {
	f, err := os.CreateTemp(dir, "payload-*")
	if err != nil {
		return nil, fmt.Errorf("new payload: %w", err)
	}
	return &FilePayload{f: f}, nil
}

// File is the file written, for the store taking the payload over.
func (p *FilePayload) File() *os.File { return p.f }

func (p *FilePayload) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.n += int64(n)
	return n, err
}

// ReadAt reads back what was written.
func (p *FilePayload) ReadAt(b []byte, off int64) (int, error) { return p.f.ReadAt(b, off) }

// Size is how many bytes were written.
func (p *FilePayload) Size() int64 { return p.n }

// Abort discards the payload.
func (p *FilePayload) Abort() error {
	p.f.Close()
	return os.Remove(p.f.Name())
}

// Put stores an item durably and returns its record. A Put whose key the
// store already holds for the direction stores nothing and returns the
// existing record with existed set.
func (s *Bolt) Put(it Item) (rec *Record, existed bool, err error) {
	release, err := s.Stage(context.Background(), &it)
	if err != nil {
		return nil, false, err
	}
	defer release()
	err = s.Update(context.Background(), func(tx Tx) error {
		rec, existed, err = tx.Put(it)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return rec, existed, nil
}

// update runs fn in an Update and returns its record.
func (s *Bolt) update(fn func(tx Tx) (*Record, error)) (rec *Record, err error) {
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
func (s *Bolt) Lease(now time.Time, dir Direction, minPriority int) (*Record, error) {
	return Lease(context.Background(), s, now, dir, minPriority)
}

// AnyDue reports, in a read transaction, whether Lease could hand out or
// expire anything, so an idle worker asks without a write.
func (s *Bolt) AnyDue(ctx context.Context, now time.Time, dir Direction, minPriority int) bool {
	due := false
	_ = s.view(func(tx *bolt.Tx) error {
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

// Done finishes a leased record, merging meta into its metadata (e.g. the
// axis's id for the sent package).
func (s *Bolt) Done(now time.Time, id string, lease uint64, meta map[string]string) (*Record, error) {
	return s.update(func(tx Tx) (*Record, error) { return tx.Finish(now, id, lease, meta) })
}

// Dead gives up on a leased record for a reason that retrying cannot fix.
func (s *Bolt) Dead(now time.Time, id string, lease uint64, reason string) (*Record, error) {
	return s.update(func(tx Tx) (*Record, error) { return tx.Kill(now, id, lease, reason) })
}

// Resend brings a dead record back to the queue, due now, with a fresh
// count of attempts; the operator's reason goes into its history.
func (s *Bolt) Resend(id, reason string) (*Record, error) {
	now := s.opts.Now()
	return s.update(func(tx Tx) (*Record, error) { return tx.Resend(now, id, reason) })
}

// SetMeta merges meta into a record's metadata in any state.
func (s *Bolt) SetMeta(id string, meta map[string]string) (*Record, error) {
	return SetMeta(context.Background(), s, id, meta)
}

// Claim gives a stored record a further unique key of its direction, for
// facts learnt only after the payload was stored (e.g. the sender's
// DocumentId of a fetched package). It returns the id of the record that
// holds the key: id itself, or the earlier record that claimed it first.
func (s *Bolt) Claim(id, key string) (owner string, err error) {
	return Claim(context.Background(), s, id, key)
}

// MergeMap sets src's keys in dst, making dst when it is nil: how every
// store merges metadata.
func MergeMap(dst, src map[string]string) map[string]string { return merge(dst, src) }

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
func (s *Bolt) Get(id string) (*Record, error) { return Get(context.Background(), s, id) }

// GetByKey returns the record holding an idempotency key.
func (s *Bolt) GetByKey(dir Direction, key string) (*Record, error) {
	return GetByKey(context.Background(), s, dir, key)
}

// Events returns a record's history, oldest first.
func (s *Bolt) Events(id string) ([]Event, error) { return Events(context.Background(), s, id) }

// Payload returns a copy of a record's payload bytes, checked against the
// hash taken when it was stored.
func (s *Bolt) Payload(r *Record) ([]byte, error) {
	var data []byte
	if r.Blob {
		b, err := os.ReadFile(s.blobPath(r.SHA256))
		if err != nil {
			return nil, fmt.Errorf("payload of %s: %w", r.ID, err)
		}
		data = b
	} else {
		err := s.view(func(tx *bolt.Tx) error {
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
		return nil, fmt.Errorf("%w: payload of %s does not match its hash %s", ErrAltered, r.ID, r.SHA256)
	}
	return data, nil
}

// PayloadPath is the file holding a record's payload, checked against its
// hash by a streaming read, for sending a large payload without holding
// it; "" for a payload kept inside the store, which Payload reads.
func (s *Bolt) PayloadPath(r *Record) (string, error) {
	if !r.Blob {
		return "", nil
	}
	p := s.blobPath(r.SHA256)
	sum, _, err := hashFile(p)
	if err != nil {
		return "", fmt.Errorf("payload of %s: %w", r.ID, err)
	}
	if sum != r.SHA256 {
		return "", fmt.Errorf("%w: payload of %s does not match its hash %s", ErrAltered, r.ID, r.SHA256)
	}
	return p, nil
}

// OpenPayload reads a record's payload, checked against its hash, from its
// blob file when it has one: a large payload is never held whole. What it
// returns can also be read by offset (io.ReaderAt): an *os.File, or a
// reader over the payload kept inside the store, with its Size.
func (s *Bolt) OpenPayload(ctx context.Context, r *Record) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := s.PayloadPath(r)
	if err != nil {
		return nil, err
	}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return filePayload{f, r.Size}, nil
	}
	b, err := s.Payload(r)
	if err != nil {
		return nil, err
	}
	return memPayload{bytes.NewReader(b)}, nil
}

// filePayload is a payload kept in its blob file, opened.
type filePayload struct {
	*os.File
	size int64
}

// Size is the payload's length, for reading it by offset.
func (p filePayload) Size() int64 { return p.size }

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
func (s *Bolt) List(f Filter) ([]*Record, string, error) { return List(context.Background(), s, f) }

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
func (s *Bolt) NextDue(ctx context.Context, dir Direction) (at time.Time, ok bool) {
	_ = s.view(func(tx *bolt.Tx) error {
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

// Purge deletes records of a final state (Done or Dead) last changed
// before cutoff, with their payloads, keys and events, and returns how
// many went. Dead records wait for an operator; purge them apart.
func (s *Bolt) Purge(ctx context.Context, state State, cutoff time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if state != Done && state != Dead {
		return 0, fmt.Errorf("%w: only done or dead records are purged, not %s", ErrInvalid, state)
	}
	return s.purge(state, cutoff)
}

func (s *Bolt) purge(state State, cutoff time.Time) (int, error) {
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
