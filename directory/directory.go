package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Source is where the directory comes from: the axis client satisfies it
// with getAgenciesList and getSynchronizeUnit.
type Source interface {
	// Agencies returns the whole directory.
	Agencies(ctx context.Context) ([]Entry, error)
	// Changes returns the entries changed after version since.
	Changes(ctx context.Context, since int64) ([]Entry, error)
}

// Options tune a Directory. The zero value of each field means its default.
type Options struct {
	// StaleAfter is the age of the last good sync after which Resolve
	// reports the directory stale; zero means 7 days.
	StaleAfter time.Duration
	// NoSync skips fsync. Only for tests.
	NoSync bool
}

// Directory is the national agency directory as last synced from the axis:
// kept in its own bbolt file, because it can always be fetched again and is
// replaced whole on a full sync, and loaded into memory for lookups and
// search.
type Directory struct {
	db   *bolt.DB
	opts Options
	ix   atomic.Pointer[index]
	// writeMu serialises Replace and Apply, each of which builds the next
	// index from the current one.
	writeMu sync.Mutex

	pmu      sync.Mutex
	partners map[string]bool // code → written to the file
}

var (
	bucketEntries = []byte("entries")
	bucketMeta    = []byte("meta")
	keySynced     = []byte("synced")
)

// Errors of the directory.
var (
	// ErrUnknown is a well-formed code the directory does not hold.
	ErrUnknown = errors.New("not in the agency directory")
	// ErrDeleted is a code the directory holds as removed.
	ErrDeleted = errors.New("removed from the agency directory")
)

// Open opens or creates the directory file at path and loads it.
func Open(path string, opts Options) (*Directory, error) {
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 7 * 24 * time.Hour
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", path, err)
	}
	d := &Directory{db: db, opts: opts, partners: map[string]bool{}}
	var entries []Entry
	var synced time.Time
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEntries, bucketMeta, bucketHeld, bucketPartners} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketPartners).ForEach(func(k, _ []byte) error {
			d.partners[string(k)] = true
			return nil
		}); err != nil {
			return err
		}
		if v := tx.Bucket(bucketMeta).Get(keySynced); v != nil {
			if err := synced.UnmarshalText(v); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketEntries).ForEach(func(_, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			entries = append(entries, e)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open directory %s: %w", path, err)
	}
	d.ix.Store(newIndex(entries, synced))
	return d, nil
}

// Load makes a read-only directory held only in memory, for tools that
// work on an exported directory file.
func Load(entries []Entry, synced time.Time) *Directory {
	d := &Directory{opts: Options{StaleAfter: 7 * 24 * time.Hour}}
	d.ix.Store(newIndex(sortedByCode(entries), synced))
	return d
}

// ErrReadOnly is a change to a directory made by Load.
var ErrReadOnly = errors.New("directory is read-only")

// Close closes the file.
func (d *Directory) Close() error {
	if d.db == nil {
		return nil
	}
	err := d.db.Update(d.savePartners)
	return errors.Join(err, d.db.Close())
}

// Len is the number of live (not deleted) entries.
func (d *Directory) Len() int { return len(d.ix.Load().list) }

// Version is the highest entry version held, where incremental sync resumes.
func (d *Directory) Version() int64 { return d.ix.Load().version }

// LastSync is when the last sync or import succeeded; zero if never.
func (d *Directory) LastSync() time.Time { return d.ix.Load().synced }

// Stale reports whether the last good sync is older than StaleAfter.
func (d *Directory) Stale(now time.Time) bool {
	s := d.LastSync()
	return s.IsZero() || now.Sub(s) > d.opts.StaleAfter
}

