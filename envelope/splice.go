package envelope

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	"github.com/beevik/etree"
)

// A package read from a file is parsed with every long run of base64 text
// (an attachment's content) replaced by a short marker. The run stays in
// the file and is read again by offset when it is digested or decoded, so
// memory follows the package's structure, not the size of its files.

// spliceMin is the shortest run left in the file; a variable so that tests
// can splice every run and compare both readers on small packages.
var spliceMin = 64 << 10

// runByte are the bytes a spliced run may hold: the base64 alphabet and
// white space. None needs escaping in canonical XML except CR, which the
// parser turns into LF and the splicer does the same.
var runByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n") {
		t[c] = true
	}
	return t
}()

// run is one spliced run of text in the source.
type run struct {
	off, n int64
	crlf   int64          // CR LF pairs, which read as one LF
	space  bool           // white space only
	elem   *etree.Element // whose text holds it; nil outside the root
	seen   bool
}

// splices are the runs of one source, named in the parsed text by markers
// that start with a random nonce, which no sender can guess and write.
type splices struct {
	src   io.ReaderAt
	nonce []byte
	runs  []run
}

const markerDigits = 8

func newSplices(src io.ReaderAt) (*splices, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &splices{src: src, nonce: []byte("LTRUN" + hex.EncodeToString(b))}, nil
}

func (s *splices) marker(i int) []byte {
	return fmt.Appendf(append([]byte(nil), s.nonce...), "%0*x", markerDigits, i)
}

// markers calls f for each marker in b with the text before it, and
// returns the text after the last one.
func (s *splices) markers(b []byte, f func(before []byte, i int) error) ([]byte, error) {
	for {
		k := bytes.Index(b, s.nonce)
		if k < 0 {
			return b, nil
		}
		end := k + len(s.nonce) + markerDigits
		if end > len(b) {
			return nil, fmt.Errorf("%w: a damaged text marker", ErrSyntax)
		}
		i, err := strconv.ParseUint(string(b[k+len(s.nonce):end]), 16, 32)
		if err != nil || int(i) >= len(s.runs) {
			return nil, fmt.Errorf("%w: a damaged text marker", ErrSyntax)
		}
		if err := f(b[:k], int(i)); err != nil {
			return nil, err
		}
		b = b[end:]
	}
}

// claim records that the character data t of el holds markers, each of
// which must be met exactly once, and returns the length t stands for.
func (s *splices) claim(t []byte, el *etree.Element) (int64, error) {
	n := int64(0)
	rest, err := s.markers(t, func(before []byte, i int) error {
		r := &s.runs[i]
		if r.seen {
			return fmt.Errorf("%w: a text marker met twice", ErrSyntax)
		}
		r.seen, r.elem = true, el
		n += int64(len(before)) + r.n - r.crlf
		return nil
	})
	return n + int64(len(rest)), err
}

// onlySpace reports whether text outside the root, markers and all, is
// white space.
func (s *splices) onlySpace(t []byte) bool {
	if s == nil {
		return false
	}
	ok := true
	rest, err := s.markers(t, func(before []byte, i int) error {
		ok = ok && len(bytes.TrimSpace(before)) == 0 && s.runs[i].space
		return nil
	})
	return err == nil && ok && len(bytes.TrimSpace(rest)) == 0
}

// contains reports whether b holds a marker where none may stand.
func (s *splices) contains(b []byte) bool { return s != nil && bytes.Contains(b, s.nonce) }

// reader returns the run's text as the parser would have read it: CR LF
// and lone CR as LF.
func (s *splices) reader(i int) io.Reader {
	r := s.runs[i]
	return &crlfReader{r: io.NewSectionReader(s.src, r.off, r.n)}
}

// expand returns b with every marker replaced by its run's text.
func (s *splices) expand(b []byte) ([]byte, error) {
	var out bytes.Buffer
	rest, err := s.markers(b, func(before []byte, i int) error {
		out.Write(before)
		_, err := io.Copy(&out, s.reader(i))
		return err
	})
	if err != nil {
		return nil, err
	}
	out.Write(rest)
	return out.Bytes(), nil
}

