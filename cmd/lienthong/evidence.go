package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"lienthong/conf"
	"lienthong/gateway/evidence"
	"lienthong/queue"
	"lienthong/queue/atomicfile"
)

const evidenceLong = `The evidence log holds one entry for every package that crossed the
boundary (sent, fetched, delivered, quarantined, a status received), in a
Merkle tree (RFC 9162) whose checkpoints the gateway signs with its own
evidence key. Publish the verifier key (evidence key); answer a dispute
with a bundle (evidence prove), which anyone checks offline.

The commands talk to the running daemon through its local API (--api, or
$LIENTHONG_API, with an unscoped token); with --db or --dsn they read the
store offline instead (a bbolt file only with the daemon stopped).`

const evidenceExample = `  lienthong evidence key --config /etc/lienthong/lienthong.toml
  lienthong evidence verify
  lienthong evidence prove --document "000.00.07.H26,2026/03/16,15/UBND-VP" ./bundle
  lienthong evidence verify --bundle ./bundle --key "lienthong/000.00.07.H26+1a2b3c4d+AbC..."`

func evidenceCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "evidence", Short: "verify the evidence log, prove what crossed, print the verifier key",
		Long: evidenceLong, Example: evidenceExample}
	c.AddCommand(evidenceKeyCmd(e), evidenceCheckpointCmd(e), evidenceVerifyCmd(e), evidenceProveCmd(e))
	return group(c)
}

// offlineFlags name a store read without the daemon.
type offlineFlags struct {
	db, dsn, config *string
}

func addOfflineFlags(c *cobra.Command) offlineFlags {
	return offlineFlags{
		db:     c.Flags().String("db", "", "read the queue file offline (with the daemon stopped)"),
		dsn:    c.Flags().String("dsn", "", "read the PostgreSQL database offline"),
		config: c.Flags().String("config", "", "the daemon's configuration, for its evidence key"),
	}
}

func (o offlineFlags) set() bool { return *o.db != "" || *o.dsn != "" }

// signerKey reads the evidence signer key a configuration gives.
func signerKey(path string) (string, error) {
	c, err := conf.Load(path)
	if err != nil {
		return "", err
	}
	if c.Evidence.Key.Set() {
		k, err := c.Evidence.Key.Read()
		if err != nil {
			return "", fmt.Errorf("evidence.key: %w", err)
		}
		return k, nil
	}
	b, err := os.ReadFile(filepath.Join(c.StateDir, "evidence.key"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no evidence key in %s: the daemon makes it at its first start", c.StateDir)
	}
	return string(bytes.TrimSpace(b)), err
}

func evidenceKeyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "key", Short: "print the verifier key to publish, or make a key for nodes sharing a database",
		Long: `Prints the verifier key (name+hash+base64) of the daemon's evidence key, for the
agency to publish: whoever checks a bundle needs it. With --new, makes a
signer key in --out (mode 0600) for evidence.key of every node sharing a
PostgreSQL database, and prints its verifier key.`,
		Example: "  lienthong evidence key --config /etc/lienthong/lienthong.toml\n  lienthong evidence key --new lienthong/000.00.07.H26 --out /etc/lienthong/evidence.key",
		Args:    nArgs(0)}
	config := c.Flags().String("config", conf.DefaultPath, "the daemon's configuration")
	name := c.Flags().String("new", "", "make a new signer key of this name (no spaces or '+'), e.g. lienthong/000.00.07.H26")
	out := c.Flags().String("out", "", "file for the new key (with --new)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if *name != "" {
			if *out == "" {
				return badUsage(c, "--new needs --out FILE")
			}
			if _, err := os.Stat(*out); err == nil {
				return fmt.Errorf("%s exists: an evidence key is never replaced by mistake; move it away first", *out)
			}
			skey, vkey, err := note.GenerateKey(rand.Reader, *name)
			if err != nil {
				return badUsage(c, "--new %q: %v", *name, err)
			}
			if err := atomicfile.WriteFile(*out, []byte(skey+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, vkey)
			return nil
		}
		skey, err := signerKey(*config)
		if err != nil {
			return err
		}
		vkey, err := evidence.VerifierKey(skey)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, vkey)
		return nil
	}
	return c
}

func evidenceCheckpointCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "checkpoint", Short: "have the daemon sign a checkpoint of every entry now", Args: nArgs(0)}
	api := addAPIFlags(c.Flags())
	c.RunE = func(_ *cobra.Command, _ []string) error {
		cl, err := api.client()
		if err != nil {
			return err
		}
		cp, err := cl.EvidenceCheckpoint(e.ctx, true)
		if err != nil {
			return apiError(e, err)
		}
		fmt.Fprintf(e.stdout, "%s\nverifier key: %s\n", cp.Checkpoint, cp.VerifierKey)
		return nil
	}
	return c
}

func evidenceVerifyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "verify", Short: "check the whole log, or a bundle offline; exit 0 only if all holds",
		Long: `Without --bundle, checks the whole evidence log: the tree rebuilt from the
entries, every checkpoint's signature and its consistency with the one
before, that no entry number is missing, and that every package still
stored hashes to its entry (a purged one is counted, an altered one named).

With --bundle DIR, checks a bundle with nothing but its files and the
verifier key: each package's hash, each entry's audit path to the signed
checkpoint's root. Without --key, the key in the bundle is used: compare it
with the one the agency published.`,
		Example: "  lienthong evidence verify\n  lienthong evidence verify --db /var/lib/lienthong/queue.db --config /etc/lienthong/lienthong.toml\n  lienthong evidence verify --bundle ./bundle --key \"$KEY\"",
		Args:    nArgs(0)}
	api := addAPIFlags(c.Flags())
	off := addOfflineFlags(c)
	bundle := c.Flags().String("bundle", "", "a bundle folder to check offline")
	key := c.Flags().String("key", "", "the verifier key (name+hash+base64) the agency published")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if *bundle != "" {
			if *key == "" {
				fmt.Fprintln(e.stderr, "lienthong: no --key: checking against the key in the bundle; compare it with the one the agency published")
			}
			probs, err := evidence.VerifyBundle(*bundle, *key)
			if err != nil {
				return err
			}
			return verdict(e, probs, "bundle verified")
		}
		var rep *evidence.Report
		if off.set() {
			vkey := *key
			if vkey == "" {
				if *off.config == "" {
					return badUsage(c, "offline, give --key VERIFIER_KEY or --config FILE")
				}
				skey, err := signerKey(*off.config)
				if err != nil {
					return err
				}
				if vkey, err = evidence.VerifierKey(skey); err != nil {
					return err
				}
			}
			st, led, err := openLedger(c, off)
			if err != nil {
				return err
			}
			defer st.Close()
			if rep, err = evidence.Verify(e.ctx, led, vkey, evidence.StoreSums(st)); err != nil {
				return err
			}
		} else {
			cl, err := api.client()
			if err != nil {
				return err
			}
			r, err := cl.EvidenceVerify(e.ctx)
			if err != nil {
				return apiError(e, err)
			}
			rep = &evidence.Report{Entries: r.Entries, Pending: r.Pending, Checkpoints: r.Checkpoints, Packages: r.Packages,
				Purged: r.Purged, Timestamps: r.Timestamps, Latest: r.Latest, Problems: r.Problems}
		}
		fmt.Fprintf(e.stdout, "entries      %d (%d pending, not checked yet)\ncheckpoints  %d (%d timestamped)\npackages     %d hashed again, %d purged by retention\n",
			rep.Entries, rep.Pending, rep.Checkpoints, rep.Timestamps, rep.Packages, rep.Purged)
		return verdict(e, rep.Problems, "evidence log verified")
	}
	return c
}

