package queue

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"lienthong/queue/atomicfile"
)

// GroupStats counts the records of one direction, state and priority.
type GroupStats struct {
	Dir      Direction `json:"dir"`
	Group    string    `json:"group,omitempty"` // of Groups: the records' group
	State    State     `json:"state"`
	Priority int       `json:"priority"`
	Count    int       `json:"count"`
	Oldest   time.Time `json:"oldest"` // creation time of the oldest record
}

// Stats counts records by direction, state and priority, with the oldest of
// each, for metrics and `lienthong queue stats`. Counts are kept in memory,
// so Stats costs one index seek per non-empty group.
func (s *Bolt) Stats() []GroupStats {
	s.mu.Lock()
	var out []GroupStats
	for g, n := range s.counts {
		if n > 0 {
			out = append(out, GroupStats{Dir: g.Dir, State: g.State, Priority: g.Priority, Count: n})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Dir != b.Dir {
			return a.Dir > b.Dir // out before in
		}
		if a.State != b.State {
			return slices.Index(States, a.State) < slices.Index(States, b.State)
		}
		return a.Priority > b.Priority
	})
	_ = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketStates).Cursor()
		for i := range out {
			g := &out[i]
			prefix := []byte{g.Dir.byte(), stateBytes[g.State], byte(g.Priority)}
			if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
				g.Oldest = keyTime(k[3:11])
			}
		}
		return nil
	})
	return out
}

// Report is what Check found besides broken invariants.
type Report struct {
	Records int `json:"records"`
	// OrphanBlobs are blob files no record names, left by a crash between
	// writing a payload file and committing its record. Harmless; Check
	// does not delete them.
	OrphanBlobs []string `json:"orphanBlobs,omitempty"`
}

