package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Reporter is a store that keeps a short row of each record for reports,
// made by the engine from the record in the commit that writes it, and
// kept after the record is purged: a report over a year of documents
// reads small rows in creation order, not the records.
type Reporter interface {
	// ReportRows sets fn to make a record's row, nil for none. It is
	// set once, before the first Update.
	ReportRows(fn func(*Record) []byte)
	// EachReportRow calls fn with the rows of the records created in
	// [since, until), oldest first; fn returns false to stop. row is
	// valid only until fn returns.
	EachReportRow(ctx context.Context, since, until time.Time, fn func(id string, created time.Time, row []byte) bool) error
	// PurgeReportRows deletes the rows of records created before cutoff.
	PurgeReportRows(ctx context.Context, cutoff time.Time) (int, error)
}

var _ Reporter = (*Bolt)(nil)

// bucketReport holds the rows: created (ns, big-endian), id → row.
var bucketReport = []byte("report")

// ReportRows sets what makes the rows.
func (s *Bolt) ReportRows(fn func(*Record) []byte) { s.report = fn }

func reportKey(created time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(created.UnixNano())), id...)
}

// storeReportRows writes the rows of the records the transaction wrote.
func (t *boltTx) storeReportRows() error {
	if t.s.report == nil {
		return nil
	}
	b := t.tx.Bucket(bucketReport)
	for _, r := range t.written {
		row := t.s.report(r)
		if row == nil {
			continue
		}
		if err := b.Put(reportKey(r.Created, r.ID), row); err != nil {
			return err
		}
	}
	return nil
}

// EachReportRow reads the rows of a period. The rows are copied out in
// pages, so a long report never holds the store's only writer waiting.
func (s *Bolt) EachReportRow(ctx context.Context, since, until time.Time, fn func(string, time.Time, []byte) bool) error {
	from := reportKey(since, "")
	end := reportKey(until, "")
	// A page is copied into one buffer, reused: two allocations a page,
	// not two a row.
	type kv struct{ k, v [2]int }
	var buf []byte
	var page []kv
	for {
		buf, page = buf[:0], page[:0]
		err := s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketReport).Cursor()
			for k, v := c.Seek(from); k != nil && bytes.Compare(k, end) < 0 && len(page) < 10000; k, v = c.Next() {
				p := kv{k: [2]int{len(buf), len(buf) + len(k)}}
				buf = append(buf, k...)
				p.v = [2]int{len(buf), len(buf) + len(v)}
				buf = append(buf, v...)
				page = append(page, p)
			}
			return nil
		})
		if err != nil || len(page) == 0 {
			return err
		}
		for _, p := range page {
			k := buf[p.k[0]:p.k[1]]
			ns := int64(binary.BigEndian.Uint64(k[:8]))
			if !fn(string(k[8:]), time.Unix(0, ns).UTC(), buf[p.v[0]:p.v[1]:p.v[1]]) {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		last := page[len(page)-1].k
		from = append(append(from[:0], buf[last[0]:last[1]]...), 0)
	}
}

// PurgeReportRows deletes the rows of records created before cutoff.
func (s *Bolt) PurgeReportRows(ctx context.Context, cutoff time.Time) (int, error) {
	end := reportKey(cutoff, "")
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		done := 0
		err := s.boltUpdate(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketReport).Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0 && done < 10000; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		n += done
		if err != nil || done < 10000 {
			return n, err
		}
	}
}
