// Package atomicfile writes files that exist whole or not at all, even
// across a crash: a reader of the state folder never sees half a file.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data: a temporary file in the same folder,
// synced, renamed over path, and the folder synced.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// WriteFileNoSync is WriteFile without the syncs, for tests and for files
// that may be lost in a crash but must never be seen half written.
func WriteFileNoSync(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	_, err = tmp.Write(data)
	if err == nil && sync {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err := errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	if !sync {
		return os.Rename(tmp.Name(), path)
	}
	return Commit(tmp.Name(), path)
}

// Commit renames a finished, synced file or folder into place and syncs
// the folder that holds it, so the new name survives a crash.
func Commit(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes a folder's entries (created, renamed, removed) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
