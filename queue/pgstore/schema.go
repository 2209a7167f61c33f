package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema's versions, each applied once, in order, in
// one transaction under an advisory lock, so two nodes starting at once
// migrate once.
var migrations = []string{
	// 1: records, their keys, payload chunks and events.
	`CREATE SEQUENCE lienthong_record_seq;
	CREATE TABLE lienthong_records (
		seq         bigint PRIMARY KEY,
		id          text NOT NULL UNIQUE,
		dir         text NOT NULL,
		priority    int NOT NULL,
		grp         text NOT NULL DEFAULT '',
		state       text NOT NULL,
		due         timestamptz,
		lease_until timestamptz,
		created     timestamptz NOT NULL,
		updated     timestamptz NOT NULL,
		sha256      text NOT NULL,
		doc         json NOT NULL
	);
	CREATE INDEX lienthong_records_ready ON lienthong_records (dir, priority DESC, due, seq) WHERE state = 'ready';
	CREATE INDEX lienthong_records_leased ON lienthong_records (lease_until) WHERE state = 'leased';
	CREATE INDEX lienthong_records_state ON lienthong_records (state, dir, seq);
	CREATE INDEX lienthong_records_sha ON lienthong_records (sha256);
	CREATE TABLE lienthong_keys (
		dir text NOT NULL,
		key text NOT NULL,
		id  text NOT NULL,
		PRIMARY KEY (dir, key)
	);
	CREATE INDEX lienthong_keys_id ON lienthong_keys (id);
	CREATE TABLE lienthong_chunks (
		sha256 text NOT NULL,
		n      int NOT NULL,
		data   bytea NOT NULL,
		PRIMARY KEY (sha256, n)
	);
	CREATE TABLE lienthong_events (
		seq    bigserial PRIMARY KEY,
		record text NOT NULL,
		doc    json NOT NULL
	);
	CREATE INDEX lienthong_events_record ON lienthong_events (record, seq);`,
	// 2: the inbound records each commit changed, in commit order but
	// for commits in flight, so that the other nodes can follow the inbox;
	// kept an hour.
	`CREATE TABLE lienthong_inbound_changes (
		seq    bigserial PRIMARY KEY,
		record text NOT NULL,
		at     timestamptz NOT NULL DEFAULT now()
	);`,
	// 3: small documents one node writes for every node (the agency
	// directory it synced).
	`CREATE TABLE lienthong_board (
		name text PRIMARY KEY,
		at   timestamptz NOT NULL,
		data bytea NOT NULL
	);`,
	// 4: the evidence log: lines pending in the commits that made them,
	// sealed by one node at a time into entries and the hashes of a tree
	// over them, and signed checkpoints of the tree. Never purged.
	`CREATE TABLE lienthong_log_pending (
		id   bigserial PRIMARY KEY,
		line bytea NOT NULL
	);
	CREATE TABLE lienthong_log_entries (
		idx   bigint PRIMARY KEY,
		entry bytea NOT NULL
	);
	CREATE TABLE lienthong_log_hashes (
		idx  bigint PRIMARY KEY,
		hash bytea NOT NULL
	);
	CREATE TABLE lienthong_log_checkpoints (
		size      bigint PRIMARY KEY,
		at        timestamptz NOT NULL,
		note      bytea NOT NULL,
		timestamp bytea
	);
	CREATE TABLE lienthong_log_head (
		one     int PRIMARY KEY CHECK (one = 1),
		entries bigint NOT NULL,
		hashes  bigint NOT NULL
	);
	INSERT INTO lienthong_log_head VALUES (1, 0, 0);`,
	// 5: a short row of each record for reports, kept after the record
	// is purged.
	`CREATE TABLE lienthong_report (
		id      text PRIMARY KEY,
		created timestamptz NOT NULL,
		row     bytea NOT NULL
	);
	CREATE INDEX lienthong_report_created ON lienthong_report (created, id);`,
}

// SchemaVersion is the schema this build reads and writes.
var SchemaVersion = len(migrations)

// migrationLock is the advisory lock key of migrations.
const migrationLock = 0x6c69656e74686f6e // "lienthon"

func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("schema lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS lienthong_schema (version int NOT NULL)`); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		var v int
		err := tx.QueryRow(ctx, `SELECT version FROM lienthong_schema`).Scan(&v)
		switch {
		case err == pgx.ErrNoRows:
			if _, err := tx.Exec(ctx, `INSERT INTO lienthong_schema VALUES (0)`); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("schema: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("the database's schema is version %d, newer than this build's %d: upgrade lienthongd on this node", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("schema migration %d: %w", i+1, err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE lienthong_schema SET version = $1`, len(migrations))
		return err
	})
}

// Version is the schema version the database holds, for -check.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT version FROM lienthong_schema`).Scan(&v)
	return v, err
}

// Probe connects without changing anything and reports the schema
// version the database holds (0 for none yet), for a configuration check.
func Probe(ctx context.Context, dsn string) (int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('lienthong_schema') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err = conn.QueryRow(ctx, `SELECT version FROM lienthong_schema`).Scan(&v)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	return v, err
}

// expectSchema refuses a database whose schema is not this build's.
func (s *Store) expectSchema(ctx context.Context) error {
	v, err := s.Version(ctx)
	if err != nil {
		return fmt.Errorf("schema: %w (has a daemon ever started on this database?)", err)
	}
	if v != SchemaVersion {
		return fmt.Errorf("the database's schema is version %d, this build's %d: use the lienthong that matches the daemons", v, SchemaVersion)
	}
	return nil
}
