package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"lienthong/envelope"
)

const envelopeExample = `  lienthong envelope inspect docs/examples/cong-van.edxml`

func envelopeCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "envelope", Short: "inspect, build, sign and verify edXML packages", Example: envelopeExample}
	c.AddCommand(inspectCmd(e), buildCmd(e), signCmd(e), verifyCmd(e))
	return group(c)
}

const inspectLong = `Reads an edXML package (document or status) and prints one JSON object:
kind, documentId, from, to, codeNumber, codeNotation, subject, priority,
businessDocType, statusCode and responseForDocumentId (status packages),
attachments (name, contentType, size and sha256 of the bytes carried) and
signed (a Signature element is present; "envelope verify" checks it).

An invalid package exits 1 and prints each problem on its own line on
stderr, starting with the element path. FILE "-" reads standard input.`

const inspectExample = `  lienthong envelope inspect docs/examples/cong-van.edxml
  # prints {"kind":"document","documentId":"000.00.07.H26,2025/03/14,152/SVD-VP",...}`

func inspectCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "inspect FILE", Short: "print a package's summary as JSON, or its problems",
		Long: inspectLong, Example: inspectExample, Args: nArgs(1)}
	maxBytes := c.Flags().Int64("max-bytes", 0, "refuse packages larger than this many bytes (0: 160 MiB)")
	c.RunE = func(_ *cobra.Command, args []string) error {
		pkg, done, err := readPackage(e, args[0], envelope.ParseOptions{Limits: envelope.Limits{MaxBytes: *maxBytes}})
		if done != nil {
			defer done()
		}
		if err != nil {
			return err
		}
		enc := jsonOut(e.stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(pkg.Summary())
	}
	return c
}

// readPackage parses a package file, printing every problem of an invalid
// one on its own line. Its attachments are read into files of a temporary
// folder that done removes, so a 100 MiB package costs no 100 MiB of memory.
func readPackage(e *env, name string, opts envelope.ParseOptions) (pkg *envelope.Package, done func(), err error) {
	src, size, closeIn, err := openPackage(e, name, opts.Limits.MaxBytes)
	if err != nil {
		return nil, nil, err
	}
	defer closeIn()
	if opts.FileDir, err = os.MkdirTemp("", "lienthong-envelope-"); err != nil {
		return nil, nil, err
	}
	done = func() { os.RemoveAll(opts.FileDir) }
	pkg, err = envelope.ParseAt(src, size, opts)
	if err = printProblems(e, err); err != nil && !errors.Is(err, errReported) {
		err = fmt.Errorf("%s: %w", name, err)
	}
	return pkg, done, err
}

// openPackage opens a package file to be read by offset; standard input
// ("-") is first copied to a temporary file, at most max bytes (0: the
// reader's default).
func openPackage(e *env, name string, max int64) (src io.ReaderAt, size int64, closeFn func(), err error) {
	if max <= 0 {
		max = defaultMaxBytes
	}
	var f *os.File
	if name == "-" {
		if f, err = os.CreateTemp("", "lienthong-stdin-"); err != nil {
			return nil, 0, nil, err
		}
		os.Remove(f.Name())
		if _, err = io.Copy(f, io.LimitReader(e.stdin, max+1)); err != nil {
			f.Close()
			return nil, 0, nil, err
		}
	} else if f, err = os.Open(name); err != nil {
		return nil, 0, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	if fi.Size() > max {
		f.Close()
		return nil, 0, nil, fmt.Errorf("%s: %w", name, &envelope.LimitError{What: "size in bytes", Limit: max})
	}
	return f, fi.Size(), func() { f.Close() }, nil
}

// defaultMaxBytes is the reader's own default limit on a package.
const defaultMaxBytes = 160 << 20

// openInput opens a named file, or standard input for "-", with its size
// when known (-1 otherwise).
func openInput(e *env, name string) (r io.Reader, size int64, closeFn func(), err error) {
	if name == "-" {
		return e.stdin, -1, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, err
	}
	size = -1
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return f, size, func() { f.Close() }, nil
}

const buildLong = `Builds a document package from JSON metadata, the same JSON the daemon's
local API accepts (see docs/metadata.md), and attachment files given with
--attach or as arguments. The package is written to standard output.
"from" must be set in the metadata (the daemon fills it from its own
configuration). Problems are printed one per line, named by JSON field.`

const buildExample = `  lienthong envelope build --metadata docs/examples/cong-van.json \
      --attach docs/examples/cong-van-152.pdf > cong-van.edxml`

func buildCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "build --metadata FILE [--attach FILE]... [FILE...]", Short: "build a document package from JSON metadata and files",
		Long: buildLong, Example: buildExample, Args: argsBetween(0, -1)}
	metaFile := c.Flags().String("metadata", "", "JSON metadata file (required; - for standard input)")
	attach := c.Flags().StringArray("attach", nil, "attachment file (repeatable)")
	zip := c.Flags().Bool("zip", false, "zip each attachment (application/zip) for peers that expect it")
	at := c.Flags().String("time", "", "sending time in RFC 3339 for a reproducible package (default: now)")
	c.RunE = func(c *cobra.Command, args []string) error {
		if *metaFile == "" {
			return badUsage(c, "--metadata is required")
		}
		sent := time.Now()
		if *at != "" {
			t, err := time.Parse(time.RFC3339, *at)
			if err != nil {
				return fmt.Errorf("--time: %w", err)
			}
			sent = t
		}
		meta, err := readMetadata(e, *metaFile)
		if err != nil {
			return err
		}
		files := append(slices.Clone(*attach), args...)
		for i, ma := range meta.Attachments {
			if i >= len(files) && ma.File != "" {
				files = append(files, filepath.Join(filepath.Dir(*metaFile), ma.File))
			}
		}
		var atts []envelope.Attachment
		for _, f := range files {
			// Streamed from the file as it is encoded: a 100 MiB scan is never
			// held whole.
			if _, err := os.Stat(f); err != nil {
				return err
			}
			atts = append(atts, envelope.Attachment{Name: filepath.Base(f), Path: f})
		}
		if meta.From == nil {
			return errors.New(`metadata: "from" is required when building outside the daemon`)
		}
		doc, err := meta.Document(meta.From.Organization(), sent, atts)
		if err != nil {
			return printProblems(e, err)
		}
		pkg := &envelope.Package{Kind: envelope.KindDocument, Document: doc}
		return printProblems(e, envelope.Build(e.stdout, pkg, envelope.BuildOptions{Zip: *zip}))
	}
	return c
}

func readMetadata(e *env, name string) (*envelope.Metadata, error) {
	r, _, closeIn, err := openInput(e, name)
	if err != nil {
		return nil, err
	}
	defer closeIn()
	m, err := envelope.DecodeMetadata(r)
	if err != nil {
		return nil, printProblems(e, err)
	}
	return m, nil
}

// printProblems prints Problems one per line and reports them; other errors
// pass through.
func printProblems(e *env, err error) error {
	var ps envelope.Problems
	if !errors.As(err, &ps) {
		return err
	}
	for _, p := range ps {
		fmt.Fprintln(e.stderr, p.Error())
	}
	return errReported
}
