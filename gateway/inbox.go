package gateway

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// The inbox is a folder per delivered package under the state directory:
// item.json plus the verified attachments, written whole or not at all.
// The legacy system reads it through the API; the spool copies it.

const itemFile = "item.json"

// writeInbox writes an item and its files into the inbox, replacing an
// earlier attempt, and copies it to the spool inbox when one is set.
func (g *Gateway) writeInbox(item *localapi.InboxItem, atts []envelope.Attachment) error {
	files := make([]namedFile, 0, len(atts))
	item.Files = nil
	for i, a := range atts {
		name, data := a.Name, a.Data
		if a.IsZipped() {
			n, d, err := a.Unzip(int64(g.cfg.Outbound.MaxDocument))
			if err != nil {
				return fmt.Errorf("attachment %d: %w", i+1, err)
			}
			name, data = cmp.Or(n, name), d
		}
		sum := sha256.Sum256(data)
		f := localapi.File{N: i + 1, Name: name, ContentType: a.ContentType, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		if a.IsZipped() {
			f.ContentType = envelope.ContentTypeOf(name)
		}
		item.Files = append(item.Files, f)
		files = append(files, namedFile{fileName(f), data})
	}
	if err := writeFolder(g.inboxDir, item.ID, item, files); err != nil {
		return err
	}
	if g.cfg.Spool.Dir != "" {
		return writeFolder(filepath.Join(g.cfg.Spool.Dir, "inbox"), item.ID, item, files)
	}
	return nil
}

// writeItem rewrites an item's metadata after a state change.
func (g *Gateway) writeItem(item *localapi.InboxItem) error {
	b, err := json.MarshalIndent(item, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(g.inboxDir, item.ID, itemFile), b)
}

// inboxFile opens the nth file of an item.
func (g *Gateway) inboxFile(id string, n int) (*localapi.File, *os.File, error) {
	item, ok := g.inbox.get(id)
	if !ok || n < 1 || n > len(item.Files) {
		return nil, nil, fmt.Errorf("%w: %s file %d", ErrNotFound, id, n)
	}
	f := item.Files[n-1]
	fh, err := os.Open(filepath.Join(g.inboxDir, id, fileName(f)))
	return &f, fh, err
}

type namedFile struct {
	name string
	data []byte
}

func fileName(f localapi.File) string { return fmt.Sprintf("%02d-%s", f.N, safeName(f.Name)) }

// safeName keeps a sender's file name from leaving its folder.
func safeName(s string) string {
	s = filepath.Base(strings.ReplaceAll(s, "\\", "/"))
	if s == "." || s == "/" || s == ".." || s == "" {
		return "file"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// writeFolder writes root/id as a whole: files into a temporary folder,
// each synced, then one rename.
func writeFolder(root, id string, item *localapi.InboxItem, files []namedFile) error {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+id+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	meta, err := json.MarshalIndent(item, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range append(files, namedFile{itemFile, meta}) {
		if err := writeSynced(filepath.Join(tmp, f.name), f.data); err != nil {
			return err
		}
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	final := filepath.Join(root, id)
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(root)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := writeSynced(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// inboxIndex holds every inbox item in memory for listing and long polls.
type inboxIndex struct {
	mu      sync.Mutex
	items   map[string]*localapi.InboxItem
	changed chan struct{} // closed and replaced on every change
}

func newInboxIndex() *inboxIndex {
	return &inboxIndex{items: map[string]*localapi.InboxItem{}, changed: make(chan struct{})}
}

// load reads the inbox folder written by earlier runs; the store is passed
// to drop items whose records were purged.
func (x *inboxIndex) load(dir string, store *queue.Store) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".tmp-") {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				os.RemoveAll(filepath.Join(dir, e.Name())) // an interrupted write
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), itemFile))
		if err != nil {
			return err
		}
		var it localapi.InboxItem
		if err := json.Unmarshal(b, &it); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
		if _, err := store.Get(it.ID); errors.Is(err, queue.ErrNotFound) {
			continue
		}
		x.items[it.ID] = &it
	}
	return nil
}

func (x *inboxIndex) put(it *localapi.InboxItem) {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := *it
	x.items[it.ID] = &c
	close(x.changed)
	x.changed = make(chan struct{})
}

func (x *inboxIndex) get(id string) (*localapi.InboxItem, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	it, ok := x.items[id]
	if !ok {
		return nil, false
	}
	c := *it
	return &c, true
}

// list returns items in a state ("" for all), oldest first, and a channel
// closed at the next change, for long polls.
func (x *inboxIndex) list(state string, limit int) ([]localapi.InboxItem, <-chan struct{}) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []localapi.InboxItem
	for _, it := range x.items {
		if state == "" || it.State == state {
			out = append(out, *it)
		}
	}
	slices.SortFunc(out, func(a, b localapi.InboxItem) int {
		return cmp.Or(b.Priority-a.Priority, a.Received.Compare(b.Received), strings.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, x.changed
}

// drop forgets items whose records were purged.
func (x *inboxIndex) drop(store *queue.Store) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id := range x.items {
		if _, err := store.Get(id); errors.Is(err, queue.ErrNotFound) {
			delete(x.items, id)
		}
	}
}
