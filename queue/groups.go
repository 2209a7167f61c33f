package queue

import (
	"bytes"
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// A record may name a group (the agency a document is sent as): the store
// keeps, with the records and in their commits, how many of each group
// are in each state and the oldest ready one, so a city's gateway counts
// per agency without reading the records.

var (
	bucketGroups      = []byte("groups")      // dir, group, 0, state, created, id → nil
	bucketGroupCounts = []byte("groupcounts") // dir, group, 0, state → count
)

func groupPrefix(dir Direction, g string, st State) []byte {
	k := append([]byte{dir.byte()}, g...)
	return append(k, 0, stateBytes[st])
}

func groupKey(r *Record) []byte {
	k := append(groupPrefix(r.Dir, r.Group, r.State), timeKey(r.Created)...)
	return append(k, r.ID...)
}

// indexGroup adds (on) or removes a grouped record's entry for its state
// and moves its group's count.
func indexGroup(tx *bolt.Tx, r *Record, on bool) error {
	if r.Group == "" {
		return nil
	}
	var err error
	if on {
		err = tx.Bucket(bucketGroups).Put(groupKey(r), nil)
	} else {
		err = tx.Bucket(bucketGroups).Delete(groupKey(r))
	}
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketGroupCounts)
	k := groupPrefix(r.Dir, r.Group, r.State)
	var n uint64
	if v := b.Get(k); v != nil {
		n = binary.BigEndian.Uint64(v)
	}
	switch {
	case on:
		n++
	case n > 0:
		n--
	}
	if n == 0 {
		return b.Delete(k)
	}
	return b.Put(k, binary.BigEndian.AppendUint64(nil, n))
}

// Groups counts the grouped records of a direction in a state, by group,
// with the creation time of the oldest of each.
func (s *Bolt) Groups(ctx context.Context, dir Direction, st State) ([]GroupStats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []GroupStats
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketGroups).Cursor()
		return tx.Bucket(bucketGroupCounts).ForEach(func(k, v []byte) error {
			if len(k) < 3 || k[0] != dir.byte() || k[len(k)-1] != stateBytes[st] {
				return nil
			}
			g := GroupStats{Dir: dir, State: st, Group: string(k[1 : len(k)-2]), Count: int(binary.BigEndian.Uint64(v))}
			if first, _ := c.Seek(k); first != nil && bytes.HasPrefix(first, k) && len(first) >= len(k)+8 {
				g.Oldest = keyTime(first[len(k) : len(k)+8])
			}
			out = append(out, g)
			return nil
		})
	})
	return out, err
}

// checkGroups compares the group index and counts with the records.
func checkGroups(tx *bolt.Tx, records []*Record, bad func(string, ...any)) {
	want := map[string]bool{}
	counts := map[string]uint64{}
	for _, r := range records {
		if r.Group != "" {
			want[string(groupKey(r))] = true
			counts[string(groupPrefix(r.Dir, r.Group, r.State))]++
		}
	}
	n := 0
	_ = tx.Bucket(bucketGroups).ForEach(func(k, _ []byte) error {
		n++
		if !want[string(k)] {
			bad("group index: entry %x matches no record", k)
		}
		return nil
	})
	if n != len(want) {
		bad("group index: %d entries for %d grouped records", n, len(want))
	}
	_ = tx.Bucket(bucketGroupCounts).ForEach(func(k, v []byte) error {
		if got := binary.BigEndian.Uint64(v); got != counts[string(k)] {
			bad("group count %q: %d counted, %d records", k, got, counts[string(k)])
		}
		delete(counts, string(k))
		return nil
	})
	for k, c := range counts {
		bad("group count %q: %d records, not counted", k, c)
	}
}
