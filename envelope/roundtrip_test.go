package envelope

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// gen makes random valid packages for the round-trip property.
type gen struct{ r *rand.Rand }

// pieces mixes Vietnamese text with everything the writer must escape.
var pieces = []string{"Sở", "Tài chính", "Hà Nội", "Đề nghị", "báo cáo", "&", "<", ">", "\"", "'", "\r", "\n", "\t", "a]]>b", "<!--", "x", "V/v", "😀", "ĐỒNG", "số 1"}

func (g gen) str(max int) string {
	var b strings.Builder
	for n := g.r.IntN(6); n >= 0; n-- {
		b.WriteString(pieces[g.r.IntN(len(pieces))])
		b.WriteByte(' ')
	}
	s := strings.Trim(b.String(), " \t\r\n")
	if s == "" {
		s = "x"
	}
	for len([]rune(s)) > max {
		s = strings.Trim(string([]rune(s)[:max]), " \t\r\n")
	}
	return s
}

func (g gen) opt(max int) string {
	if g.r.IntN(3) == 0 {
		return ""
	}
	return g.str(max)
}

func (g gen) code() string {
	groups := []string{"000", "00", "00"}
	lvl := g.r.IntN(4)
	for i := 0; i < lvl; i++ {
		groups[2-i] = fmt.Sprintf("%0*d", len(groups[2-i]), 1+g.r.IntN(9))
	}
	return fmt.Sprintf("%s.%s.%s.%c%02d", groups[0], groups[1], groups[2], 'A'+rune(g.r.IntN(26)), g.r.IntN(100))
}

func (g gen) date() Date {
	return Date{2000 + g.r.IntN(26), time.Month(1 + g.r.IntN(12)), 1 + g.r.IntN(28)}
}

func (g gen) ts() time.Time {
	return time.Unix(1_500_000_000+g.r.Int64N(300_000_000), 0).In(Vietnam)
}

func (g gen) intp(max int) *int {
	if g.r.IntN(2) == 0 {
		return nil
	}
	v := g.r.IntN(max)
	return &v
}

func (g gen) org() Organization {
	o := Organization{OrganID: g.code(), OrganizationInCharge: g.opt(500), OrganName: g.opt(200), OrganAdd: g.opt(500), Telephone: g.opt(20), Fax: g.opt(20), Website: g.opt(100)}
	if g.r.IntN(2) == 0 {
		o.Email = fmt.Sprintf("vt%d@example.gov.vn", g.r.IntN(1000))
	}
	return o
}

func (g gen) staff() *StaffInfo {
	if g.r.IntN(2) == 0 {
		return nil
	}
	return &StaffInfo{Department: g.opt(200), Staff: g.opt(200), Mobile: g.opt(20), Email: "staff@example.gov.vn"}
}

func (g gen) document() *Document {
	h := MessageHeader{
		From:             g.org(),
		Code:             Code{CodeNumber: fmt.Sprint(g.r.IntN(99999)), CodeNotation: g.str(30)},
		PromulgationInfo: PromulgationInfo{Place: g.opt(50), PromulgationDate: g.date()},
		DocumentType:     DocumentType{Type: 1 + g.r.IntN(2), TypeDetail: g.intp(10), TypeName: g.opt(100)},
		Subject:          g.str(500),
		Content:          g.opt(500),
		SteeringType:     SteeringType(g.r.IntN(4)),
		OtherInfo: OtherInfo{
			Priority: Priority(g.r.IntN(5)), SphereOfPromulgation: g.opt(100), TyperNotation: g.opt(10),
			PromulgationAmount: g.intp(65536), PageAmount: g.intp(65536),
		},
	}
	if g.r.IntN(2) == 0 {
		d := true
		h.OtherInfo.Direction = &d
	}
	for i := g.r.IntN(3); i > 0; i-- {
		h.OtherInfo.Appendixes = append(h.OtherInfo.Appendixes, g.str(500))
	}
	used := map[string]bool{}
	for i := 1 + g.r.IntN(4); i > 0; i-- {
		o := g.org()
		if !used[o.OrganID] {
			used[o.OrganID] = true
			h.To = append(h.To, o)
		}
	}
	if g.r.IntN(2) == 0 {
		h.SignerInfo = &SignerInfo{Competence: g.opt(200), Position: g.opt(200), FullName: g.opt(200)}
	}
	if g.r.IntN(2) == 0 {
		h.DueDate = g.date()
	}
	for i := g.r.IntN(3); i > 0; i-- {
		h.ToPlaces = append(h.ToPlaces, g.str(150))
	}
	for i := g.r.IntN(3); i > 0; i-- {
		h.ResponseFor = append(h.ResponseFor, ResponseFor{OrganID: g.code(), Code: g.opt(42), PromulgationDate: g.date(), DocumentID: g.str(200)})
	}
	h.DocumentID = h.DefaultDocumentID()
	d := &Document{Header: h}
	for i := g.r.IntN(3); i > 0; i-- {
		d.Trace = append(d.Trace, TraceHeader{OrganID: g.code(), Timestamp: g.ts()})
	}
	if g.r.IntN(2) == 0 {
		d.Business = g.business()
	}
	for i := 0; i < g.r.IntN(4); i++ {
		data := make([]byte, g.r.IntN(3000))
		for j := range data {
			data[j] = byte(g.r.UintN(256))
		}
		a := Attachment{ContentID: fmt.Sprintf("c%d", i), Name: g.str(100) + ".pdf", Description: g.opt(500), ContentType: "application/pdf", Data: data}
		d.Attachments = append(d.Attachments, a)
		d.Manifest = append(d.Manifest, Reference{ContentID: a.ContentID, ContentType: a.ContentType, Description: g.opt(500), Name: a.Name})
	}
	return d
}

