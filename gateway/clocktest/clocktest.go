// Package clocktest is the clock the engine's tests run on: it moves only
// when told, so deadlines, backoff and polls are tested without sleeping.
package clocktest

import (
	"context"
	"sync"
	"time"
)

// Clock moves only when told; waiters fire once it passes them. It
// satisfies gateway.Clock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters map[*waiter]struct{}
	changed chan struct{} // closed when the waiters change
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

// Start is where a New clock starts: a Monday, 15:30 in Hà Nội, a working
// afternoon for the dispatch deadline.
var Start = time.Date(2026, 3, 16, 8, 30, 0, 0, time.UTC)

// New returns a clock at Start.
func New() *Clock {
	return &Clock{now: Start, waiters: map[*waiter]struct{}{}, changed: make(chan struct{})}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After fires once the clock has moved d past now; at once when d <= 0.
// Until it fires or stop is called, the wait counts in Waiters.
func (c *Clock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch, func() {}
	}
	w := &waiter{c.now.Add(d), ch}
	c.waiters[w] = struct{}{}
	c.notify()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.waiters[w]; ok {
			delete(c.waiters, w)
			c.notify()
		}
	}
}

// Advance moves the clock and fires the waiters it passes.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for w := range c.waiters {
		if !w.at.After(c.now) {
			w.c <- c.now
			delete(c.waiters, w)
		}
	}
	c.notify()
}

func (c *Clock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Waiters is how many waits are pending: the loops parked on the clock.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// AwaitWaiters returns true once at least n waits are pending, so a test
// moves the clock only after the loops it woke have parked again; false
// when ctx ends first.
func (c *Clock) AwaitWaiters(ctx context.Context, n int) bool {
	for {
		c.mu.Lock()
		ok, changed := len(c.waiters) >= n, c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}
