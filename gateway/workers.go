package gateway

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"time"

	"lienthong/queue"
)

// What the worker loops of both sides share: how they wait for work, and
// how they read a stored package.

// signal wakes every waiting worker at once: a waiter takes the channel
// before looking for work, so no wake-up falls between look and wait.
type signal struct {
	mu sync.Mutex
	c  chan struct{}
}

func newSignal() *signal { return &signal{c: make(chan struct{})} }

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.c)
	s.c = make(chan struct{})
}

// sleep waits d on the clock, or until woken or ctx ends; it reports
// whether ctx is still live.
func sleep(ctx context.Context, clock Clock, d time.Duration, woken <-chan struct{}) bool {
	fired, stop := clock.After(d)
	defer stop()
	select {
	case <-ctx.Done():
		return false
	case <-woken:
	case <-fired:
	}
	return ctx.Err() == nil
}

// idle is how long a worker waits for work with none due.
func idle(s queue.Store, dir queue.Direction, now time.Time) time.Duration {
	const most = time.Minute
	at, ok := s.NextDue(context.Background(), dir)
	if !ok {
		return most
	}
	return min(max(at.Sub(now), time.Millisecond), most)
}

// payloadAt gives a stored package as read by offset: what the store opens
// can be (a file, or the payload kept inside the store); anything else is
// read into memory.
func payloadAt(src io.Reader) (io.ReaderAt, int64, error) {
	switch s := src.(type) {
	case *os.File:
		fi, err := s.Stat()
		if err != nil {
			return nil, 0, err
		}
		return s, fi.Size(), nil
	case interface {
		io.ReaderAt
		Size() int64
	}:
		return s, s.Size(), nil
	}
	b, err := io.ReadAll(src)
	return bytes.NewReader(b), int64(len(b)), err
}
