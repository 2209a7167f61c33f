package pgstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

// The nodes on one database tell each other of new work and of changed
// inbound records with NOTIFY, sent in the commit that makes them, so it
// is heard only if that commit is.

const (
	putChannel    = "lienthong_put"
	changeChannel = "lienthong_inbound"
)

var (
	_ queue.Notifier = (*Store)(nil)
	_ queue.Follower = (*Store)(nil)
)

// OnPut calls fn whenever another node commits a new record.
func (s *Store) OnPut(fn func(queue.Direction)) {
	s.subMu.Lock()
	s.onPut = append(s.onPut, fn)
	s.subMu.Unlock()
	s.startListening()
}

// FollowInbound calls fn with the inbound records every node changes.
func (s *Store) FollowInbound(fn func([]*queue.Record, bool)) {
	s.subMu.Lock()
	s.follow = append(s.follow, fn)
	start := len(s.follow) == 1
	s.subMu.Unlock()
	if start {
		go s.followLoop()
	}
	s.startListening()
}

func (s *Store) startListening() {
	s.listenOnce.Do(func() { go s.listen() })
}

// listen holds a connection listening on the channels, taken again after
// a failure, until the store closes.
func (s *Store) listen() {
	for s.ctx.Err() == nil {
		err := s.listenConn()
		if s.ctx.Err() != nil {
			return
		}
		_ = err // the loop retries; a missed wake costs a poll interval, nothing more
		s.kick(true)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenConn() error {
	conn, err := s.pool.Acquire(s.ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(s.ctx, "LISTEN "+putChannel+"; LISTEN "+changeChannel); err != nil {
		conn.Conn().Close(context.Background())
		return err
	}
	for {
		n, err := conn.Conn().WaitForNotification(s.ctx)
		if err != nil {
			conn.Conn().Close(context.Background()) // not back to the pool still listening
			return err
		}
		if n.Channel == changeChannel {
			s.kick(false)
			continue
		}
		dir, from, _ := strings.Cut(n.Payload, " ")
		if from == s.self {
			continue // this node's own put, which woke its workers already
		}
		s.subMu.Lock()
		fns := s.onPut
		s.subMu.Unlock()
		for _, fn := range fns {
			fn(queue.Direction(dir))
		}
	}
}

// kick wakes the follower; all asks it to read everything again.
func (s *Store) kick(all bool) {
	if all {
		s.resync.Store(true)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// notify tells the other nodes, at commit, of what tx did.
func notify(ctx context.Context, tx pgx.Tx, channel, payload string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return err
}

// followPoll is how often the follower reads without a wake: what a lost
// notification costs at most.
const followPoll = 2 * time.Second

// gapLife is how long a number skipped in the log is looked for again: a
// transaction that took it may still commit; one that rolled back never
// will. Rows are only added, so the numbers skipped are those of the
// commits in flight and rolled back, a handful.
const gapLife = time.Minute

// followLoop reads the inbound records changed since the last change it
// saw and hands them to the followers. Numbers are taken before commit,
// so a later number can commit first: the ones skipped are asked for again
// until they turn up or gapLife passes.
func (s *Store) followLoop() {
	last, gaps := s.from.last, s.from.gaps
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		if s.resync.Swap(false) {
			from, err := s.followPosition(s.ctx)
			if err != nil {
				s.resync.Store(true)
				continue
			}
			last, gaps = from.last, from.gaps
			s.hand(nil, true)
		}
		for {
			recs, more, err := s.changedSince(&last, gaps)
			if err != nil {
				s.resync.Store(true)
				break
			}
			if len(recs) > 0 {
				s.hand(recs, false)
			}
			if !more {
				break
			}
		}
	}
}

// followStart is a position in the inbound log: the newest number
// committed, and the numbers under it not committed yet.
type followStart struct {
	last int64
	gaps map[int64]time.Time
}

// inFlightWindow is how far under the newest number a commit may still be
// in flight: numbers are taken before commit, so one can land under the
// newest after it was read. A few hundred at most are in flight at once.
const inFlightWindow = 1000

// followPosition reads where a follower starts, taken before the records
// it then reads in full: every change committed after this is handed on,
// those in flight under the newest number included.
func (s *Store) followPosition(ctx context.Context) (followStart, error) {
	from := followStart{gaps: map[int64]time.Time{}}
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM lienthong_inbound_changes`).Scan(&from.last); err != nil {
		return from, err
	}
	rows, err := s.pool.Query(ctx, `SELECT n FROM generate_series(greatest($1::bigint - $2, 1), $1::bigint) n
		WHERE NOT EXISTS (SELECT 1 FROM lienthong_inbound_changes c WHERE c.seq = n)`, from.last, inFlightWindow)
	if err != nil {
		return from, err
	}
	now := time.Now()
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return from, err
		}
		from.gaps[n] = now
	}
	rows.Close()
	return from, rows.Err()
}

func (s *Store) hand(recs []*queue.Record, all bool) {
	s.subMu.Lock()
	fns := s.follow
	s.subMu.Unlock()
	for _, fn := range fns {
		fn(recs, all)
	}
}

// changedSince reads a page of the inbound records changed after *last or
// under a number in gaps, moving *last and the gaps on.
func (s *Store) changedSince(last *int64, gaps map[int64]time.Time) ([]*queue.Record, bool, error) {
	const page = 500
	now := time.Now()
	wanted := make([]int64, 0, len(gaps))
	for n, at := range gaps {
		if now.Sub(at) > gapLife {
			delete(gaps, n)
			continue
		}
		wanted = append(wanted, n)
	}
	rows, err := s.pool.Query(s.ctx, `SELECT c.seq, r.doc FROM lienthong_inbound_changes c LEFT JOIN lienthong_records r ON r.id = c.record
		WHERE c.seq > $1 OR c.seq = ANY($2) ORDER BY c.seq LIMIT $3`, *last, wanted, page)
	if err != nil {
		return nil, false, err
	}
	var recs []*queue.Record
	n := 0
	for rows.Next() {
		var changed int64
		var doc []byte
		if err := rows.Scan(&changed, &doc); err != nil {
			rows.Close()
			return nil, false, err
		}
		n++
		if doc != nil { // not purged since
			r := &queue.Record{}
			if err := json.Unmarshal(doc, r); err != nil {
				rows.Close()
				return nil, false, err
			}
			recs = append(recs, r)
		}
		if _, ok := gaps[changed]; ok {
			delete(gaps, changed)
			continue
		}
		if changed > *last {
			for k := *last + 1; k < changed && len(gaps) < 10000; k++ {
				gaps[k] = now
			}
			*last = changed
		}
	}
	rows.Close()
	return recs, n == page, rows.Err()
}

var _ queue.Locker = (*Store)(nil)

// TryLock takes a session advisory lock on a connection of its own, held
// until unlock; a node that dies drops its connection and its locks.
func (s *Store) TryLock(ctx context.Context, name string) (func(), bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, unavailable(err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, "lienthong:"+name).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, unavailable(err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, "lienthong:"+name); err != nil {
			conn.Conn().Close(ctx) // closing the session drops its locks
		}
		conn.Release()
	}, true, nil
}
