package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/queue"
	"lienthong/queue/pgstore"
	"lienthong/queue/pgstore/pgtest"
)

func TestQueueCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "queue.db")
	s, err := queue.Open(db, queue.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := s.Put(queue.Item{Dir: queue.Outbound, Key: fmt.Sprint(i), Priority: i, Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := lienthong(t, "", "queue", "stats", "--db", db); code != 1 || !strings.Contains(errOut, "in use by another process") {
		t.Errorf("stats on an open queue: exit %d, stderr %q; want 1 saying it is in use", code, errOut)
	}
	s.Close()

	code, out, errOut := lienthong(t, "", "queue", "stats", "--db", db, "--json")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, `"state":"ready","priority":2,"count":1`) {
		t.Errorf("stats: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = lienthong(t, "", "queue", "check", "--db", db)
	if code != 0 || !strings.Contains(out, `"records":3`) {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
	tarPath := filepath.Join(dir, "backup.tar")
	if code, _, errOut := lienthong(t, "", "queue", "backup", "--db", db, "--out", tarPath); code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, errOut)
	}
	if fi, err := os.Stat(tarPath); err != nil || fi.Size() == 0 {
		t.Errorf("backup file: %v", err)
	}
	if code, out, errOut := lienthong(t, "", "queue", "compact", "--db", db); code != 0 || !strings.Contains(out, "bytes →") {
		t.Errorf("compact: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := lienthong(t, "", "queue", "check", "--db", filepath.Join(dir, "typo.db")); code != 1 || !strings.Contains(errOut, "typo.db") {
		t.Errorf("check of a missing file: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo.db")); err == nil {
		t.Error("check of a missing file created it")
	}
	if code, out, _ := lienthong(t, "", "queue", "check", "-h"); code != 0 || !strings.Contains(out, "Example") {
		t.Errorf("queue check -h: exit %d", code)
	}
}

// Against PostgreSQL, stats and check read the shared database, and the
// file-only commands say how a database is backed up.
func TestQueueCommandsOnPostgres(t *testing.T) {
	pgtest.Need(t, cluster)
	dsn := cluster.NewDatabase(t)
	if code, _, errOut := lienthong(t, "", "queue", "check", "--dsn", dsn); code != 1 || !strings.Contains(errOut, "schema") {
		t.Errorf("check of a database no daemon set up: exit %d, %q", code, errOut)
	}
	s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		err := s.Update(context.Background(), func(tx queue.Tx) error {
			_, _, err := tx.Put(queue.Item{Dir: queue.Outbound, Key: fmt.Sprint(i), Priority: i, Payload: []byte("x")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	defer s.Close()
	code, out, errOut := lienthong(t, "", "queue", "stats", "--dsn", dsn, "--json")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, `"state":"ready","priority":2,"count":1`) {
		t.Errorf("stats: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = lienthong(t, "", "queue", "check", "--dsn", dsn)
	if code != 0 || !strings.Contains(out, `"records":3`) {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := lienthong(t, "", "queue", "backup", "--dsn", dsn, "--out", "x.tar"); code != 2 || !strings.Contains(errOut, "pg_dump") {
		t.Errorf("backup of a database: exit %d, %q; want 2 naming pg_dump", code, errOut)
	}
}
