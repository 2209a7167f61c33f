package queue

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"lienthong/queue/atomicfile"
)

// writeBlob stores a payload as a file named by its hash: written to a
// temporary file, fsynced, renamed into place and the folder fsynced, so
// the name exists only with the whole content behind it. A file already
// there with that hash is the same content and is kept.
func (s *Bolt) writeBlob(sum string, data []byte) error {
	final := s.blobPath(sum)
	if fi, err := os.Stat(final); err == nil && fi.Size() == int64(len(data)) {
		return nil
	}
	tmp, err := os.CreateTemp(s.blobs, "tmp-*")
	if err != nil {
		return fmt.Errorf("write blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write blob: %w", err)
	}
	if !s.opts.NoSync {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("write blob: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write blob: %w", err)
	}
	if s.opts.NoSync {
		return os.Rename(tmp.Name(), final)
	}
	s.flushed(2) // the file, then its folder
	if err := atomicfile.Commit(tmp.Name(), final); err != nil {
		return fmt.Errorf("write blob: %w", err)
	}
	return nil
}

// moveBlob takes a finished file as the blob named by its hash: synced,
// renamed into place (the same file system), the folder synced.
func (s *Bolt) moveBlob(sum, path string) error {
	final := s.blobPath(sum)
	if _, err := os.Stat(final); err == nil {
		return nil // the same content is there already
	}
	if !s.opts.NoSync {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("move blob: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("move blob: %w", err)
		}
		s.flushed(2) // the file, then its folder
		return atomicfile.Commit(path, final)
	}
	return os.Rename(path, final)
}

// TempDir is a folder for files that Put will move into the store: on its
// file system, so the move is a rename. What a crash leaves there is
// removed at the next Open.
func (s *Bolt) TempDir() string { return s.path + ".tmp" }

// addBlobRef changes a blob's reference count, deleting the entry at zero.
func addBlobRef(tx *bolt.Tx, sum string, n int64) error {
	b := tx.Bucket(bucketBlobRefs)
	var cur int64
	if v := b.Get([]byte(sum)); v != nil {
		cur = int64(binary.BigEndian.Uint64(v))
	}
	cur += n
	if cur <= 0 {
		return b.Delete([]byte(sum))
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(cur))
	return b.Put([]byte(sum), v[:])
}

// removeUnreferenced deletes blob files whose reference count is zero. It
// holds the blob lock so that no Put of the same content is between writing
// its file and committing its reference.
func (s *Bolt) removeUnreferenced(sums []string) error {
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	return s.view(func(tx *bolt.Tx) error {
		for _, sum := range sums {
			if tx.Bucket(bucketBlobRefs).Get([]byte(sum)) != nil {
				continue
			}
			if err := os.Remove(filepath.Join(s.blobs, sum)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		return nil
	})
}
