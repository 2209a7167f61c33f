package queue

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var statsRecords = flag.Int("queue.records", 10_000, "records queued for BenchmarkOpenAndStats")

// BenchmarkRawCommit is the floor every durable write stands on: one bbolt
// Update with one 1 KiB put, fsynced.
func BenchmarkRawCommit(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 1024)
	i := 0
	for b.Loop() {
		i++
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return bk.Put([]byte(fmt.Sprint(i)), val)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkPutDurableParallel puts 1 KiB payloads from 64 goroutines, each
// Put durable when it returns; group commit makes them share fsyncs.
func BenchmarkPutDurableParallel(b *testing.B) {
	s := benchStore(b, Options{})
	payload := make([]byte, 1024)
	var n atomic.Int64
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := n.Add(1)
			if _, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint(k), Payload: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkLeaseDone is one send slot's queue work: lease the next record,
// mark it done; two durable commits.
func BenchmarkLeaseDone(b *testing.B) {
	s := benchStore(b, Options{})
	payload := make([]byte, 1024)
	for i := range b.N {
		if _, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint(i), Priority: i % 5, Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now()
	b.ResetTimer()
	for range b.N {
		r, err := s.Lease(now, Outbound, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Done(now, r.ID, r.Lease, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPut256KiB compares a large payload kept inside bbolt with one
// kept as a blob file, each durable, from one and from 8 writers.
func BenchmarkPut256KiB(b *testing.B) {
	payload := make([]byte, 256<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, c := range []struct {
		name      string
		threshold int64
	}{{"inline", -1}, {"blob", 64 << 10}} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", c.name, writers), func(b *testing.B) {
				s := benchStore(b, Options{BlobThreshold: c.threshold})
				var n atomic.Int64
				b.SetBytes(int64(len(payload)))
				b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						k := n.Add(1)
						p := append([]byte(nil), payload...)
						p[0], p[1], p[2] = byte(k), byte(k>>8), byte(k>>16) // distinct content
						if _, _, err := s.Put(Item{Dir: Outbound, Key: fmt.Sprint(k), Payload: p}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			})
		}
	}
}

// BenchmarkOpenAndStats measures opening a store holding -queue.records
// records and taking its Stats.
func BenchmarkOpenAndStats(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.db")
	s, err := Open(path, Options{NoSync: true, MaxBatch: 4096})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, s, *statsRecords)
	s.Close()
	b.ResetTimer()
	var open, stats time.Duration
	for b.Loop() {
		t0 := time.Now()
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if len(s.Stats()) == 0 {
			b.Fatal("no stats")
		}
		stats += time.Since(t1)
		open += t1.Sub(t0)
		s.Close()
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "open-ms")
	b.ReportMetric(float64(stats.Microseconds())/float64(b.N), "stats-µs")

	// Memory the open store holds, and what one Stats call allocates.
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	s, err = Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	// The counts map is all an open store keeps on the heap; a negative
	// delta is garbage collected meanwhile, so clamp at zero.
	b.ReportMetric(float64(max(0, int64(m1.HeapAlloc)-int64(m0.HeapAlloc)))/(1<<10), "open-heap-KiB")
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB") // mapped, not heap
	}
	b.ReportMetric(testing.AllocsPerRun(10, func() { s.Stats() }), "stats-allocs")
}

// fill puts n small records from many goroutines so that commits batch.
func fill(b *testing.B, s *Bolt, n int) {
	const workers = 256
	var next atomic.Int64
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				_, _, err := s.Put(Item{Dir: Direction([]string{"out", "in"}[i%2]), Key: fmt.Sprint(i), Priority: int(i % 5), Payload: make([]byte, 200)})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for range workers {
		<-done
	}
}

func benchStore(b *testing.B, opts Options) *Bolt {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "queue.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
