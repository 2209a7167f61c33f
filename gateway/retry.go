package gateway

import (
	"fmt"
	"math/rand/v2"
	"time"

	"lienthong/conf"
	"lienthong/queue"
)

// The engine decides what becomes of work that failed; the store only
// keeps the time a record is due again.

// retryPolicy decides what becomes of a failed attempt: when to try
// again, with exponential backoff and full jitter, or that it is dead.
type retryPolicy struct {
	base, cap   time.Duration
	maxAttempts int
	maxAge      time.Duration
	// jitter returns a random duration in [0, max].
	jitter func(max time.Duration) time.Duration
}

// policyOf is the retry policy the configuration sets; its zero fields
// take the defaults.
func policyOf(c conf.Config) retryPolicy {
	p := retryPolicy{
		base: time.Duration(c.Outbound.RetryBase), cap: time.Duration(c.Outbound.RetryCap),
		maxAttempts: c.Outbound.MaxAttempts, maxAge: time.Duration(c.Outbound.MaxAge),
	}
	return p.withDefaults()
}

func (p retryPolicy) withDefaults() retryPolicy {
	if p.base <= 0 {
		p.base = 10 * time.Second
	}
	if p.cap <= 0 {
		p.cap = 30 * time.Minute
	}
	if p.maxAttempts <= 0 {
		p.maxAttempts = 50
	}
	if p.maxAge <= 0 {
		p.maxAge = 72 * time.Hour
	}
	if p.jitter == nil {
		p.jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return time.Duration(rand.Int64N(int64(max) + 1))
		}
	}
	return p
}

// retry applies the policy to a leased record in tx: rescheduled after a
// backoff, or dead once the attempts or the age allowed are used up.
func (p retryPolicy) retry(tx queue.Tx, now time.Time, r *queue.Record, cause error) (*queue.Record, error) {
	p = p.withDefaults()
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	switch {
	case r.Attempts >= p.maxAttempts:
		return tx.Kill(now, r.ID, r.Lease, fmt.Sprintf("%d attempts failed, last: %s", r.Attempts, msg))
	case now.Sub(r.Created) >= p.maxAge:
		return tx.Kill(now, r.ID, r.Lease, fmt.Sprintf("older than %s, last: %s", p.maxAge, msg))
	}
	return tx.Reschedule(now, r.ID, r.Lease, now.Add(p.jitter(p.backoff(r.Attempts))), msg)
}

// backoff is the ceiling of the wait after attempt n: base·2^(n-1),
// capped at cap.
func (p retryPolicy) backoff(n int) time.Duration {
	d := p.base
	for i := 1; i < n && d < p.cap; i++ {
		d *= 2
	}
	return min(d, p.cap)
}

// maxCrashes sets aside, as dead, an inbound record whose processing was
// under way when the process died this many times in a row: a package
// that kills the daemon must not do so for ever. Outbound records are
// never set aside for it: a send only streams its package, and an
// interrupted one is reconciled with the axis.
const maxCrashes = 3
