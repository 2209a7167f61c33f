package envelope

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"lienthong/envelope/devca"
)

// The signature-wrapping corpus: packages crafted the way attackers and
// sloppy peers craft them, each with a signature that is otherwise valid,
// so only the rule under test can refuse it. They are regenerated with
// -update; the CA that signed them is testdata/wrapping/ca.pem.
const wrappingDir = "testdata/wrapping"

type wrapCase struct {
	file string
	make func(c *crafter) []byte
	// want is the reason to refuse; nil means the package verifies and
	// check looks at what it reads as.
	want  error
	words string
	check func(t *testing.T, v *Verified)
	// lax is set where a verifier without our rules, xmlsec1, accepts
	// the package: proof that only the rule under test stands in the way.
	lax bool
}

var wrapCases = []wrapCase{
	{file: "valid.edxml", lax: true, make: func(c *crafter) []byte { return c.sign(c.base, c.si(""), nil) },
		check: func(t *testing.T, v *Verified) { wantSubject(t, v, "V/v báo cáo thử nghiệm liên thông") }},
	{file: "partial-reference.edxml", want: ErrReference, words: `URI="#hdr"`,
		make: func(c *crafter) []byte { return c.sign(c.base, c.si("#hdr"), nil) }},
	{file: "xpath-transform.edxml", lax: true, want: ErrTransform, words: "XPath",
		make: func(c *crafter) []byte {
			si := c.si("")
			xp := etree.NewElement("ds:Transform")
			si.FindElement(".//Transforms").InsertChildAt(1, xp)
			xp.CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
			xp.CreateElement("ds:XPath").SetText("not(ancestor-or-self::*[local-name()='MessageHeader'])")
			// The digest covers what the XPath leaves: no MessageHeader.
			c.filter = func(canon []byte) []byte {
				i := bytes.Index(canon, []byte("<edXML:MessageHeader>"))
				j := bytes.Index(canon, []byte("</edXML:MessageHeader>")) + len("</edXML:MessageHeader>")
				return append(bytes.Clone(canon[:i]), canon[j:]...)
			}
			defer func() { c.filter = nil }()
			return c.sign(c.base, si, nil)
		}},
	{file: "second-signature.edxml", want: ErrSignatureCount, words: "2 signatures",
		make: func(c *crafter) []byte {
			one := c.sign(c.base, c.si(""), nil)
			sig := c.lastSig
			return insertBefore(one, "</edXML:edXMLBody>", sig)
		}},
	{file: "signature-in-object.edxml", lax: true, want: ErrSignatureCount, words: "Object",
		make: func(c *crafter) []byte {
			first := c.sign(c.base, c.si(""), nil)
			inner := c.lastSig
			return insertBefore(first, "</ds:Signature>", append(append([]byte("<ds:Object>"), inner...), "</ds:Object>"...))
		}},
	{file: "moved-signature.edxml", lax: true, want: ErrSignaturePlacement, words: "edXMLBody",
		make: func(c *crafter) []byte {
			return c.sign(c.base, c.si(""), func(doc, sig []byte) []byte { return insertBefore(doc, "</edXML:edXMLBody>", sig) })
		}},
	{file: "injected-header-in-object.edxml", lax: true,
		make: func(c *crafter) []byte {
			doc := c.sign(c.base, c.si(""), nil)
			return insertBefore(doc, "</ds:Signature>", []byte("<ds:Object><edXML:MessageHeader><edXML:Subject>Chuyển tiền gấp</edXML:Subject></edXML:MessageHeader></ds:Object>"))
		},
		check: func(t *testing.T, v *Verified) {
			wantSubject(t, v, "V/v báo cáo thử nghiệm liên thông")
			if bytes.Contains(v.Canonical, []byte("Chuyển tiền")) {
				t.Error("the injected header is in the verified content")
			}
		}},
	{file: "duplicated-header-after-signing.edxml", want: ErrDigest, words: "digest",
		make: func(c *crafter) []byte {
			doc := c.sign(c.base, c.si(""), nil)
			return insertBefore(doc, "<edXML:Subject>", []byte("<edXML:Subject>Chuyển tiền gấp</edXML:Subject>"))
		}},
	{file: "duplicated-header-signed.edxml", lax: true, want: ErrInvalid, words: "MessageHeader",
		make: func(c *crafter) []byte {
			hdr := c.base[bytes.Index(c.base, []byte("<edXML:MessageHeader>")):bytes.Index(c.base, []byte("</edXML:MessageHeader>"))]
			dup := insertBefore(c.base, "<edXML:TraceHeaderList>", append(bytes.Replace(bytes.Clone(hdr), []byte("V/v báo cáo"), []byte("Chuyển tiền"), 1), "</edXML:MessageHeader>"...))
			return c.sign(dup, c.si(""), nil)
		}},
	{file: "comment-in-signed-value.edxml", lax: true,
		make: func(c *crafter) []byte {
			doc := c.sign(c.base, c.si(""), nil)
			return bytes.Replace(doc, []byte("<edXML:OrganId>000.00.00.G22"), []byte("<edXML:OrganId>000.00.<!--x-->00.G22"), 1)
		},
		check: func(t *testing.T, v *Verified) {
			if got := v.Package.Document.Header.To[0].OrganID; got != "000.00.00.G22" {
				t.Errorf("To reads %q, want 000.00.00.G22", got)
			}
		}},
	{file: "comment-changes-value.edxml", want: ErrDigest, words: "digest",
		make: func(c *crafter) []byte {
			doc := c.sign(c.base, c.si(""), nil)
			return bytes.Replace(doc, []byte("<edXML:OrganId>000.00.00.G22"), []byte("<edXML:OrganId>000.00.<!--x-->01.G22"), 1)
		}},
	{file: "hmac-method.edxml", want: ErrAlgorithm, words: "HMAC",
		make: func(c *crafter) []byte {
			si := c.si("")
			si.SelectElement("SignatureMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256")
			return c.signWith(c.base, si, func(canon []byte) []byte {
				m := hmac.New(sha256.New, []byte("shared"))
				m.Write(canon)
				return m.Sum(nil)
			})
		}},
	{file: "rsa-sha1.edxml", lax: true, want: ErrAlgorithm, words: "SHA-1",
		make: func(c *crafter) []byte {
			s := c.signer
			c.signer = c.sha1
			defer func() { c.signer = s }()
			return c.sign(c.base, c.si(""), nil)
		}},
	{file: "self-signed.edxml", want: ErrUntrusted, words: "self-signed",
		make: func(c *crafter) []byte {
			s := c.signer
			c.signer = c.selfSigned
			defer func() { c.signer = s }()
			return c.sign(c.base, c.si(""), nil)
		}},
	{file: "untrusted-ca.edxml", want: ErrUntrusted, words: "does not chain",
		make: func(c *crafter) []byte {
			s := c.signer
			c.signer = c.stranger
			defer func() { c.signer = s }()
			return c.sign(c.base, c.si(""), nil)
		}},
	{file: "doctype.edxml", lax: true, want: ErrDTD,
		make: func(c *crafter) []byte {
			doc := c.sign(c.base, c.si(""), nil)
			return insertBefore(doc, "<edXML ", []byte("<!DOCTYPE edXML [<!ENTITY s \"Chuyển tiền\">]>\n"))
		}},
	{file: "placeholder-signature.edxml", want: ErrNoSignature, words: "placeholder",
		make: func(c *crafter) []byte {
			return insertBefore(c.base, "</edXML:edXMLHeader>", []byte("<Signature><SignedInfo/><SignatureValue>AAAA</SignatureValue></Signature>"))
		}},
	{file: "no-enveloped-transform.edxml", want: ErrTransform, words: "enveloped-signature",
		make: func(c *crafter) []byte {
			si := c.si("")
			ts := si.FindElement(".//Transforms")
			ts.RemoveChildAt(0)
			return c.sign(c.base, si, nil)
		}},
}

