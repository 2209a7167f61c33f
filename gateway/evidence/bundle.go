package evidence

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"lienthong/queue"
)

// Proof is proof.json of a bundle: a checkpoint, the key to check it, and
// for each entry its exact bytes, its audit path to the checkpoint's root
// and the file holding its package.
type Proof struct {
	Checkpoint  string       `json:"checkpoint"`
	VerifierKey string       `json:"verifierKey"`
	TreeSize    int64        `json:"treeSize"`
	Entries     []ProofEntry `json:"entries"`
}

// ProofEntry is one entry of a Proof.
type ProofEntry struct {
	Index     int64    `json:"index"`
	Entry     string   `json:"entry"`     // base64 of the exact entry bytes
	AuditPath []string `json:"auditPath"` // base64 hashes, leaf to root
	File      string   `json:"file"`      // the package, "" when purged
}

// Bundle is the files of a proof for one document: the small ones by
// name, the packages by the record they are read from when written, so a
// bundle of a 100 MiB scan is never held in memory.
type Bundle struct {
	Files    map[string][]byte
	Packages map[string]string // file name → record
	open     OpenPackage
}

// Select picks the entries of a bundle.
type Select struct {
	DocumentID string
	Record     string
}

func (s Select) match(e Entry) bool {
	return (s.DocumentID != "" && e.DocumentID == s.DocumentID) || (s.Record != "" && e.Record == s.Record)
}

// OpenPackage reads the package a record holds; queue.ErrNotFound means
// it was purged.
type OpenPackage func(ctx context.Context, record string) (io.ReadCloser, error)

// ErrNoEntries is a bundle asked for a document the log has no entry of.
var ErrNoEntries = errors.New("no evidence entry for it")

// Prove makes the bundle of the entries sel picks, under the latest
// checkpoint, signing one first when none covers them.
func (l *Log) Prove(ctx context.Context, sel Select, open OpenPackage) (*Bundle, error) {
	if _, err := l.Seal(ctx); err != nil {
		return nil, err
	}
	size, _, err := l.led.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	// A document's entries name it; those of its packages before they were
	// read (fetched) name only their record: a second pass takes them.
	records := map[string]bool{}
	if err := l.scan(ctx, size, func(e Entry, _ []byte) {
		if sel.match(e) {
			records[e.Record] = true
		}
	}); err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, ErrNoEntries
	}
	var lines [][]byte
	var found []Entry
	if err := l.scan(ctx, size, func(e Entry, b []byte) {
		if sel.match(e) || records[e.Record] {
			lines, found = append(lines, b), append(found, e)
		}
	}); err != nil {
		return nil, err
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if cp.Size <= found[len(found)-1].Seq {
		return nil, fmt.Errorf("%w: the latest checkpoint does not cover entry %d", queue.ErrLogDamaged, found[len(found)-1].Seq)
	}
	b := &Bundle{Files: map[string][]byte{}, Packages: map[string]string{}, open: open}
	p := Proof{Checkpoint: string(cp.Note), VerifierKey: l.vkey, TreeSize: cp.Size}
	var jsonl bytes.Buffer
	purged := map[string]bool{}
	for i, e := range found {
		rp, err := tlog.ProveRecord(cp.Size, e.Seq, l.hashReader(ctx))
		if err != nil {
			return nil, fmt.Errorf("proof of entry %d: %w", e.Seq, err)
		}
		pe := ProofEntry{Index: e.Seq, Entry: base64.StdEncoding.EncodeToString(lines[i])}
		for _, h := range rp {
			pe.AuditPath = append(pe.AuditPath, base64.StdEncoding.EncodeToString(h[:]))
		}
		// Entries of one record share its package's file.
		name := e.Record + ".edxml"
		if _, ok := b.Packages[name]; !ok && !purged[name] {
			rc, err := open(ctx, e.Record)
			switch {
			case errors.Is(err, queue.ErrNotFound):
				purged[name] = true
			case err != nil:
				return nil, fmt.Errorf("package of entry %d: %w", e.Seq, err)
			default:
				rc.Close()
				b.Packages[name] = e.Record
			}
		}
		if purged[name] || name != filepath.Base(name) {
			name = ""
		}
		pe.File = name
		p.Entries = append(p.Entries, pe)
		jsonl.Write(lines[i])
		jsonl.WriteByte('\n')
	}
	pj, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	b.Files["proof.json"] = append(pj, '\n')
	b.Files["entries.jsonl"] = jsonl.Bytes()
	b.Files["README.txt"] = []byte(readme(l.vkey))
	return b, nil
}