// textReader streams b with every marker read from the source.
func (s *splices) textReader(b []byte) (io.Reader, error) {
	var parts []io.Reader
	rest, err := s.markers(b, func(before []byte, i int) error {
		parts = append(parts, bytes.NewReader(before), s.reader(i))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return io.MultiReader(append(parts, bytes.NewReader(rest))...), nil
}

// writeCanonical writes canonical bytes whose text holds markers, with
// each marker replaced by its run: exactly the canonical form of the
// package as sent.
func (s *splices) writeCanonical(w io.Writer, canon []byte) error {
	buf := make([]byte, 256<<10)
	rest, err := s.markers(canon, func(before []byte, i int) error {
		if _, err := w.Write(before); err != nil {
			return err
		}
		_, err := io.CopyBuffer(w, s.reader(i), buf)
		return err
	})
	if err != nil {
		return err
	}
	_, err = w.Write(rest)
	return err
}

// restore puts back the text of runs outside attachment contents, so that
// every field but those reads as it was sent, and checks that the parser
// met every marker.
func (s *splices) restore() error {
	done := map[*etree.Element]bool{}
	for i := range s.runs {
		r := &s.runs[i]
		if !r.seen {
			return fmt.Errorf("%w: text the parser did not read as text", ErrSyntax)
		}
		if r.elem == nil || r.elem.Tag == "ContentTransferEncoded" || done[r.elem] {
			continue
		}
		done[r.elem] = true
		for _, t := range r.elem.Child {
			if cd, ok := t.(*etree.CharData); ok && s.contains([]byte(cd.Data)) {
				b, err := s.expand([]byte(cd.Data))
				if err != nil {
					return err
				}
				cd.Data = string(b)
			}
		}
	}
	return nil
}

// crlfReader turns CR LF and lone CR into LF, as an XML parser does.
type crlfReader struct {
	r      io.Reader
	lastCR bool
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n == 0 || (!c.lastCR && bytes.IndexByte(p[:n], '\r') < 0) {
		if n > 0 {
			c.lastCR = false
		}
		return n, err
	}
	j := 0
	for _, b := range p[:n] {
		switch {
		case b == '\n' && c.lastCR:
			c.lastCR = false
			continue
		case b == '\r':
			c.lastCR = true
			b = '\n'
		default:
			c.lastCR = false
		}
		p[j] = b
		j++
	}
	if j == 0 && err == nil {
		return c.Read(p)
	}
	return j, err
}

// lexState is where the splicing reader stands in the XML syntax.
type lexState int

const (
	lexText    lexState = iota
	lexTag              // inside < >, quotes tracked
	lexComment          // until -->
	lexPI               // until ?>
	lexCDATA            // until ]]>
	lexRaw              // a DOCTYPE or worse: the parser refuses it, pass all
)

// spliceReader feeds the parser the source with long runs of text or
// CDATA replaced by markers. It lexes just enough XML to know where text
// is; the parser reads the result, and restore checks it met each marker
// as text, so a mistake here is refused, never misread.
type spliceReader struct {
	r     *bufio.Reader
	off   int64 // of r's next byte in the source
	s     *splices
	state lexState
	quote byte
	last  [2]byte // the two bytes before, for the end of a comment, PI or CDATA
	out   []byte  // what the parser reads next, from pos
	pos   int
	cand  []byte // a run too short yet to splice
	candA int64  // its offset
	crlf  int64  // CR LF pairs in cand or the run
	cr    bool   // the run's last byte was CR
	inRun bool   // cand became a spliced run, the last one in s.runs
	ref   bool   // in a reference, & to ;, which is never spliced
	err   error
}

func newSpliceReader(src io.ReaderAt, size int64, s *splices) *spliceReader {
	buf := int(min(max(size, 4<<10), 256<<10)) // no more than a small package needs
	return &spliceReader{r: bufio.NewReaderSize(io.NewSectionReader(src, 0, size), buf), s: s}
}

func (z *spliceReader) Read(p []byte) (int, error) {
	for z.pos == len(z.out) && z.err == nil {
		z.step()
	}
	n := copy(p, z.out[z.pos:])
	if z.pos += n; z.pos == len(z.out) {
		z.out, z.pos = z.out[:0], 0
	}
	if n > 0 {
		return n, nil
	}
	return 0, z.err
}

// endRun passes on a candidate too short to splice, or the marker of a
// spliced run.
func (z *spliceReader) endRun() {
	if z.inRun {
		z.out = append(z.out, z.s.marker(len(z.s.runs)-1)...)
		z.inRun = false
	} else if len(z.cand) > 0 {
		z.out = append(z.out, z.cand...)
	}
	z.cand, z.crlf, z.cr = z.cand[:0], 0, false
}

func (z *spliceReader) consume(n int) {
	z.r.Discard(n)
	z.off += int64(n)
}

func (z *spliceReader) step() {
	if _, err := z.r.Peek(1); err != nil {
		z.endRun()
		z.err = err
		return
	}
	buf, _ := z.r.Peek(z.r.Buffered())
	switch z.state {
	case lexText, lexCDATA:
		i := 0
		for i < len(buf) {
			if runByte[buf[i]] {
				j := i
				for j < len(buf) && runByte[buf[j]] {
					j++
				}
				if z.ref {
					z.out = append(z.out, buf[i:j]...)
					i = j
					continue
				}
				z.extend(buf[i:j], z.off+int64(i))
				z.last = [2]byte{}
				i = j
				continue
			}
			z.endRun()
			c := buf[i]
			if z.state == lexText && c == '<' {
				z.consume(i)
				z.open()
				return
			}
			z.out = append(z.out, c)
			i++
			z.ref = z.state == lexText && (c == '&' || (z.ref && c == '#'))
			if z.state == lexCDATA && c == '>' && z.last == [2]byte{']', ']'} {
				z.state = lexText
			}
			z.last = [2]byte{z.last[1], c}
		}
		z.consume(i)
	case lexTag:
		i := 0
		for i < len(buf) {
			c := buf[i]
			i++
			switch {
			case z.quote != 0:
				if c == z.quote {
					z.quote = 0
				}
			case c == '"' || c == '\'':
				z.quote = c
			case c == '>':
				z.state = lexText
			}
			if z.state != lexTag {
				break
			}
		}
		z.out = append(z.out, buf[:i]...)
		z.consume(i)
	case lexComment, lexPI:
		i := 0
		for i < len(buf) && z.state != lexText {
			c := buf[i]
			i++
			if c == '>' && ((z.state == lexComment && z.last == [2]byte{'-', '-'}) || (z.state == lexPI && z.last[1] == '?')) {
				z.state = lexText
			}
			z.last = [2]byte{z.last[1], c}
		}
		z.out = append(z.out, buf[:i]...)
		z.consume(i)
	case lexRaw:
		z.out = append(z.out, buf...)
		z.consume(len(buf))
	}
}

// extend adds run bytes at offset off to the current candidate or run.
func (z *spliceReader) extend(b []byte, off int64) {
	for k := bytes.IndexByte(b, '\n'); k >= 0; {
		if (k == 0 && z.cr) || (k > 0 && b[k-1] == '\r') {
			z.crlf++
		}
		next := bytes.IndexByte(b[k+1:], '\n')
		if next < 0 {
			break
		}
		k += 1 + next
	}
	z.cr = b[len(b)-1] == '\r'
	if z.inRun {
		r := &z.s.runs[len(z.s.runs)-1]
		r.n += int64(len(b))
		r.crlf = z.crlf
		r.space = r.space && onlySpace(b)
		return
	}
	if len(z.cand) == 0 {
		z.candA = off
	}
	if len(z.cand)+len(b) < spliceMin {
		z.cand = append(z.cand, b...)
		return
	}
	z.s.runs = append(z.s.runs, run{off: z.candA, n: int64(len(z.cand) + len(b)), crlf: z.crlf, space: onlySpace(z.cand) && onlySpace(b)})
	z.cand = z.cand[:0]
	z.inRun = true
}

// open passes on the start of markup at '<' and enters its state.
func (z *spliceReader) open() {
	head, _ := z.r.Peek(9)
	n, state := 1, lexTag
	switch {
	case bytes.HasPrefix(head, []byte("<!--")):
		n, state = 4, lexComment
	case bytes.HasPrefix(head, []byte("<![CDATA[")):
		n, state = 9, lexCDATA
	case bytes.HasPrefix(head, []byte("<!")):
		n, state = 2, lexRaw
	case bytes.HasPrefix(head, []byte("<?")):
		n, state = 2, lexPI
	}
	z.out = append(z.out, head[:n]...)
	z.consume(n)
	z.state, z.quote, z.last = state, 0, [2]byte{}
}

func onlySpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// ParseAt is Parse over a package read by offset (a file of size bytes),
// for packages too large to hold: memory follows the package's structure,
// not its attachments, which go to files in opts.FileDir.
func ParseAt(src io.ReaderAt, size int64, opts ParseOptions) (*Package, error) {
	doc, opts, err := readAt(src, size, opts)
	if err != nil {
		return nil, err
	}
	return Decode(doc.Root(), opts)
}

// VerifyAt is Verify over a package read by offset, in memory bounded as
// ParseAt's: the digest is computed over the canonical form with each
// attachment streamed from the source. Verified.Canonical is then nil.
func VerifyAt(src io.ReaderAt, size int64, opts VerifyOptions) (*Verified, error) {
	doc, popts, err := readAt(src, size, opts.Parse)
	if err != nil {
		return nil, err
	}
	opts.Parse = popts
	return verifyTree(doc, opts)
}

// OpenInboundAt is OpenInbound over a package read by offset, as a stored
// package is, in memory bounded as ParseAt's.
func OpenInboundAt(src io.ReaderAt, size int64, pol SignaturePolicy, opts VerifyOptions) (*Inbound, error) {
	doc, popts, err := readAt(src, size, opts.Parse)
	if err != nil {
		return nil, err
	}
	opts.Parse = popts
	return openInbound(doc, pol, opts)
}

// readAt reads the tree of a package with its long texts spliced out, and
// returns the parse options that resolve them.
func readAt(src io.ReaderAt, size int64, opts ParseOptions) (*etree.Document, ParseOptions, error) {
	lim := opts.Limits.withDefaults()
	if size > lim.MaxBytes {
		return nil, opts, &LimitError{What: "size in bytes", Limit: lim.MaxBytes}
	}
	sp, err := newSplices(src)
	if err != nil {
		return nil, opts, err
	}
	doc, err := readTreeSpliced(newSpliceReader(src, size, sp), lim, sp)
	if err != nil {
		return nil, opts, err
	}
	if err := sp.restore(); err != nil {
		return nil, opts, err
	}
	if len(sp.runs) > 0 {
		opts.splices = sp
	}
	return doc, opts, nil
}
