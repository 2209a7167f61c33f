package envelope

import (
	"slices"
	"time"
)

// Namespace is the edXML namespace of QCVN 102:2016.
const Namespace = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

// Kind tells a document package from a status package.
type Kind int

// The kinds of package.
const (
	KindDocument Kind = iota + 1
	KindStatus
)

func (k Kind) String() string {
	switch k {
	case KindDocument:
		return "document"
	case KindStatus:
		return "status"
	}
	return "unknown"
}

// Package is one parsed edXML file: exactly one of Document and Status is set,
// as Kind says.
type Package struct {
	Kind     Kind
	Document *Document
	Status   *Status
	// Signed reports that the header carries an XML-DSig Signature
	// element. It says nothing about whether the signature is valid.
	Signed bool
	// SignaturePlaceholder reports a Signature element outside the XML-DSig
	// namespace, as the axis SDK's library writes: the package is unsigned.
	SignaturePlaceholder bool
}

// Document is a document package (messagetype edoc).
type Document struct {
	Header      MessageHeader
	Trace       []TraceHeader // TraceHeaderList/TraceHeader, the hop trail
	Business    *Business     // TraceHeaderList/Bussiness; nil when absent
	Manifest    []Reference   // edXMLBody/edXMLManifest/Reference
	Attachments []Attachment  // AttachmentEncoded/Attachment
}

// MessageHeader holds the 14 components of a document's header (§2.2).
type MessageHeader struct {
	From             Organization   // 1.1
	To               []Organization // 1.2, one per recipient agency
	Code             Code           // 1.3
	PromulgationInfo PromulgationInfo
	DocumentType     DocumentType
	Subject          string      // 1.6, trích yếu
	Content          string      // 1.7
	SignerInfo       *SignerInfo // 1.8; nil when absent
	DueDate          Date        // 1.9; zero when absent
	ToPlaces         []string    // 1.10, "Nơi nhận" as free text
	OtherInfo        OtherInfo   // 1.11
	ResponseFor      []ResponseFor
	SteeringType     SteeringType
	DocumentID       string // 1.14, e.g. "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
}

// Organization names an agency: the sender, a recipient, or a status reporter.
type Organization struct {
	OrganID              string // identifier code, see directory.ParseCode
	OrganizationInCharge string
	OrganName            string
	OrganAdd             string
	Email                string
	Telephone            string
	Fax                  string
	Website              string
}

// Code is a document's number and notation (số và ký hiệu).
type Code struct {
	CodeNumber   string // e.g. "7816"
	CodeNotation string // e.g. "VPCP-TTĐT"
}

// PromulgationInfo says where and when a document was issued.
type PromulgationInfo struct {
	Place            string
	PromulgationDate Date
}

// DocumentType is the document's type: Type 1 or 2, with the type's name.
type DocumentType struct {
	Type       int
	TypeDetail *int // nil when absent
	TypeName   string
}

// SignerInfo names who signed the document and with what authority.
type SignerInfo struct {
	Competence string // e.g. "KT. Giám đốc"
	Position   string
	FullName   string
}

// OtherInfo carries the priority and circulation details.
type OtherInfo struct {
	Priority             Priority
	SphereOfPromulgation string
	TyperNotation        string
	PromulgationAmount   *int // nil when absent
	PageAmount           *int // nil when absent
	Appendixes           []string
	Direction            *bool // a library extension; nil when absent
}

// ResponseFor names an earlier document this package answers.
type ResponseFor struct {
	OrganID          string
	Code             string // "number/notation"
	PromulgationDate Date
	DocumentID       string
}

// TraceHeader is one hop of a package's trail.
type TraceHeader struct {
	OrganID   string
	Timestamp time.Time
}

// Business says what the package does: a new document, or a recall, update
// or replacement of an earlier one (§2.3, 2.2).
type Business struct {
	DocType         BusinessType
	Reason          string
	DocumentID      string // the document recalled, updated or replaced
	Paper           *int   // 1 when a paper copy follows; nil when absent
	DocumentInfo    *BusinessDocumentInfo
	StaffInfo       *StaffInfo
	ReplacementInfo []ReplacementInfo
}

// BusinessDocumentInfo describes what an update changes.
type BusinessDocumentInfo struct {
	DocumentInfo     string // "1" when the metadata changed
	DocumentReceiver string // "1" when the recipients changed
	Receivers        []Receiver
}

// Receiver is a recipient added to or removed from a document by an update.
type Receiver struct {
	OrganID      string
	ReceiverType int // 0 removed, 1 added
}

// ReplacementInfo names a document replaced and the agencies concerned.
type ReplacementInfo struct {
	DocumentID string
	OrganIDs   []string
}

// StaffInfo names the officer responsible for a package.
type StaffInfo struct {
	Department string
	Staff      string
	Mobile     string
	Email      string
}

// Reference is a manifest entry for one attachment.
type Reference struct {
	ContentID   string // without the "cid:" prefix
	ContentType string
	Description string
	Name        string
}

// Attachment is one attached file as carried in the package.
type Attachment struct {
	ContentID   string // without the "cid:" prefix
	Name        string
	Description string
	ContentType string // "application/zip" when the sender zipped it
	Data        []byte // after base64 decoding, still zipped if it was
	// Path names a file holding the content instead of Data, for a
	// document too large to hold: the builder streams it in chunks.
	Path string `json:",omitempty"`

	// size and sum are the content's length and SHA-256 when a read
	// decoded it into Path, so that its summary need not read it again.
	size int64
	sum  []byte
}

// Status is a status package (messagetype status, §3).
type Status struct {
	From        Organization
	ResponseFor ResponseFor
	StaffInfo   *StaffInfo
	StatusCode  StatusCode
	Description string
	Timestamp   time.Time
}

// Date is a calendar date without a time of day, as edXML dates are.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether d is the zero Date, which stands for "absent".
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as edXML writes dates: yyyy/MM/dd.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Format(dateLayout)
}

// ISO formats d as the local API writes dates: YYYY-MM-DD, the form a
// client submits them in.
func (d Date) ISO() string {
	if d.IsZero() {
		return ""
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// valid reports whether d names a real calendar day.
func (d Date) valid() bool {
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	return t.Year() == d.Year && t.Month() == d.Month && t.Day() == d.Day && d.Year >= 1 && d.Year <= 9999
}

// Vietnam is the fixed UTC+7 zone edXML timestamps are written in.
var Vietnam = time.FixedZone("ICT", 7*60*60)

const (
	dateLayout      = "2006/01/02"
	timestampLayout = "2006/01/02 15:04:05"
)

// Targets are the documents a revocation, update or replacement acts on,
// in each of the forms senders write: Bussiness/DocumentId when given;
// for a replacement ReplacementInfo's; for a revocation or update without
// them, the ResponseFor it carries, else the package's own DocumentId
// (the axis SDK's library reuses the original's). Nil for a new document.
func (d *Document) Targets() []string {
	b := d.Business
	if b == nil || b.DocType == BusinessNew {
		return nil
	}
	var out []string
	add := func(id string) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	add(b.DocumentID)
	for _, r := range b.ReplacementInfo {
		add(r.DocumentID)
	}
	if len(out) == 0 && b.DocType != BusinessReplace {
		for _, r := range d.Header.ResponseFor {
			add(r.DocumentID)
		}
		if len(out) == 0 {
			add(d.Header.DocumentID)
		}
	}
	return out
}