// scan calls fn with every entry of the log up to size, in order.
func (l *Log) scan(ctx context.Context, size int64, fn func(e Entry, line []byte)) error {
	for from := int64(0); from < size; {
		es, err := l.led.LogEntries(ctx, from, batch)
		if err != nil || len(es) == 0 {
			return errors.Join(err, fmt.Errorf("%w: entries from %d unreadable", queue.ErrLogDamaged, from))
		}
		for _, b := range es {
			if e, err := ParseEntry(b); err == nil {
				fn(e, b)
			}
		}
		from += int64(len(es))
	}
	return nil
}

// Write writes the bundle's files into dir, which it makes.
func (b *Bundle) Write(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return b.each(ctx, func(name string, size int64, r io.Reader) error {
		if name != filepath.Base(name) {
			return fmt.Errorf("bundle file name %q", name)
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		return errors.Join(err, f.Close())
	})
}

// WriteTar writes the bundle as a tar stream, for the API to hand it out.
func (b *Bundle) WriteTar(ctx context.Context, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := b.each(ctx, func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o640, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	})
	return errors.Join(err, tw.Close())
}

// each hands fn every file of the bundle, streaming the packages.
func (b *Bundle) each(ctx context.Context, fn func(name string, size int64, r io.Reader) error) error {
	for _, name := range slices.Sorted(maps.Keys(b.Files)) {
		if err := fn(name, int64(len(b.Files[name])), bytes.NewReader(b.Files[name])); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.Packages)) {
		rc, err := b.open(ctx, b.Packages[name])
		if err != nil {
			return fmt.Errorf("package %s: %w", name, err)
		}
		sized, ok := rc.(interface{ Size() int64 })
		if !ok {
			rc.Close()
			return fmt.Errorf("package %s: its size is unknown", name)
		}
		err = fn(name, sized.Size(), rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadTar writes a bundle received as a tar stream into dir, refusing
// any name that is not a plain file name.
func ReadTar(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if h.Typeflag != tar.TypeReg || h.Name != filepath.Base(h.Name) || h.Name == "." || h.Name == ".." {
			return fmt.Errorf("bundle: %q is not a plain file", h.Name)
		}
		f, err := os.OpenFile(filepath.Join(dir, h.Name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if err = errors.Join(err, f.Close()); err != nil {
			return err
		}
	}
}

// VerifyBundle checks a bundle written in dir with nothing but its files
// and vkey (the bundle's own key when empty), and names every part that
// does not hold: a package changed, an entry changed, an audit path
// changed, a checkpoint not signed by the key.
func VerifyBundle(dir, vkey string) (problems []string, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, "proof.json"))
	if err != nil {
		return nil, err
	}
	var p Proof
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("proof.json: %w", err)
	}
	if vkey == "" {
		vkey = p.VerifierKey
	}
	t, err := OpenCheckpoint([]byte(p.Checkpoint), vkey)
	if err != nil {
		return []string{fmt.Sprintf("checkpoint: %v", err)}, nil
	}
	if t.Size != p.TreeSize {
		problems = append(problems, fmt.Sprintf("proof.json: treeSize %d, the checkpoint states %d", p.TreeSize, t.Size))
	}
	var lines []string
	if b, err := os.ReadFile(filepath.Join(dir, "entries.jsonl")); err == nil {
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	for i, pe := range p.Entries {
		what := fmt.Sprintf("entry %d", pe.Index)
		entry, err := base64.StdEncoding.DecodeString(pe.Entry)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: changed: not base64: %v", what, err))
			continue
		}
		if i < len(lines) && lines[i] != string(entry) {
			problems = append(problems, fmt.Sprintf("%s: changed: proof.json and line %d of entries.jsonl differ", what, i+1))
		}
		e, err := ParseEntry(entry)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: changed: %v", what, err))
		} else if e.Seq != pe.Index {
			problems = append(problems, fmt.Sprintf("%s: changed: it is numbered %d", what, e.Seq))
		}
		var path tlog.RecordProof
		for _, s := range pe.AuditPath {
			h, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(h) != sha256.Size {
				problems = append(problems, fmt.Sprintf("%s: audit path hash %q is not a base64 SHA-256", what, s))
				break
			}
			path = append(path, tlog.Hash(h))
		}
		if err := tlog.CheckRecord(path, t.Size, t.Root, pe.Index, tlog.RecordHash(entry)); err != nil {
			problems = append(problems, fmt.Sprintf("%s: its audit path does not lead to the checkpoint's root: the entry or a hash of its path was changed", what))
		}
		if pe.File == "" {
			continue
		}
		if pe.File != filepath.Base(pe.File) {
			problems = append(problems, fmt.Sprintf("%s: file %q is not in the bundle", what, pe.File))
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, pe.File))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: package %s: %v", what, pe.File, err))
			continue
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); err == nil && e.SHA256 != got {
			problems = append(problems, fmt.Sprintf("%s: package %s changed: it hashes to %s, the entry says %s", what, pe.File, got, e.SHA256))
		}
	}
	slices.Sort(problems)
	return slices.Compact(problems), nil
}
