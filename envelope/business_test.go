package envelope

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The business forms real senders write, the axis SDK's library among
// them: each reads without problems and names the document it acts on.
func TestBusinessFormsTargets(t *testing.T) {
	const orig = "000.00.00.G22,2026/03/16,7/VPCP-TH"
	const other = "000.00.00.G22,2026/03/10,5/VPCP-TH"
	rf := []ResponseFor{{OrganID: "000.00.00.G22", Code: "7/VPCP-TH", DocumentID: orig, PromulgationDate: Date{2026, 3, 16}}}
	zero := 0
	tests := []struct {
		name  string
		docID string
		rf    []ResponseFor
		b     *Business
		want  []string
	}{
		{"new", orig, nil, &Business{DocType: BusinessNew, Paper: &zero}, nil},
		{"SDK revocation: own DocumentId and ResponseFor, no Bussiness/DocumentId", orig, rf, &Business{DocType: BusinessRevoke, Reason: "Thu hồi", Paper: &zero}, []string{orig}},
		{"revocation naming its target", "000.00.00.G22,2026/03/17,8/VPCP-TH", nil, &Business{DocType: BusinessRevoke, DocumentID: orig}, []string{orig}},
		{"revocation with nothing but its own DocumentId", orig, nil, &Business{DocType: BusinessRevoke}, []string{orig}},
		{"update with Bussiness/DocumentId", "000.00.00.G22,2026/03/17,9/VPCP-TH", nil, &Business{DocType: BusinessUpdate, DocumentID: orig,
			DocumentInfo: &BusinessDocumentInfo{DocumentInfo: "1", DocumentReceiver: "1", Receivers: []Receiver{{OrganID: "000.00.00.H26", ReceiverType: 1}}}}, []string{orig}},
		{"update without it", orig, nil, &Business{DocType: BusinessUpdate}, []string{orig}},
		{"SDK replacement: targets only in ReplacementInfoList", "000.00.00.G22,2026/03/17,10/VPCP-TH", nil, &Business{DocType: BusinessReplace,
			ReplacementInfo: []ReplacementInfo{{DocumentID: orig, OrganIDs: []string{"000.00.07.H26"}}, {DocumentID: other, OrganIDs: []string{"000.00.07.H26"}}}}, []string{orig, other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MessageHeader{
				From: Organization{OrganID: "000.00.00.G22", OrganName: "VPCP"}, To: []Organization{{OrganID: "000.00.07.H26"}},
				Code:             Code{CodeNumber: "7", CodeNotation: "VPCP-TH"},
				PromulgationInfo: PromulgationInfo{Place: "Hà Nội", PromulgationDate: Date{2026, 3, 16}},
				DocumentType:     DocumentType{Type: 1, TypeName: "Công văn"}, Subject: "V/v thử", DocumentID: tt.docID, ResponseFor: tt.rf,
			}
			raw, err := BuildBytes(&Package{Kind: KindDocument, Document: &Document{Header: h, Business: tt.b}}, BuildOptions{})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			p, err := ParseBytes(raw, ParseOptions{})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if diff := cmp.Diff(tt.want, p.Document.Targets()); diff != "" {
				t.Errorf("Targets (-want +got):\n%s", diff)
			}
			if got := p.Summary().Targets; !cmp.Equal(got, tt.want) {
				t.Errorf("Summary().Targets = %v, want %v", got, tt.want)
			}
		})
	}
}

// A replacement names what it replaces somewhere.
func TestReplacementWithoutTargetIsRefused(t *testing.T) {
	h := MessageHeader{
		From: Organization{OrganID: "000.00.00.G22"}, To: []Organization{{OrganID: "000.00.07.H26"}},
		Code: Code{CodeNumber: "7", CodeNotation: "X"}, PromulgationInfo: PromulgationInfo{PromulgationDate: Date{2026, 3, 16}},
		DocumentType: DocumentType{Type: 1}, Subject: "V/v", DocumentID: "000.00.00.G22,2026/03/16,7/X",
	}
	_, err := BuildBytes(&Package{Kind: KindDocument, Document: &Document{Header: h, Business: &Business{DocType: BusinessReplace}}}, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "Bussiness/DocumentId") {
		t.Fatalf("build of a replacement naming nothing = %v, want a problem at Bussiness/DocumentId", err)
	}
}

// The SDK's library writes a Signature in the edXML namespace that signs
// nothing: the package reads as unsigned, with a placeholder.
func TestSignaturePlaceholder(t *testing.T) {
	raw := strings.Replace(readTestdata(t, "business-replace.edxml"), "</edXMLHeader>",
		"<Signature><SignedInfo/><SignatureValue/></Signature></edXMLHeader>", 1)
	p, err := ParseBytes([]byte(raw), ParseOptions{})
	if err != nil && p == nil {
		t.Fatal(err)
	}
	if p.Signed || !p.SignaturePlaceholder || p.Summary().Signed || !p.Summary().SignaturePlaceholder {
		t.Errorf("signed %v, placeholder %v; want an unsigned package with a placeholder", p.Signed, p.SignaturePlaceholder)
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
