package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options tune a Store. The zero value of each field means its default.
type Options struct {
	// LeaseTime is how long a leased record stays with its worker before
	// it returns to the queue; zero means 5 minutes.
	LeaseTime time.Duration
	// BlobThreshold is the payload size from which payloads live as files
	// in the blob folder beside the database instead of inside it; zero
	// means 64 KiB, negative keeps every payload in the database. A lone
	// durable 256 KiB put takes 1.05 ms as a blob and 1.94 ms inline, and a
	// blob's space is returned when it is purged, bbolt's never.
	BlobThreshold int64
	// MaxBatch caps the writes that share one commit; zero means 512.
	MaxBatch int
	// CommitWindow is how long a commit waits for more writes when the
	// last one was shared, so writers working side by side share flushes
	// (group commit with a delay). A lone writer never waits. Zero means
	// 1 ms; negative, no wait.
	CommitWindow time.Duration
	// Now is the clock for Put and operator calls; zero means time.Now.
	Now func() time.Time
	// Owner names who holds the leases taken through this store, e.g. the
	// node, so that leases can be told apart when nodes share a store.
	Owner string
	// NoSync skips fsync. Only for tests: a crash loses acknowledged work.
	NoSync bool
}

func (o Options) withDefaults() Options {
	if o.LeaseTime <= 0 {
		o.LeaseTime = 5 * time.Minute
	}
	if o.BlobThreshold == 0 {
		o.BlobThreshold = 64 << 10
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.CommitWindow == 0 {
		o.CommitWindow = time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Bucket names.
var (
	bucketRecords  = []byte("records")  // id → Record JSON
	bucketPayloads = []byte("payloads") // id → payload bytes (not blobs)
	bucketKeys     = []byte("keys")     // dir, key → id
	bucketReady    = []byte("ready")    // dir, 255-priority, due, id → nil
	bucketLeases   = []byte("leases")   // lease end, id → nil
	bucketStates   = []byte("states")   // dir, state, priority, created, id → nil
	bucketBlobRefs = []byte("blobrefs") // sha256 hex → reference count
	bucketEvents   = []byte("events")   // id, 0, seq → Event JSON
	allBuckets     = [][]byte{bucketRecords, bucketPayloads, bucketKeys, bucketReady, bucketLeases, bucketStates, bucketBlobRefs, bucketEvents, bucketGroups, bucketGroupCounts,
		bucketLogPending, bucketLogEntries, bucketLogHashes, bucketLogCheckpoints, bucketReport}
)

// Bolt is the store on one bbolt file. Its methods are safe for concurrent use.
type Bolt struct {
	db    *bolt.DB
	path  string
	blobs string // blob folder
	opts  Options

	ops  chan *op
	quit chan struct{}
	wg   sync.WaitGroup

	// blobMu is held shared by a Put from writing its blob file until its
	// reference commits, and exclusively while unreferenced files go.
	blobMu sync.RWMutex

	// closeMu is held shared while a write is handed to the committer and
	// exclusively by Close, so no write can enter the channel after the
	// committer has gone.
	closeMu sync.RWMutex
	closed  bool

	mu     sync.Mutex
	counts map[group]int // records per direction, state and priority

	flushes atomic.Uint64

	subs Subscribers
	// enter makes the log lines of a commit's events (Ledger).
	enter func([]Event) [][]byte
	// report makes a record's report row (Reporter).
	report func(*Record) []byte
	seal   SealFunc
}

// Flushes is how many times the store has asked the disk to make writes
// durable (fsync or fdatasync), since it was opened: the cost that bounds
// durable throughput, counted so that it can be measured per package.
func (s *Bolt) Flushes() uint64 { return s.flushes.Load() }

// flushed counts n flushes unless syncing is off.
func (s *Bolt) flushed(n uint64) {
	if !s.opts.NoSync {
		s.flushes.Add(n)
	}
}

// group is one cell of Stats.
type group struct {
	Dir      Direction
	State    State
	Priority int
}

// Open opens or creates the queue file at path, with its blob folder at
// path + ".blobs".
func Open(path string, opts Options) (*Bolt, error) {
	opts = opts.withDefaults()
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	db, err := openBolt(path, opts.NoSync)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open queue %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	s := &Bolt{
		db: db, path: path, blobs: path + ".blobs", opts: opts,
		ops: make(chan *op, opts.MaxBatch), quit: make(chan struct{}),
		counts: map[group]int{},
	}
	os.RemoveAll(s.TempDir()) // files a crashed run was writing
	if err := os.MkdirAll(s.TempDir(), 0o700); err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	if err := os.MkdirAll(s.blobs, 0o700); err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	// Every page the file reaches is checked before anything reads it.
	err = checkPages(db, path)
	if err == nil {
		err = s.boltUpdate(func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		err = s.loadCounts()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	s.wg.Add(1)
	go s.commitLoop()
	return s, nil
}

// loadCounts rebuilds the per-group counts from the state index keys.
func (s *Bolt) loadCounts() error {
	return s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStates).ForEach(func(k, _ []byte) error {
			g, ok := groupOf(k)
			if !ok {
				return fmt.Errorf("state index key %x is malformed", k)
			}
			s.counts[g]++
			return nil
		})
	})
}

// Close waits for pending writes and closes the file.
func (s *Bolt) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.quit)
	s.wg.Wait()
	return s.db.Close()
}

