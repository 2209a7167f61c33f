package pgstore

import (
	"context"
	"time"
)

// The nodes of a cluster compare lease and due times written by one
// another, so they keep one time: the database's. Each node measures how
// far its own clock is from it and corrects by that much, without a
// round trip per reading.

// DatabaseNow is the database's time as this node reckons it: its own
// clock corrected by the offset last measured.
func (s *Store) DatabaseNow() time.Time {
	return s.opts.HostClock().Add(time.Duration(s.offset.Load()))
}

// ClockOffset is how far the database's clock was ahead of this host's at
// the last measure.
func (s *Store) ClockOffset() time.Duration { return time.Duration(s.offset.Load()) }

// measureClock sets the offset from the quickest of three round trips,
// taking the database's reading as made halfway through it.
func (s *Store) measureClock(ctx context.Context) error {
	best := time.Duration(-1)
	for range 3 {
		t0 := s.opts.HostClock()
		var db time.Time
		if err := s.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&db); err != nil {
			return unavailable(err)
		}
		rtt := s.opts.HostClock().Sub(t0)
		if best < 0 || rtt < best {
			best = rtt
			s.offset.Store(int64(db.Sub(t0.Add(rtt / 2))))
		}
	}
	return nil
}

// clockLoop measures the offset again every minute, until Close.
func (s *Store) clockLoop() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			s.measureClock(ctx) // the last offset holds while the database is away
			cancel()
		}
	}
}
