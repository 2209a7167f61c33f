package queue_test

import (
	"path/filepath"
	"testing"
	"time"

	"lienthong/queue"
	"lienthong/queue/queuetest"
)

// The bbolt store meets the store contract, as any other engine must.
func TestBoltConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, now func() time.Time) queue.Store {
		s, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{Now: now, NoSync: true, LeaseTime: queuetest.LeaseTime, Owner: queuetest.Owner})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
