package pgstore_test

import (
	"context"
	"testing"
	"time"

	"lienthong/queue"
	"lienthong/queue/pgstore"
	"lienthong/queue/pgstore/pgtest"
	"lienthong/queue/queuetest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(m, &cluster) }

func open(t *testing.T, dsn string, now func() time.Time) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Now: now, LeaseTime: queuetest.LeaseTime, Owner: queuetest.Owner, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The PostgreSQL store meets the store contract, unchanged.
func TestPostgresConformance(t *testing.T) {
	pgtest.Need(t, cluster)
	queuetest.Run(t, func(t *testing.T, now func() time.Time) queue.Store {
		return open(t, cluster.NewDatabase(t), now)
	})
}
