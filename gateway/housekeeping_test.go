package gateway

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/gateway/clocktest"
	"lienthong/queue"
)

// Finished records stay for outbound.retention, or for the longer
// evidence.package_retention while the evidence log is on, so that a
// proof still shows their packages.
func TestPurgeKeepsPackagesForEvidence(t *testing.T) {
	for _, tc := range []struct {
		name     string
		evidence bool
		kept     bool
	}{
		{"evidence on", true, true},
		{"evidence off", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktest.New()
			store, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{Now: clock.Now, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			r, _, err := store.Put(queue.Item{Dir: queue.Outbound, Key: "k", Payload: []byte("<edXML/>")})
			if err != nil {
				t.Fatal(err)
			}
			l, _ := store.Lease(clock.Now(), queue.Outbound, 0)
			if _, err := store.Done(clock.Now(), l.ID, l.Lease, nil); err != nil {
				t.Fatal(err)
			}
			c := conf.Default()
			c.Outbound.Retention = conf.Duration(30 * 24 * time.Hour)
			c.Evidence.Enabled = tc.evidence
			c.Evidence.PackageRetention = conf.Duration(365 * 24 * time.Hour)
			g := &Gateway{cfg: c, store: store, clock: clock, log: zerolog.Nop(), inbox: newInbox(t.TempDir(), "", 1<<20, store)}
			clock.Advance(40 * 24 * time.Hour)
			g.purge(context.Background())
			_, err = queue.Get(context.Background(), store, r.ID)
			if kept := err == nil; kept != tc.kept {
				t.Errorf("a record finished 40 days ago: kept %v, want %v (%v)", kept, tc.kept, err)
			}
		})
	}
}
