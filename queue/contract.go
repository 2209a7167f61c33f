package queue

import (
	"context"
	"errors"
	"io"
	"time"
)

// Store is the contract of the durable store: what the engine needs of
// any implementation, bbolt on one node or a database shared by several.
// Work is done in transactions of the Tx primitives; everything else here
// reads, stages payloads, or keeps the store.
type Store interface {
	// Update runs fn in a transaction that is durable when it returns
	// nil and has changed nothing when it returns an error.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn on a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// NewPayload starts a payload too large to hold in memory, for an
	// Item's Body: written, and read back if need be, before its record
	// is put.
	NewPayload(ctx context.Context) (PayloadWriter, error)
	// Stage makes an item's payload ready for a Put, outside any
	// transaction; release is called after the Update that puts it.
	Stage(ctx context.Context, it *Item) (release func(), err error)
	// OpenPayload reads a record's payload, checked against its hash;
	// what it returns is also an io.ReaderAt with a Size.
	OpenPayload(ctx context.Context, r *Record) (io.ReadCloser, error)
	// AnyDue reports, without a write, whether a Lease could hand out
	// a record or expire a lease; a store whose empty lease costs no
	// write may always say yes.
	AnyDue(ctx context.Context, now time.Time, dir Direction, minPriority int) bool
	// NextDue is when the earliest ready record of a direction is due.
	NextDue(ctx context.Context, dir Direction) (time.Time, bool)
	// Purge deletes records of a final state (Done or Dead) last changed
	// before cutoff, with their payloads, keys and events.
	Purge(ctx context.Context, state State, cutoff time.Time) (int, error)
	// Subscribe hears the events of every commit once it is durable.
	Subscribe(fn func([]Event))
	// Stats counts records by direction, state and priority.
	Stats() []GroupStats
	// Groups counts the records of a direction in a state by their
	// group, with the oldest of each, from counts kept with the records.
	Groups(ctx context.Context, dir Direction, st State) ([]GroupStats, error)
	// Check verifies the store's invariants and reports what it found.
	Check() (Report, error)
	// Flushes counts the writes made durable since the store opened.
	Flushes() uint64
	// Close waits for pending writes and releases the store.
	Close() error
}

var _ Store = (*Bolt)(nil)

// PayloadWriter is a payload being written for a record not stored yet.
// Until an Item's Body hands it to a Put, or after Abort, the store keeps
// nothing of it.
type PayloadWriter interface {
	io.Writer
	// ReadAt reads back what was written, e.g. to verify it first.
	io.ReaderAt
	// Size is how many bytes were written.
	Size() int64
	// Abort discards the payload.
	Abort() error
}

// Get returns a record by id.
func Get(ctx context.Context, s Store, id string) (rec *Record, err error) {
	err = s.View(ctx, func(tx Tx) error {
		rec, err = tx.Get(id)
		return err
	})
	return rec, err
}

// GetByKey returns the record holding an idempotency key or alias.
func GetByKey(ctx context.Context, s Store, dir Direction, key string) (rec *Record, err error) {
	err = s.View(ctx, func(tx Tx) error {
		rec, err = tx.GetByKey(dir, key)
		return err
	})
	return rec, err
}

// Events returns a record's history, oldest first.
func Events(ctx context.Context, s Store, id string) (evs []Event, err error) {
	err = s.View(ctx, func(tx Tx) error {
		evs, err = tx.Events(id)
		return err
	})
	return evs, err
}

// List returns a page of records, newest first, and the next cursor.
func List(ctx context.Context, s Store, f Filter) (recs []*Record, next string, err error) {
	err = s.View(ctx, func(tx Tx) error {
		recs, next, err = tx.List(f)
		return err
	})
	return recs, next, err
}

// Lease hands out the most urgent due record, with no write when none
// is due: an idle worker costs no flush. ErrEmpty means nothing is due.
func Lease(ctx context.Context, s Store, now time.Time, dir Direction, minPriority int) (rec *Record, err error) {
	if !s.AnyDue(ctx, now, dir, minPriority) {
		return nil, ErrEmpty
	}
	err = s.Update(ctx, func(tx Tx) error {
		rec, err = tx.Lease(now, dir, minPriority)
		return err
	})
	return rec, err
}

// LeaseNext is Lease in a transaction with nothing due being no error:
// the next record, or nil.
func LeaseNext(tx Tx, now time.Time, dir Direction, minPriority int) (*Record, error) {
	r, err := tx.Lease(now, dir, minPriority)
	if errors.Is(err, ErrEmpty) {
		return nil, nil
	}
	return r, err
}

// Claim gives a record a further unique key and returns the id of the
// record that holds it.
func Claim(ctx context.Context, s Store, id, key string) (owner string, err error) {
	err = s.Update(ctx, func(tx Tx) error {
		owner, err = tx.Claim(id, key)
		return err
	})
	return owner, err
}

// SetMeta merges meta into a record's metadata in any state.
func SetMeta(ctx context.Context, s Store, id string, meta map[string]string) (rec *Record, err error) {
	err = s.Update(ctx, func(tx Tx) error {
		rec, err = MergeMeta(tx, id, meta)
		return err
	})
	return rec, err
}

// MergeMeta is SetMeta in the transaction tx.
func MergeMeta(tx Tx, id string, meta map[string]string) (*Record, error) {
	return tx.Change(id, func(r *Record) error {
		r.Meta = merge(r.Meta, meta)
		return nil
	})
}

// Notifier is a store shared by several nodes that tells each when
// another put work: an idle worker wakes at once instead of at its next
// poll, so an urgent document waits for no poll interval on any node.
type Notifier interface {
	// OnPut calls fn, in a goroutine of the store's, after another node
	// committed a new record of a direction (a node's own puts wake its
	// workers where they are made).
	OnPut(fn func(Direction))
}

// Follower is a store shared by several nodes that tells each of the
// inbound records any node changed, so that every node shows the same
// inbox.
type Follower interface {
	// FollowInbound calls fn, in a goroutine of the store's, with the
	// inbound records changed since its last call, in the order of their
	// changes. all is set when some may have been missed (the database
	// was out of reach): fn then reads every record again.
	FollowInbound(fn func(changed []*Record, all bool))
}

// Locker is a store shared by several nodes that lends them named locks:
// work one node has begun (a package it is fetching) is left to it by the
// others. A lock is held until unlock, or until its node dies.
type Locker interface {
	// TryLock takes the lock name if no node holds it; ok reports
	// whether it did.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// Board is a store shared by several nodes that keeps small named
// documents for all of them: what one node made for the cluster, such as
// the agency directory it synced, the others read instead of making it
// again.
type Board interface {
	// Read returns the document name and when it was last written if
	// that was after since; ok is false when it was not, or there is none.
	Read(ctx context.Context, name string, since time.Time) (data []byte, at time.Time, ok bool, err error)
	// Modify replaces the document name with what fn makes of it (nil
	// when there is none), with no other node's Modify in between.
	Modify(ctx context.Context, name string, fn func(old []byte) ([]byte, error)) error
}
