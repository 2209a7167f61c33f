package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue/atomicfile"
)

// The spool is for software that can only write files. It drops
// outbox/NAME.json (the metadata, written last, by rename) beside the files
// it names; the gateway submits it and moves the lot to sent/ or failed/
// with NAME.result.json. Inbound packages appear as inbox/ID/ folders.

func (g *Gateway) spoolLoop(ctx context.Context) {
	for _, d := range []string{"outbox", "sent", "failed", "inbox"} {
		if err := os.MkdirAll(filepath.Join(g.cfg.Spool.Dir, d), 0o770); err != nil {
			g.log.Error().Err(err).Msg("spool folder")
			return
		}
	}
	for {
		g.scanOutbox()
		if !sleep(ctx, g.clock, time.Duration(g.cfg.Spool.ScanInterval), nil) {
			return
		}
	}
}

func (g *Gateway) scanOutbox() {
	out := filepath.Join(g.cfg.Spool.Dir, "outbox")
	names, err := filepath.Glob(filepath.Join(out, "*.json"))
	if err != nil {
		return
	}
	for _, path := range names {
		if strings.HasSuffix(path, ".result.json") {
			continue
		}
		g.spoolOne(path)
	}
}

func (g *Gateway) spoolOne(path string) {
	log := g.log.With().Str("spool_file", filepath.Base(path)).Logger()
	var result any
	files, acc, err := g.submitSpool(path)
	dest := "sent"
	switch {
	case errors.Is(err, ErrUnavailable):
		log.Warn().Err(err).Msg("spool document not taken now: it stays in outbox/ for the next scan")
		return
	case err != nil:
		dest = "failed"
		var ps envelope.Problems
		e := localapi.Error{Message: err.Error()}
		if errors.As(err, &ps) {
			e.Message = "the metadata breaks " + fmt.Sprint(len(ps)) + " rule(s)"
			for _, p := range ps {
				e.Problems = append(e.Problems, localapi.Problem{Field: p.Path, Rule: p.Rule, Value: p.Value})
			}
		}
		result = e
		log.Warn().Err(err).Msg("spool document refused: moved to failed/")
	default:
		result = acc
	}
	base := strings.TrimSuffix(filepath.Base(path), ".json")
	b, _ := json.MarshalIndent(result, "", "  ")
	dir := filepath.Join(g.cfg.Spool.Dir, dest)
	if err := atomicfile.WriteFile(filepath.Join(dir, base+".result.json"), b, 0o640); err != nil {
		log.Error().Err(err).Msg("spool result")
		return
	}
	for _, f := range files {
		if err := os.Rename(f, filepath.Join(dir, filepath.Base(f))); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Error().Err(err).Msg("spool move")
		}
	}
	// The metadata goes last: while it is in outbox/, the job is not done.
	if err := os.Rename(path, filepath.Join(dir, filepath.Base(path))); err != nil {
		log.Error().Err(err).Msg("spool move")
	}
}

// submitSpool reads one metadata file and the files it names; it returns
// the attachment paths so they move with it.
func (g *Gateway) submitSpool(path string) (files []string, acc localapi.Accepted, err error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, acc, err
	}
	meta, err := envelope.DecodeMetadata(io.LimitReader(f, 1<<20))
	f.Close()
	if err != nil {
		return nil, acc, err
	}
	var atts []envelope.Attachment
	defer func() {
		for _, a := range atts {
			os.Remove(a.Path)
		}
	}()
	var ps envelope.Problems
	for i, ma := range meta.Attachments {
		name := filepath.Base(ma.File)
		if ma.File == "" || name != ma.File {
			ps = append(ps, envelope.Problem{Path: fmt.Sprintf("attachments[%d].file", i), Rule: "must name a file beside the metadata, without folders", Value: ma.File})
			continue
		}
		p := filepath.Join(filepath.Dir(path), name)
		// Copied, as it is read, into the store's temporary folder: the
		// file checked is the file sent, whatever happens to it after.
		data, copied, err := g.readRegular(p)
		if err != nil {
			ps = append(ps, envelope.Problem{Path: fmt.Sprintf("attachments[%d].file", i), Rule: "cannot be read: " + err.Error(), Value: ma.File})
			continue
		}
		files = append(files, p)
		atts = append(atts, envelope.Attachment{Name: name, Data: data, Path: copied})
	}
	if len(ps) > 0 {
		return files, acc, ps
	}
	// The same Submit as the local API's, as the spool's own caller.
	acc, err = g.Submit(Caller{Name: "spool"}, meta, atts)
	return files, acc, err
}

// openRegular opens a file of the spool without following a link, and
// only if it is a plain file: a link dropped in outbox/ must not get the
// daemon to sign and send whatever it points at.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link, which the spool never follows", filepath.Base(path))
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readRegular copies a plain file of the spool into the store's temporary
// folder, at most the largest document a submission may be.
func (g *Gateway) readRegular(path string) (data []byte, copied string, err error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	limit := int64(g.cfg.Outbound.MaxDocument)
	if limit <= 0 {
		limit = 1 << 62
	}
	data, copied, err = spoolPart(io.LimitReader(f, limit+1), g.out.scratch)
	if err == nil {
		if fi, serr := os.Stat(copied); copied != "" && serr == nil && fi.Size() > limit {
			os.Remove(copied)
			return nil, "", fmt.Errorf("larger than outbound.max_document (%d bytes)", limit)
		}
	}
	return data, copied, err
}

// spoolPart writes an uploaded file to a file of its own in tmp, so that
// an upload is never held whole in memory.
func spoolPart(r io.Reader, tmp string) ([]byte, string, error) {
	if tmp == "" {
		b, err := io.ReadAll(r)
		return b, "", err
	}
	f, err := os.CreateTemp(tmp, "upload-*")
	if err != nil {
		return nil, "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, "", err
	}
	return nil, f.Name(), nil
}
