package gateway

import (
	"sync"
	"time"
)

// breaker stops calls to a failing axis: after threshold retryable
// failures in a row it opens for a cooldown that doubles up to maxCooldown
// while probes keep failing, then lets one probe through.
type breaker struct {
	threshold   int
	cooldown    time.Duration
	maxCooldown time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	wait      time.Duration // current cooldown
	probing   bool          // a half-open probe is out
}

// Breaker states, as exported in lienthong_axis_breaker_state.
const (
	breakerClosed   = 0
	breakerOpen     = 1
	breakerHalfOpen = 2
)

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, maxCooldown: 16 * cooldown}
}

// allow says whether a call may go out now, and if not, how long to wait;
// in half-open, the one call it lets through is the probe.
func (b *breaker) allow(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ok, wait := b.could(now)
	if ok && b.failures >= b.threshold {
		b.probing = true
	}
	return ok, wait
}

// peek is allow without taking the probe: whether a call could go out.
func (b *breaker) peek(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.could(now)
}

// could is what allow and peek answer; b.mu is held.
func (b *breaker) could(now time.Time) (bool, time.Duration) {
	switch {
	case b.failures < b.threshold:
		return true, 0
	case now.Before(b.openUntil):
		return false, b.openUntil.Sub(now)
	case b.probing:
		return false, b.cooldown
	}
	return true, 0
}

func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.probing, b.wait = 0, false, 0
}

// failure counts a retryable failure and reports whether it opened the
// breaker.
func (b *breaker) failure(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.failures < b.threshold {
		return false
	}
	b.wait = min(max(2*b.wait, b.cooldown), b.maxCooldown)
	b.openUntil, b.probing = now.Add(b.wait), false
	return true
}

// release gives back a probe that ended without reaching the axis.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

func (b *breaker) state(now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.failures < b.threshold:
		return breakerClosed
	case now.Before(b.openUntil):
		return breakerOpen
	}
	return breakerHalfOpen
}
