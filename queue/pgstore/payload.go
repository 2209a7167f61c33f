package pgstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"lienthong/queue"
)

// Payloads live in the database in chunks of 1 MiB, keyed by their hash,
// so the same package stored twice is stored once. A payload is written
// to a local file first, then copied in a chunk at a time: a 100 MiB
// document never costs 100 MiB of memory on either side.

// putChunks stores a small payload held in memory.
func putChunks(ctx context.Context, tx pgx.Tx, sum string, data []byte) error {
	for n := 0; n*chunk < len(data); n++ {
		end := min((n+1)*chunk, len(data))
		if _, err := tx.Exec(ctx, `INSERT INTO lienthong_chunks (sha256, n, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			sum, n, data[n*chunk:end]); err != nil {
			return err
		}
	}
	return nil
}

// NewPayload starts a payload as a file in the scratch folder.
func (s *Store) NewPayload(ctx context.Context) (queue.PayloadWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return queue.NewFilePayload(s.opts.Scratch)
}

// Stage copies an item's payload into the database, a chunk at a time in
// its own transaction, before the Put that names it.
func (s *Store) Stage(ctx context.Context, it *queue.Item) (func(), error) {
	if err := it.Check(); err != nil {
		return nil, err
	}
	var src io.Reader
	var size int64
	switch {
	case it.Body != nil:
		p, ok := it.Body.(*queue.FilePayload)
		if !ok {
			return nil, fmt.Errorf("%w: the body of %s was not made by this store", queue.ErrInvalid, it.Key)
		}
		defer p.Abort()
		f := p.File()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		src, size = f, p.Size()
	default:
		src, size = bytes.NewReader(it.Payload), int64(len(it.Payload))
	}
	h := sha256.New()
	var nonce [12]byte
	rand.Read(nonce[:])
	tmp := "staging-" + hex.EncodeToString(nonce[:])
	buf := make([]byte, chunk)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for n := 0; ; n++ {
			k, err := io.ReadFull(src, buf)
			if k > 0 {
				h.Write(buf[:k])
				if _, err := tx.Exec(ctx, `INSERT INTO lienthong_chunks (sha256, n, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, tmp, n, buf[:k]); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return err
			}
		}
		sum := hex.EncodeToString(h.Sum(nil))
		// The chunks take their hash's name; a payload held already keeps
		// its chunks and these go.
		if _, err := tx.Exec(ctx, `DELETE FROM lienthong_chunks c WHERE c.sha256 = $1 AND EXISTS (SELECT 1 FROM lienthong_chunks o WHERE o.sha256 = $2 AND o.n = c.n)`, tmp, sum); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE lienthong_chunks SET sha256 = $2 WHERE sha256 = $1`, tmp, sum)
		it.MarkStaged(sum, size)
		return err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	s.flushes.Add(1)
	return func() {}, nil
}

// OpenPayload reads a record's payload from its chunks, one at a time;
// read through to its end, it is checked against its hash.
func (s *Store) OpenPayload(ctx context.Context, r *queue.Record) (io.ReadCloser, error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(length(data)), 0) FROM lienthong_chunks WHERE sha256 = $1`, r.SHA256).Scan(&total); err != nil {
		return nil, unavailable(err)
	}
	if total != r.Size {
		return nil, fmt.Errorf("payload of %s: %d bytes stored, want %d", r.ID, total, r.Size)
	}
	return &chunkReader{ctx: ctx, s: s, sum: r.SHA256, size: r.Size, h: sha256.New()}, nil
}

// chunkReader reads a payload by offset or in order, a chunk at a time.
type chunkReader struct {
	ctx  context.Context
	s    *Store
	sum  string
	size int64
	off  int64
	h    interface {
		io.Writer
		Sum([]byte) []byte
	}
	cn   int // the chunk in cur
	cur  []byte
	have bool
}

func (c *chunkReader) Size() int64 { return c.size }

func (c *chunkReader) Close() error { return nil }

func (c *chunkReader) load(n int) error {
	if c.have && c.cn == n {
		return nil
	}
	if err := c.s.pool.QueryRow(c.ctx, `SELECT data FROM lienthong_chunks WHERE sha256 = $1 AND n = $2`, c.sum, n).Scan(&c.cur); err != nil {
		return unavailable(fmt.Errorf("payload chunk %d: %w", n, err))
	}
	c.cn, c.have = n, true
	return nil
}

func (c *chunkReader) ReadAt(p []byte, off int64) (int, error) {
	read := 0
	for read < len(p) {
		if off >= c.size {
			return read, io.EOF
		}
		n := int(off / chunk)
		if err := c.load(n); err != nil {
			return read, err
		}
		k := copy(p[read:], c.cur[off-int64(n)*chunk:])
		read += k
		off += int64(k)
	}
	return read, nil
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.off >= c.size {
		if hex.EncodeToString(c.h.Sum(nil)) != c.sum {
			return 0, fmt.Errorf("%w: payload %s: the stored bytes do not match their hash", queue.ErrAltered, c.sum)
		}
		return 0, io.EOF
	}
	k, err := c.ReadAt(p[:min(int64(len(p)), c.size-c.off)], c.off)
	c.h.Write(p[:k])
	c.off += int64(k)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return k, err
}
