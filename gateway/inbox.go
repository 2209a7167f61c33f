package gateway

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
	"lienthong/queue/atomicfile"
)

// An inbox item lives in the store, in the meta of the record its package
// came in (metaItem), so every node on a shared store has it; its files
// are a folder under the state directory, with a copy of item.json as it
// was delivered, written whole or not at all, and made again from the
// stored package by a node that lacks them. The legacy system reads the
// inbox through the API; the spool copies it.

const itemFile = "item.json"

// metaItem, followed by an item's id, is the record meta holding the item.
const metaItem = "item|"

// inbox is the delivered packages: in the store, their files on disk and,
// for listing and long polls, every item in memory.
type inbox struct {
	dir     string // the state folder's inbox
	spool   string // the spool folder's inbox; "" when none
	maxFile int64  // what one zipped attachment may expand to
	store   queue.Store
	// shared is set when other nodes change the store: an item missing
	// here may be one just delivered there.
	shared bool

	mu      sync.Mutex
	items   map[string]*localapi.InboxItem
	changed chan struct{} // closed and replaced on every change

	flushes atomic.Uint64 // fsyncs of item files and folders

	// pending are the changes whose documents were not delivered yet, by
	// sender, DocumentId and agency.
	pending map[string][]string

	// edits serialise the changes of one item (striped by id), so each
	// change reads the value the last one left.
	edits [64]sync.Mutex
}

func newInbox(dir, spool string, maxFile int64, store queue.Store) *inbox {
	_, shared := store.(queue.Follower)
	return &inbox{dir: dir, spool: spool, maxFile: maxFile, store: store, shared: shared, items: map[string]*localapi.InboxItem{}, changed: make(chan struct{})}
}

// errUndeliverable marks a package the inbox can never take as it is (a
// damaged zip, a zip bomb): it is refused, not retried.
var errUndeliverable = errors.New("undeliverable")

// write writes an item and its files into the inbox, replacing an
// earlier attempt, and copies it to the spool inbox when one is set. All
// the files together may expand to maxFile bytes at most. Files are
// streamed, from memory or from the files a read left them in, never held.
func (x *inbox) write(item *localapi.InboxItem, atts []envelope.Attachment) error {
	if err := x.writeFolder(item, atts); err != nil {
		return err
	}
	if x.spool != "" {
		return x.copyFolder(filepath.Join(x.dir, item.ID), x.spool, item)
	}
	return nil
}

