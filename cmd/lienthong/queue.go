package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lienthong/queue"
	"lienthong/queue/pgstore"
)

const queueLong = `Works on a queue file offline, with the daemon stopped: the file is locked
while lienthongd runs. With --dsn, stats and check read the PostgreSQL
database the daemons share, while they run; back it up with pg_dump.`

const queueExample = `  lienthong queue stats --db /var/lib/lienthong/queue.db
  lienthong queue check --dsn "host=/run/postgresql dbname=lienthong"`

func queueCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "queue", Short: "check, count, compact and back up a queue file offline",
		Long: queueLong, Example: queueExample}
	db := c.PersistentFlags().String("db", "", "queue file (this or --dsn is required)")
	dsn := c.PersistentFlags().String("dsn", "", "the PostgreSQL database of store.engine = \"postgres\" (stats and check)")
	c.AddCommand(queueCheckCmd(e, db, dsn), queueStatsCmd(e, db, dsn), queueCompactCmd(e, db, dsn), queueBackupCmd(e, db, dsn))
	return group(c)
}

// needDB refuses a queue command line without --db, and one naming a
// database where only a file will do.
func needDB(c *cobra.Command, db, dsn *string) error {
	if *dsn != "" {
		return badUsage(c, "a PostgreSQL store is compacted by autovacuum and backed up with pg_dump (e.g. pg_dump -Fc -f lienthong.dump DBNAME); this command works on a queue file (--db)")
	}
	if *db == "" {
		return badUsage(c, "--db FILE is required")
	}
	return nil
}

// openStore opens the store --db or --dsn names.
func openStore(c *cobra.Command, db, dsn *string) (queue.Store, error) {
	switch {
	case *db != "" && *dsn != "":
		return nil, badUsage(c, "give --db or --dsn, not both")
	case *dsn != "":
		ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
		defer cancel()
		return pgstore.Open(ctx, pgstore.Options{DSN: *dsn, NoMigrate: true, MaxConns: 2})
	}
	return openDB(c, db)
}

// openDB opens the queue file --db names, which must exist.
func openDB(c *cobra.Command, db *string) (*queue.Bolt, error) {
	if *db == "" {
		return nil, badUsage(c, "--db FILE or --dsn DATABASE is required")
	}
	return openExisting(*db)
}

// openExisting opens a queue file that must already exist: an operator's
// typo must not create an empty queue.
func openExisting(path string) (*queue.Bolt, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return queue.Open(path, queue.Options{})
}

const queueCheckLong = `Verifies that every record is in exactly one state, every index matches
the records, and every payload is present and matches its hash. Prints a
JSON report; problems go to stderr and exit 1.`

const queueCheckExample = `  lienthong queue check --db /var/lib/lienthong/queue.db`

func queueCheckCmd(e *env, db, dsn *string) *cobra.Command {
	c := &cobra.Command{Use: "check", Short: "verify the queue's invariants; exit 1 on any problem",
		Long: queueCheckLong, Example: queueCheckExample, Args: nArgs(0)}
	c.RunE = func(c *cobra.Command, _ []string) error {
		s, err := openStore(c, db, dsn)
		if err != nil {
			return err
		}
		defer s.Close()
		rep, err := s.Check()
		if jerr := jsonOut(e.stdout).Encode(rep); jerr != nil {
			return jerr
		}
		return err
	}
	return c
}

const queueStatsLong = `Counts records by direction, state and priority, with the age of the oldest.`

const queueStatsExample = `  lienthong queue stats --db /var/lib/lienthong/queue.db --json`

func queueStatsCmd(e *env, db, dsn *string) *cobra.Command {
	c := &cobra.Command{Use: "stats", Short: "count records by direction, state and priority",
		Long: queueStatsLong, Example: queueStatsExample, Args: nArgs(0)}
	asJSON := c.Flags().Bool("json", false, "one JSON object per line")
	c.RunE = func(c *cobra.Command, _ []string) error {
		s, err := openStore(c, db, dsn)
		if err != nil {
			return err
		}
		defer s.Close()
		stats := s.Stats()
		if *asJSON {
			enc := jsonOut(e.stdout)
			for _, g := range stats {
				if err := enc.Encode(g); err != nil {
					return err
				}
			}
			return nil
		}
		return printStats(e.stdout, stats, time.Now())
	}
	return c
}

func printStats(w io.Writer, stats []queue.GroupStats, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DIRECTION\tSTATE\tPRIORITY\tCOUNT\tOLDEST AGE")
	for _, g := range stats {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", g.Dir, g.State, g.Priority, g.Count, now.Sub(g.Oldest).Round(time.Second))
	}
	return tw.Flush()
}

const queueCompactLong = `Rewrites the queue file packed and swaps it in; bbolt files never shrink by
themselves. Stop the daemon first.`

const queueCompactExample = `  lienthong queue compact --db /var/lib/lienthong/queue.db`

func queueCompactCmd(e *env, db, dsn *string) *cobra.Command {
	c := &cobra.Command{Use: "compact", Short: "rewrite the file packed, returning free space",
		Long: queueCompactLong, Example: queueCompactExample, Args: nArgs(0)}
	c.RunE = func(c *cobra.Command, _ []string) error {
		if err := needDB(c, db, dsn); err != nil {
			return err
		}
		before, after, err := queue.Compact(*db)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %d bytes → %d bytes\n", *db, before, after)
		return nil
	}
	return c
}

const queueBackupLong = `Writes a consistent copy of the queue (the database and the payload files
it names) as a tar. Restore by extracting it in place of the queue files
with the daemon stopped. --out - writes to standard output.`

const queueBackupExample = `  lienthong queue backup --db /var/lib/lienthong/queue.db --out queue-backup.tar`

func queueBackupCmd(e *env, db, dsn *string) *cobra.Command {
	c := &cobra.Command{Use: "backup --out FILE.tar", Short: "write a consistent tar of the file and its blobs",
		Long: queueBackupLong, Example: queueBackupExample, Args: nArgs(0)}
	out := c.Flags().String("out", "", "tar file to write (required; - for standard output)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if err := needDB(c, db, dsn); err != nil {
			return err
		}
		if *out == "" {
			return badUsage(c, "--out is required")
		}
		return queueBackup(e, *db, *out)
	}
	return c
}

func queueBackup(e *env, db, out string) error {
	s, err := openExisting(db)
	if err != nil {
		return err
	}
	defer s.Close()
	if out == "-" {
		return s.Backup(e.stdout)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	m := newByteMeter(e, f, "queue backup", 0)
	err = s.Backup(m)
	m.done()
	if err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
