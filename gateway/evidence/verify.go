package evidence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"lienthong/queue"
)

// PackageSum hashes the package a record holds now (hex SHA-256 of its
// bytes); queue.ErrNotFound means the record was purged, queue.ErrAltered
// that its bytes changed.
type PackageSum func(ctx context.Context, record string) (string, error)

// Report is what Verify found.
type Report struct {
	Entries     int64  `json:"entries"`
	Pending     int64  `json:"pending"` // not sealed yet, so not checked
	Checkpoints int    `json:"checkpoints"`
	Packages    int    `json:"packages"`   // packages hashed again
	Purged      int    `json:"purged"`     // entries whose package retention removed
	Timestamps  int    `json:"timestamps"` // checkpoints a time-stamping authority stamped
	Latest      string `json:"latestCheckpoint,omitempty"`
	// Problems are what does not hold, each naming its entry or
	// checkpoint.
	Problems []string `json:"problems,omitempty"`
}

// OK is a log that holds.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < 1000 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == 1000 {
		r.Problems = append(r.Problems, "more problems left out")
	}
}

// frontier is the right edge of a tree being rebuilt: the roots of its
// perfect subtrees, largest first. It holds log2 of the size in hashes,
// so a log of any length is checked in bounded memory.
type frontier struct {
	n     int64
	stack []tlog.Hash
}

// add appends a leaf and returns the hashes tlog stores for it, in its
// order: the leaf's, then each subtree it completes.
func (f *frontier) add(data []byte) []tlog.Hash {
	h := tlog.RecordHash(data)
	out := []tlog.Hash{h}
	for m := f.n; m&1 == 1; m >>= 1 {
		left := f.stack[len(f.stack)-1]
		f.stack = f.stack[:len(f.stack)-1]
		h = tlog.NodeHash(left, h)
		out = append(out, h)
	}
	f.stack = append(f.stack, h)
	f.n++
	return out
}

// root is the RFC 9162 hash of the tree so far.
func (f *frontier) root() tlog.Hash {
	if len(f.stack) == 0 {
		return tlog.Hash{}
	}
	h := f.stack[len(f.stack)-1]
	for i := len(f.stack) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.stack[i], h)
	}
	return h
}