// writeFolder is write without the spool's copy.
func (x *inbox) writeFolder(item *localapi.InboxItem, atts []envelope.Attachment) error {
	if err := os.MkdirAll(x.dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(x.dir, ".tmp-"+item.ID+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	item.Files = nil
	left := x.maxFile
	for i, a := range atts {
		f, err := x.writeAttachment(tmp, i+1, &a, left, x.maxFile)
		if err != nil {
			return err
		}
		left -= f.Size
		item.Files = append(item.Files, f)
	}
	return x.commitFolder(tmp, x.dir, item)
}

// writeAttachment writes the nth attachment into dir, unzipped when the
// sender zipped it, hashed as it is written, at most left of the max bytes
// all files may take.
func (x *inbox) writeAttachment(dir string, n int, a *envelope.Attachment, left, max int64) (localapi.File, error) {
	part := filepath.Join(dir, fmt.Sprintf(".part-%d", n))
	out, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return localapi.File{}, err
	}
	defer out.Close()
	h := sha256.New()
	w := io.MultiWriter(out, h)
	name, zipped := a.Name, a.IsZipped()
	var size int64
	if zipped {
		inner, sz, err := a.UnzipTo(w, left)
		if err != nil {
			return localapi.File{}, fmt.Errorf("%w: attachment %d (%s): %v", errUndeliverable, n, cleanName(a.Name), err)
		}
		name, size = cmp.Or(inner, name), sz
	} else {
		r, err := a.Open()
		if err != nil {
			return localapi.File{}, err
		}
		size, err = io.Copy(w, io.LimitReader(r, left+1))
		r.Close()
		if err != nil {
			return localapi.File{}, err
		}
		if size > left {
			return localapi.File{}, fmt.Errorf("%w: the attachments come to more than %d bytes in all", errUndeliverable, max)
		}
	}
	x.flushes.Add(1)
	if err := out.Sync(); err != nil {
		return localapi.File{}, err
	}
	clean := cleanName(name)
	f := localapi.File{N: n, Name: clean, ContentType: a.ContentType, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	if clean != name {
		f.SenderName = strconv.QuoteToASCII(name)
	}
	if zipped {
		f.ContentType = envelope.ContentTypeOf(name)
	}
	return f, os.Rename(part, filepath.Join(dir, fileName(f)))
}

// change applies fn to an item's current value, under the item's lock,
// and records what it left: in the store when persist is set, in memory in
// every case. An error from fn changes nothing. Two writers of one item
// (a recall's answer and a revocation) can no longer overwrite each other,
// on one node or on two: the store's change holds the record.
func (x *inbox) change(id string, persist bool, fn func(*localapi.InboxItem) error) (*localapi.InboxItem, error) {
	mu := &x.edits[fnv32(id)%uint32(len(x.edits))]
	mu.Lock()
	defer mu.Unlock()
	if !persist {
		item, ok := x.get(id)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err := fn(item); err != nil {
			return nil, err
		}
		x.put(item)
		return item, nil
	}
	var item *localapi.InboxItem
	err := x.store.Update(context.Background(), func(tx queue.Tx) error {
		_, err := tx.Change(recordOf(id), func(r *queue.Record) error {
			// On one node every change passes through memory, which
			// is never older than the store; on several, another node's
			// change may be in the store only.
			item = nil
			if x.shared {
				item = itemOf(r, id)
			}
			if item == nil {
				// Delivered, its record not closed yet: the value
				// here is the only one.
				it, ok := x.get(id)
				if !ok {
					return fmt.Errorf("%w: %s", ErrNotFound, id)
				}
				item = it
			}
			if err := fn(item); err != nil {
				return err
			}
			b, err := json.Marshal(item)
			if err != nil {
				return err
			}
			r.Meta = queue.MergeMap(r.Meta, map[string]string{metaItem + id: string(b)})
			return nil
		})
		return err
	})
	if errors.Is(err, queue.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	x.put(item)
	return item, nil
}

// itemOf reads item id from the record it came from, with the answer
// stored with the status that answered it; nil when the record holds no
// such item.
func itemOf(r *queue.Record, id string) *localapi.InboxItem {
	b, ok := r.Meta[metaItem+id]
	if !ok {
		return nil
	}
	it := &localapi.InboxItem{}
	if json.Unmarshal([]byte(b), it) != nil {
		return nil
	}
	answered(r, it)
	return it
}

// itemsOf are the items a record holds, one per agency it was delivered to.
func itemsOf(r *queue.Record) []*localapi.InboxItem {
	var out []*localapi.InboxItem
	for k := range r.Meta {
		if id, ok := strings.CutPrefix(k, metaItem); ok {
			if it := itemOf(r, id); it != nil {
				out = append(out, it)
			}
		}
	}
	return out
}

// answered applies to an item an answer newer than its stored value: one
// is written with the status that answered, in that commit.
func answered(r *queue.Record, it *localapi.InboxItem) {
	if code, id, ok := answerOf(r, it.ID); ok && id != it.StatusID && it.State != localapi.InboxQuarantined {
		it.StatusCode, it.StatusID, it.State = code, id, localapi.InboxAnswered
	}
}

// itemsMeta is the meta that stores items in their record.
func itemsMeta(items []*localapi.InboxItem) (map[string]string, error) {
	m := map[string]string{}
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		m[metaItem+it.ID] = string(b)
	}
	return m, nil
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// errUnchanged is a change that finds nothing to do.
var errUnchanged = errors.New("unchanged")

// file opens the nth file of an item; one delivered by another node is
// written here from its stored package first.
func (x *inbox) file(id string, n int) (*localapi.File, *os.File, error) {
	item, ok := x.get(id)
	if !ok || n < 1 || n > len(item.Files) {
		return nil, nil, fmt.Errorf("%w: %s file %d", ErrNotFound, id, n)
	}
	f := item.Files[n-1]
	path := filepath.Join(x.dir, id, fileName(f))
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		mu := &x.edits[fnv32(id)%uint32(len(x.edits))]
		mu.Lock()
		if fh, err = os.Open(path); errors.Is(err, fs.ErrNotExist) {
			if err = x.rebuild(item); err == nil {
				fh, err = os.Open(path)
			}
		}
		mu.Unlock()
	}
	return &f, fh, err
}

// rebuild writes the files of an item delivered by another node (or lost
// here) from the stored package, refusing them unless they are the ones
// delivered.
func (x *inbox) rebuild(item *localapi.InboxItem) error {
	ctx := context.Background()
	r, err := queue.Get(ctx, x.store, recordOf(item.ID))
	if err != nil {
		return err
	}
	src, err := x.store.OpenPayload(ctx, r)
	if err != nil {
		return err
	}
	defer src.Close()
	at, size, err := payloadAt(src)
	if err != nil {
		return err
	}
	files := x.scratch(item.ID)
	defer os.RemoveAll(files)
	p, err := envelope.ParseAt(at, size, envelope.ParseOptions{FileDir: files})
	if p == nil || p.Document == nil {
		return fmt.Errorf("inbox item %s: the stored package: %v", item.ID, err)
	}
	again := *item
	if err := x.writeFolder(&again, p.Document.Attachments); err != nil {
		return err
	}
	if !slices.Equal(again.Files, item.Files) {
		os.RemoveAll(filepath.Join(x.dir, item.ID))
		return fmt.Errorf("inbox item %s: the stored package's files are not those delivered", item.ID)
	}
	return nil
}

// fileName is a file's name on disk: its number and its cleaned name,
// bounded so that it fits every file system's 255-byte limit.
func fileName(f localapi.File) string {
	return fmt.Sprintf("%02d-%s", f.N, boundName(cleanName(f.Name), 240))
}

// cleanName is a sender's file name fit to hand on: no folders, no control
// or bidirectional-override characters, valid UTF-8, never empty.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "_")
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || (r >= 0x7f && r <= 0x9f): // C0, DEL and C1 controls
			return -1
		case r == 0x061c || (r >= 0x200b && r <= 0x200f) || (r >= 0x2028 && r <= 0x202e) || (r >= 0x2060 && r <= 0x2069) || r == 0xfeff:
			// Invisible: zero-width characters, line and paragraph
			// separators, direction marks and overrides that make a
			// name show other than it is.
			return -1
		}
		return r
	}, s)
	s = strings.Trim(s, " .")
	if s == "" {
		return "file"
	}
	return s
}