// verdict prints the problems found, or ok; problems exit 1.
func verdict(e *env, problems []string, ok string) error {
	if len(problems) == 0 {
		fmt.Fprintln(e.stdout, ok)
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(e.stderr, "FAIL", p)
	}
	return errReported
}

func evidenceProveCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "prove DIR", Short: "write the proof bundle of a document into DIR",
		Long: `Writes into DIR every package of a document that crossed the boundary (the
document and the statuses about it), their entries, proof.json (the signed
checkpoint, the verifier key, each entry's audit path) and a README saying
how to check it by hand. Hand DIR to the other agency.`,
		Example: "  lienthong evidence prove --document \"000.00.07.H26,2026/03/16,15/UBND-VP\" ./bundle\n  lienthong evidence prove --record in-0000000042 ./bundle",
		Args:    nArgs(1)}
	api := addAPIFlags(c.Flags())
	off := addOfflineFlags(c)
	doc := c.Flags().String("document", "", "the DocumentId")
	rec := c.Flags().String("record", "", "a record id (out-… or in-…) instead")
	c.RunE = func(c *cobra.Command, args []string) error {
		if (*doc == "") == (*rec == "") {
			return badUsage(c, "give --document DOCUMENTID or --record ID")
		}
		dir := args[0]
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return fmt.Errorf("%s is not empty: a bundle goes into a new folder", dir)
		}
		if off.set() {
			return proveOffline(c, e.ctx, off, evidence.Select{DocumentID: *doc, Record: *rec}, dir)
		}
		cl, err := api.client()
		if err != nil {
			return err
		}
		// Streamed into a folder beside, renamed once whole: a bundle cut
		// short is never left where a whole one is expected.
		partial := filepath.Clean(dir) + ".partial"
		os.RemoveAll(partial)
		pr, pw := io.Pipe()
		got := make(chan error, 1)
		go func() { got <- cl.EvidenceBundle(e.ctx, *doc, *rec, pw); pw.Close() }()
		err = evidence.ReadTar(pr, partial)
		pr.CloseWithError(errors.New("bundle abandoned"))
		if cerr := <-got; cerr != nil {
			os.RemoveAll(partial)
			return apiError(e, cerr)
		}
		if err != nil {
			os.RemoveAll(partial)
			return err
		}
		os.Remove(dir) // empty, if there
		if err := os.Rename(partial, dir); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "bundle written to %s; check it with: lienthong evidence verify --bundle %s\n", dir, dir)
		return nil
	}
	return c
}

// proveOffline makes a bundle from the store, signing a checkpoint with
// the configured key when none covers the entries yet.
func proveOffline(c *cobra.Command, ctx context.Context, off offlineFlags, sel evidence.Select, dir string) error {
	if *off.config == "" {
		return badUsage(c, "offline, --config FILE is needed for the evidence key")
	}
	skey, err := signerKey(*off.config)
	if err != nil {
		return err
	}
	st, led, err := openLedger(c, off)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := evidence.New(led, skey, nil)
	if err != nil {
		return err
	}
	b, err := l.Prove(ctx, sel, evidence.StorePackages(st))
	if err != nil {
		return err
	}
	if err := b.Write(ctx, dir); err != nil {
		return err
	}
	fmt.Fprintf(c.OutOrStdout(), "bundle written to %s; check it with: lienthong evidence verify --bundle %s\n", dir, dir)
	return nil
}

// openLedger opens the store --db or --dsn names, with its evidence log.
func openLedger(c *cobra.Command, off offlineFlags) (queue.Store, queue.Ledger, error) {
	st, err := openStore(c, off.db, off.dsn)
	if err != nil {
		return nil, nil, err
	}
	led, ok := st.(queue.Ledger)
	if !ok {
		st.Close()
		return nil, nil, errors.New("this store keeps no evidence log")
	}
	return st, led, nil
}
