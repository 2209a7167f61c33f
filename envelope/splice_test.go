package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	dsig "github.com/russellhaering/goxmldsig"
)

// outcome is what a reader made of a package, in terms both readers
// must agree on.
type outcome struct {
	classes  []string
	problems string
	summary  string
}

var outcomeClasses = []error{
	ErrDTD, ErrLimit, ErrSyntax, ErrNotEdXML, ErrInvalid,
	ErrNoSignature, ErrSignatureCount, ErrSignaturePlacement, ErrSignatureShape, ErrReference,
	ErrTransform, ErrAlgorithm, ErrDigest, ErrSignatureValue, ErrUntrusted, ErrExpired, ErrKeyUsage, ErrWeakKey,
}

func outcomeOf(pkg *Package, err error) outcome {
	var o outcome
	for _, c := range outcomeClasses {
		if errors.Is(err, c) {
			o.classes = append(o.classes, c.Error())
		}
	}
	if err != nil && o.classes == nil {
		o.classes = []string{"other: " + err.Error()}
	}
	var probs Problems
	if errors.As(err, &probs) {
		o.problems = probs.Error()
	}
	if pkg != nil {
		b, _ := json.Marshal(pkg.Summary())
		o.summary = string(b)
	}
	return o
}

func (o outcome) String() string {
	return fmt.Sprintf("classes %v\nproblems %s\nsummary %s", o.classes, o.problems, o.summary)
}

func sameOutcome(a, b outcome) bool {
	return fmt.Sprint(a.classes) == fmt.Sprint(b.classes) && a.problems == b.problems && a.summary == b.summary
}

// splicedCase is one package to read both ways, with the trust to verify
// it against.
type splicedCase struct {
	name  string
	in    []byte
	lim   Limits
	trust *Trust
	now   func() time.Time
}

// signRaw signs a package exactly as written, with the tree reader's
// canonical form: a signer whose formatting the builder would never use.
func signRaw(t *testing.T, s *Signer, doc []byte) []byte {
	t.Helper()
	tree, err := readTree(bytes.NewReader(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	canon, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(tree.Root())
	if err != nil {
		t.Fatal(err)
	}
	h := s.hash.New()
	h.Write(canon)
	si := signedInfo(AlgExcC14N, s.method, "", []string{AlgEnveloped, AlgExcC14N}, s.digest, h.Sum(nil))
	value, err := s.signSignedInfo(si)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signatureElement(si, value, s.chain)
	if err != nil {
		t.Fatal(err)
	}
	return insertBefore(doc, "</edXML:edXMLHeader>", sig)
}

var cteRE = regexp.MustCompile(`(?s)<ContentTransferEncoded>(.*?)</ContentTransferEncoded>`)

// reencode rewrites the attachment text of an unsigned package.
func reencode(doc []byte, f func(b64 string) string) []byte {
	return cteRE.ReplaceAllFunc(doc, func(m []byte) []byte {
		inner := cteRE.FindSubmatch(m)[1]
		return []byte("<ContentTransferEncoded>" + f(string(inner)) + "</ContentTransferEncoded>")
	})
}

func wrapLines(s string, n int, sep string) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + sep)
		s = s[n:]
	}
	return b.String() + s
}