// boundName shortens a name to at most n bytes on a rune boundary,
// keeping a short extension.
func boundName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	ext := filepath.Ext(s)
	if len(ext) > 16 {
		ext = ""
	}
	cut := n - len(ext)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ext
}

// scratch names a folder beside the inbox for the files of a package being
// read, on the file system of the items they are copied into. It is made
// only when a package has files to put there (see envelope's FileDir), so
// a status costs no folder; what an interrupted read leaves, load removes.
func (x *inbox) scratch(id string) string {
	return filepath.Join(x.dir, ".tmp-read-"+id)
}

// commitFolder adds item.json to a folder of synced files and renames it
// into root as the item's folder, replacing an earlier one.
func (x *inbox) commitFolder(tmp, root string, item *localapi.InboxItem) error {
	meta, err := json.MarshalIndent(item, "", "  ")
	if err != nil {
		return err
	}
	if err := x.writeSynced(filepath.Join(tmp, itemFile), bytes.NewReader(meta)); err != nil {
		return err
	}
	x.flushes.Add(2) // the folder, then its parent once renamed
	if err := atomicfile.SyncDir(tmp); err != nil {
		return err
	}
	final := filepath.Join(root, item.ID)
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	return atomicfile.Commit(tmp, final)
}

// copyFolder copies an item's committed folder into another root, as a
// whole.
func (x *inbox) copyFolder(src, root string, item *localapi.InboxItem) error {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+item.ID+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range item.Files {
		in, err := os.Open(filepath.Join(src, fileName(f)))
		if err != nil {
			return err
		}
		err = x.writeSynced(filepath.Join(tmp, fileName(f)), in)
		in.Close()
		if err != nil {
			return err
		}
	}
	return x.commitFolder(tmp, root, item)
}