func (g gen) business() *Business {
	b := &Business{DocType: BusinessType(g.r.IntN(4)), Reason: g.opt(500), Paper: g.intp(2), StaffInfo: g.staff()}
	if b.DocType != BusinessNew || g.r.IntN(2) == 0 {
		b.DocumentID = g.str(200)
	}
	if g.r.IntN(2) == 0 {
		b.DocumentInfo = &BusinessDocumentInfo{DocumentInfo: "1", DocumentReceiver: "0", Receivers: []Receiver{{OrganID: g.code(), ReceiverType: g.r.IntN(2)}}}
	}
	if g.r.IntN(2) == 0 {
		b.ReplacementInfo = []ReplacementInfo{{DocumentID: g.str(200), OrganIDs: []string{g.code(), g.code()}}}
	}
	return b
}

func (g gen) status() *Status {
	codes := []StatusCode{StatusArrived, StatusRefused, StatusRegistered, StatusAssigned, StatusProcessing, StatusDone, StatusRecall, StatusRecallAgreed, StatusRecallRefused}
	return &Status{
		From:        g.org(),
		ResponseFor: ResponseFor{OrganID: g.code(), Code: g.str(42), PromulgationDate: g.date(), DocumentID: g.str(200)},
		StaffInfo:   g.staff(),
		StatusCode:  codes[g.r.IntN(len(codes))],
		Description: g.opt(0),
		Timestamp:   g.ts(),
	}
}

var cmpPackage = cmp.Options{cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Attachment{})}

// TestRoundTrip checks Parse(Build(x)) == x over random valid packages of
// both kinds.
func TestRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := 0; i < 400; i++ {
		want := &Package{Kind: KindDocument, Document: g.document()}
		if i%3 == 0 {
			want = &Package{Kind: KindStatus, Status: g.status()}
		}
		if err := Validate(want, ValidateOptions{}); err != nil {
			t.Fatalf("case %d: generator made an invalid package:\n%v", i, err)
		}
		b, err := BuildBytes(want, BuildOptions{})
		if err != nil {
			t.Fatalf("case %d: Build: %v", i, err)
		}
		got, err := ParseBytes(b, ParseOptions{})
		if err != nil {
			t.Fatalf("case %d: Parse(Build(x)): %v\n%s", i, err, b)
		}
		if diff := cmp.Diff(want, got, cmpPackage); diff != "" {
			t.Fatalf("case %d: Parse(Build(x)) differs (-want +got):\n%s\n%s", i, diff, b)
		}
	}
}

// TestZipRoundTrip checks that zipped attachments come back as the files
// that went in when the reader unzips.
func TestZipRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for i := 0; i < 50; i++ {
		d := g.document()
		b, err := BuildBytes(&Package{Kind: KindDocument, Document: d}, BuildOptions{Zip: true})
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		got, err := ParseBytes(b, ParseOptions{Unzip: true})
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		for j, a := range got.Document.Attachments {
			if diff := cmp.Diff(d.Attachments[j].Data, a.Data, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("case %d attachment %d differs after zip and unzip", i, j)
			}
			if a.ContentType != "application/pdf" {
				t.Errorf("unzipped %q typed %q, want application/pdf", a.Name, a.ContentType)
			}
		}
	}
}
