package envelope

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testDocument() *Document {
	h := MessageHeader{
		From:             Organization{OrganID: "000.00.07.H26", OrganName: "Sở Ví Dụ Hà Nội"},
		To:               []Organization{{OrganID: "000.00.00.G22"}},
		Code:             Code{CodeNumber: "152", CodeNotation: "SVD-VP"},
		PromulgationInfo: PromulgationInfo{Place: "Hà Nội", PromulgationDate: Date{2025, 3, 14}},
		DocumentType:     DocumentType{Type: 1, TypeName: "Công văn"},
		Subject:          "V/v báo cáo thử nghiệm liên thông",
		OtherInfo:        OtherInfo{Priority: PriorityUrgent},
	}
	h.DocumentID = h.DefaultDocumentID()
	return &Document{Header: h}
}

func testStatus() *Status {
	return &Status{
		From:        Organization{OrganID: "000.00.00.G22", OrganName: "Văn phòng Chính phủ"},
		ResponseFor: ResponseFor{OrganID: "000.00.07.H26", Code: "152/SVD-VP", PromulgationDate: Date{2025, 3, 14}, DocumentID: "000.00.07.H26,2025/03/14,152/SVD-VP"},
		StatusCode:  StatusRegistered,
		Description: "Đã tiếp nhận, vào sổ văn bản đến số 1234",
		Timestamp:   time.Date(2025, 3, 14, 10, 5, 12, 0, Vietnam),
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	d := testDocument()
	d.Header.To = append(d.Header.To, Organization{OrganID: "00.00.00.H41"})
	d.Header.Subject = ""
	d.Header.OtherInfo.Priority = 9
	d.Header.Code.CodeNotation = strings.Repeat("X", 31)
	err := Validate(&Package{Kind: KindDocument, Document: d}, ValidateOptions{})
	var ps Problems
	if !errors.As(err, &ps) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate = %v, want Problems", err)
	}
	want := []string{
		`edXMLHeader/MessageHeader/To[2]/OrganId: "00.00.00.H41" is not a 13-character identifier code`,
		`edXMLHeader/MessageHeader/Code/CodeNotation: "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" is 31 characters long, at most 30 are allowed`,
		`edXMLHeader/MessageHeader/Subject: is required`,
		`edXMLHeader/MessageHeader/OtherInfo/Priority: "9" must be 0 (Thường), 1 (Khẩn), 2 (Thượng khẩn), 3 (Hỏa tốc) or 4 (Hỏa tốc hẹn giờ)`,
	}
	if diff := cmp.Diff(want, strings.Split(ps.Error(), "\n")); diff != "" {
		t.Errorf("problems differ (-want +got):\n%s", diff)
	}
}

func TestValidateLengthsCountCharacters(t *testing.T) {
	d := testDocument()
	d.Header.Code.CodeNotation = strings.Repeat("Đ", 30) // 60 bytes, 30 characters
	if err := Validate(&Package{Kind: KindDocument, Document: d}, ValidateOptions{}); err != nil {
		t.Errorf("Validate = %v, want nil for 30 characters", err)
	}
}

func TestValidateFutureDate(t *testing.T) {
	d := testDocument()
	pkg := &Package{Kind: KindDocument, Document: d}
	// 2025/03/13 17:30 UTC is already 2025/03/14 in Vietnam.
	if err := Validate(pkg, ValidateOptions{Now: time.Date(2025, 3, 13, 17, 30, 0, 0, time.UTC)}); err != nil {
		t.Errorf("Validate on the day in UTC+7 = %v", err)
	}
	err := Validate(pkg, ValidateOptions{Now: time.Date(2025, 3, 13, 16, 0, 0, 0, time.UTC)})
	if err == nil || !strings.Contains(err.Error(), "PromulgationDate: \"2025/03/14\" is in the future") {
		t.Errorf("Validate the day before = %v, want a future-date problem", err)
	}
}

func TestValidateStatus(t *testing.T) {
	s := testStatus()
	s.StatusCode = "07"
	s.ResponseFor.DocumentID = ""
	err := Validate(&Package{Kind: KindStatus, Status: s}, ValidateOptions{})
	want := "edXMLHeader/MessageHeader/ResponseFor/DocumentId: is required\n" +
		`edXMLHeader/MessageHeader/StatusCode: "07" is not a status code (01, 02, 03, 04, 05, 06, 13, 15, 16)`
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want\n%s", err, want)
	}
}

func TestBuildRefusesInvalidWritingNothing(t *testing.T) {
	d := testDocument()
	d.Header.Subject = " padded "
	d.Header.Content = "bell\x07"
	var out strings.Builder
	err := Build(&out, &Package{Kind: KindDocument, Document: d}, BuildOptions{})
	if !errors.Is(err, ErrInvalid) || out.Len() != 0 {
		t.Fatalf("Build = %v with %d bytes written, want Problems and nothing", err, out.Len())
	}
	if !strings.Contains(err.Error(), "Subject: \" padded \" has leading or trailing white space") ||
		!strings.Contains(err.Error(), "Content: \"bell\\a\" contains a control character XML cannot carry") {
		t.Errorf("Build = %v", err)
	}
}

func TestMetadataProblemsNameJSONFields(t *testing.T) {
	m := &Metadata{
		To:               []string{"000.00.00.G22", "000.00.00.h41"},
		CodeNumber:       "1",
		CodeNotation:     "X",
		PromulgationDate: "14/03/2025",
		DocumentType:     MetaDocumentType{Type: 1},
		Subject:          "Thử",
		Priority:         5,
		Confidentiality:  "Mật",
	}
	_, err := m.Document(Organization{OrganID: "000.00.07.H26"}, time.Date(2025, 3, 14, 9, 0, 0, 0, Vietnam), nil)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Document = %v, want Problems", err)
	}
	var fields []string
	for _, p := range ps {
		fields = append(fields, p.Path)
	}
	want := []string{"confidentiality", "promulgationDate", "to[1]", "priority"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields differ (-want +got):\n%s\n%v", diff, err)
	}
}

func TestDecodeMetadataRefusesUnknownField(t *testing.T) {
	_, err := DecodeMetadata(strings.NewReader(`{"subjet": "typo"}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "subjet"`) {
		t.Errorf("DecodeMetadata = %v, want an unknown-field error", err)
	}
}