func (x *inbox) writeSynced(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		x.flushes.Add(1)
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// movedFile marks an inbox folder whose items are all in the store:
// item.json is not read again at each start.
const movedFile = ".in-store"

// load reads every item from the store; items an earlier version kept
// only on disk, in item.json, are moved into the store once.
func (x *inbox) load() error {
	ctx := context.Background()
	_, err := os.Stat(filepath.Join(x.dir, movedFile))
	onDisk, err := x.readFolders(err == nil)
	if err != nil {
		return err
	}
	if err := x.reloadAll(func(it *localapi.InboxItem) { delete(onDisk, it.ID) }); err != nil {
		return err
	}
	// A few hundred to a commit: an upgraded city gateway may hold
	// a hundred thousand items.
	ids := slices.Sorted(maps.Keys(onDisk))
	for len(ids) > 0 {
		n := min(len(ids), 256)
		var moved []*localapi.InboxItem
		err := x.store.Update(ctx, func(tx queue.Tx) error {
			moved = moved[:0]
			for _, id := range ids[:n] {
				it := *onDisk[id]
				_, err := tx.Change(recordOf(id), func(r *queue.Record) error {
					m, err := itemsMeta([]*localapi.InboxItem{&it})
					r.Meta = queue.MergeMap(r.Meta, m)
					answered(r, &it)
					return err
				})
				if errors.Is(err, queue.ErrNotFound) {
					continue // purged
				}
				if err != nil {
					return fmt.Errorf("inbox item %s: %w", id, err)
				}
				moved = append(moved, &it)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range moved {
			x.put(it)
		}
		ids = ids[n:]
	}
	if err := os.MkdirAll(x.dir, 0o750); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(x.dir, movedFile), nil, 0o640)
}

// reloadAll reads every item from the store into memory, calling seen
// with each.
func (x *inbox) reloadAll(seen func(*localapi.InboxItem)) error {
	f := queue.Filter{Dir: queue.Inbound, Limit: 500}
	for {
		recs, next, err := queue.List(context.Background(), x.store, f)
		if err != nil {
			return err
		}
		for _, r := range recs {
			for _, it := range itemsOf(r) {
				if seen != nil {
					seen(it)
				}
				x.put(it)
			}
		}
		if next == "" {
			return nil
		}
		f.After = next
	}
}

// follow keeps the items in memory as other nodes change them.
func (x *inbox) follow(f queue.Follower, log func(error)) {
	f.FollowInbound(func(changed []*queue.Record, all bool) {
		if all {
			if err := x.reloadAll(nil); err != nil {
				log(err)
			}
			return
		}
		for _, r := range changed {
			for _, it := range itemsOf(r) {
				x.put(it)
			}
		}
	})
}

// readFolders reads the item.json of every folder, unless moved says they
// are in the store already, removing what an interrupted write left.
func (x *inbox) readFolders(moved bool) (map[string]*localapi.InboxItem, error) {
	dir := x.dir
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	out := map[string]*localapi.InboxItem{}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".tmp-") {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				os.RemoveAll(filepath.Join(dir, e.Name())) // an interrupted write
			}
			continue
		}
		if moved {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), itemFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var it localapi.InboxItem
		if err := json.Unmarshal(b, &it); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out[it.ID] = &it
	}
	return out, nil
}

func (x *inbox) put(it *localapi.InboxItem) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if it.TargetUnknown {
		if x.pending == nil {
			x.pending = map[string][]string{}
		}
		for _, t := range it.Targets {
			k := it.From + "|" + t + "|" + it.Agency
			if !slices.Contains(x.pending[k], it.ID) {
				x.pending[k] = append(x.pending[k], it.ID)
			}
		}
	}
	c := *it
	x.items[it.ID] = &c
	close(x.changed)
	x.changed = make(chan struct{})
}

