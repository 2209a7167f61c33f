package gateway

import "time"

// Clock is the time the gateway runs on: deadlines, backoff, certificate
// checks and poll intervals all read it, so tests can move it.
type Clock interface {
	Now() time.Time
	// After fires once the clock has moved d past now; stop drops the
	// wait, so a test clock counts only the loops still parked on it.
	After(d time.Duration) (c <-chan time.Time, stop func())
}

// SystemClock is real time.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is a time.Timer.
func (SystemClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// databaseClock is real time read from the database's clock, which every
// node of a cluster shares.
type databaseClock struct {
	st interface{ DatabaseNow() time.Time }
}

// Now is the database's time.
func (c databaseClock) Now() time.Time { return c.st.DatabaseNow() }

// After is a time.Timer.
func (databaseClock) After(d time.Duration) (<-chan time.Time, func()) { return SystemClock{}.After(d) }
