// Package axishub is a reference implementation of the national axis
// adapter, speaking the same wire protocol as the real one, because the
// real axis cannot be reached from development machines or CI. It keeps
// its state in bbolt, so a restart loses nothing, and has fault knobs to
// make it misbehave the ways networks and adapters do.
package axishub

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"lienthong/directory"
	"lienthong/gateway/axis"
	"lienthong/gateway/netcap"
)

// System is an integration system allowed to call the hub, with the agency
// codes it may send as.
type System struct {
	SystemID string   `json:"systemId"`
	Secret   string   `json:"secret"`
	Codes    []string `json:"codes"`
	// Operator may register and delete any agency; another system only
	// its own agencies' units, as the axis operator would allow.
	Operator bool `json:"operator,omitempty"`
}

// Options configure a Hub.
type Options struct {
	Dir      string // where axishub.db lives
	Systems  []System
	Agencies []axis.Agency
	// Window, when set, refuses a call whose timestamp (read as Vietnam
	// time) is further than this from the hub's clock: replay protection.
	// Zero turns it off, the default, since the SDK stamps a service object
	// once, in the JVM's own zone, and integrators keep that object.
	Window     time.Duration
	MaxPackage int64 // default 200 MiB
	// MaxUploads bounds the sendEdoc calls read at once (default 8): each
	// may spool up to MaxPackage to disk. BodyWait is how long an upload
	// may go without 256 KiB arriving (default 30 s).
	MaxUploads int
	BodyWait   time.Duration
	// ReplayMemory is how long a sendEdoc's signature is remembered, so
	// the same signed call again stores nothing new (default 24 h).
	ReplayMemory time.Duration
	Now          func() time.Time
	Seed         uint64 // for the fault dice; 0 picks one
	Faults       Faults
	// Dialect is axis.DialectSDK (default) or axis.DialectREST, the
	// provincial REST/JSON dialect, which logs in with one of Accounts
	// (user → password) for a token kept TokenTTL (default 30 min).
	Dialect  string
	Accounts map[string]string
	TokenTTL time.Duration
}

// Hub is the reference axis adapter; it is an http.Handler.
type Hub struct {
	db      *bolt.DB
	blobs   string // one file per package, named by its DocId
	flushes atomic.Uint64

	wmu        sync.Mutex
	waiting    []*hubWrite   // writes for the next commit
	committing bool          // a caller is committing; the others wait
	lastBatch  int           // writes in the last commit
	arrived    chan struct{} // a write joined waiting
	systems    map[string]System
	opts       Options

	uploads netcap.Slots

	mu     sync.Mutex
	seen   map[string]*replay // sendEdoc signatures taken, by hash-header
	order  []string           // seen's keys, oldest first
	faults Faults
	rnd    *mrand.Rand
	calls  atomic.Int64
	tokens map[string]time.Time // the REST dialect's, to their expiry
}

// Server serves the hub on ln as the daemon does: headers in 30 s, an idle
// connection kept a minute, at most maxConns open (a newcomer takes the
// place of the one idle longest).
func (h *Hub) Server(ln net.Listener, maxConns int) (*http.Server, *netcap.Listener) {
	capped := netcap.Listen(ln, max(maxConns, 16))
	return &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		MaxHeaderBytes: 64 << 10, ConnState: capped.Hook}, capped
}

// AddSystem admits another integration system, as the axis operator
// registers one.
func (h *Hub) AddSystem(s System) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.systems[s.SystemID] = s
}

// Calls counts the requests the hub was sent, so tests can bound how hard
// gateways press on a failing axis.
func (h *Hub) Calls() int64 { return h.calls.Load() }