// splicedCorpus is every kind of package the readers meet: the test
// files, the wrapping corpus, hostile input, and attachment text in every
// form a peer may write it, signed over that form.
func splicedCorpus(t *testing.T) []splicedCase {
	k := testKeys(t)
	s := k.signer(t, SignerOptions{})
	var out []splicedCase
	files, _ := filepath.Glob("testdata/*.edxml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, splicedCase{name: f, in: b, trust: k.trust})
	}
	wtrust, err := LoadTrust(filepath.Join(wrappingDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := ReadCertificates(filepath.Join(wrappingDir, "ca.pem"))
	wclock := func() time.Time { return roots[0].NotBefore.Add(2 * time.Hour) }
	for _, w := range wrapCases {
		b, err := os.ReadFile(filepath.Join(wrappingDir, w.file))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, splicedCase{name: w.file, in: b, trust: wtrust, now: wclock})
	}
	for _, h := range hostileCases {
		out = append(out, splicedCase{name: "hostile " + h.name, in: []byte(h.in), lim: h.lim, trust: k.trust})
	}

	plain := buildMemo(t, 5000)
	forms := []struct {
		name string
		f    func(string) string
	}{
		{"one line", func(s string) string { return s }},
		{"LF lines", func(s string) string { return wrapLines(s, 76, "\n") }},
		{"CRLF lines", func(s string) string { return "\r\n" + wrapLines(s, 76, "\r\n") + "\r\n" }},
		{"CR lines", func(s string) string { return wrapLines(s, 64, "\r") }},
		{"indented", func(s string) string { return "\n\t\t" + wrapLines(s, 76, "\n\t\t  ") + "\n\t" }},
		{"CDATA", func(s string) string { return "<![CDATA[" + wrapLines(s, 76, "\r\n") + "]]>" }},
		{"split by a comment", func(s string) string { return s[:1000] + "<!-- split -->" + s[1000:] }},
		{"character reference", func(s string) string { return s[:700] + fmt.Sprintf("&#%d;", s[700]) + s[701:] }},
		{"unpadded", func(s string) string { return strings.TrimRight(s, "=") }},
		{"padding inside", func(s string) string { return s[:400] + "==" + s[400:] }},
		{"not base64", func(s string) string { return s[:3000] + "*" + s[3000:] }},
		{"empty", func(string) string { return "" }},
	}
	for _, f := range forms {
		doc := reencode(plain, f.f)
		out = append(out, splicedCase{name: "unsigned, " + f.name, in: doc, trust: k.trust})
		signedDoc := signRaw(t, s, doc)
		out = append(out, splicedCase{name: "signed, " + f.name, in: signedDoc, trust: k.trust})
		changed := bytes.Clone(signedDoc)
		if i := bytes.LastIndex(changed, []byte("</ContentTransferEncoded>")) - 40; i > 0 && f.name != "empty" {
			changed[i] = flip(changed[i])
			out = append(out, splicedCase{name: "changed, " + f.name, in: changed, trust: k.trust})
		}
	}
	crlf := bytes.ReplaceAll(plain, []byte("\n"), []byte("\r\n"))
	out = append(out,
		splicedCase{name: "signed, CRLF everywhere", in: signRaw(t, s, crlf), trust: k.trust},
		splicedCase{name: "signed, BOM", in: append([]byte("\xef\xbb\xbf"), signed(t, s, memoPackage())...), trust: k.trust},
		splicedCase{name: "signed status", in: signed(t, s, &Package{Kind: KindStatus, Status: testStatus()}), trust: k.trust},
		splicedCase{name: "long subject", in: bytes.Replace(plain, []byte("V/v báo cáo"), bytes.Repeat([]byte("Bao cao "), 9000), 1), trust: k.trust},
		splicedCase{name: "spaces after root", in: append(bytes.Clone(plain), bytes.Repeat([]byte(" \n"), 100)...), trust: k.trust},
		splicedCase{name: "text after root", in: append(bytes.Clone(plain), []byte("\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")...), trust: k.trust},
	)
	return out
}

// TestSplicedReaderAgrees reads and verifies every package of the corpus
// whole and by offset, with runs spliced from every length up, and
// requires the same outcome: the same errors, problems, fields and
// attachment bytes.
func TestSplicedReaderAgrees(t *testing.T) {
	defer func(n int) { spliceMin = n }(spliceMin)
	corpus := splicedCorpus(t)
	for _, min := range []int{1, 5, 64, 4096, 64 << 10} {
		spliceMin = min
		for _, c := range corpus {
			t.Run(fmt.Sprintf("%d/%s", min, c.name), func(t *testing.T) {
				dir := t.TempDir()
				po := ParseOptions{Limits: c.lim}
				whole := outcomeOf(Parse(bytes.NewReader(c.in), po))
				fo := po
				fo.FileDir = dir
				byOffset := outcomeOf(ParseAt(bytes.NewReader(c.in), int64(len(c.in)), fo))
				if !sameOutcome(whole, byOffset) {
					t.Fatalf("Parse and ParseAt disagree\nParse:\n%v\nParseAt:\n%v", whole, byOffset)
				}
				vo := VerifyOptions{Trust: c.trust, Now: c.now, Parse: po}
				v1, err1 := Verify(bytes.NewReader(c.in), vo)
				vo.Parse = fo
				v2, err2 := VerifyAt(bytes.NewReader(c.in), int64(len(c.in)), vo)
				var p1, p2 *Package
				if v1 != nil {
					p1 = v1.Package
				}
				if v2 != nil {
					p2 = v2.Package
				}
				a, b := outcomeOf(p1, err1), outcomeOf(p2, err2)
				if !sameOutcome(a, b) {
					t.Fatalf("Verify and VerifyAt disagree\nVerify: %v\n%v\nVerifyAt: %v\n%v", err1, a, err2, b)
				}
				if strings.HasPrefix(c.name, "signed") && !strings.Contains(c.name, "base64") && err1 != nil && !errors.Is(err1, ErrInvalid) {
					t.Fatalf("a signed package is refused: %v", err1)
				}
			})
		}
	}
}

// TestSplicedAttachmentsInFiles checks that a large attachment read by
// offset lands in a file of FileDir, not in memory, with its bytes.
func TestSplicedAttachmentsInFiles(t *testing.T) {
	k := testKeys(t)
	p := &Package{Kind: KindDocument, Document: memo(300 << 10)}
	b := signed(t, k.signer(t, SignerOptions{}), p)
	dir := t.TempDir()
	v, err := VerifyAt(bytes.NewReader(b), int64(len(b)), VerifyOptions{Trust: k.trust, Parse: ParseOptions{FileDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	a := v.Package.Document.Attachments[0]
	if a.Path == "" || a.Data != nil || filepath.Dir(a.Path) != dir {
		t.Fatalf("attachment held as Data %d bytes, Path %q", len(a.Data), a.Path)
	}
	got, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, p.Document.Attachments[0].Data) {
		t.Error("the attachment's file differs from what was signed")
	}
	if v.Canonical != nil {
		t.Error("Canonical is set for a package read by offset")
	}
}

func TestBase64StreamMatchesWhole(t *testing.T) {
	data := bytes.Repeat([]byte("lienthong\x00\xff"), 100)
	enc := base64.StdEncoding.EncodeToString(data)
	for _, in := range []string{
		enc, strings.TrimRight(enc, "="), wrapLines(enc, 76, "\r\n"), "", "A", "AB", "ABC", "AB==", "AB=", "AB==CD==", "A===", "AB=C", "ABCD\n==",
	} {
		want, werr := decodeBase64(in)
		var got bytes.Buffer
		_, gerr := decodeBase64Stream(&got, strings.NewReader(in))
		if (werr == nil) != (gerr == nil) || (werr == nil && !bytes.Equal(want, got.Bytes())) {
			t.Errorf("%.20q: whole %v (%d bytes), stream %v (%d bytes)", in, werr, len(want), gerr, got.Len())
		}
	}
}

// TestXmlsecAgreesOnTextForms: every signed form of attachment text in the
// corpus, and each with a changed byte, gets the same verdict from xmlsec1
// as from the reader by offset, so the canonical form streamed from the
// file is the one an independent implementation computes.
func TestXmlsecAgreesOnTextForms(t *testing.T) {
	bin := needTool(t, "xmlsec1", "xmlsec1")
	_, ca, _, _ := xmlsecFiles(t, testKeys(t))
	defer func(n int) { spliceMin = n }(spliceMin)
	spliceMin = 16
	for _, c := range splicedCorpus(t) {
		if !strings.HasPrefix(c.name, "signed") && !strings.HasPrefix(c.name, "changed") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			_, ours := VerifyAt(bytes.NewReader(c.in), int64(len(c.in)), VerifyOptions{Trust: c.trust, Parse: ParseOptions{FileDir: t.TempDir()}})
			theirs := xmlsecVerify(t, bin, ca, c.in, time.Time{})
			// A signature that holds over content breaking our rules
			// (bad base64) is still a signature that holds.
			oursHolds := ours == nil || errors.Is(ours, ErrInvalid)
			if oursHolds != (theirs == nil) {
				t.Fatalf("we say %v, xmlsec1 says %v", ours, theirs)
			}
		})
	}
}

// FuzzSplicedAgrees feeds arbitrary bytes to both readers, with every run
// of three bytes or more spliced: they must agree on every input.
func FuzzSplicedAgrees(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.edxml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<edXML><AttachmentEncoded><Attachment><ContentTransferEncoded><![CDATA[QUJD]]>&#65;QQ==</ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		defer func(n int) { spliceMin = n }(spliceMin)
		spliceMin = 3
		opts := ParseOptions{Limits: Limits{MaxBytes: 1 << 20}}
		whole := outcomeOf(Parse(bytes.NewReader(in), opts))
		byOffset := outcomeOf(ParseAt(bytes.NewReader(in), int64(len(in)), opts))
		if !sameOutcome(whole, byOffset) {
			t.Fatalf("Parse and ParseAt disagree\nParse:\n%v\nParseAt:\n%v", whole, byOffset)
		}
	})
}

// TestVerifyAtMemoryFlat: verifying a package of 16 MiB of attachments
// from its file allocates a small constant, not the package: buffers, the
// header's tree, the signature.
func TestVerifyAtMemoryFlat(t *testing.T) {
	k := testKeys(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "big.edxml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := k.signer(t, SignerOptions{}).Sign(f, &Package{Kind: KindDocument, Document: memo(16 << 20)}, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v, err := VerifyAt(f, fi.Size(), VerifyOptions{Trust: k.trust, Parse: ParseOptions{FileDir: t.TempDir()}})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Package.Summary().Attachments[0].Size; got != 16<<20 {
		t.Fatalf("attachment of %d bytes, want %d", got, 16<<20)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("verifying a %d MiB package allocated %d KiB; it should not follow the package's size", fi.Size()>>20, n>>10)
	}
}