// Replace stores entries as the whole directory, in one transaction: a
// failure leaves the previous directory intact.
func (d *Directory) Replace(entries []Entry, now time.Time) error {
	if d.db == nil {
		return ErrReadOnly
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	err := d.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketEntries); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketEntries)
		if err != nil {
			return err
		}
		b.FillPercent = 1 // written once in key order
		sorted := sortedByCode(entries)
		for _, e := range sorted {
			if err := putEntry(b, e); err != nil {
				return err
			}
		}
		return putSynced(tx, now)
	})
	if err != nil {
		return fmt.Errorf("replace directory: %w", err)
	}
	d.ix.Store(newIndex(sortedByCode(entries), now))
	return nil
}

// Apply stores changed entries (a deleted one is kept, marked deleted) in
// one transaction.
func (d *Directory) Apply(changes []Entry, now time.Time) error {
	return d.apply(changes, nil, now, nil)
}

// apply stores changes, adds held to the held changes and drops the held
// changes of the codes in accepted, in one transaction.
func (d *Directory) apply(changes []Entry, held []Held, now time.Time, accepted []string) error {
	if d.db == nil {
		return ErrReadOnly
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	old := d.ix.Load()
	merged := make(map[Code]Entry, len(old.byCode)+len(changes))
	for c, e := range old.byCode {
		merged[c] = *e
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEntries)
		for _, e := range changes {
			if err := putEntry(b, e); err != nil {
				return err
			}
			merged[Code(e.Code)] = e
		}
		hb := tx.Bucket(bucketHeld)
		for _, code := range accepted {
			if err := hb.Delete([]byte(code)); err != nil {
				return err
			}
		}
		for _, h := range held {
			if v := hb.Get([]byte(h.Entry.Code)); v != nil {
				var was Held
				if json.Unmarshal(v, &was) == nil {
					h.Since = was.Since // held since it first came
				}
			}
			v, err := json.Marshal(h)
			if err != nil {
				return err
			}
			if err := hb.Put([]byte(h.Entry.Code), v); err != nil {
				return err
			}
		}
		if err := d.savePartners(tx); err != nil {
			return err
		}
		return putSynced(tx, now)
	})
	if err != nil {
		return fmt.Errorf("update directory: %w", err)
	}
	all := make([]Entry, 0, len(merged))
	for _, e := range merged {
		all = append(all, e)
	}
	d.ix.Store(newIndex(sortedByCode(all), now))
	return nil
}

// SyncFull fetches the whole directory from src and replaces ours with it.
func (d *Directory) SyncFull(ctx context.Context, src Source, now time.Time) (ImportReport, error) {
	entries, err := src.Agencies(ctx)
	if err != nil {
		return ImportReport{}, fmt.Errorf("full directory sync: %w", err)
	}
	valid, rep := checkEntries(entries)
	if len(valid) == 0 && len(entries) > 0 {
		return rep, errors.New("full directory sync: no usable entry; previous directory kept")
	}
	return rep, d.Replace(valid, now)
}

// SyncChanges fetches the entries changed since our version and applies
// them.
func (d *Directory) SyncChanges(ctx context.Context, src Source, now time.Time) (ImportReport, error) {
	changes, err := src.Changes(ctx, d.Version())
	if err != nil {
		return ImportReport{}, fmt.Errorf("incremental directory sync: %w", err)
	}
	valid, rep := checkEntries(changes)
	apply, held := d.hold(valid, now)
	rep.Entries = len(apply)
	for _, h := range held {
		rep.Held = append(rep.Held, h.Entry.Code+": "+h.Reason)
	}
	return rep, d.apply(apply, held, now, nil)
}