// Open opens or creates the hub's store in opts.Dir and seeds its agency
// directory with opts.Agencies, keeping registrations made since.
func Open(opts Options) (*Hub, error) {
	if opts.MaxPackage <= 0 {
		opts.MaxPackage = 200 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = 8
	}
	if opts.BodyWait <= 0 {
		opts.BodyWait = 30 * time.Second
	}
	if opts.ReplayMemory <= 0 {
		opts.ReplayMemory = 24 * time.Hour
	}
	if opts.Seed == 0 {
		var b [8]byte
		rand.Read(b[:])
		for _, c := range b {
			opts.Seed = opts.Seed<<8 | uint64(c)
		}
	}
	blobs := filepath.Join(opts.Dir, "axishub.blobs")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return nil, fmt.Errorf("axishub store: %w", err)
	}
	db, err := bolt.Open(filepath.Join(opts.Dir, "axishub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("axishub store: %w", err)
	}
	h := &Hub{db: db, blobs: blobs, arrived: make(chan struct{}, 1), systems: map[string]System{}, opts: opts, faults: opts.Faults,
		rnd: mrand.New(mrand.NewPCG(opts.Seed, 1)), uploads: netcap.NewSlots(opts.MaxUploads), seen: map[string]*replay{}, tokens: map[string]time.Time{}}
	if opts.TokenTTL <= 0 {
		h.opts.TokenTTL = 30 * time.Minute
	}
	for _, s := range opts.Systems {
		if s.SystemID == "" || s.Secret == "" {
			db.Close()
			return nil, errors.New("axishub: every system needs systemId and secret")
		}
		h.systems[s.SystemID] = s
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bDocs, bBlobs, bPending, bAgencies} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		ab := tx.Bucket(bAgencies)
		for _, a := range opts.Agencies {
			if ab.Get([]byte(a.Code)) != nil {
				continue
			}
			if a.Version == 0 {
				a.Version = 1
			}
			v, _ := json.Marshal(a)
			if err := ab.Put([]byte(a.Code), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return h, nil
}

// Flushes is how many times the hub has made writes durable on disk since
// it opened, so that the reference hub's share of an exchange's cost can
// be told apart from the gateways'.
func (h *Hub) Flushes() uint64 { return h.flushes.Load() }

// hubWrite is one write waiting for a commit.
type hubWrite struct {
	fn   func(*bolt.Tx) error
	err  error
	done chan struct{}
}

// update runs fn in a durable write transaction, shared with the writes
// that arrive while another commits (group commit, as the queue does):
// the first caller commits every write waiting, with one pair of flushes,
// until none is left. When the last commit was shared, it waits up to
// commitWindow for as many writes to join. A write that fails is retried
// alone, so it fails alone.
func (h *Hub) update(fn func(*bolt.Tx) error) error {
	w := &hubWrite{fn: fn, done: make(chan struct{})}
	h.wmu.Lock()
	h.waiting = append(h.waiting, w)
	if h.committing {
		h.wmu.Unlock()
		select {
		case h.arrived <- struct{}{}:
		default:
		}
		<-w.done
		return w.err
	}
	h.committing = true
	for len(h.waiting) > 0 {
		if want := h.lastBatch; want > 1 && len(h.waiting) < want {
			h.gather(want)
		}
		batch := h.waiting
		h.waiting = nil
		h.lastBatch = len(batch)
		h.wmu.Unlock()
		h.commit(batch)
		h.wmu.Lock()
	}
	h.committing = false
	h.wmu.Unlock()
	<-w.done
	return w.err
}

// commitWindow is how long a shared commit waits for writes to join.
const commitWindow = time.Millisecond

// gather lets writes join waiting, up to want of them or commitWindow;
// wmu is held on entry and on return.
func (h *Hub) gather(want int) {
	t := time.NewTimer(commitWindow)
	defer t.Stop()
	for len(h.waiting) < want {
		h.wmu.Unlock()
		select {
		case <-h.arrived:
			h.wmu.Lock()
		case <-t.C:
			h.wmu.Lock()
			return
		}
	}
}

func (h *Hub) commit(batch []*hubWrite) {
	err := h.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			if err := w.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		for _, w := range batch {
			h.commit([]*hubWrite{w})
		}
		return
	}
	if err == nil {
		h.flushes.Add(2) // bbolt syncs the pages, then the meta page
	}
	for _, w := range batch {
		w.err = err
		close(w.done)
	}
}

// Close closes the store.
func (h *Hub) Close() error { return h.db.Close() }

// ReadSystems reads systems.json: [{"systemId","secret","codes":[...]}].
func ReadSystems(path string) ([]System, error) {
	var s []System
	return s, readJSON(path, &s)
}

// ReadAgencies reads agencies.json in the getAgenciesList shape:
// [{"code","name","pid","mail"}].
func ReadAgencies(path string) ([]axis.Agency, error) {
	var a []axis.Agency
	if err := readJSON(path, &a); err != nil {
		return nil, err
	}
	for i, x := range a {
		if _, err := directory.ParseCode(x.Code); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", path, i, err)
		}
	}
	return a, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
