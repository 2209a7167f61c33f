package envelope

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPeekPriority(t *testing.T) {
	build := func(p Priority) []byte {
		h := MessageHeader{
			From: Organization{OrganID: "000.00.07.H26", OrganName: "A"}, To: []Organization{{OrganID: "000.00.00.G22"}},
			Code:             Code{CodeNumber: "1", CodeNotation: "VP"},
			PromulgationInfo: PromulgationInfo{Place: "Hà Nội", PromulgationDate: Date{Year: 2026, Month: 3, Day: 16}},
			DocumentType:     DocumentType{Type: 1, TypeName: "Công văn"}, Subject: "V/v", OtherInfo: OtherInfo{Priority: p},
		}
		h.DocumentID = h.DefaultDocumentID()
		b, err := BuildBytes(&Package{Kind: KindDocument, Document: &Document{Header: h}}, BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, p := range []Priority{PriorityNormal, PriorityUrgent, PriorityExpress, PriorityExpressTimed} {
		if got := PeekPriority(bytes.NewReader(build(p))); got != p {
			t.Errorf("PeekPriority of a package with priority %d = %d", p, got)
		}
	}
	express := build(PriorityExpress)
	tests := []struct {
		name string
		raw  string
		want Priority
	}{
		{"not XML", "not a package", PriorityNormal},
		{"out of range", strings.Replace(string(express), "<edXML:Priority>3<", "<edXML:Priority>9<", 1), PriorityNormal},
		{"a priority outside the header does not count", `<edXML><Body><MessageHeader><X/></MessageHeader><OtherInfo><Priority>3</Priority></OtherInfo></Body></edXML>`, PriorityNormal},
		// Only the header is read: what follows it may be anything.
		{"header first, then garbage", string(express[:bytes.Index(express, []byte("</edXML:MessageHeader>"))+len("</edXML:MessageHeader>")]) + "<<<", PriorityExpress},
	}
	for _, tt := range tests {
		if got := PeekPriority(strings.NewReader(tt.raw)); got != tt.want {
			t.Errorf("%s: PeekPriority = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// PeekHeader agrees with the full reader on every test package it can
// route, whatever follows the header.
func TestPeekHeaderAgreesWithParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.edxml"))
	files = append(files, filepath.Join("testdata", "build", "cong-van.edxml"))
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := ParseBytes(raw, ParseOptions{})
		h, herr := PeekHeader(bytes.NewReader(raw))
		if p == nil {
			continue
		}
		if herr != nil {
			t.Errorf("%s: PeekHeader: %v", f, herr)
			continue
		}
		n++
		want := &Header{Kind: p.Kind}
		switch {
		case p.Document != nil:
			d := p.Document.Header
			want.From, want.Subject, want.Code = d.From.OrganID, d.Subject, d.Code.CodeNumber+"/"+d.Code.CodeNotation
			if d.OtherInfo.Priority.Valid() {
				want.Priority = d.OtherInfo.Priority
			}
			for _, o := range d.To {
				want.To = append(want.To, o.OrganID)
			}
			h.ResponseFor = ResponseFor{}
		case p.Status != nil:
			st := p.Status
			want.From, want.StatusCode = st.From.OrganID, st.StatusCode
			want.ResponseFor = ResponseFor{OrganID: st.ResponseFor.OrganID, Code: st.ResponseFor.Code, DocumentID: st.ResponseFor.DocumentID}
		}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("%s: PeekHeader differs from Parse (-parse +peek):\n%s", f, diff)
		}
	}
	if n < 5 {
		t.Fatalf("compared %d packages, want the test set", n)
	}
}

// BenchmarkPeekHeader: routing a 20 MiB package by its header costs the
// header, not the package.
func BenchmarkPeekHeader(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "build", "cong-van.edxml"))
	if err != nil {
		b.Fatal(err)
	}
	end := bytes.Index(raw, []byte("</edXML:edXMLHeader>"))
	big := append(append(bytes.Clone(raw[:end]), "</edXML:edXMLHeader>"...), bytes.Repeat([]byte("A"), 20<<20)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		if h, err := PeekHeader(bytes.NewReader(big)); err != nil || h.From == "" {
			b.Fatal(h, err)
		}
	}
}