func wantSubject(t *testing.T, v *Verified, want string) {
	t.Helper()
	if got := v.Package.Document.Header.Subject; got != want {
		t.Errorf("Subject reads %q, want %q", got, want)
	}
}

func insertBefore(doc []byte, marker string, add []byte) []byte {
	i := bytes.Index(doc, []byte(marker))
	if i < 0 {
		panic("marker not found: " + marker)
	}
	out := append(bytes.Clone(doc[:i]), add...)
	return append(out, doc[i:]...)
}

// crafter makes signatures the Signer would not: any SignedInfo, any place.
type crafter struct {
	base                               []byte
	signer, sha1, selfSigned, stranger *Signer
	lastSig                            []byte
	filter                             func(canon []byte) []byte // what a transform leaves of the package
}

// si is a SignedInfo over the package as the Signer writes it, with the
// given reference URI.
func (c *crafter) si(uri string) *etree.Element {
	return signedInfo(AlgExcC14N, c.signer.method, uri, []string{AlgEnveloped, AlgExcC14N}, c.signer.digest, nil)
}

// sign fills the digest of doc (canonical form: no declaration, no final
// newline) and places the signature with place, by default just before
// </edXML:edXMLHeader> so that removing it leaves doc.
func (c *crafter) sign(doc []byte, si *etree.Element, place func(doc, sig []byte) []byte) []byte {
	return c.signPlaced(doc, si, nil, place)
}

