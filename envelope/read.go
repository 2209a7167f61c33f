package envelope

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// Limits bound what a read accepts, so a hostile or broken package is refused
// early instead of exhausting memory. The zero value of each field means its
// default.
type Limits struct {
	// MaxBytes caps the whole package; zero means 160 MiB, room for 100 MiB
	// of attachments after base64.
	MaxBytes int64
	// MaxDepth caps element nesting; zero means 32 (edXML needs 8).
	MaxDepth int
	// MaxElements caps the number of elements; zero means 100,000.
	MaxElements int
	// MaxAttrs caps the attributes of one element; zero means 32.
	MaxAttrs int
	// MaxAttrBytes caps one attribute value; zero means 4 KiB.
	MaxAttrBytes int
	// MaxTextBytes caps the text of one element other than attachment
	// content (which only MaxBytes bounds); zero means 64 KiB.
	MaxTextBytes int
	// MaxAttachments caps the number of attachments; zero means 256.
	MaxAttachments int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 160 << 20
	}
	def(&l.MaxDepth, 32)
	def(&l.MaxElements, 100_000)
	def(&l.MaxAttrs, 32)
	def(&l.MaxAttrBytes, 4<<10)
	def(&l.MaxTextBytes, 64<<10)
	def(&l.MaxAttachments, 256)
	return l
}

// limitedReader fails once more than max bytes have been read, so an
// oversized package is never read whole.
type limitedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, &LimitError{What: "size in bytes", Limit: l.max}
	}
	if rem := l.max + 1 - l.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, &LimitError{What: "size in bytes", Limit: l.max}
	}
	return n, err
}

// readTree reads one XML document into an etree tree, enforcing lim as tokens
// arrive. DOCTYPE is refused on sight, unknown entities are a syntax error
// (the decoder is strict and knows only XML's five), and the encoding must be
// UTF-8.
func readTree(r io.Reader, lim Limits) (*etree.Document, error) {
	return readTreeSpliced(r, lim, nil)
}

// readTreeSpliced is readTree over a splicing reader's output: markers may
// stand only in text, each once, and count for the text they replace.
func readTreeSpliced(r io.Reader, lim Limits, sp *splices) (*etree.Document, error) {
	lim = lim.withDefaults()
	lr := &limitedReader{r: r, max: lim.MaxBytes}
	dec := xml.NewDecoder(skipBOM(lr))
	doc := etree.NewDocument()
	stack := []*etree.Element{&doc.Element}
	var texts []int64 // text bytes per open element
	elements, attachments := 0, 0
	rootSeen := false

	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readError(err)
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 1 {
				if rootSeen {
					return nil, fmt.Errorf("%w: line %d: a second root element <%s>", ErrSyntax, line(dec), t.Name.Local)
				}
				rootSeen = true
			}
			if len(stack) > lim.MaxDepth {
				return nil, &LimitError{What: "element depth", Limit: int64(lim.MaxDepth), Path: treePath(stack, t.Name.Local)}
			}
			if elements++; elements > lim.MaxElements {
				return nil, &LimitError{What: "number of elements", Limit: int64(lim.MaxElements)}
			}
			if t.Name.Local == "Attachment" {
				if attachments++; attachments > lim.MaxAttachments {
					return nil, &LimitError{What: "number of attachments", Limit: int64(lim.MaxAttachments)}
				}
			}
			el, err := newElement(t, lim, stack)
			if err != nil {
				return nil, err
			}
			for _, a := range el.Attr {
				if sp.contains([]byte(a.Value)) {
					return nil, fmt.Errorf("%w: line %d: text marker in an attribute", ErrSyntax, line(dec))
				}
			}
			top.AddChild(el)
			stack = append(stack, el)
			texts = append(texts, 0)
		case xml.EndElement:
			if len(stack) == 1 || top.Space != t.Name.Space || top.Tag != t.Name.Local {
				return nil, fmt.Errorf("%w: line %d: unexpected </%s>", ErrSyntax, line(dec), qname(t.Name))
			}
			stack = stack[:len(stack)-1]
			texts = texts[:len(texts)-1]
		case xml.CharData:
			size := int64(len(t))
			if sp.contains(t) {
				var el *etree.Element
				if len(stack) > 1 {
					el = top
				}
				if size, err = sp.claim(t, el); err != nil {
					return nil, err
				}
			}
			if len(stack) == 1 {
				if len(bytes.TrimSpace(t)) > 0 && !sp.onlySpace(t) {
					return nil, fmt.Errorf("%w: line %d: text outside the root element", ErrSyntax, line(dec))
				}
				continue
			}
			n := &texts[len(texts)-1]
			*n += size
			if *n > int64(lim.MaxTextBytes) && top.Tag != "ContentTransferEncoded" {
				return nil, &LimitError{What: "text size in bytes", Limit: int64(lim.MaxTextBytes), Path: treePath(stack, "")}
			}
			top.CreateText(string(t))
		case xml.Comment:
			if sp.contains(t) {
				return nil, fmt.Errorf("%w: line %d: text marker in a comment", ErrSyntax, line(dec))
			}
			top.CreateComment(string(t))
		case xml.ProcInst:
			if sp.contains(t.Inst) {
				return nil, fmt.Errorf("%w: line %d: text marker in a processing instruction", ErrSyntax, line(dec))
			}
			if t.Target != "xml" {
				top.CreateProcInst(t.Target, string(t.Inst))
			} else if len(stack) == 1 && !rootSeen {
				doc.CreateProcInst(t.Target, string(t.Inst))
			}
		case xml.Directive:
			return nil, fmt.Errorf("%w (line %d)", ErrDTD, line(dec))
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("%w: unexpected end of input inside <%s>", ErrSyntax, stack[len(stack)-1].FullTag())
	}
	if !rootSeen {
		return nil, fmt.Errorf("%w: no root element", ErrSyntax)
	}
	return doc, nil
}

