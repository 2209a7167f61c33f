package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

// tx is queue.Tx on a database transaction. A row a transaction changes
// is locked (FOR UPDATE) when read, so two nodes never both change one
// record; leases skip rows another node holds.
type tx struct {
	s      *Store
	ctx    context.Context
	tx     pgx.Tx
	ro     bool
	events []queue.Event
	// inbound are the inbound records the transaction changed: its
	// commit logs them for the nodes following the inbox.
	inbound map[string]bool
	// wrote is set once it changed anything: a commit that did not
	// flushes nothing.
	wrote bool
	// written are the records it wrote, by id, for their report rows.
	written map[string]*queue.Record
}

func (t *tx) writable() error {
	if t.ro {
		return queue.ErrReadOnly
	}
	return nil
}

// lock is FOR UPDATE in a writing transaction.
func (t *tx) lock() string {
	if t.ro {
		return ""
	}
	return " FOR UPDATE"
}

func scanRecord(row pgx.Row) (*queue.Record, error) {
	var doc []byte
	if err := row.Scan(&doc); err != nil {
		return nil, err
	}
	r := &queue.Record{}
	if err := json.Unmarshal(doc, r); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return r, nil
}

func (t *tx) get(id string) (*queue.Record, error) {
	r, err := scanRecord(t.tx.QueryRow(t.ctx, `SELECT doc FROM lienthong_records WHERE id = $1`+t.lock(), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", queue.ErrNotFound, id)
	}
	return r, err
}

func (t *tx) Get(id string) (*queue.Record, error) { return t.get(id) }

func (t *tx) GetByKey(dir queue.Direction, key string) (*queue.Record, error) {
	var id string
	err := t.tx.QueryRow(t.ctx, `SELECT id FROM lienthong_keys WHERE dir = $1 AND key = $2`, string(dir), key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: key %q", queue.ErrNotFound, key)
	}
	if err != nil {
		return nil, err
	}
	return t.get(id)
}

// due is when a ready record may be leased.
func due(r *queue.Record) time.Time {
	if r.NextAttempt.Before(r.NotBefore) {
		return r.NotBefore
	}
	return r.NextAttempt
}

func move(r *queue.Record, at time.Time, to queue.State, reason string) {
	r.History = append(r.History, queue.Transition{At: at, From: r.State, To: to, Reason: reason})
	r.State = to
	r.Updated = at
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// save writes a record's columns and document.
func (t *tx) save(r *queue.Record) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var dueAt *time.Time
	if r.State == queue.Ready {
		dueAt = nullTime(due(r))
	}
	_, err = t.tx.Exec(t.ctx, `UPDATE lienthong_records SET state = $2, due = $3, lease_until = $4, updated = $5, doc = $6 WHERE id = $1`,
		r.ID, string(r.State), dueAt, nullTime(r.LeaseUntil), r.Updated, doc)
	t.changed(r)
	t.wrote = true
	return err
}

func (t *tx) Put(it queue.Item) (*queue.Record, bool, error) {
	if err := it.Check(); err != nil {
		return nil, false, err
	}
	if t.ro {
		return nil, false, queue.ErrReadOnly
	}
	// One round trip takes the record's number and its key; a key held
	// already (or taken by another node's Put, whose commit this one
	// waits for) answers with the record holding it.
	var id string
	err := t.tx.QueryRow(t.ctx, `WITH n AS (SELECT nextval('lienthong_record_seq') AS seq)
		INSERT INTO lienthong_keys (dir, key, id)
		SELECT $1, $2, $1 || '-' || CASE WHEN n.seq < 10000000000 THEN lpad(n.seq::text, 10, '0') ELSE n.seq::text END FROM n
		ON CONFLICT DO NOTHING RETURNING id`, string(it.Dir), it.Key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		r, err := t.GetByKey(it.Dir, it.Key)
		return r, err == nil, err
	}
	if err != nil {
		return nil, false, err
	}
	t.wrote = true
	seq, err := strconv.ParseInt(id[strings.IndexByte(id, '-')+1:], 10, 64)
	if err != nil {
		return nil, false, fmt.Errorf("record id %q: %w", id, err)
	}
	sum, size, staged := it.Staged()
	if !staged {
		if it.Body != nil {
			return nil, false, fmt.Errorf("%w: a body is staged before its Put", queue.ErrInvalid)
		}
		h := sha256.Sum256(it.Payload)
		sum, size = hex.EncodeToString(h[:]), int64(len(it.Payload))
		if err := putChunks(t.ctx, t.tx, sum, it.Payload); err != nil {
			return nil, false, err
		}
	}
	now := t.s.opts.Now()
	r := &queue.Record{
		ID: id, Dir: it.Dir, Key: it.Key, Priority: it.Priority, Group: it.Group,
		NotBefore: it.NotBefore, NextAttempt: now, Created: now, Meta: it.Meta, Size: size, SHA256: sum,
	}
	move(r, now, queue.Ready, "accepted")
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, false, err
	}
	// The row, and at the commit the word to the other nodes.
	_, err = t.tx.Exec(t.ctx, `WITH r AS (INSERT INTO lienthong_records (seq, id, dir, priority, grp, state, due, created, updated, sha256, doc)
		VALUES ($1, $2, $3, $4, $5, 'ready', $6, $7, $7, $8, $9))
		SELECT pg_notify($10, $3 || ' ' || $11)`,
		seq, r.ID, string(r.Dir), r.Priority, r.Group, due(r), now, sum, doc, putChannel, t.s.self)
	if err != nil {
		return nil, false, err
	}
	t.changed(r)
	return r, false, nil
}