func checkEntries(in []Entry) ([]Entry, ImportReport) {
	var rep ImportReport
	out := make([]Entry, 0, len(in))
	for i, e := range in {
		if _, err := ParseCode(e.Code); err != nil {
			rep.Refused = append(rep.Refused, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		out = append(out, e)
	}
	rep.Entries = len(out)
	return out, rep
}

func putEntry(b *bolt.Bucket, e Entry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return b.Put([]byte(e.Code), v)
}

func putSynced(tx *bolt.Tx, now time.Time) error {
	v, err := now.MarshalText()
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keySynced, v)
}

func sortedByCode(entries []Entry) []Entry {
	out := append([]Entry(nil), entries...)
	sortEntries(out)
	return out
}

// Lookup returns the entry for a code, deleted or not.
func (d *Directory) Lookup(code string) (Entry, bool) {
	e, ok := d.ix.Load().byCode[Code(code)]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Children returns the live entries whose parent is code.
func (d *Directory) Children(code string) []Entry {
	ix := d.ix.Load()
	var out []Entry
	for _, c := range ix.children[Code(code)] {
		out = append(out, *ix.byCode[c])
	}
	return out
}

// Path returns the chain from code up to its level-1 unit, the code first.
// Explicit parents win over derived ones; a parent the directory lacks is
// still named by its derived code.
func (d *Directory) Path(code string) []Code {
	ix := d.ix.Load()
	var out []Code
	seen := map[Code]bool{}
	for c := Code(code); c != "" && !seen[c]; {
		seen[c] = true
		out = append(out, c)
		if e, ok := ix.byCode[c]; ok {
			c = ix.parentOf(e)
		} else {
			c = c.Parent()
		}
	}
	return out
}

// Search finds live agencies by name, case and diacritics folded and word
// order free: names holding every query word whole first, then names where
// some query word only starts a word; shorter names first within each.
func (d *Directory) Search(text string, limit int) []Entry {
	found := d.ix.Load().search(text, limit)
	out := make([]Entry, len(found))
	for i, e := range found {
		out[i] = *e
	}
	return out
}

// ResolveError names a recipient code that cannot be used and why.
type ResolveError struct {
	Index int    // position in the list given to Resolve
	Code  string // as given
	Err   error  // a CodeError, ErrUnknown or ErrDeleted
}

func (e *ResolveError) Error() string {
	var ce *CodeError
	if errors.As(e.Err, &ce) {
		return ce.Error()
	}
	return fmt.Sprintf("%q is %v", e.Code, e.Err)
}

func (e *ResolveError) Unwrap() error { return e.Err }

// ResolveErrors is every recipient Resolve refused.
type ResolveErrors []*ResolveError

func (es ResolveErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap lets errors.Is and errors.As see each refusal.
func (es ResolveErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Resolution is the outcome of a successful Resolve.
type Resolution struct {
	Entries []Entry
	// Stale is set when the directory's last good sync is older than
	// StaleAfter: the codes resolved, but against old data.
	Stale bool
	Age   time.Duration // since the last good sync
}

// Resolve checks outbound recipients: each must be a well-formed code of a
// live entry. Every refused code is named in ResolveErrors.
func (d *Directory) Resolve(codes []string, now time.Time) (Resolution, error) {
	ix := d.ix.Load()
	var res Resolution
	var errs ResolveErrors
	for i, c := range codes {
		if _, err := ParseCode(c); err != nil {
			errs = append(errs, &ResolveError{i, c, err})
			continue
		}
		e, ok := ix.byCode[Code(c)]
		switch {
		case !ok:
			errs = append(errs, &ResolveError{i, c, ErrUnknown})
		case e.Deleted:
			errs = append(errs, &ResolveError{i, c, ErrDeleted})
		default:
			res.Entries = append(res.Entries, *e)
		}
	}
	if len(errs) > 0 {
		return Resolution{}, errs
	}
	if !ix.synced.IsZero() {
		res.Age = now.Sub(ix.synced)
	}
	res.Stale = d.Stale(now)
	return res, nil
}

// Entries returns every entry, deleted ones included, ordered by code: the
// export of the directory.
func (d *Directory) Entries() []Entry {
	ix := d.ix.Load()
	out := make([]Entry, 0, len(ix.byCode))
	for _, e := range ix.byCode {
		out = append(out, *e)
	}
	sortEntries(out)
	return out
}
