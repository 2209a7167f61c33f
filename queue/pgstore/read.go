package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

// purgeLock is the advisory lock key of purges.
const purgeLock = migrationLock + 1

// AnyDue says yes without asking: on PostgreSQL a lease that finds
// nothing commits no write and flushes nothing, so the probe would only
// add a round trip to every lease under load.
func (s *Store) AnyDue(context.Context, time.Time, queue.Direction, int) bool { return true }

// NextDue is when the earliest ready record of a direction is due.
func (s *Store) NextDue(ctx context.Context, dir queue.Direction) (time.Time, bool) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(due) FROM lienthong_records WHERE state = 'ready' AND dir = $1`, string(dir)).Scan(&at); err != nil || at == nil {
		return time.Time{}, false
	}
	return *at, true
}

// Purge deletes records of a final state last changed before cutoff,
// with their keys, events and the payload chunks no record names any more.
func (s *Store) Purge(ctx context.Context, state queue.State, cutoff time.Time) (int, error) {
	if state != queue.Done && state != queue.Dead {
		return 0, fmt.Errorf("%w: only done or dead records are purged, not %s", queue.ErrInvalid, state)
	}
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One node purges at a time; the others find nothing to do.
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(purgeLock)).Scan(&mine); err != nil || !mine {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM lienthong_records WHERE state = $1 AND updated < $2 RETURNING id, sha256`, string(state), cutoff)
		if err != nil {
			return err
		}
		type gone struct{ id, sum string }
		victims, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (gone, error) {
			var g gone
			return g, row.Scan(&g.id, &g.sum)
		})
		if err != nil {
			return err
		}
		n = len(victims)
		// The nodes following the inbox read the log within seconds.
		if _, err := tx.Exec(ctx, `DELETE FROM lienthong_inbound_changes WHERE at < now() - interval '1 hour'`); err != nil {
			return err
		}
		for _, v := range victims {
			for _, q := range []string{`DELETE FROM lienthong_keys WHERE id = $1`, `DELETE FROM lienthong_events WHERE record = $1`} {
				if _, err := tx.Exec(ctx, q, v.id); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `DELETE FROM lienthong_chunks WHERE sha256 = $1 AND NOT EXISTS (SELECT 1 FROM lienthong_records WHERE sha256 = $1)`, v.sum); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, unavailable(err)
	}
	s.flushes.Add(1)
	return n, nil
}

// Stats counts records by direction, state and priority, with the oldest
// of each; nothing when the database cannot be read.
func (s *Store) Stats() []queue.GroupStats {
	out, _ := s.groups(context.Background(), `SELECT dir, '', state, priority, count(*), min(created) FROM lienthong_records GROUP BY dir, state, priority ORDER BY dir, state, priority`)
	return out
}

// Groups counts the records of a direction in a state by their group.
func (s *Store) Groups(ctx context.Context, dir queue.Direction, st queue.State) ([]queue.GroupStats, error) {
	out, err := s.groups(ctx, `SELECT dir, grp, state, 0, count(*), min(created) FROM lienthong_records WHERE dir = $1 AND state = $2 AND grp <> '' GROUP BY dir, grp, state ORDER BY grp`, string(dir), string(st))
	return out, unavailable(err)
}

func (s *Store) groups(ctx context.Context, q string, args ...any) ([]queue.GroupStats, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (queue.GroupStats, error) {
		var g queue.GroupStats
		var dir, state string
		err := row.Scan(&dir, &g.Group, &state, &g.Priority, &g.Count, &g.Oldest)
		g.Dir, g.State = queue.Direction(dir), queue.State(state)
		return g, err
	})
}

// Check verifies the invariants the database does not enforce: each
// record's document agrees with its columns, keys name records, payloads
// are whole; chunks no record names are reported.
func (s *Store) Check() (queue.Report, error) {
	ctx := context.Background()
	var rep queue.Report
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	rows, err := s.pool.Query(ctx, `SELECT id, dir, state, priority, grp, sha256, doc,
		(SELECT coalesce(sum(length(data)), 0) FROM lienthong_chunks c WHERE c.sha256 = r.sha256) FROM lienthong_records r`)
	if err != nil {
		return rep, unavailable(err)
	}
	for rows.Next() {
		var id, dir, state, grp, sum string
		var prio int
		var doc []byte
		var stored int64
		if err := rows.Scan(&id, &dir, &state, &prio, &grp, &sum, &doc, &stored); err != nil {
			rows.Close()
			return rep, err
		}
		rep.Records++
		var r queue.Record
		if err := json.Unmarshal(doc, &r); err != nil {
			bad("record %s: %v", id, err)
			continue
		}
		if r.ID != id || string(r.Dir) != dir || string(r.State) != state || r.Priority != prio || r.Group != grp || r.SHA256 != sum {
			bad("record %s: its document disagrees with its columns", id)
		}
		if !slices.Contains(queue.States, r.State) {
			bad("record %s: unknown state %q", id, r.State)
		}
		if stored != r.Size {
			bad("record %s: payload of %d bytes, %d stored", id, r.Size, stored)
		}
	}
	rows.Close()
	var dangling int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM lienthong_keys k WHERE NOT EXISTS (SELECT 1 FROM lienthong_records r WHERE r.id = k.id)`).Scan(&dangling); err != nil {
		return rep, err
	}
	if dangling > 0 {
		bad("%d keys name no record", dangling)
	}
	orphans, err := s.pool.Query(ctx, `SELECT DISTINCT sha256 FROM lienthong_chunks c WHERE NOT EXISTS (SELECT 1 FROM lienthong_records r WHERE r.sha256 = c.sha256)`)
	if err != nil {
		return rep, err
	}
	rep.OrphanBlobs, err = pgx.CollectRows(orphans, pgx.RowTo[string])
	if err != nil {
		return rep, err
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("queue check: %d problem(s): %v", len(errs), errs)
	}
	return rep, nil
}