// Path is the queue file's path.
func (s *Bolt) Path() string { return s.path }

// op is one write waiting for a commit. fn must check before it changes
// anything: an error from our sentinel set leaves the transaction usable for
// the other writes of the batch; any other error aborts the batch.
type op struct {
	fn    func(tx *bolt.Tx, d delta) error
	delta delta
	err   error
	done  chan struct{}
}

// delta records count changes a write makes, applied once it commits.
type delta map[group]int

// write queues fn for the next commit and waits until it is durable.
func (s *Bolt) write(fn func(tx *bolt.Tx, d delta) error) error {
	o := &op{fn: fn, delta: delta{}, done: make(chan struct{})}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	s.ops <- o // the committer runs until Close, which waits for this lock
	s.closeMu.RUnlock()
	<-o.done
	return unwrapOp(o.err)
}

// commitLoop takes the first waiting write, then every other one already
// waiting, and commits them together. When the last commit was shared by
// several writers, it also waits up to CommitWindow for as many to come
// before committing: writers working side by side then share one flush
// instead of taking turns. A lone writer never waits.
func (s *Bolt) commitLoop() {
	defer s.wg.Done()
	last := 1 // writes in the last commit
	for {
		var first *op
		select {
		case first = <-s.ops:
		case <-s.quit:
			s.drain()
			return
		}
		batch := []*op{first}
	more:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		if last > 1 && len(batch) < last && s.opts.CommitWindow > 0 {
			batch = s.gather(batch, min(last, s.opts.MaxBatch))
		}
		last = len(batch)
		s.commit(batch)
	}
}

// gather adds writes to batch until it holds want or CommitWindow ends.
func (s *Bolt) gather(batch []*op, want int) []*op {
	t := time.NewTimer(s.opts.CommitWindow)
	defer t.Stop()
	for len(batch) < want {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-t.C:
			return batch
		case <-s.quit:
			return batch
		}
	}
	return batch
}

// drain fails writes that raced with Close.
func (s *Bolt) drain() {
	for {
		select {
		case o := <-s.ops:
			o.err = ErrClosed
			close(o.done)
		default:
			return
		}
	}
}

func (s *Bolt) commit(batch []*op) {
	err := s.boltUpdate(func(tx *bolt.Tx) error {
		for _, o := range batch {
			o.err = o.fn(tx, o.delta)
			if o.err != nil && !isLogical(o.err) {
				return o.err
			}
		}
		return nil
	})
	if err == nil {
		s.flushed(2) // bbolt syncs the pages, then the meta page
	}
	if err != nil && len(batch) > 1 {
		// One write broke the transaction: give each its own.
		for _, o := range batch {
			o.delta = delta{}
			s.commit([]*op{o})
		}
		return
	}
	if err != nil {
		batch[0].err = err
	}
	s.mu.Lock()
	for _, o := range batch {
		if err == nil && o.err == nil {
			for g, n := range o.delta {
				s.counts[g] += n
			}
		}
	}
	s.mu.Unlock()
	for _, o := range batch {
		close(o.done)
	}
}

