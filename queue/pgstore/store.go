// Package pgstore is the store contract (queue.Store) on PostgreSQL, for
// several daemons sharing one database: a lease is taken with FOR UPDATE
// SKIP LOCKED, most urgent first across every node; every lease carries
// its owner and a fencing token that finishing it must name; payloads
// live in the database in chunks, streamed in and out.
package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"lienthong/queue"
)

// Options configure a Store. The zero value of each field is its default.
type Options struct {
	// DSN is the database, as pgx reads it (URL or key=value).
	DSN string
	// MaxConns bounds the pool (default 8).
	MaxConns int32
	// StatementTimeout bounds every statement (default 30 s).
	StatementTimeout time.Duration
	// Now is the clock of leases, due times and history (default
	// DatabaseNow).
	Now func() time.Time
	// HostClock is this host's clock, measured against the database's
	// (default time.Now).
	HostClock func() time.Time
	// LeaseTime is how long a lease lasts (default 5 minutes).
	LeaseTime time.Duration
	// Owner names this node's leases (default the host name).
	Owner string
	// Scratch is a local folder for payloads being written, before they
	// go into the database (default the system's temporary folder).
	Scratch string
	// NoMigrate refuses a database whose schema is not this build's
	// instead of migrating it: for tools beside running daemons.
	NoMigrate bool
}

// Store is queue.Store on PostgreSQL.
type Store struct {
	pool    *pgxpool.Pool
	opts    Options
	flushes atomic.Uint64
	offset  atomic.Int64 // the database's clock ahead of this host's, ns

	subs queue.Subscribers
	// enter makes the log lines of a commit's events (queue.Ledger).
	enter func([]queue.Event) [][]byte
	// report makes a record's report row (queue.Reporter).
	report func(*queue.Record) []byte

	subMu      sync.Mutex
	onPut      []func(queue.Direction)
	follow     []func([]*queue.Record, bool)
	listenOnce sync.Once
	wake       chan struct{} // the follower's
	resync     atomic.Bool   // the follower reads everything again
	// from is where the follower starts: the inbound log as it stood
	// when the store opened, before the node read its inbox.
	from followStart
	// self marks this store's own puts in their notifications: a node
	// woke its workers at the put already, and is not told again.
	self string
	// sweepAfter is when a lease may next look for expired leases, in
	// the store's clock (Unix ns): once a second is enough, leases
	// lasting ten seconds or more.
	sweepAfter atomic.Int64
	// ctx ends at Close, stopping the listener.
	ctx    context.Context
	cancel context.CancelFunc
}

var _ queue.Store = (*Store)(nil)

// chunk is the size of a payload's pieces in the database.
const chunk = 1 << 20

// Open connects, and creates or migrates the schema, so a node that
// opened can work.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 30 * time.Second
	}
	if o.HostClock == nil {
		o.HostClock = time.Now
	}
	if o.LeaseTime <= 0 {
		o.LeaseTime = 5 * time.Minute
	}
	if o.Owner == "" {
		o.Owner, _ = os.Hostname()
	}
	if o.Scratch == "" {
		o.Scratch = os.TempDir()
	}
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("store.dsn: %w", err)
	}
	cfg.MaxConns = o.MaxConns
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	cfg.ConnConfig.RuntimeParams["application_name"] = "lienthongd"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	s := &Store{pool: pool, opts: o, wake: make(chan struct{}, 1), self: rand.Text()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	migrate := s.migrate
	if o.NoMigrate {
		migrate = s.expectSchema
	}
	if o.Now == nil {
		s.opts.Now = s.DatabaseNow
	}
	if err := migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.measureClock(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if s.from, err = s.followPosition(ctx); err != nil {
		pool.Close()
		return nil, unavailable(err)
	}
	go s.clockLoop()
	return s, nil
}

// Close releases the pool.
func (s *Store) Close() error {
	s.cancel()
	s.pool.Close()
	return nil
}

// Flushes counts the commits made.
func (s *Store) Flushes() uint64 { return s.flushes.Load() }

// Subscribe hears the events of this node's commits once they are
// durable.
func (s *Store) Subscribe(fn func([]queue.Event)) { s.subs.Subscribe(fn) }

// Update runs fn in a transaction: all it did and emitted commits, or, on
// an error, nothing.
func (s *Store) Update(ctx context.Context, fn func(queue.Tx) error) error {
	var events []queue.Event
	wrote := false
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(ptx pgx.Tx) error {
		t := &tx{s: s, ctx: ctx, tx: ptx}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.storeEvents(); err != nil {
			return err
		}
		if err := t.logInbound(); err != nil {
			return err
		}
		events, wrote = t.events, t.wrote || len(t.events) > 0
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	if wrote {
		s.flushes.Add(1) // a commit that wrote nothing flushes nothing
	}
	s.subs.Publish(events)
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(queue.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(ptx pgx.Tx) error {
		return fn(&tx{s: s, ctx: ctx, tx: ptx, ro: true})
	})
	return unavailable(err)
}

// unavailable marks the errors of a database that cannot be reached
// (queue.ErrUnavailable), so the engine answers "try again";
// every other error, the contract's or the caller's, passes unchanged.
func unavailable(err error) error {
	var ce *pgconn.ConnectError
	var ne net.Error
	if err != nil && (errors.As(err, &ce) || errors.As(err, &ne)) {
		return fmt.Errorf("%w: the database: %w", queue.ErrUnavailable, err)
	}
	return err
}
