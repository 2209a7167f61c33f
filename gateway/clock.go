package gateway

import "time"

// Clock is the time the gateway runs on: deadlines, backoff, certificate
// checks and poll intervals all read it, so tests can move it.
type Clock interface {
	Now() time.Time
	// After fires once the clock has moved d past now.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is real time.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