// Check verifies the store's invariants: every record is in exactly one
// state, every index entry matches a record and every record has its
// entries, keys point at their records, payloads are present and match
// their hashes, blob reference counts are right, and the in-memory counts
// agree. It returns every violation found.
func (s *Bolt) Check() (Report, error) {
	var rep Report
	if err := checkPages(s.db, s.path); err != nil {
		return rep, err
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	counts := map[group]int{}
	refs := map[string]int64{}
	err := s.view(func(tx *bolt.Tx) error {
		want := map[string]map[string]bool{"states": {}, "ready": {}, "leases": {}}
		var all []*Record
		err := tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			rep.Records++
			r, err := getRecord(tx, string(k))
			if err != nil {
				bad("%v", err)
				return nil
			}
			if _, ok := stateBytes[r.State]; !ok || r.ID != string(k) || !r.Dir.valid() {
				bad("record %s: state %q, id %q, dir %q", k, r.State, r.ID, r.Dir)
				return nil
			}
			counts[group{r.Dir, r.State, r.Priority}]++
			all = append(all, r)
			want["states"][string(stateKey(r))] = true
			switch r.State {
			case Ready:
				want["ready"][string(readyKey(r))] = true
			case Leased:
				want["leases"][string(leaseKey(r))] = true
			}
			if id := tx.Bucket(bucketKeys).Get(keysKey(r.Dir, r.Key)); string(id) != r.ID {
				bad("record %s: key %q points at %q", r.ID, r.Key, id)
			}
			for _, a := range r.Aliases {
				if id := tx.Bucket(bucketKeys).Get(keysKey(r.Dir, a)); string(id) != r.ID {
					bad("record %s: alias %q points at %q", r.ID, a, id)
				}
			}
			if r.Blob {
				refs[r.SHA256]++
				if fi, err := os.Stat(s.blobPath(r.SHA256)); err != nil || fi.Size() != r.Size {
					bad("record %s: blob %s missing or of the wrong size", r.ID, r.SHA256)
				}
			} else {
				p := tx.Bucket(bucketPayloads).Get(k)
				if sum := sha256.Sum256(p); p == nil || hex.EncodeToString(sum[:]) != r.SHA256 {
					bad("record %s: payload missing or not matching its hash", r.ID)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range []struct {
			name   string
			bucket []byte
		}{{"states", bucketStates}, {"ready", bucketReady}, {"leases", bucketLeases}} {
			n := 0
			_ = tx.Bucket(b.bucket).ForEach(func(k, _ []byte) error {
				n++
				if !want[b.name][string(k)] {
					bad("%s index: entry %x matches no record", b.name, k)
				}
				return nil
			})
			if n != len(want[b.name]) {
				bad("%s index: %d entries for %d records", b.name, n, len(want[b.name]))
			}
		}
		checkGroups(tx, all, bad)
		_ = tx.Bucket(bucketKeys).ForEach(func(k, id []byte) error {
			if tx.Bucket(bucketRecords).Get(id) == nil {
				bad("key %q points at missing record %s", k[1:], id)
			}
			return nil
		})
		_ = tx.Bucket(bucketPayloads).ForEach(func(k, _ []byte) error {
			if tx.Bucket(bucketRecords).Get(k) == nil {
				bad("payload %s has no record", k)
			}
			return nil
		})
		_ = tx.Bucket(bucketBlobRefs).ForEach(func(k, v []byte) error {
			if n := int64(binary.BigEndian.Uint64(v)); n != refs[string(k)] {
				bad("blob %s: %d references counted, %d records", k, n, refs[string(k)])
			}
			delete(refs, string(k))
			return nil
		})
		for sum := range refs {
			bad("blob %s: referenced but not counted", sum)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	s.mu.Lock()
	for g, n := range s.counts {
		if n != counts[g] {
			bad("count of %s/%s/%d is %d, records say %d", g.Dir, g.State, g.Priority, n, counts[g])
		}
	}
	s.mu.Unlock()
	rep.OrphanBlobs = s.orphans(err == nil)
	if len(errs) > 0 {
		return rep, fmt.Errorf("queue check: %d problems:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	return rep, nil
}

// orphans lists blob files without a reference.
func (s *Bolt) orphans(ok bool) []string {
	if !ok {
		return nil
	}
	entries, _ := os.ReadDir(s.blobs)
	var out []string
	_ = s.view(func(tx *bolt.Tx) error {
		for _, e := range entries {
			if tx.Bucket(bucketBlobRefs).Get([]byte(e.Name())) == nil {
				out = append(out, e.Name())
			}
		}
		return nil
	})
	return out
}

// Backup writes a consistent copy of the live store as a tar stream: the
// database as "queue.db" (a bbolt snapshot taken in one read transaction)
// and the blob files that snapshot names under "queue.db.blobs/". Writes go
// on meanwhile; restoring is extracting the tar in place of the files.
func (s *Bolt) Backup(w io.Writer) error {
	tw := tar.NewWriter(w)
	err := s.view(func(tx *bolt.Tx) error {
		now := time.Now()
		if err := tw.WriteHeader(&tar.Header{Name: "queue.db", Mode: 0o600, Size: tx.Size(), ModTime: now}); err != nil {
			return err
		}
		if _, err := tx.WriteTo(tw); err != nil {
			return err
		}
		return tx.Bucket(bucketBlobRefs).ForEach(func(k, _ []byte) error {
			f, err := os.Open(s.blobPath(string(k)))
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			hdr := &tar.Header{Name: "queue.db.blobs/" + string(k), Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime()}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("backup %s: %w", s.path, err)
	}
	return tw.Close()
}

// Compact rewrites the queue file at path into a packed copy and swaps it
// in, returning the sizes before and after. bbolt files never shrink by
// themselves. The store must not be open: Compact fails if it is.
func Compact(path string) (before, after int64, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	if err := checkFile(path); err != nil {
		return 0, 0, err
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = ErrInUse
		}
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return 0, 0, err
	}
	dst.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	before = fi.Size()
	if err := atomicfile.Commit(tmp, path); err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	fi, err = os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return before, fi.Size(), nil
}
