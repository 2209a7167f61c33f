package pgstore

import (
	"fmt"

	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

// List returns a page of records, newest first, filtered before the
// limit, and the next page's cursor.
func (t *tx) List(f queue.Filter) ([]*queue.Record, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	where := []string{}
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	before := int64(1<<63 - 1)
	if f.After != "" {
		seq, err := queue.CursorSeq(f.After)
		if err != nil {
			return nil, "", err
		}
		before = int64(seq)
	}
	where = append(where, "seq < $1")
	args = append(args, before)
	if f.Dir != "" {
		where = append(where, "dir = "+arg(string(f.Dir)))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		where = append(where, "state = ANY("+arg(states)+")")
	}
	// Pages of rows, so a filter that keeps few reads on without holding
	// the whole table, and a full page stops early.
	q := `SELECT seq, doc FROM lienthong_records WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq DESC LIMIT ` + fmt.Sprint(min(f.Limit+1, 512))
	var out []*queue.Record
	var last int64
	for {
		rows, err := t.tx.Query(t.ctx, q, args...)
		if err != nil {
			return nil, "", err
		}
		type row struct {
			seq int64
			doc []byte
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.seq, &x.doc)
		})
		if err != nil {
			return nil, "", err
		}
		for _, x := range page {
			args[0] = x.seq
			r, err := scanRecord(rowOf(x.doc))
			if err != nil {
				return nil, "", err
			}
			first := r.FirstCreated()
			if !f.Since.IsZero() && first.Before(f.Since) {
				if len(f.States) == 0 || slices.Contains(f.States, queue.Done) {
					return out, "", nil // newest first: every later one is older still
				}
				continue
			}
			if len(out) == f.Limit {
				return out, queue.Cursor(uint64(last)), nil
			}
			switch {
			case !f.Until.IsZero() && !first.Before(f.Until):
			case f.Match != nil && !f.Match(r):
			default:
				out = append(out, r)
				last = x.seq
			}
		}
		if len(page) < min(f.Limit+1, 512) {
			return out, "", nil
		}
	}
}

// rowOf is a scanned document as a row, for scanRecord.
type rowOf []byte

func (r rowOf) Scan(dest ...any) error {
	*(dest[0].(*[]byte)) = r
	return nil
}
