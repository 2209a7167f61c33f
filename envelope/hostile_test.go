package envelope

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// countingReader counts the bytes read, to show a read stopped early.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless yields an unbounded stream of the same chunk.
type endless struct{ chunk []byte }

func (e endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], e.chunk)
	}
	return n, nil
}

const head = `<?xml version="1.0"?><edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXMLEnvelope><edXMLHeader><MessageHeader>`

// hostileCases are packages every reader must refuse, and why.
var hostileCases = []struct {
	name string
	in   string
	lim  Limits
	want error
}{
	{"doctype", `<?xml version="1.0"?><!DOCTYPE edXML SYSTEM "http://example.invalid/x.dtd"><edXML/>`, Limits{}, ErrDTD},
	{"entity declaration", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><edXML>&e;</edXML>`, Limits{}, ErrDTD},
	{"undeclared entity", `<edXML>&e;</edXML>`, Limits{}, ErrSyntax},
	{"depth", head + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40), Limits{}, ErrLimit},
	{"elements", head + strings.Repeat("<a/>", 200), Limits{MaxElements: 100}, ErrLimit},
	{"attributes", `<edXML ` + strings.Repeat(`a="1" `, 0) + attrs(40) + `/>`, Limits{}, ErrLimit},
	{"attribute size", `<edXML a="` + strings.Repeat("x", 5000) + `"/>`, Limits{}, ErrLimit},
	{"text size", head + `<Subject>` + strings.Repeat("x", 70<<10) + `</Subject>`, Limits{}, ErrLimit},
	{"attachments", `<edXML><AttachmentEncoded>` + strings.Repeat("<Attachment/>", 5) + `</AttachmentEncoded></edXML>`, Limits{MaxAttachments: 4}, ErrLimit},
	{"duplicate attribute", `<edXML a="1" a="2"/>`, Limits{}, ErrSyntax},
	{"two roots", `<edXML/><edXML/>`, Limits{}, ErrSyntax},
	{"text outside root", `<edXML/>junk`, Limits{}, ErrSyntax},
	{"unclosed", `<edXML><edXMLEnvelope>`, Limits{}, ErrSyntax},
	{"mismatched end", `<edXML></edXMLEnvelope>`, Limits{}, ErrSyntax},
	{"invalid utf-8", "<edXML>\xff\xfe</edXML>", Limits{}, ErrSyntax},
	{"control character", "<edXML>\x01</edXML>", Limits{}, ErrSyntax},
	{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><edXML/>`, Limits{}, ErrSyntax},
	{"empty", ``, Limits{}, ErrSyntax},
	{"not edxml", `<Envelope/>`, Limits{}, ErrNotEdXML},
}

func TestHostileInput(t *testing.T) {
	for _, tt := range hostileCases {
		t.Run(tt.name, func(t *testing.T) {
			pkg, err := Parse(strings.NewReader(tt.in), ParseOptions{Limits: tt.lim})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			if pkg != nil {
				t.Errorf("Parse returned a package along with %v", err)
			}
		})
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("a")
		b.WriteString(strings.Repeat("b", i))
		b.WriteString(`="1" `)
	}
	return b.String()
}

// TestSizeLimitStopsEarly feeds an endless package and checks the read
// stops just past the limit instead of reading it whole.
func TestSizeLimitStopsEarly(t *testing.T) {
	const max = 1 << 20
	src := io.MultiReader(strings.NewReader(head+"<Subject>"), endless{[]byte("xxxxxxxx")})
	cr := &countingReader{r: src}
	_, err := Parse(cr, ParseOptions{Limits: Limits{MaxBytes: max, MaxTextBytes: 4 << 20}})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != max {
		t.Fatalf("Parse = %v, want a size LimitError of %d", err, max)
	}
	if cr.n > max+64<<10 {
		t.Errorf("read %d bytes for a limit of %d", cr.n, max)
	}
}

// TestAttachmentTextNotCappedByTextLimit: attachment content is bounded only
// by the package size, other text by MaxTextBytes.
func TestAttachmentTextNotCappedByTextLimit(t *testing.T) {
	doc := buildMemo(t, 300<<10)
	if _, err := ParseBytes(doc, ParseOptions{}); err != nil {
		t.Fatalf("Parse of a 300 KiB attachment: %v", err)
	}
}

func TestBOMAccepted(t *testing.T) {
	b := append([]byte("\xef\xbb\xbf"), buildStatus(t)...)
	if _, err := ParseBytes(b, ParseOptions{}); err != nil {
		t.Fatalf("Parse with a UTF-8 BOM: %v", err)
	}
}

func TestZipBombRefused(t *testing.T) {
	d := testDocument()
	d.Attachments = []Attachment{{ContentID: "1", Name: "big.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte{0}, 4<<20)}}
	b, err := BuildBytes(&Package{Kind: KindDocument, Document: d}, BuildOptions{Zip: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseBytes(b, ParseOptions{Unzip: true, Limits: Limits{MaxBytes: 1 << 20}})
	var ps Problems
	if !errors.As(err, &ps) || !strings.Contains(ps.Error(), "unzipped size") {
		t.Fatalf("Parse = %v, want a problem naming the unzipped size", err)
	}
}
