package queue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Ledger is a store that keeps an append-only log beside its records,
// the evidence of what crossed the boundary. The lines a commit's events
// make are written in that commit, pending; one sealer at a time then
// gives them their place in the log, with the hashes of a tree over it.
// Nothing in the log is ever rewritten or purged.
type Ledger interface {
	// Enter sets fn to make, from the events of each commit, the lines
	// that commit adds to the log. A store that commits one writer at a
	// time seals them in that commit with seal, costing no write of its
	// own; others keep them pending for Seal. It is set once, before the
	// first Update.
	Enter(fn func(evs []Event) [][]byte, seal SealFunc)
	// Seal moves up to max pending lines, oldest first, into the log, in
	// one transaction no other Seal runs beside, and reports how many.
	Seal(ctx context.Context, max int, fn SealFunc) (int, error)
	// LogSize is the number of entries and of hashes sealed.
	LogSize(ctx context.Context) (entries, hashes int64, err error)
	// LogEntries reads at most n entries from index from.
	LogEntries(ctx context.Context, from int64, n int) ([][]byte, error)
	// LogHashes reads stored hashes by their index.
	LogHashes(ctx context.Context, indexes []int64) ([][32]byte, error)
	// Pending is the number of lines waiting for their seal.
	Pending(ctx context.Context) (int64, error)
	// AddCheckpoint stores a signed checkpoint; one of the same size
	// already stored is kept.
	AddCheckpoint(ctx context.Context, c Checkpoint) error
	// StampCheckpoint adds a time-stamping authority's token to the
	// checkpoint of a size.
	StampCheckpoint(ctx context.Context, size int64, token []byte) error
	// Checkpoints reads at most n checkpoints of size at least from,
	// smallest first.
	Checkpoints(ctx context.Context, from int64, n int) ([]Checkpoint, error)
	// LastCheckpoint is the largest checkpoint; ok is false when none
	// was taken.
	LastCheckpoint(ctx context.Context) (c Checkpoint, ok bool, err error)
}

// SealFunc turns pending lines into the next entries of the log: it gets
// the log's size, the lines, and a reader of the hashes stored so far, and
// returns the entries and the hashes to append after the stored ones.
type SealFunc func(size int64, pending [][]byte, hashes func([]int64) ([][32]byte, error)) (entries [][]byte, stored [][32]byte, err error)

// Checkpoint is a signed statement of the log's tree at a size.
type Checkpoint struct {
	Size int64     `json:"size"`
	At   time.Time `json:"at"`
	// Note is the signed note of the checkpoint.
	Note []byte `json:"note"`
	// Timestamp is a time-stamping authority's token over the note, when
	// one was asked for and came.
	Timestamp []byte `json:"timestamp,omitempty"`
}

// ErrLogDamaged is a log whose stored parts disagree.
var ErrLogDamaged = errors.New("evidence log damaged")

var (
	bucketLogPending     = []byte("log.pending")     // sequence → line
	bucketLogEntries     = []byte("log.entries")     // index → entry
	bucketLogHashes      = []byte("log.hashes")      // index → hash
	bucketLogCheckpoints = []byte("log.checkpoints") // size → Checkpoint JSON
)

var _ Ledger = (*Bolt)(nil)

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// Enter sets the maker of log lines and their sealer.
func (s *Bolt) Enter(fn func([]Event) [][]byte, seal SealFunc) { s.enter, s.seal = fn, seal }

// storeLines seals the lines of this commit's events in it: one writer
// at a time commits, so the log's order is the commits'. Lines wait
// pending behind older pending ones, or when sealing fails, which must
// never stop the exchange.
func (t *boltTx) storeLines() error {
	if t.s.enter == nil || len(t.events) == 0 {
		return nil
	}
	lines := t.s.enter(t.events)
	if len(lines) == 0 {
		return nil
	}
	b := t.tx.Bucket(bucketLogPending)
	if k, _ := b.Cursor().First(); k == nil && t.s.seal != nil {
		var clean cleanError
		if err := sealInto(t.tx, lines, t.s.seal); err == nil || !errors.As(err, &clean) {
			return err
		}
	}
	for _, l := range lines {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(u64(seq), l); err != nil {
			return err
		}
	}
	return nil
}

// Seal moves the lines left pending into the log; with none pending, as
// when every commit sealed its own, it writes nothing.
func (s *Bolt) Seal(ctx context.Context, max int, fn SealFunc) (int, error) {
	var any bool
	if err := s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketLogPending).Cursor().First()
		any = k != nil
		return nil
	}); err != nil || !any {
		return 0, err
	}
	var n int
	err := s.write(func(tx *bolt.Tx, _ delta) error {
		n = 0
		pb := tx.Bucket(bucketLogPending)
		var keys, lines [][]byte
		c := pb.Cursor()
		for k, v := c.First(); k != nil && len(lines) < max; k, v = c.Next() {
			keys, lines = append(keys, k), append(lines, v)
		}
		if len(lines) == 0 {
			return nil
		}
		if err := sealInto(tx, lines, fn); err != nil {
			return err
		}
		for _, k := range keys {
			if err := pb.Delete(k); err != nil {
				return dirtyError{err}
			}
		}
		n = len(lines)
		return nil
	})
	return n, err
}

