package queue

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// mustOpen opens a store in a temporary folder and checks its invariants
// when the test ends.
func mustOpen(tb testing.TB, opts Options) *Bolt {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "queue.db"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := s.Check(); err != nil {
			tb.Errorf("after the test: %v", err)
		}
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func testOptions(c *clock) Options {
	return Options{Now: c.Now, NoSync: true, LeaseTime: time.Minute}
}

func put(t *testing.T, s *Bolt, key string, prio int) *Record {
	t.Helper()
	r, existed, err := s.Put(Item{Dir: Outbound, Key: key, Priority: prio, Payload: []byte("payload " + key)})
	if err != nil || existed {
		t.Fatalf("Put(%s) = %v, existed %v", key, err, existed)
	}
	return r
}

func lease(t *testing.T, s *Bolt, now time.Time) *Record {
	t.Helper()
	r, err := s.Lease(now, Outbound, 0)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	return r
}

func TestPutInvalid(t *testing.T) {
	s := mustOpen(t, testOptions(newClock()))
	for _, it := range []Item{{Dir: "sideways", Key: "k"}, {Dir: Outbound}, {Dir: Outbound, Key: "k", Priority: 5}} {
		if _, _, err := s.Put(it); !errors.Is(err, ErrInvalid) {
			t.Errorf("Put(%+v) = %v, want ErrInvalid", it, err)
		}
	}
}

// A lone writer never waits for company: with an hour's window, its
// writes still commit one after another at once.
func TestCommitWindowLoneWriter(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.CommitWindow = time.Hour
	s := mustOpen(t, opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			if _, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint("k", i), Payload: []byte("p")}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // twenty lone commits take milliseconds
		t.Fatal("a lone writer waited for company")
	}
	if st := s.Stats(); len(st) != 1 || st[0].Count != 20 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBlobPayloadsAndPurge(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.BlobThreshold = 1024
	s := mustOpen(t, opts)
	big := bytes.Repeat([]byte("b"), 4096)
	r1, _, err := s.Put(Item{Dir: Outbound, Key: "a", Payload: big})
	if err != nil || !r1.Blob {
		t.Fatalf("Put big = %+v, %v; want a blob", r1, err)
	}
	r2, _, _ := s.Put(Item{Dir: Outbound, Key: "b", Payload: big}) // same content, same file
	if p, err := s.Payload(r2); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("Payload = %d bytes, %v", len(p), err)
	}
	for range 2 {
		r := lease(t, s, c.Now())
		if _, err := s.Done(c.Now(), r.ID, r.Lease, nil); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
	}
	// Only the first is old enough: the shared file must stay.
	if n, err := s.Purge(context.Background(), Done, c.Now().Add(-90*time.Minute)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if _, err := s.Payload(r2); err != nil {
		t.Fatalf("shared blob removed with the first record: %v", err)
	}
	if n, err := s.Purge(context.Background(), Done, c.Now()); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	if entries, _ := os.ReadDir(s.blobs); len(entries) != 0 {
		t.Errorf("blob folder still holds %d files", len(entries))
	}
	if _, err := s.Get(r1.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("purged record still there: %v", err)
	}
	// A purged key may be used again.
	if _, existed, _ := s.Put(Item{Dir: Outbound, Key: "a", Payload: big}); existed {
		t.Error("a purged key still reported existed")
	}
}

func TestStatsAndList(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	first := put(t, s, "a", 0)
	c.Add(time.Minute)
	put(t, s, "b", 0)
	put(t, s, "c", 3)
	lease(t, s, c.Now()) // takes c
	got := s.Stats()
	want := []GroupStats{
		{Dir: Outbound, State: Ready, Priority: 0, Count: 2, Oldest: first.Created},
		{Dir: Outbound, State: Leased, Priority: 3, Count: 1, Oldest: c.Now()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	list, _, err := s.List(Filter{Dir: Outbound, States: []State{Ready}})
	if err != nil || len(list) != 2 || list[1].ID != first.ID {
		t.Errorf("List ready = %d records, %v", len(list), err)
	}
}

func TestConcurrentPutsShareCommits(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, _, err := s.Put(Item{Dir: Inbound, Key: fmt.Sprint(g, "-", i), Payload: []byte("x")}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	list, _, _ := s.List(Filter{Limit: 10000})
	if len(list) != 800 {
		t.Errorf("stored %d records, want 800", len(list))
	}
}

func TestCheckFindsBrokenIndex(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := put(t, s, "k", 0)
	err = s.write(func(tx *bolt.Tx, d delta) error { return tx.Bucket(bucketReady).Delete(readyKey(r)) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(); err == nil {
		t.Fatal("Check passed with a record missing from the ready index")
	}
}

func TestBackupAndCompact(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.BlobThreshold = 1024
	dir := t.TempDir()
	path := filepath.Join(dir, "q.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		size := 100
		if i%50 == 0 {
			size = 5000
		}
		if _, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint(i), Payload: bytes.Repeat([]byte{byte(i)}, size)}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	s.Close()

	restored := filepath.Join(t.TempDir(), "queue.db")
	extract(t, &buf, filepath.Dir(restored))
	r, err := Open(restored, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Check(); err != nil || rep.Records != 200 {
		t.Fatalf("restored backup: %+v, %v", rep, err)
	}
	r.Close()

	before, after, err := Compact(path)
	if err != nil || after <= 0 || after > before {
		t.Fatalf("Compact = %d → %d, %v", before, after, err)
	}
	s, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := s.Check(); err != nil || rep.Records != 200 {
		t.Fatalf("after compact: %+v, %v", rep, err)
	}
	if _, _, err := Compact(path); err == nil {
		t.Error("Compact of an open store succeeded")
	}
}

func extract(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, _, err := s.Put(Item{Dir: Outbound, Key: "k"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
}

// TestCloseWhileWriting races writers with Close: every write must either
// commit or fail with ErrClosed, none may hang.
func TestCloseWhileWriting(t *testing.T) {
	for range 20 {
		s, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					_, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint(g, "-", i), Payload: []byte("x")})
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		s.Close()
		wg.Wait()
	}
}

// filledFile is an open store of 300 records, on many pages.
func filledFile(t *testing.T) (string, *Bolt) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queue.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, _, err := s.Put(Item{Dir: Inbound, Key: fmt.Sprint(i), Payload: bytes.Repeat([]byte("x"), 8000), Meta: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	return path, s
}

// An empty or truncated queue file is refused with its name and the way
// back, never opened as an empty queue or mapped past its end.
func TestOpenRefusesDamagedFile(t *testing.T) {
	path, s := filledFile(t)
	s.Close()
	fi, _ := os.Stat(path)
	for _, size := range []int64{0, fi.Size() / 2, 100} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{NoSync: true})
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "queue backup") {
			t.Errorf("Open of a %d-byte file = %v, want ErrDamaged naming the recovery", size, err)
		}
	}
}

// A payload handed over as a file is moved into the store, not copied
// whole through memory; a small one is kept inline as a Payload would be.
func TestPutFile(t *testing.T) {
	c := newClock()
	s := mustOpen(t, testOptions(c))
	for _, size := range []int{100, 200 << 10} {
		data := bytes.Repeat([]byte("x"), size)
		f, err := os.CreateTemp(s.TempDir(), "in-*")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
		f.Close()
		r, _, err := s.Put(Item{Dir: Inbound, Key: fmt.Sprint(size), file: f.Name()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("size %d: the handed-over file is still there", size)
		}
		got, err := s.Payload(r)
		if err != nil || !bytes.Equal(got, data) || r.Blob != (size >= 64<<10) {
			t.Errorf("size %d: payload %d bytes, %v, blob %v", size, len(got), err, r.Blob)
		}
		if p, err := s.PayloadPath(r); err != nil || (p != "") != r.Blob {
			t.Errorf("size %d: PayloadPath = %q, %v", size, p, err)
		}
	}
}

// A record written before engine data kept its recipients beside it; they
// are read as its data, and a record with data keeps it as it is.
func TestRecordReadsOldRecipients(t *testing.T) {
	var r Record
	old := `{"id":"out-0000000001","dir":"out","state":"done","recipients":[{"organId":"000.00.00.G22","status":"03"}]}`
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		t.Fatal(err)
	}
	if want := `{"recipients":[{"organId":"000.00.00.G22","status":"03"}]}`; string(r.Data) != want || r.ID != "out-0000000001" || r.State != Done {
		t.Errorf("read %+v, data %s; want data %s", r, r.Data, want)
	}
	var again Record
	b, _ := json.Marshal(&r)
	if err := json.Unmarshal(b, &again); err != nil || string(again.Data) != string(r.Data) {
		t.Errorf("written and read again: %s, %v", again.Data, err)
	}
}

// Garbage in the middle of the file is found at open and named, with the
// way back; no read panics on it later.
func TestOpenRefusesGarbagePages(t *testing.T) {
	path, s := filledFile(t)
	if _, err := s.Check(); err != nil {
		t.Fatalf("a sound file: %v", err)
	}
	s.Close()
	fi, _ := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xA5, 0x17, 0x00, 0xFF}, 1024)
	for off := int64(4 * 4096); off < fi.Size(); off += 16 * 4096 {
		if _, err := f.WriteAt(garbage, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	_, err = Open(path, Options{NoSync: true})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "queue backup") {
		t.Errorf("Open of a file with garbage pages = %v, want ErrDamaged naming the file and the way back", err)
	}
}
