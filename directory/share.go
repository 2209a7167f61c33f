package directory

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Nodes of one gateway sharing a store sync the directory once for all:
// the node that synced hands the others a snapshot, and they hand it the
// agencies each exchanged with, so that it holds their changes too.

// snapshot is the directory as another node adopts it.
type snapshot struct {
	Synced  time.Time `json:"synced"`
	Entries []Entry   `json:"entries"`
	Held    []Held    `json:"held,omitempty"`
}

// Snapshot is the directory with its held changes as one document, for
// the other nodes of a cluster.
func (d *Directory) Snapshot() ([]byte, error) {
	held, err := d.Held()
	if err != nil {
		return nil, err
	}
	ix := d.ix.Load()
	return json.Marshal(snapshot{Synced: ix.synced, Entries: d.Entries(), Held: held})
}

// Adopt replaces the directory and its held changes with a snapshot
// another node took, unless ours was synced later; it reports whether it
// did.
func (d *Directory) Adopt(b []byte) (bool, error) {
	if d.db == nil {
		return false, ErrReadOnly
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return false, fmt.Errorf("directory snapshot: %w", err)
	}
	if s.Synced.IsZero() || !s.Synced.After(d.LastSync()) {
		return false, nil
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	sorted := sortedByCode(s.Entries)
	err := d.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEntries, bucketHeld} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketEntries)
		b.FillPercent = 1
		for _, e := range sorted {
			if err := putEntry(b, e); err != nil {
				return err
			}
		}
		hb := tx.Bucket(bucketHeld)
		for _, h := range s.Held {
			v, err := json.Marshal(h)
			if err != nil {
				return err
			}
			if err := hb.Put([]byte(h.Entry.Code), v); err != nil {
				return err
			}
		}
		return putSynced(tx, s.Synced)
	})
	if err != nil {
		return false, fmt.Errorf("adopt directory snapshot: %w", err)
	}
	d.ix.Store(newIndex(sorted, s.Synced))
	return true, nil
}

// Partners lists the agencies we exchange with, by code.
func (d *Directory) Partners() []string {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	out := make([]string, 0, len(d.partners))
	for c := range d.partners {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
