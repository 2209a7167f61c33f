package envelope

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// buildMemo builds a document carrying one attachment of n pseudo-random
// bytes, the size of a typical signed PDF memo at 200 KiB.
func buildMemo(tb testing.TB, n int) []byte {
	tb.Helper()
	b, err := BuildBytes(&Package{Kind: KindDocument, Document: memo(n)}, BuildOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func memo(n int) *Document {
	data := make([]byte, 0, n+sha256.Size)
	seed := sha256.Sum256([]byte("memo"))
	for len(data) < n {
		data = append(data, seed[:]...)
		seed = sha256.Sum256(seed[:])
	}
	d := testDocument()
	d.Attachments = []Attachment{{ContentID: "att-0001", Name: "cong-van.pdf", ContentType: "application/pdf", Data: data[:n]}}
	return d
}

func buildStatus(tb testing.TB) []byte {
	tb.Helper()
	b, err := BuildBytes(&Package{Kind: KindStatus, Status: testStatus()}, BuildOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func BenchmarkBuild(b *testing.B) {
	cases := []struct {
		name string
		pkg  *Package
	}{
		{"status", &Package{Kind: KindStatus, Status: testStatus()}},
		{"memo", &Package{Kind: KindDocument, Document: memo(200 << 10)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			out, err := BuildBytes(c.pkg, BuildOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := BuildBytes(c.pkg, BuildOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name string
		in   []byte
	}{
		{"status", buildStatus(b)},
		{"memo", buildMemo(b, 200<<10)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseBytes(c.in, ParseOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSign signs the status package and the 200 KiB memo with
// RSA-2048; BenchmarkSign/rsa2048-bare is the private-key operation alone,
// the bound the XML work adds to.
func BenchmarkSign(b *testing.B) {
	k := testKeys(b)
	s := k.signer(b, SignerOptions{})
	status := &Package{Kind: KindStatus, Status: testStatus()}
	memoPkg := &Package{Kind: KindDocument, Document: memo(200 << 10)}
	for _, c := range []struct {
		name string
		p    *Package
	}{{"status", status}, {"memo-200KiB", memoPkg}} {
		b.Run(c.name, func(b *testing.B) {
			out, _ := s.SignBytes(c.p, BuildOptions{})
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Sign(io.Discard, c.p, BuildOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("rsa2048-bare", func(b *testing.B) {
		sum := sha256.Sum256([]byte("x"))
		for b.Loop() {
			if _, err := k.rsaKey.Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerify verifies what BenchmarkSign signs, chain check included.
func BenchmarkVerify(b *testing.B) {
	k := testKeys(b)
	s := k.signer(b, SignerOptions{})
	for _, c := range []struct {
		name string
		p    *Package
	}{{"status", &Package{Kind: KindStatus, Status: testStatus()}}, {"memo-200KiB", &Package{Kind: KindDocument, Document: memo(200 << 10)}}} {
		b.Run(c.name, func(b *testing.B) {
			in := signed(b, s, c.p)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := VerifyBytes(in, VerifyOptions{Trust: k.trust}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyAt verifies signed packages from a file, the way a stored
// package is verified, its attachments decoded into a scratch folder:
// memory stays flat from a status package to 20 MiB of attachments.
func BenchmarkVerifyAt(b *testing.B) {
	k := testKeys(b)
	s := k.signer(b, SignerOptions{})
	for _, c := range []struct {
		name string
		p    *Package
	}{
		{"status", &Package{Kind: KindStatus, Status: testStatus()}},
		{"memo-200KiB", &Package{Kind: KindDocument, Document: memo(200 << 10)}},
		{"memo-1MiB", &Package{Kind: KindDocument, Document: memo(1 << 20)}},
		{"big-20MiB", &Package{Kind: KindDocument, Document: memo(20 << 20)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := signedFile(b, s, c.p)
			fi, _ := f.Stat()
			dir := b.TempDir()
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				v, err := VerifyAt(f, fi.Size(), VerifyOptions{Trust: k.trust, Parse: ParseOptions{FileDir: dir}})
				if err != nil {
					b.Fatal(err)
				}
				removeFiles(v.Package)
			}
		})
	}
}

// BenchmarkParseAt reads the same files without verifying.
func BenchmarkParseAt(b *testing.B) {
	k := testKeys(b)
	s := k.signer(b, SignerOptions{})
	for _, n := range []int{200 << 10, 20 << 20} {
		b.Run(fmt.Sprintf("memo-%dKiB", n>>10), func(b *testing.B) {
			f := signedFile(b, s, &Package{Kind: KindDocument, Document: memo(n)})
			fi, _ := f.Stat()
			dir := b.TempDir()
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				p, err := ParseAt(f, fi.Size(), ParseOptions{FileDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				removeFiles(p)
			}
		})
	}
}

func signedFile(b *testing.B, s *Signer, p *Package) *os.File {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "signed.edxml"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if err := s.Sign(f, p, BuildOptions{}); err != nil {
		b.Fatal(err)
	}
	return f
}