// pendingChanges are the changes from a sender that named a DocumentId
// before any document of it was delivered to the agency; they are
// forgotten once asked for.
func (x *inbox) pendingChanges(from, documentID, agency string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := from + "|" + documentID + "|" + agency
	ids := x.pending[k]
	delete(x.pending, k)
	return ids
}

func (x *inbox) get(id string) (*localapi.InboxItem, bool) {
	x.mu.Lock()
	it, ok := x.items[id]
	x.mu.Unlock()
	if !ok {
		return x.fromStore(id)
	}
	c := *it
	return &c, true
}

// fromStore reads an item another node delivered that this one has not
// heard of yet; on one node, a miss is a miss.
func (x *inbox) fromStore(id string) (*localapi.InboxItem, bool) {
	if !x.shared {
		return nil, false
	}
	r, err := queue.Get(context.Background(), x.store, recordOf(id))
	if err != nil {
		return nil, false
	}
	it := itemOf(r, id)
	if it == nil {
		return nil, false
	}
	x.put(it)
	return it, true
}

// inboxFilter selects inbox items for a list.
type inboxFilter struct {
	state, from  string
	since, until time.Time // received in [since, until)
	allow        func(*localapi.InboxItem) bool
	after        *inboxKey // the last item of the previous page
	limit        int
}

// inboxKey is an item's place in the inbox's order: the most urgent
// first, then the oldest.
type inboxKey struct {
	priority int
	received time.Time
	id       string
}

func keyOf(it *localapi.InboxItem) inboxKey { return inboxKey{it.Priority, it.Received, it.ID} }

func (a inboxKey) compare(b inboxKey) int {
	return cmp.Or(b.priority-a.priority, a.received.Compare(b.received), strings.Compare(a.id, b.id))
}

func (k inboxKey) cursor() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%d|%s", k.priority, k.received.UnixNano(), k.id))
}

func decodeInboxCursor(c string) (inboxKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return inboxKey{}, false
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 {
		return inboxKey{}, false
	}
	p, err1 := strconv.Atoi(parts[0])
	ns, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return inboxKey{}, false
	}
	return inboxKey{p, time.Unix(0, ns), parts[2]}, true
}

// list returns a page of items matching f, the most urgent then the
// oldest first, the next page's cursor ("" on the last), and a channel
// closed at the next change, for long polls.
func (x *inbox) list(f inboxFilter) ([]localapi.InboxItem, string, <-chan struct{}) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []localapi.InboxItem
	for _, it := range x.items {
		switch {
		case f.state != "" && it.State != f.state:
		case f.from != "" && it.From != f.from:
		case !f.since.IsZero() && it.Received.Before(f.since):
		case !f.until.IsZero() && !it.Received.Before(f.until):
		case f.after != nil && keyOf(it).compare(*f.after) <= 0:
		case f.allow != nil && !f.allow(it):
		default:
			out = append(out, *it)
		}
	}
	slices.SortFunc(out, func(a, b localapi.InboxItem) int { return keyOf(&a).compare(keyOf(&b)) })
	next := ""
	if f.limit > 0 && len(out) > f.limit {
		out = out[:f.limit]
		next = keyOf(&out[len(out)-1]).cursor()
	}
	return out, next, x.changed
}

// drop forgets items whose records were purged.
func (x *inbox) drop() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id := range x.items {
		if _, err := queue.Get(context.Background(), x.store, recordOf(id)); errors.Is(err, queue.ErrNotFound) {
			delete(x.items, id)
		}
	}
}

// idFor finds the item an agency got of the package stored as record id:
// one record, one item per agency it was delivered to.
func (x *inbox) idFor(record, agency string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	for n := 1; n <= 64; n++ {
		id := record
		if n > 1 {
			id = record + "-" + strconv.Itoa(n)
		}
		it, ok := x.items[id]
		if !ok {
			break
		}
		if it.Agency == agency {
			return id
		}
	}
	return record
}

// recordOf is the record an inbox item came from: an agency's second or
// later item of one package is the record's id with "-N" added.
func recordOf(itemID string) string {
	if i := strings.LastIndexByte(itemID, '-'); i > 0 && strings.Count(itemID, "-") >= 2 {
		return itemID[:i]
	}
	return itemID
}