func newElement(t xml.StartElement, lim Limits, stack []*etree.Element) (*etree.Element, error) {
	if len(t.Attr) > lim.MaxAttrs {
		return nil, &LimitError{What: "number of attributes", Limit: int64(lim.MaxAttrs), Path: treePath(stack, t.Name.Local)}
	}
	el := etree.NewElement(t.Name.Local)
	el.Space = t.Name.Space
	for i, a := range t.Attr {
		if len(a.Value) > lim.MaxAttrBytes {
			return nil, &LimitError{What: "attribute size in bytes", Limit: int64(lim.MaxAttrBytes), Path: treePath(stack, t.Name.Local) + "/@" + qname(a.Name)}
		}
		for _, b := range t.Attr[:i] {
			if b.Name == a.Name {
				return nil, fmt.Errorf("%w: %s: attribute %s given twice", ErrSyntax, treePath(stack, t.Name.Local), qname(a.Name))
			}
		}
		el.Attr = append(el.Attr, etree.Attr{Space: a.Name.Space, Key: a.Name.Local, Value: a.Value})
	}
	return el, nil
}

// readError classifies a decoder error: limits and our own errors pass
// through, anything else is a syntax error with its line.
func readError(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return err
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: line %d: %s", ErrSyntax, se.Line, se.Msg)
	}
	if strings.Contains(err.Error(), "CharsetReader") {
		return fmt.Errorf("%w: only UTF-8 is accepted", ErrSyntax)
	}
	return fmt.Errorf("%w: %v", ErrSyntax, err)
}

func line(dec *xml.Decoder) int {
	l, _ := dec.InputPos()
	return l
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// treePath renders the open elements below the root as a path, for limit
// errors raised before the model exists.
func treePath(stack []*etree.Element, next string) string {
	var parts []string
	for _, el := range stack[1:] {
		parts = append(parts, el.Tag)
	}
	if next != "" {
		parts = append(parts, next)
	}
	if len(parts) > 1 {
		parts = parts[1:] // the root "edXML" is implied
	}
	return strings.Join(parts, "/")
}

// skipBOM drops a leading UTF-8 byte-order mark, which some Windows tools
// write and encoding/xml refuses.
func skipBOM(r io.Reader) io.Reader { return &bomReader{r: r} }

type bomReader struct {
	r    io.Reader
	done bool
	buf  []byte
}

func (b *bomReader) Read(p []byte) (int, error) {
	if !b.done {
		b.done = true
		head := make([]byte, 3)
		n, err := io.ReadFull(b.r, head)
		head = head[:n]
		if !bytes.Equal(head, []byte("\xef\xbb\xbf")) {
			b.buf = head
		}
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return 0, err
		}
	}
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	return b.r.Read(p)
}
