package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
)

// external decodes an attachment whose content stayed in the source, into
// a file in FileDir (or memory when there is none), hashing it on the way
// so that its summary need not read it again.
func (d *decoder) external(a *Attachment, txt, path string) {
	r, err := d.opts.splices.textReader([]byte(txt))
	if err != nil {
		d.err = err
		return
	}
	if d.opts.FileDir == "" {
		var b bytes.Buffer
		if _, err := decodeBase64Stream(&b, r); err != nil {
			d.probs.add(path+"/ContentTransferEncoded", "is not valid base64", "")
			return
		}
		a.Data = b.Bytes()
		return
	}
	if err := os.MkdirAll(d.opts.FileDir, 0o700); err != nil {
		d.err = err
		return
	}
	f, err := os.CreateTemp(d.opts.FileDir, "attachment-*")
	if err != nil {
		d.err = err
		return
	}
	h := sha256.New()
	n, err := decodeBase64Stream(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil:
		a.Path, a.size, a.sum = f.Name(), n, h.Sum(nil)
	case errors.Is(err, errBase64):
		os.Remove(f.Name())
		d.probs.add(path+"/ContentTransferEncoded", "is not valid base64", "")
	default:
		os.Remove(f.Name())
		d.err = err
	}
}

// removeFiles deletes the files a read wrote for a package that is not
// handed back.
func removeFiles(p *Package) {
	if p == nil || p.Document == nil {
		return
	}
	for _, a := range p.Document.Attachments {
		if a.sum != nil {
			os.Remove(a.Path)
		}
	}
}

var errBase64 = errors.New("illegal base64 data")

// decodeBase64Stream is decodeBase64 over a stream, in blocks: white space
// skipped, padding only at the very end, and an unpadded tail read as raw
// base64 when no padding appears anywhere.
func decodeBase64Stream(w io.Writer, r io.Reader) (int64, error) {
	in := make([]byte, 256<<10)
	out := make([]byte, base64.StdEncoding.DecodedLen(len(in)))
	var written, chars int64
	carry, padded := 0, false
	for {
		n, rerr := r.Read(in[carry:])
		m := carry + compactSpace(in[carry:carry+n])
		if padded && m > 0 {
			return written, fmt.Errorf("%w after padding at character %d", errBase64, chars)
		}
		eof := rerr == io.EOF
		if rerr != nil && !eof {
			return written, rerr
		}
		k := m / 4 * 4
		if k > 0 {
			dn, err := base64.StdEncoding.Decode(out, in[:k])
			if bad, ok := err.(base64.CorruptInputError); ok {
				return written, fmt.Errorf("%w at character %d", errBase64, chars+int64(bad))
			} else if err != nil {
				return written, fmt.Errorf("%w: %v", errBase64, err)
			}
			padded = in[k-1] == '='
			if _, err := w.Write(out[:dn]); err != nil {
				return written, err
			}
			written += int64(dn)
		}
		chars += int64(k)
		carry = copy(in, in[k:m])
		if !eof {
			continue
		}
		if carry == 0 {
			return written, nil
		}
		if padded || bytes.IndexByte(in[:carry], '=') >= 0 {
			return written, fmt.Errorf("%w: padded but %d characters long", errBase64, chars+int64(carry))
		}
		dn, err := base64.RawStdEncoding.Decode(out, in[:carry])
		if err != nil {
			return written, fmt.Errorf("%w at the end", errBase64)
		}
		_, err = w.Write(out[:dn])
		return written + int64(dn), err
	}
}

// compactSpace removes white space from b in place and returns the length
// left.
func compactSpace(b []byte) int {
	j := 0
	for _, c := range b {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		b[j] = c
		j++
	}
	return j
}
