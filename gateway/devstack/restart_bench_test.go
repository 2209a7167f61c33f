package devstack_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"lienthong/gateway/devstack"
	"lienthong/queue"
)

// BenchmarkReadyWith100kQueued is the time from start to READY for a
// gateway whose queue holds 100,000 outbound records: open the store,
// release leases, load the inbox, bind, sync the directory.
func BenchmarkReadyWith100kQueued(b *testing.B) {
	dir := b.TempDir()
	s, err := devstack.Open(devstack.Options{Dir: dir, Log: zerolog.Nop(), ManualPeer: true})
	if err != nil {
		b.Fatal(err)
	}
	db := filepath.Join(s.Config.StateDir, "queue.db")
	s.Close()
	st, err := queue.Open(db, queue.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 100_000; i += 8 {
				if _, _, err := st.Put(queue.Item{Dir: queue.Outbound, Key: fmt.Sprint("doc:", i), Priority: i % 4, Payload: make([]byte, 2048)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st.Close()
	b.ResetTimer()
	for range b.N {
		s, err := devstack.Open(devstack.Options{Dir: dir, Log: zerolog.Nop(), ManualPeer: true})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan struct{}), make(chan error, 1)
		go func() { done <- s.Run(ctx, func() { close(ready) }) }()
		<-ready
		b.StopTimer()
		cancel()
		<-done
		s.Close()
		b.StartTimer()
	}
}