// Verify rebuilds the tree from the entries and checks that the stored
// hashes are its hashes, that every checkpoint is signed by vkey, states
// the rebuilt tree at its size and is consistent with the one before, that
// the entries are numbered without a gap, and, when sum is given, that
// every package still stored hashes to its entry's sha256.
func Verify(ctx context.Context, led queue.Ledger, vkey string, sum PackageSum) (*Report, error) {
	rep := &Report{}
	size, nhashes, err := led.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	rep.Entries = size
	if rep.Pending, err = led.Pending(ctx); err != nil {
		return nil, err
	}
	if want := tlog.StoredHashCount(size); nhashes != want {
		rep.problem("the log holds %d hashes for %d entries, want %d", nhashes, size, want)
	}
	var cps []queue.Checkpoint
	for from := int64(0); ; {
		page, err := led.Checkpoints(ctx, from, 1000)
		if err != nil {
			return nil, err
		}
		cps = append(cps, page...)
		if len(page) < 1000 {
			break
		}
		from = page[len(page)-1].Size + 1
	}
	rep.Checkpoints = len(cps)
	trees := make([]Tree, len(cps))
	for i, cp := range cps {
		t, err := OpenCheckpoint(cp.Note, vkey)
		if err != nil {
			rep.problem("checkpoint of size %d: %v", cp.Size, err)
			continue
		}
		if t.Size != cp.Size {
			rep.problem("checkpoint stored as size %d states size %d", cp.Size, t.Size)
		}
		if t.Size > size {
			rep.problem("checkpoint of size %d: the log holds only %d entries: entries are missing", t.Size, size)
		}
		if cp.Timestamp != nil {
			if at, err := CheckTimestamp(cp.Timestamp, cp.Note); err != nil {
				rep.problem("checkpoint of size %d: %v", cp.Size, err)
			} else if at.Before(cp.At.Add(-time.Hour)) {
				rep.problem("checkpoint of size %d: time-stamped at %v, an hour before it says it was signed (%v)", cp.Size, at, cp.At)
			} else {
				rep.Timestamps++
			}
		}
		trees[i] = t
	}
	if len(cps) > 0 {
		rep.Latest = string(cps[len(cps)-1].Note)
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs, err := led.LogHashes(ctx, idx)
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = h
		}
		return out, err
	})
	// Consecutive checkpoints, each proved to extend the one before.
	var prev *Tree
	for i := range trees {
		t := &trees[i]
		if t.Origin == "" || t.Size > size {
			continue
		}
		if prev != nil && prev.Size > 0 {
			p, err := tlog.ProveTree(t.Size, prev.Size, reader)
			if err == nil {
				err = tlog.CheckTree(p, t.Size, t.Root, prev.Size, prev.Root)
			}
			if err != nil {
				rep.problem("checkpoint of size %d is not consistent with the one of size %d: %v", t.Size, prev.Size, err)
			}
		}
		prev = t
	}
	var f frontier
	next := 0 // the next checkpoint to meet
	sums := map[string]string{}
	for from := int64(0); from < size; {
		es, err := led.LogEntries(ctx, from, batch)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			rep.problem("entries %d to %d are missing", from, size-1)
			break
		}
		var made []tlog.Hash
		for i, b := range es {
			seq := from + int64(i)
			made = append(made, f.add(b)...)
			e, err := ParseEntry(b)
			switch {
			case err != nil:
				rep.problem("entry %d: %v", seq, err)
			case e.Seq != seq:
				rep.problem("entry %d is numbered %d: a number is missing or repeated", seq, e.Seq)
			case sum != nil && e.Record != "":
				checkPackage(ctx, rep, sum, sums, seq, e)
			}
			for next < len(trees) && trees[next].Size <= f.n {
				if t := trees[next]; t.Size == f.n && t.Root != f.root() {
					rep.problem("checkpoint of size %d: its root hash is not the tree of the entries: an entry was changed", t.Size)
				}
				next++
			}
		}
		first := tlog.StoredHashIndex(0, from)
		idx := make([]int64, len(made))
		for i := range idx {
			idx[i] = first + int64(i)
		}
		stored, err := led.LogHashes(ctx, idx)
		if err != nil && !errors.Is(err, queue.ErrLogDamaged) {
			return nil, err
		}
		if err != nil {
			rep.problem("entries %d to %d: %v", from, from+int64(len(es))-1, err)
		} else {
			for i, h := range made {
				if stored[i] != h {
					level, n := tlog.SplitStoredHashIndex(idx[i])
					rep.problem("stored hash %d (level %d, node %d) is not the tree's: the hash or an entry under it was changed", idx[i], level, n)
				}
			}
		}
		from += int64(len(es))
	}
	return rep, nil
}

// checkPackage hashes an entry's package again, once per record.
func checkPackage(ctx context.Context, rep *Report, sum PackageSum, sums map[string]string, seq int64, e Entry) {
	got, ok := sums[e.Record]
	if !ok {
		var err error
		got, err = sum(ctx, e.Record)
		switch {
		case errors.Is(err, queue.ErrNotFound):
			got = ""
		case errors.Is(err, queue.ErrAltered):
			got = "altered"
		case err != nil:
			rep.problem("entry %d: package of record %s unreadable: %v", seq, e.Record, err)
			return
		default:
			rep.Packages++
		}
		if len(sums) > 4096 {
			clear(sums)
		}
		sums[e.Record] = got
	}
	switch {
	case got == "":
		rep.Purged++
	case got == "altered":
		rep.problem("entry %d: the package of record %s was altered: its bytes no longer hash to %s", seq, e.Record, e.SHA256)
	case got != e.SHA256:
		rep.problem("entry %d: the package of record %s was altered: it hashes to %s, the entry says %s", seq, e.Record, got, e.SHA256)
	}
}
