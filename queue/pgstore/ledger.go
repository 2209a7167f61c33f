package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

var _ queue.Ledger = (*Store)(nil)

// Enter sets the maker of log lines; nodes commit side by side, so the
// lines wait pending for one sealer, and seal is not used here.
func (s *Store) Enter(fn func([]queue.Event) [][]byte, _ queue.SealFunc) { s.enter = fn }

// Seal holds the log's head row for its transaction: a second sealer on
// another node waits for it, then sees what it sealed.
func (s *Store) Seal(ctx context.Context, max int, fn queue.SealFunc) (int, error) {
	var any bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lienthong_log_pending)`).Scan(&any); err != nil || !any {
		return 0, unavailable(err)
	}
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		var size, hashes int64
		if err := tx.QueryRow(ctx, `SELECT entries, hashes FROM lienthong_log_head FOR UPDATE`).Scan(&size, &hashes); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, line FROM lienthong_log_pending ORDER BY id LIMIT $1`, max)
		if err != nil {
			return err
		}
		var ids []int64
		var lines [][]byte
		for rows.Next() {
			var id int64
			var l []byte
			if err := rows.Scan(&id, &l); err != nil {
				rows.Close()
				return err
			}
			ids, lines = append(ids, id), append(lines, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(lines) == 0 {
			return err
		}
		read := func(idx []int64) ([][32]byte, error) { return readHashes(ctx, tx, idx) }
		entries, stored, err := fn(size, lines, read)
		if err != nil {
			return err
		}
		hs := make([][]byte, len(stored))
		for i := range stored {
			hs[i] = stored[i][:]
		}
		if _, err := tx.Exec(ctx, `INSERT INTO lienthong_log_entries (idx, entry) SELECT $1 + n - 1, e FROM unnest($2::bytea[]) WITH ORDINALITY AS u(e, n)`, size, entries); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO lienthong_log_hashes (idx, hash) SELECT $1 + n - 1, h FROM unnest($2::bytea[]) WITH ORDINALITY AS u(h, n)`, hashes, hs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM lienthong_log_pending WHERE id = ANY($1)`, ids[:len(entries)]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE lienthong_log_head SET entries = $1, hashes = $2`, size+int64(len(entries)), hashes+int64(len(stored)))
		n = len(entries)
		return err
	})
	if err != nil {
		return 0, unavailable(err)
	}
	if n > 0 {
		s.flushes.Add(1)
	}
	return n, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func readHashes(ctx context.Context, q querier, idx []int64) ([][32]byte, error) {
	rows, err := q.Query(ctx, `SELECT idx, hash FROM lienthong_log_hashes WHERE idx = ANY($1)`, idx)
	if err != nil {
		return nil, unavailable(err)
	}
	got := make(map[int64][]byte, len(idx))
	for rows.Next() {
		var i int64
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			rows.Close()
			return nil, err
		}
		got[i] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	out := make([][32]byte, len(idx))
	for i, x := range idx {
		if len(got[x]) != 32 {
			return nil, fmt.Errorf("%w: no stored hash %d", queue.ErrLogDamaged, x)
		}
		copy(out[i][:], got[x])
	}
	return out, nil
}

// LogSize reads the log's head.
func (s *Store) LogSize(ctx context.Context) (entries, hashes int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT entries, hashes FROM lienthong_log_head`).Scan(&entries, &hashes)
	return entries, hashes, unavailable(err)
}

// LogEntries reads sealed entries.
func (s *Store) LogEntries(ctx context.Context, from int64, n int) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT entry FROM lienthong_log_entries WHERE idx >= $1 ORDER BY idx LIMIT $2`, from, n)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	return out, unavailable(err)
}

// LogHashes reads stored hashes.
func (s *Store) LogHashes(ctx context.Context, idx []int64) ([][32]byte, error) {
	return readHashes(ctx, s.pool, idx)
}

// Pending counts the lines waiting for their seal.
func (s *Store) Pending(ctx context.Context) (n int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM lienthong_log_pending`).Scan(&n)
	return n, unavailable(err)
}

// AddCheckpoint stores a checkpoint unless one of its size is.
func (s *Store) AddCheckpoint(ctx context.Context, c queue.Checkpoint) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO lienthong_log_checkpoints (size, at, note, timestamp) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		c.Size, c.At, c.Note, c.Timestamp)
	if err == nil {
		s.flushes.Add(1)
	}
	return unavailable(err)
}

// StampCheckpoint adds a timestamp token to a stored checkpoint.
func (s *Store) StampCheckpoint(ctx context.Context, size int64, token []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE lienthong_log_checkpoints SET timestamp = $2 WHERE size = $1`, size, token)
	if err != nil {
		return unavailable(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: no checkpoint of size %d", queue.ErrNotFound, size)
	}
	s.flushes.Add(1)
	return nil
}

// Checkpoints reads checkpoints by size.
func (s *Store) Checkpoints(ctx context.Context, from int64, n int) ([]queue.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT size, at, note, timestamp FROM lienthong_log_checkpoints WHERE size >= $1 ORDER BY size LIMIT $2`, from, n)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c queue.Checkpoint, err error) {
		err = r.Scan(&c.Size, &c.At, &c.Note, &c.Timestamp)
		return c, err
	})
	return out, unavailable(err)
}

// LastCheckpoint reads the largest checkpoint.
func (s *Store) LastCheckpoint(ctx context.Context) (c queue.Checkpoint, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT size, at, note, timestamp FROM lienthong_log_checkpoints ORDER BY size DESC LIMIT 1`).
		Scan(&c.Size, &c.At, &c.Note, &c.Timestamp)
	if err == pgx.ErrNoRows {
		return c, false, nil
	}
	return c, err == nil, unavailable(err)
}
