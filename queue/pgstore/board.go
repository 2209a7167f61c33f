package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

var _ queue.Board = (*Store)(nil)

// Read returns a document of the board written after since.
func (s *Store) Read(ctx context.Context, name string, since time.Time) (data []byte, at time.Time, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT data, at FROM lienthong_board WHERE name = $1 AND at > $2 AND data <> ''`, name, since).Scan(&data, &at)
	if err == pgx.ErrNoRows {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, unavailable(err)
	}
	return data, at, true, nil
}

// Modify rewrites a document of the board under its row lock; the
// insert that may come first makes the row to lock.
func (s *Store) Modify(ctx context.Context, name string, fn func([]byte) ([]byte, error)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO lienthong_board (name, at, data) VALUES ($1, $2, '') ON CONFLICT DO NOTHING`, name, s.opts.Now()); err != nil {
			return err
		}
		var old []byte
		var at time.Time
		if err := tx.QueryRow(ctx, `SELECT data, at FROM lienthong_board WHERE name = $1 FOR UPDATE`, name).Scan(&old, &at); err != nil {
			return err
		}
		if len(old) == 0 {
			old = nil
		}
		data, err := fn(old)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE lienthong_board SET data = $2, at = $3 WHERE name = $1`, name, data, s.opts.Now())
		return err
	})
	if err == nil {
		s.flushes.Add(1)
	}
	return unavailable(err)
}