func (t *tx) Lease(now time.Time, dir queue.Direction, minPriority int) (*queue.Record, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	if after := t.s.sweepAfter.Load(); now.UnixNano() >= after && t.s.sweepAfter.CompareAndSwap(after, now.Add(time.Second).UnixNano()) {
		if err := t.expireLeases(now); err != nil {
			t.s.sweepAfter.Store(0)
			return nil, err
		}
	}
	r, err := scanRecord(t.tx.QueryRow(t.ctx, `SELECT doc FROM lienthong_records
		WHERE state = 'ready' AND dir = $1 AND priority >= $2 AND due <= $3
		ORDER BY priority DESC, due, seq LIMIT 1 FOR UPDATE SKIP LOCKED`, string(dir), minPriority, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, queue.ErrEmpty
	}
	if err != nil {
		return nil, err
	}
	return r, t.leaseRecord(r, now)
}

func (t *tx) LeaseRecord(now time.Time, id string) (*queue.Record, error) {
	r, err := t.get(id)
	if err != nil {
		return nil, err
	}
	if r.State != queue.Ready {
		return nil, fmt.Errorf("%w: %s is %s, only ready records are leased", queue.ErrState, id, r.State)
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	return r, t.leaseRecord(r, now)
}

// leaseRecord leases a ready record until now + LeaseTime, with a
// fencing token no earlier lease of it had.
func (t *tx) leaseRecord(r *queue.Record, now time.Time) error {
	r.Attempts++
	lease := uint64(now.UnixNano())
	if lease <= r.Lease {
		lease = r.Lease + 1
	}
	move(r, now, queue.Leased, fmt.Sprintf("attempt %d", r.Attempts))
	r.LeaseUntil = now.Add(t.s.opts.LeaseTime)
	r.Lease, r.Owner = lease, t.s.opts.Owner
	return t.save(r)
}

// expireLeases returns every record whose lease ended by now to the
// queue, due at once, and says so in its history. Rows another node is
// changing are left to it.
func (t *tx) expireLeases(now time.Time) error {
	rows, err := t.tx.Query(t.ctx, `SELECT doc FROM lienthong_records WHERE state = 'leased' AND lease_until <= $1 FOR UPDATE SKIP LOCKED`, now)
	if err != nil {
		return err
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*queue.Record, error) { return scanRecord(row) })
	if err != nil {
		return err
	}
	for _, r := range recs {
		move(r, now, queue.Ready, queue.ReasonLeaseExpired)
		r.LeaseUntil, r.NextAttempt = time.Time{}, now
		if err := t.save(r); err != nil {
			return err
		}
		t.Emit(queue.Event{Record: r.ID, At: now, Kind: "lease-expired", Attrs: map[string]string{"attempt": fmt.Sprint(r.Attempts)}})
	}
	return nil
}

// leased loads a record that must still be under the given lease.
func (t *tx) leased(id string, lease uint64) (*queue.Record, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	r, err := t.get(id)
	if err != nil {
		return nil, err
	}
	if r.State != queue.Leased || r.Lease != lease {
		return nil, fmt.Errorf("%w: %s is %s", queue.ErrLeaseLost, id, r.State)
	}
	return r, nil
}

func (t *tx) Finish(now time.Time, id string, lease uint64, meta map[string]string) (*queue.Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	move(r, now, queue.Done, "done")
	r.LeaseUntil, r.LastError = time.Time{}, ""
	r.Meta = queue.MergeMap(r.Meta, meta)
	return r, t.save(r)
}

func (t *tx) Reschedule(now time.Time, id string, lease uint64, at time.Time, lastError string) (*queue.Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	move(r, now, queue.Ready, "retry: "+lastError)
	r.LeaseUntil, r.Crashes, r.LastError, r.NextAttempt = time.Time{}, 0, lastError, at
	return r, t.save(r)
}

func (t *tx) Release(now time.Time, id string, lease uint64, reason string) (*queue.Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	move(r, now, queue.Ready, "released: "+reason)
	r.LeaseUntil, r.NextAttempt = time.Time{}, now
	r.Crashes++
	return r, t.save(r)
}

func (t *tx) Kill(now time.Time, id string, lease uint64, reason string) (*queue.Record, error) {
	r, err := t.leased(id, lease)
	if err != nil {
		return nil, err
	}
	move(r, now, queue.Dead, reason)
	r.LeaseUntil, r.LastError = time.Time{}, reason
	return r, t.save(r)
}

func (t *tx) Resend(now time.Time, id, reason string) (*queue.Record, error) {
	r, err := t.get(id)
	if err != nil {
		return nil, err
	}
	if r.State != queue.Dead {
		return nil, fmt.Errorf("%w: %s is %s, only dead records are resent", queue.ErrState, id, r.State)
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	move(r, now, queue.Ready, "resend: "+reason)
	r.Attempts, r.NextAttempt, r.Created = 0, now, now
	return r, t.save(r)
}

func (t *tx) Change(id string, fn func(*queue.Record) error) (*queue.Record, error) {
	r, err := t.get(id)
	if err != nil {
		return nil, err
	}
	before := *r
	if err := fn(r); err != nil {
		return nil, err
	}
	if r.ID != before.ID || r.State != before.State || r.Lease != before.Lease || r.Priority != before.Priority ||
		!r.NextAttempt.Equal(before.NextAttempt) || r.Key != before.Key || r.Group != before.Group || r.Owner != before.Owner {
		return nil, fmt.Errorf("%w: Change may not move record %s", queue.ErrInvalid, id)
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	return r, t.save(r)
}

func (t *tx) Claim(id, key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty key", queue.ErrInvalid)
	}
	r, err := t.get(id)
	if err != nil {
		return "", err
	}
	var held string
	err = t.tx.QueryRow(t.ctx, `SELECT id FROM lienthong_keys WHERE dir = $1 AND key = $2`, string(r.Dir), key).Scan(&held)
	if err == nil {
		return held, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	if err := t.writable(); err != nil {
		return "", err
	}
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO lienthong_keys (dir, key, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, string(r.Dir), key, id)
	if err != nil {
		return "", err
	}
	if tag.RowsAffected() == 0 {
		err = t.tx.QueryRow(t.ctx, `SELECT id FROM lienthong_keys WHERE dir = $1 AND key = $2`, string(r.Dir), key).Scan(&held)
		return held, err
	}
	r.Aliases = append(r.Aliases, key)
	return id, t.save(r)
}

// changed notes a record for its report row and, inbound, for the nodes
// following the inbox.
func (t *tx) changed(r *queue.Record) {
	if t.s.report != nil {
		if t.written == nil {
			t.written = map[string]*queue.Record{}
		}
		t.written[r.ID] = r
	}
	if r.Dir != queue.Inbound {
		return
	}
	if t.inbound == nil {
		t.inbound = map[string]bool{}
	}
	t.inbound[r.ID] = true
}

// logInbound logs the inbound records changed, and tells the nodes
// following the inbox at the commit.
func (t *tx) logInbound() error {
	if len(t.inbound) == 0 {
		return nil
	}
	ids := make([]string, 0, len(t.inbound))
	for id := range t.inbound {
		ids = append(ids, id)
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO lienthong_inbound_changes (record) SELECT unnest($1::text[])`, ids); err != nil {
		return err
	}
	return notify(t.ctx, t.tx, changeChannel, "")
}

func (t *tx) Emit(ev queue.Event) {
	if ev.At.IsZero() {
		ev.At = t.s.opts.Now()
	}
	t.events = append(t.events, ev)
}

// storeEvents writes the commit's events, the log lines they make and
// the report rows of the records written, in one round trip: the events'
// sequence numbers come back in their order.
func (t *tx) storeEvents() error {
	var ids []string
	var created []time.Time
	var reports [][]byte
	if t.s.report != nil {
		for _, r := range t.written {
			if row := t.s.report(r); row != nil {
				ids, created, reports = append(ids, r.ID), append(created, r.Created), append(reports, row)
			}
		}
	}
	if len(t.events) == 0 && len(reports) == 0 {
		return nil
	}
	records := make([]string, len(t.events))
	docs := make([]string, len(t.events))
	for i := range t.events {
		ev := &t.events[i]
		if ev.Record == "" {
			return fmt.Errorf("%w: event %q names no record", queue.ErrInvalid, ev.Kind)
		}
		doc, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		records[i], docs[i] = ev.Record, string(doc)
	}
	var lines [][]byte
	if t.s.enter != nil && len(t.events) > 0 {
		lines = t.s.enter(t.events)
	}
	res, err := t.tx.Query(t.ctx, `WITH p AS (INSERT INTO lienthong_log_pending (line) SELECT unnest($3::bytea[])),
		r AS (INSERT INTO lienthong_report (id, created, row) SELECT * FROM unnest($4::text[], $5::timestamptz[], $6::bytea[])
			ON CONFLICT (id) DO UPDATE SET row = excluded.row),
		e AS (INSERT INTO lienthong_events (record, doc)
			SELECT r, d FROM unnest($1::text[], $2::json[]) WITH ORDINALITY AS u(r, d, n) ORDER BY n RETURNING seq)
		SELECT seq FROM e ORDER BY seq`, records, docs, lines, ids, created, reports)
	if err != nil {
		return err
	}
	seqs, err := pgx.CollectRows(res, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if len(seqs) != len(t.events) {
		return fmt.Errorf("%d events stored of %d", len(seqs), len(t.events))
	}
	for i, seq := range seqs {
		t.events[i].Seq = uint64(seq)
	}
	return nil
}

func (t *tx) Events(id string) ([]queue.Event, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT seq, doc FROM lienthong_events WHERE record = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (queue.Event, error) {
		var doc []byte
		var seq int64
		var ev queue.Event
		if err := row.Scan(&seq, &doc); err != nil {
			return ev, err
		}
		err := json.Unmarshal(doc, &ev)
		ev.Seq = uint64(seq)
		return ev, err
	})
	if err != nil {
		return nil, err
	}
	for _, ev := range t.events {
		if ev.Record == id {
			out = append(out, ev)
		}
	}
	return out, nil
}
