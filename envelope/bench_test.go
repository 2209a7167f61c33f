package envelope

import (
	"crypto/sha256"
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
