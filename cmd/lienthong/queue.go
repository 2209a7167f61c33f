package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"lienthong/queue"
)

const queueUsage = `Usage:
  lienthong queue SUBCOMMAND --db FILE [flags]

Works on a queue file offline, with the daemon stopped: the file is locked
while lienthongd runs.

Subcommands:
%s
Example:
  lienthong queue stats --db /var/lib/lienthong/queue.db
`

func runQueue(e *env, args []string) error {
	return dispatch(e, "lienthong queue", queueUsage, []command{
		{"check", "verify the queue's invariants; exit 1 on any problem", runQueueCheck},
		{"stats", "count records by direction, state and priority", runQueueStats},
		{"compact", "rewrite the file packed, returning free space", runQueueCompact},
		{"backup", "write a consistent tar of the file and its blobs", runQueueBackup},
	}, args)
}

// queueFlags parses the --db flag every queue subcommand takes.
func queueFlags(e *env, name, usage string, args []string, more func(*flagSet)) (string, error) {
	fs := newFlags(e, name, usage)
	db := fs.String("db", "", "queue file (required)")
	if more != nil {
		more(fs)
	}
	if err := parseFlags(e, fs, args); err != nil {
		return "", err
	}
	if *db == "" || fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "%s: --db FILE is required\n", name)
		fs.Usage()
		return "", errUsage
	}
	return *db, nil
}

// openExisting opens a queue file that must already exist: an operator's
// typo must not create an empty queue.
func openExisting(path string) (*queue.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return queue.Open(path, queue.Options{})
}

const queueCheckUsage = `Usage:
  lienthong queue check --db FILE

Verifies that every record is in exactly one state, every index matches
the records, and every payload is present and matches its hash. Prints a
JSON report; problems go to stderr and exit 1.

Example:
  lienthong queue check --db /var/lib/lienthong/queue.db
`

func runQueueCheck(e *env, args []string) error {
	db, err := queueFlags(e, "queue check", queueCheckUsage, args, nil)
	if err != nil {
		return err
	}
	s, err := openExisting(db)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Check()
	if jerr := json.NewEncoder(e.stdout).Encode(rep); jerr != nil {
		return jerr
	}
	return err
}

const queueStatsUsage = `Usage:
  lienthong queue stats --db FILE [--json]

Counts records by direction, state and priority, with the age of the oldest.

Example:
  lienthong queue stats --db /var/lib/lienthong/queue.db --json
`

func runQueueStats(e *env, args []string) error {
	var asJSON *bool
	db, err := queueFlags(e, "queue stats", queueStatsUsage, args, func(fs *flagSet) {
		asJSON = fs.Bool("json", false, "one JSON object per line")
	})
	if err != nil {
		return err
	}
	s, err := openExisting(db)
	if err != nil {
		return err
	}
	defer s.Close()
	stats := s.Stats()
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, g := range stats {
			if err := enc.Encode(g); err != nil {
				return err
			}
		}
		return nil
	}
	return printStats(e.stdout, stats, time.Now())
}

func printStats(w io.Writer, stats []queue.GroupStats, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DIRECTION\tSTATE\tPRIORITY\tCOUNT\tOLDEST AGE")
	for _, g := range stats {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", g.Dir, g.State, g.Priority, g.Count, now.Sub(g.Oldest).Round(time.Second))
	}
	return tw.Flush()
}

const queueCompactUsage = `Usage:
  lienthong queue compact --db FILE

Rewrites the queue file packed and swaps it in; bbolt files never shrink by
themselves. Stop the daemon first.

Example:
  lienthong queue compact --db /var/lib/lienthong/queue.db
`

func runQueueCompact(e *env, args []string) error {
	db, err := queueFlags(e, "queue compact", queueCompactUsage, args, nil)
	if err != nil {
		return err
	}
	before, after, err := queue.Compact(db)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d bytes → %d bytes\n", db, before, after)
	return nil
}

const queueBackupUsage = `Usage:
  lienthong queue backup --db FILE --out FILE.tar

Writes a consistent copy of the queue (the database and the payload files
it names) as a tar. Restore by extracting it in place of the queue files
with the daemon stopped. --out - writes to standard output.

Example:
  lienthong queue backup --db /var/lib/lienthong/queue.db --out queue-backup.tar
`

func runQueueBackup(e *env, args []string) error {
	var out *string
	db, err := queueFlags(e, "queue backup", queueBackupUsage, args, func(fs *flagSet) {
		out = fs.String("out", "", "tar file to write (required; - for standard output)")
	})
	if err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(e.stderr, "queue backup: --out is required")
		return errUsage
	}
	s, err := openExisting(db)
	if err != nil {
		return err
	}
	defer s.Close()
	if *out == "-" {
		return s.Backup(e.stdout)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	m := newByteMeter(e, f, "queue backup", 0)
	err = s.Backup(m)
	m.done()
	if err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