func (c *crafter) signWith(doc []byte, si *etree.Element, value func([]byte) []byte) []byte {
	return c.signPlaced(doc, si, value, nil)
}

func (c *crafter) signPlaced(doc []byte, si *etree.Element, value func([]byte) []byte, place func(doc, sig []byte) []byte) []byte {
	canon := bytes.TrimSuffix(doc[bytes.IndexByte(doc, '\n')+1:], []byte("\n"))
	if c.filter != nil {
		canon = c.filter(canon)
	}
	h := c.signer.hash.New()
	h.Write(canon)
	si.FindElement(".//DigestValue").SetText(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	var v []byte
	var err error
	if value != nil {
		cp := si.Copy()
		cp.CreateAttr("xmlns:ds", DSigNamespace)
		d := etree.NewDocument()
		d.SetRoot(cp)
		b, _ := d.WriteToBytes()
		v = value(b)
	} else if v, err = c.signer.signSignedInfo(si); err != nil {
		panic(err)
	}
	sig, err := signatureElement(si, v, c.signer.chain)
	if err != nil {
		panic(err)
	}
	c.lastSig = sig
	if place == nil {
		place = func(doc, sig []byte) []byte { return insertBefore(doc, "</edXML:edXMLHeader>", sig) }
	}
	return place(doc, sig)
}

func newCrafter(t *testing.T) *crafter {
	k := testKeys(t)
	now := time.Now()
	self, err := devca.NewCA("Self-signed agency", now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := devca.NewCA("Other CA", now)
	if err != nil {
		t.Fatal(err)
	}
	strangerCert, _, err := other.Issue(devca.Leaf{Name: "Stranger", Key: k.rsaKey}, now)
	if err != nil {
		t.Fatal(err)
	}
	c := &crafter{signer: k.signer(t, SignerOptions{}), sha1: k.signer(t, SignerOptions{LegacySHA1: true})}
	if c.selfSigned, err = NewSigner(self.Key, []*x509.Certificate{self.Cert}, SignerOptions{}); err != nil {
		t.Fatal(err)
	}
	if c.stranger, err = NewSigner(k.rsaKey, []*x509.Certificate{strangerCert}, SignerOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err := BuildBytes(memoPackage(), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.base = base
	return c
}

// TestWrappingCorpus verifies every crafted package and asserts the reason
// it is refused, or what it safely reads as.
func TestWrappingCorpus(t *testing.T) {
	if *update {
		c := newCrafter(t)
		if err := os.MkdirAll(wrappingDir, 0o755); err != nil {
			t.Fatal(err)
		}
		writePEMFile(t, wrappingDir, "ca.pem", "CERTIFICATE", testKeys(t).ca.Cert.Raw)
		for _, w := range wrapCases {
			if err := os.WriteFile(filepath.Join(wrappingDir, w.file), w.make(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	trust, err := LoadTrust(filepath.Join(wrappingDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := ReadCertificates(filepath.Join(wrappingDir, "ca.pem"))
	clock := func() time.Time { return roots[0].NotBefore.Add(2 * time.Hour) }
	if len(wrapCases) < 9 {
		t.Fatal("the corpus needs at least eight attack variants")
	}
	for _, w := range wrapCases {
		t.Run(strings.TrimSuffix(w.file, ".edxml"), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(wrappingDir, w.file))
			if err != nil {
				t.Fatal(err)
			}
			v, err := VerifyBytes(b, VerifyOptions{Trust: trust, Now: clock})
			if w.lax && (!testing.Short() || os.Getenv("CI") != "") {
				if err := xmlsecVerify(t, needTool(t, "xmlsec1", "xmlsec1"), filepath.Join(wrappingDir, "ca.pem"), b, clock()); err != nil {
					t.Errorf("xmlsec1 refuses it too, so the variant proves nothing:\n%s", err)
				}
			}
			if w.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				w.check(t, v)
				return
			}
			if !errors.Is(err, w.want) {
				t.Fatalf("err = %v, want %v", err, w.want)
			}
			if w.want != ErrInvalid && w.want != ErrDTD && !errors.Is(err, ErrSignature) {
				t.Errorf("err %v does not match ErrSignature", err)
			}
			if !strings.Contains(err.Error(), w.words) {
				t.Errorf("error %q does not say %q", err, w.words)
			}
			if w.want == ErrInvalid && (v == nil || v.Package == nil) {
				t.Error("a package with a good signature and broken rules should come back with its problems")
			}
		})
	}
}