// sealInto appends lines to the log as fn makes them entries, with their
// hashes, in tx.
func sealInto(tx *bolt.Tx, lines [][]byte, fn SealFunc) error {
	eb, hb := tx.Bucket(bucketLogEntries), tx.Bucket(bucketLogHashes)
	size, hashes := lastIndex(eb), lastIndex(hb)
	read := func(idx []int64) ([][32]byte, error) { return boltHashes(hb, idx) }
	entries, stored, err := fn(size, lines, read)
	if err != nil {
		return cleanError{err}
	}
	if len(entries) != len(lines) {
		return cleanError{fmt.Errorf("%w: %d entries sealed of %d lines", ErrLogDamaged, len(entries), len(lines))}
	}
	for i, e := range entries {
		if err := eb.Put(u64(uint64(size)+uint64(i)), e); err != nil {
			return dirtyError{err}
		}
	}
	for i, h := range stored {
		if err := hb.Put(u64(uint64(hashes)+uint64(i)), h[:]); err != nil {
			return dirtyError{err}
		}
	}
	return nil
}

func boltHashes(b *bolt.Bucket, idx []int64) ([][32]byte, error) {
	out := make([][32]byte, len(idx))
	for i, x := range idx {
		v := b.Get(u64(uint64(x)))
		if len(v) != 32 {
			return nil, fmt.Errorf("%w: no stored hash %d", ErrLogDamaged, x)
		}
		copy(out[i][:], v)
	}
	return out, nil
}

// LogSize counts the sealed entries and hashes.
func (s *Bolt) LogSize(ctx context.Context) (entries, hashes int64, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		entries, hashes = lastIndex(tx.Bucket(bucketLogEntries)), lastIndex(tx.Bucket(bucketLogHashes))
		return nil
	})
	return entries, hashes, err
}

// lastIndex is one past the last key of a bucket keyed by index.
func lastIndex(b *bolt.Bucket) int64 {
	k, _ := b.Cursor().Last()
	if k == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k)) + 1
}

// LogEntries reads sealed entries.
func (s *Bolt) LogEntries(ctx context.Context, from int64, n int) ([][]byte, error) {
	var out [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLogEntries).Cursor()
		for k, v := c.Seek(u64(uint64(from))); k != nil && len(out) < n; k, v = c.Next() {
			out = append(out, append([]byte(nil), v...))
		}
		return nil
	})
	return out, err
}

// LogHashes reads stored hashes.
func (s *Bolt) LogHashes(ctx context.Context, idx []int64) (out [][32]byte, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		out, err = boltHashes(tx.Bucket(bucketLogHashes), idx)
		return err
	})
	return out, err
}

// Pending counts the lines waiting for their seal.
func (s *Bolt) Pending(ctx context.Context) (n int64, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		n = int64(tx.Bucket(bucketLogPending).Stats().KeyN)
		return nil
	})
	return n, err
}

// AddCheckpoint stores a checkpoint.
func (s *Bolt) AddCheckpoint(ctx context.Context, c Checkpoint) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.write(func(tx *bolt.Tx, _ delta) error {
		b := tx.Bucket(bucketLogCheckpoints)
		if b.Get(u64(uint64(c.Size))) != nil {
			return nil
		}
		return b.Put(u64(uint64(c.Size)), v)
	})
}

// StampCheckpoint adds a timestamp token to a stored checkpoint.
func (s *Bolt) StampCheckpoint(ctx context.Context, size int64, token []byte) error {
	return s.write(func(tx *bolt.Tx, _ delta) error {
		b := tx.Bucket(bucketLogCheckpoints)
		v := b.Get(u64(uint64(size)))
		if v == nil {
			return cleanError{fmt.Errorf("%w: no checkpoint of size %d", ErrNotFound, size)}
		}
		var c Checkpoint
		if err := json.Unmarshal(v, &c); err != nil {
			return cleanError{fmt.Errorf("%w: checkpoint %d: %v", ErrLogDamaged, size, err)}
		}
		c.Timestamp = token
		v, err := json.Marshal(c)
		if err != nil {
			return cleanError{err}
		}
		return b.Put(u64(uint64(size)), v)
	})
}

// Checkpoints reads checkpoints by size.
func (s *Bolt) Checkpoints(ctx context.Context, from int64, n int) ([]Checkpoint, error) {
	var out []Checkpoint
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLogCheckpoints).Cursor()
		for k, v := c.Seek(u64(uint64(from))); k != nil && len(out) < n; k, v = c.Next() {
			var cp Checkpoint
			if err := json.Unmarshal(v, &cp); err != nil {
				return fmt.Errorf("%w: checkpoint %x: %v", ErrLogDamaged, k, err)
			}
			out = append(out, cp)
		}
		return nil
	})
	return out, err
}

// LastCheckpoint reads the largest checkpoint.
func (s *Bolt) LastCheckpoint(ctx context.Context) (cp Checkpoint, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketLogCheckpoints).Cursor().Last()
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &cp)
	})
	return cp, ok, err
}
