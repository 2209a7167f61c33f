package pgstore

import (
	"context"
	"time"

	"lienthong/queue"
)

var _ queue.Reporter = (*Store)(nil)

// ReportRows sets what makes the rows.
func (s *Store) ReportRows(fn func(*queue.Record) []byte) { s.report = fn }

// EachReportRow reads the rows of a period in pages, in one read-only
// snapshot per page.
func (s *Store) EachReportRow(ctx context.Context, since, until time.Time, fn func(string, time.Time, []byte) bool) error {
	const page = 20000
	after, afterID := since, ""
	for {
		rows, err := s.pool.Query(ctx, `SELECT id, created, row FROM lienthong_report
			WHERE (created, id) > ($1, $2) AND created < $3 ORDER BY created, id LIMIT $4`, after, afterID, until, page)
		if err != nil {
			return unavailable(err)
		}
		n := 0
		stop := false
		for rows.Next() {
			var id string
			var created time.Time
			var row []byte
			if err := rows.Scan(&id, &created, &row); err != nil {
				rows.Close()
				return err
			}
			n++
			after, afterID = created, id
			if !fn(id, created.UTC(), row) {
				stop = true
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil || stop || n < page {
			return unavailable(err)
		}
	}
}

// PurgeReportRows deletes the rows of records created before cutoff.
func (s *Store) PurgeReportRows(ctx context.Context, cutoff time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM lienthong_report WHERE created < $1`, cutoff)
	if err != nil {
		return 0, unavailable(err)
	}
	return int(tag.RowsAffected()), nil
}
