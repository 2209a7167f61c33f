package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

// The nodes on one database tell each other of new work with NOTIFY, sent
// in the commit that puts a record, so it is heard only if that commit is.

const channel = "lienthong_put"

var _ queue.Notifier = (*Store)(nil)

// OnPut calls fn whenever any node commits a new record.
func (s *Store) OnPut(fn func(queue.Direction)) {
	s.subMu.Lock()
	s.onPut = append(s.onPut, fn)
	start := len(s.onPut) == 1
	s.subMu.Unlock()
	if start {
		go s.listen()
	}
}

// listen holds a connection listening on the channel, taken again after
// a failure, until the store closes.
func (s *Store) listen() {
	for s.ctx.Err() == nil {
		err := s.listenOnce()
		if s.ctx.Err() != nil {
			return
		}
		_ = err // the loop retries; a missed wake costs a poll interval, nothing more
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce() error {
	conn, err := s.pool.Acquire(s.ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(s.ctx, "LISTEN "+channel); err != nil {
		return err
	}
	for {
		n, err := conn.Conn().WaitForNotification(s.ctx)
		if err != nil {
			conn.Conn().Close(context.Background()) // not back to the pool still listening
			return err
		}
		s.subMu.Lock()
		fns := s.onPut
		s.subMu.Unlock()
		for _, fn := range fns {
			fn(queue.Direction(n.Payload))
		}
	}
}

// notifyPut tells the other nodes, at commit, of a record put in tx.
func notifyPut(ctx context.Context, tx pgx.Tx, dir queue.Direction) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, string(dir))
	return err
}