// openBolt is bolt.Open, with a panic on a damaged page (its free list
// is read at open) made an error.
func openBolt(path string, noSync bool) (db *bolt.DB, err error) {
	defer unpanic(path, &err)
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      time.Second,
		NoSync:       noSync,
		FreelistType: bolt.FreelistMapType,
	})
}

// boltUpdate is db.Update with a panic on a damaged page made an error.
func (s *Bolt) boltUpdate(fn func(*bolt.Tx) error) (err error) {
	defer unpanic(s.path, &err)
	return s.db.Update(fn)
}

// view is db.View with a panic on a damaged page made an error.
func (s *Bolt) view(fn func(*bolt.Tx) error) (err error) {
	defer unpanic(s.path, &err)
	return s.db.View(fn)
}

func isLogical(err error) bool {
	var c cleanError
	if errors.As(err, &c) {
		return true
	}
	var d dirtyError
	if errors.As(err, &d) {
		return false
	}
	for _, e := range []error{ErrNotFound, ErrLeaseLost, ErrState, ErrEmpty, ErrInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Key encodings. Times are unix nanoseconds shifted to sort as unsigned.

func timeKey(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano())^(1<<63))
	return b[:]
}

func keyTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63)))
}

func readyKey(r *Record) []byte {
	k := []byte{r.Dir.byte(), byte(255 - r.Priority)}
	k = append(k, timeKey(r.due())...)
	return append(k, r.ID...)
}

func leaseKey(r *Record) []byte {
	return append(timeKey(r.LeaseUntil), r.ID...)
}

func stateKey(r *Record) []byte {
	k := []byte{r.Dir.byte(), stateBytes[r.State], byte(r.Priority)}
	k = append(k, timeKey(r.Created)...)
	return append(k, r.ID...)
}

func keysKey(dir Direction, key string) []byte {
	return append([]byte{dir.byte()}, key...)
}

// groupOf reads the group from a state index key.
func groupOf(k []byte) (group, bool) {
	if len(k) < 11 {
		return group{}, false
	}
	g := group{Dir: Outbound, Priority: int(k[2])}
	if k[0] == 'i' {
		g.Dir = Inbound
	}
	for st, b := range stateBytes {
		if b == k[1] {
			g.State = st
			return g, true
		}
	}
	return group{}, false
}

func getRecord(tx *bolt.Tx, id string) (*Record, error) {
	v := tx.Bucket(bucketRecords).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var r Record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	return &r, nil
}

// index adds (on=true) or removes the record's index entries for its
// current state, and counts the change.
func index(tx *bolt.Tx, r *Record, d delta, on bool) error {
	var puts [][2][]byte // bucket, key
	puts = append(puts, [2][]byte{bucketStates, stateKey(r)})
	switch r.State {
	case Ready:
		puts = append(puts, [2][]byte{bucketReady, readyKey(r)})
	case Leased:
		puts = append(puts, [2][]byte{bucketLeases, leaseKey(r)})
	}
	for _, p := range puts {
		b := tx.Bucket(p[0])
		var err error
		if on {
			err = b.Put(p[1], nil)
		} else {
			err = b.Delete(p[1])
		}
		if err != nil {
			return err
		}
	}
	n := 1
	if !on {
		n = -1
	}
	d[group{r.Dir, r.State, r.Priority}] += n
	return indexGroup(tx, r, on)
}

func putRecord(tx *bolt.Tx, r *Record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRecords).Put([]byte(r.ID), v)
}

func (s *Bolt) blobPath(sum string) string { return filepath.Join(s.blobs, sum) }
