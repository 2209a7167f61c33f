package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged is a queue file that is empty, truncated or unreadable: the
// store refuses to open it rather than start empty or crash on it.
var ErrDamaged = errors.New("queue file damaged")

// bbolt's meta page, read without mapping the file, so that a truncated
// file is named instead of crashing the process with SIGBUS.
const (
	boltMagic      = 0xED0CDAED
	pageHeader     = 16
	metaSize       = 64
	minPageSize    = 512
	maxPageSize    = 1 << 20
	metaChecksumAt = pageHeader + 56
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // pages in use: the file holds at least pgid × pageSize bytes
	txid     uint64
}

// checkFile looks at an existing queue file before bbolt maps it.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return fmt.Errorf("%w: %s is empty (0 bytes): restore it from a backup (lienthong queue backup), or move it away to start with an empty queue", ErrDamaged, path)
	}
	var best *boltMeta
	m0, err := readMeta(f, 0)
	if err == nil {
		best = m0
	}
	if m0 != nil || err == nil {
		ps := int64(4096)
		if m0 != nil {
			ps = int64(m0.pageSize)
		}
		if m1, err := readMeta(f, ps); err == nil && (best == nil || m1.txid > best.txid) {
			best = m1
		}
	}
	if best == nil {
		return fmt.Errorf("%w: %s (%d bytes) has no valid header: restore it from a backup (lienthong queue backup)", ErrDamaged, path, size)
	}
	if need := int64(best.pgid) * int64(best.pageSize); size < need {
		return fmt.Errorf("%w: %s is truncated: %d bytes, its pages end at %d; restore it from a backup (lienthong queue backup)", ErrDamaged, path, size, need)
	}
	return nil
}

// readMeta reads and checks the meta page at off.
func readMeta(r io.ReaderAt, off int64) (*boltMeta, error) {
	b := make([]byte, pageHeader+metaSize)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, err
	}
	m := b[pageHeader:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic {
		return nil, errors.New("no bbolt magic")
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(b[metaChecksumAt:]) {
		return nil, errors.New("meta checksum mismatch")
	}
	meta := &boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	if meta.pageSize < minPageSize || meta.pageSize > maxPageSize {
		return nil, fmt.Errorf("page size %d", meta.pageSize)
	}
	return meta, nil
}

// checkPages walks every page the file's tree reaches, as bbolt's own
// check does, and names the first that is damaged: a file with garbage in
// the middle is refused at open, never served until a read panics.
func checkPages(db *bolt.DB, path string) (err error) {
	return db.View(func(tx *bolt.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: %s: a page is unreadable (%v): restore it from a backup (lienthong queue backup)", ErrDamaged, path, p)
			}
		}()
		var problems []string
		for e := range tx.Check() {
			problems = append(problems, e.Error())
		}
		if len(problems) > 0 {
			more := ""
			if len(problems) > 1 {
				more = fmt.Sprintf(" (and %d more)", len(problems)-1)
			}
			return fmt.Errorf("%w: %s: %s%s: restore it from a backup (lienthong queue backup)", ErrDamaged, path, problems[0], more)
		}
		return nil
	})
}

// unpanic turns a panic of bbolt on a damaged page, met at open or by a
// read or a write after it, into an error naming the file, instead of a
// crash.
func unpanic(path string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w: %s: %v: restore it from a backup (lienthong queue backup)", ErrDamaged, path, p)
	}
}
