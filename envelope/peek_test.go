package envelope

import (
	"bytes"
	"strings"
	"testing"
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
