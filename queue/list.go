package queue

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Records are listed newest first by their sequence number, the digits of
// their id: ids of both directions come from one sequence, so the order
// is the order of creation even across directions, and a cursor is the
// last sequence number a page held.

// seqOf is the sequence number in a record's id.
func seqOf(id string) uint64 {
	_, digits, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(digits, 10, 64)
	return n
}

func encodeCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatUint(seq, 10)))
}

func decodeCursor(c string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(b) > 1 && b[0] == 's' {
		if n, err := strconv.ParseUint(string(b[1:]), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: cursor %q is not one a page returned", ErrInvalid, c)
}

// FirstCreated is when a record was first stored; a resend restarts
// Created, not this.
func (r *Record) FirstCreated() time.Time {
	if len(r.History) > 0 {
		return r.History[0].At
	}
	return r.Created
}

func (t *boltTx) List(f Filter) ([]*Record, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	before := uint64(1<<64 - 1)
	if f.After != "" {
		n, err := decodeCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		before = n
	}
	dirs := []Direction{Outbound, Inbound}
	if f.Dir != "" {
		dirs = []Direction{f.Dir}
	}
	var ids func(yield func(string) bool)
	if len(f.States) > 0 && !slices.Contains(f.States, Done) {
		// Few records wait, retry or are dead: read them from the state
		// index rather than walking every record.
		ids = t.idsInStates(dirs, f.States, before)
	} else {
		ids = t.idsNewestFirst(dirs, before)
	}
	var out []*Record
	var last uint64
	full := false
	for id := range ids {
		r, err := getRecord(t.tx, id)
		if err != nil {
			return nil, "", err
		}
		first := r.FirstCreated()
		if !f.Since.IsZero() && first.Before(f.Since) {
			if len(f.States) == 0 || slices.Contains(f.States, Done) {
				break // newest first: every later one is older still
			}
			continue
		}
		if len(out) == f.Limit {
			full = true
			break
		}
		switch {
		case len(f.States) > 0 && !slices.Contains(f.States, r.State):
		case !f.Until.IsZero() && !first.Before(f.Until):
		case f.Match != nil && !f.Match(r):
		default:
			out = append(out, r)
			last = seqOf(r.ID)
		}
	}
	if !full {
		return out, "", nil
	}
	return out, encodeCursor(last), nil
}

// idsNewestFirst yields the ids of the directions' records below the
// sequence number before, newest first, merging the directions.
func (t *boltTx) idsNewestFirst(dirs []Direction, before uint64) func(func(string) bool) {
	return func(yield func(string) bool) {
		type head struct {
			c      *bolt.Cursor
			prefix []byte
			k      []byte
		}
		var heads []*head
		for _, d := range dirs {
			prefix := []byte(string(d) + "-")
			h := &head{c: t.tx.Bucket(bucketRecords).Cursor(), prefix: prefix}
			// Seek to the first id at or after the bound, then step back.
			bound := append(bytes.Clone(prefix), fmt.Sprintf("%010d", before)...)
			if before == 1<<64-1 {
				bound = append(bytes.Clone(prefix), 0xff)
			}
			// The last id below the bound.
			k, _ := h.c.Seek(bound)
			if k == nil {
				k, _ = h.c.Last()
			} else {
				k, _ = h.c.Prev()
			}
			if k != nil && !bytes.HasPrefix(k, prefix) {
				k = nil
			}
			h.k = k
			heads = append(heads, h)
		}
		for {
			var best *head
			for _, h := range heads {
				if h.k != nil && (best == nil || seqOf(string(h.k)) > seqOf(string(best.k))) {
					best = h
				}
			}
			if best == nil {
				return
			}
			if !yield(string(best.k)) {
				return
			}
			k, _ := best.c.Prev()
			if k != nil && !bytes.HasPrefix(k, best.prefix) {
				k = nil
			}
			best.k = k
		}
	}
}

// idsInStates yields the ids of the records in the states below the
// sequence number before, newest first.
func (t *boltTx) idsInStates(dirs []Direction, states []State, before uint64) func(func(string) bool) {
	return func(yield func(string) bool) {
		var ids []string
		c := t.tx.Bucket(bucketStates).Cursor()
		for _, d := range dirs {
			for _, st := range states {
				prefix := []byte{d.byte(), stateBytes[st]}
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					if id := string(k[11:]); seqOf(id) < before {
						ids = append(ids, id)
					}
				}
			}
		}
		slices.SortFunc(ids, func(a, b string) int { return -cmpUint(seqOf(a), seqOf(b)) })
		for _, id := range ids {
			if !yield(id) {
				return
			}
		}
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Cursor is the cursor after the record of sequence seq, in the form
// every store's List takes, so a client's cursor survives a change of
// store.
func Cursor(seq uint64) string { return encodeCursor(seq) }

// CursorSeq reads a cursor a List returned.
func CursorSeq(c string) (uint64, error) { return decodeCursor(c) }
