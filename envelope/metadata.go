package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"lienthong/directory"
)

// Metadata is the JSON a legacy document system sends to have a document
// built: the same shape for `lienthong envelope build --metadata`, the
// local API's POST /v1/documents and the outbox spool folder. Problems with
// it are named by JSON field (e.g. "to[1]"), so the sender can find them.
type Metadata struct {
	// From is the sending agency. The daemon fills it from its
	// configuration and refuses a different one; the CLI needs it given.
	From             *MetaOrganization `json:"from,omitempty"`
	To               []string          `json:"to"`
	CodeNumber       string            `json:"codeNumber"`
	CodeNotation     string            `json:"codeNotation"`
	PromulgationDate string            `json:"promulgationDate"` // YYYY-MM-DD
	Place            string            `json:"place,omitempty"`
	DocumentType     MetaDocumentType  `json:"documentType"`
	Subject          string            `json:"subject"`
	Content          string            `json:"content,omitempty"`
	Signer           *MetaSigner       `json:"signer,omitempty"`
	DueDate          string            `json:"dueDate,omitempty"` // YYYY-MM-DD
	Priority         int               `json:"priority"`          // 0-4
	SteeringType     int               `json:"steeringType,omitempty"`
	ToPlaces         []string          `json:"toPlaces,omitempty"`
	ResponseFor      []MetaResponseFor `json:"responseFor,omitempty"`
	Business         *MetaBusiness     `json:"business,omitempty"`
	// Confidentiality is any state-secret marking (Mật, Tối mật, Tuyệt mật).
	// A marked document is always refused: state secrets never cross the axis.
	Confidentiality      string           `json:"confidentiality,omitempty"`
	SphereOfPromulgation string           `json:"sphereOfPromulgation,omitempty"`
	TyperNotation        string           `json:"typerNotation,omitempty"`
	PromulgationAmount   *int             `json:"promulgationAmount,omitempty"`
	PageAmount           *int             `json:"pageAmount,omitempty"`
	Appendixes           []string         `json:"appendixes,omitempty"`
	DocumentID           string           `json:"documentId,omitempty"` // default: the comma form
	Attachments          []MetaAttachment `json:"attachments,omitempty"`
}

// MetaOrganization is an agency in Metadata.
type MetaOrganization struct {
	OrganID              string `json:"organId"`
	OrganName            string `json:"organName,omitempty"`
	OrganizationInCharge string `json:"organizationInCharge,omitempty"`
	Address              string `json:"address,omitempty"`
	Email                string `json:"email,omitempty"`
	Telephone            string `json:"telephone,omitempty"`
	Fax                  string `json:"fax,omitempty"`
	Website              string `json:"website,omitempty"`
}

// MetaDocumentType is the document type in Metadata.
type MetaDocumentType struct {
	Type int    `json:"type"` // 1 or 2
	Name string `json:"name,omitempty"`
}

// MetaSigner names the signer in Metadata.
type MetaSigner struct {
	Competence string `json:"competence,omitempty"`
	Position   string `json:"position,omitempty"`
	FullName   string `json:"fullName,omitempty"`
}

// MetaResponseFor names an earlier document this one answers.
type MetaResponseFor struct {
	OrganID          string `json:"organId"`
	Code             string `json:"code,omitempty"`
	PromulgationDate string `json:"promulgationDate,omitempty"`
	DocumentID       string `json:"documentId"`
}

// MetaBusiness makes the document a recall, update or replacement.
type MetaBusiness struct {
	Type         int               `json:"type"` // 0 new, 1 revoke, 2 update, 3 replace
	Reason       string            `json:"reason,omitempty"`
	DocumentID   string            `json:"documentId,omitempty"`
	Paper        bool              `json:"paper,omitempty"`
	Staff        *MetaStaff        `json:"staff,omitempty"`
	Added        []string          `json:"added,omitempty"`   // recipients an update adds
	Removed      []string          `json:"removed,omitempty"` // recipients an update removes
	Replacements []MetaReplacement `json:"replacements,omitempty"`
}

// MetaStaff is the responsible officer.
type MetaStaff struct {
	Department string `json:"department,omitempty"`
	Staff      string `json:"staff,omitempty"`
	Mobile     string `json:"mobile,omitempty"`
	Email      string `json:"email,omitempty"`
}

// MetaReplacement names a replaced document and the agencies concerned.
type MetaReplacement struct {
	DocumentID string   `json:"documentId"`
	OrganIDs   []string `json:"organIds"`
}

// MetaAttachment describes an attached file; File names it on disk for the
// CLI and the spool folder, the API matches it to a part by position.
type MetaAttachment struct {
	File        string `json:"file,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	ContentType string `json:"contentType,omitempty"`
}

// DecodeMetadata reads Metadata strictly: an unknown field is an error, so a
// misspelt field is never silently dropped.
func DecodeMetadata(r io.Reader) (*Metadata, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	// A field given twice is refused, not taken last-wins: two systems
	// reading one object must not see two different documents.
	if path := duplicateKey(raw); path != "" {
		return nil, Problems{{Path: path, Rule: "is given more than once; give each field once"}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var m Metadata
	if err := dec.Decode(&m); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, Problems{{Path: ute.Field, Rule: "must be " + jsonKind(ute.Field, ute.Type), Value: ute.Value}}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return nil, Problems{{Path: strings.Trim(f, `"`), Rule: `is not a metadata field (unknown field ` + f + `)`}}
		}
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, Problems{{Path: "metadata", Rule: "is not valid JSON: " + se.Error()}}
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil, Problems{{Path: "metadata", Rule: "is not a whole JSON object"}}
		}
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if dec.More() {
		return nil, Problems{{Path: "metadata", Rule: "holds more than one JSON value"}}
	}
	return &m, nil
}

// duplicateKey is the path of the first object key that a JSON text gives
// twice, or "" when there is none, or when the text does not parse or
// nests past any metadata's depth (decoding names those).
func duplicateKey(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var walk func(path string, depth int) (dup string, ok bool)
	walk = func(path string, depth int) (string, bool) {
		if depth > 32 {
			return "", false
		}
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return "", false
				}
				k, _ := kt.(string)
				p := k
				if path != "" {
					p = path + "." + k
				}
				if seen[k] {
					return p, true
				}
				seen[k] = true
				if d, ok := walk(p, depth+1); !ok || d != "" {
					return d, ok
				}
			}
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if d, ok := walk(fmt.Sprintf("%s[%d]", path, i), depth+1); !ok || d != "" {
					return d, ok
				}
			}
		default:
			return "", true
		}
		_, err = dec.Token() // the closing delimiter
		return "", err == nil
	}
	d, _ := walk("", 0)
	return d
}

// Document turns the metadata and the attachment files into a document
// package sent by from at time at. Problems are named by JSON field; the
// returned document has passed Validate.
func (m *Metadata) Document(from Organization, at time.Time, files []Attachment) (*Document, error) {
	var ps Problems
	if m.Confidentiality != "" {
		ps.add("confidentiality", "marks a state secret, which never crosses the axis", m.Confidentiality)
	}
	if len(m.To) == 0 {
		ps.add("to", "is required: at least one recipient", "")
	}
	h := MessageHeader{
		From:             from,
		Code:             Code{CodeNumber: m.CodeNumber, CodeNotation: m.CodeNotation},
		PromulgationInfo: PromulgationInfo{Place: m.Place, PromulgationDate: promulgated(&ps, m.PromulgationDate, at)},
		DocumentType:     DocumentType{Type: m.DocumentType.Type, TypeName: m.DocumentType.Name},
		Subject:          m.Subject,
		Content:          m.Content,
		DueDate:          metaDate(&ps, "dueDate", m.DueDate),
		ToPlaces:         m.ToPlaces,
		SteeringType:     SteeringType(m.SteeringType),
		OtherInfo: OtherInfo{
			Priority:             Priority(m.Priority),
			SphereOfPromulgation: m.SphereOfPromulgation,
			TyperNotation:        m.TyperNotation,
			PromulgationAmount:   m.PromulgationAmount,
			PageAmount:           m.PageAmount,
			Appendixes:           m.Appendixes,
		},
	}
	for i, code := range m.To {
		if _, err := directory.ParseCode(code); err != nil {
			ps.add(fmt.Sprintf("to[%d]", i), err.(*directory.CodeError).Rule, code)
		}
		h.To = append(h.To, Organization{OrganID: code})
	}
	if s := m.Signer; s != nil {
		h.SignerInfo = &SignerInfo{Competence: s.Competence, Position: s.Position, FullName: s.FullName}
	}
	for i, r := range m.ResponseFor {
		h.ResponseFor = append(h.ResponseFor, ResponseFor{
			OrganID: r.OrganID, Code: r.Code, DocumentID: r.DocumentID,
			PromulgationDate: metaDate(&ps, fmt.Sprintf("responseFor[%d].promulgationDate", i), r.PromulgationDate),
		})
	}
	h.DocumentID = m.DocumentID
	if id := h.DocumentID; id != "" && (!strings.HasPrefix(id, from.OrganID+",") || len(id) > 200 ||
		strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' })) {
		ps.add("documentId", "must be the sending agency's code, a comma and the document's own part ("+from.OrganID+",yyyy/MM/dd,number/notation), at most 200 characters, without control characters", id)
	}
	if h.DocumentID == "" {
		h.DocumentID = h.DefaultDocumentID()
	}
	d := &Document{
		Header:   h,
		Trace:    []TraceHeader{{OrganID: from.OrganID, Timestamp: at.In(Vietnam).Truncate(time.Second)}},
		Business: m.business(),
	}
	if len(m.Attachments) > len(files) {
		ps.add(fmt.Sprintf("attachments[%d]", len(files)), "names a file that was not sent", m.Attachments[len(files)].File)
	}
	for i, f := range files {
		if i < len(m.Attachments) {
			ma := m.Attachments[i]
			f.Name = firstOf(ma.Name, f.Name)
			f.Description = firstOf(ma.Description, f.Description)
			f.ContentType = firstOf(ma.ContentType, f.ContentType)
		}
		f.ContentID = firstOf(f.ContentID, fmt.Sprintf("att-%04d", i+1))
		f.ContentType = firstOf(f.ContentType, ContentTypeOf(f.Name))
		f.Description = firstOf(f.Description, f.Name)
		d.Attachments = append(d.Attachments, f)
	}
	d.Manifest = manifest(d, d.Attachments, false)
	pkg := &Package{Kind: KindDocument, Document: d}
	for _, p := range pkg.validate(ValidateOptions{Now: at}) {
		p.Path = metaField(p.Path)
		if !ps.has(p.Path) {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return d, nil
}

func (m *Metadata) business() *Business {
	paper := 0
	b := m.Business
	if b == nil {
		return &Business{DocType: BusinessNew, Reason: "Văn bản điện tử mới", Paper: &paper}
	}
	if b.Paper {
		paper = 1
	}
	out := &Business{DocType: BusinessType(b.Type), Reason: b.Reason, DocumentID: b.DocumentID, Paper: &paper}
	if s := b.Staff; s != nil {
		out.StaffInfo = &StaffInfo{Department: s.Department, Staff: s.Staff, Mobile: s.Mobile, Email: s.Email}
	}
	if len(b.Added)+len(b.Removed) > 0 {
		info := &BusinessDocumentInfo{DocumentInfo: "0", DocumentReceiver: "1"}
		for _, c := range b.Removed {
			info.Receivers = append(info.Receivers, Receiver{OrganID: c, ReceiverType: 0})
		}
		for _, c := range b.Added {
			info.Receivers = append(info.Receivers, Receiver{OrganID: c, ReceiverType: 1})
		}
		out.DocumentInfo = info
	}
	for _, r := range b.Replacements {
		out.ReplacementInfo = append(out.ReplacementInfo, ReplacementInfo(r))
	}
	return out
}

// MetaOrganization converts the JSON form of an agency.
func (o *MetaOrganization) Organization() Organization {
	if o == nil {
		return Organization{}
	}
	return Organization{
		OrganID: o.OrganID, OrganName: o.OrganName, OrganizationInCharge: o.OrganizationInCharge,
		OrganAdd: o.Address, Email: o.Email, Telephone: o.Telephone, Fax: o.Fax, Website: o.Website,
	}
}

func (ps Problems) has(path string) bool {
	for _, p := range ps {
		if p.Path == path {
			return true
		}
	}
	return false
}

func metaDate(ps *Problems, field, s string) Date {
	if s == "" {
		return Date{}
	}
	for _, l := range []string{"2006-01-02", dateLayout} {
		if t, err := time.Parse(l, s); err == nil {
			return DateOf(t)
		}
	}
	ps.add(field, "is not a date in the form YYYY-MM-DD", s)
	return Date{}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// metaFields maps element paths to the JSON fields they come from, longest
// first, so a rule broken in the built package is named as the sender wrote it.
var metaFields = []struct{ elem, json string }{
	{"edXMLHeader/MessageHeader/PromulgationInfo/PromulgationDate", "promulgationDate"},
	{"edXMLHeader/MessageHeader/PromulgationInfo/Place", "place"},
	{"edXMLHeader/MessageHeader/Code/CodeNumber", "codeNumber"},
	{"edXMLHeader/MessageHeader/Code/CodeNotation", "codeNotation"},
	{"edXMLHeader/MessageHeader/DocumentType/Type", "documentType.type"},
	{"edXMLHeader/MessageHeader/DocumentType/TypeName", "documentType.name"},
	{"edXMLHeader/MessageHeader/SignerInfo/Competence", "signer.competence"},
	{"edXMLHeader/MessageHeader/SignerInfo/Position", "signer.position"},
	{"edXMLHeader/MessageHeader/SignerInfo/FullName", "signer.fullName"},
	{"edXMLHeader/MessageHeader/OtherInfo/Priority", "priority"},
	{"edXMLHeader/MessageHeader/OtherInfo/SphereOfPromulgation", "sphereOfPromulgation"},
	{"edXMLHeader/MessageHeader/OtherInfo/TyperNotation", "typerNotation"},
	{"edXMLHeader/MessageHeader/OtherInfo/PromulgationAmount", "promulgationAmount"},
	{"edXMLHeader/MessageHeader/OtherInfo/PageAmount", "pageAmount"},
	{"edXMLHeader/MessageHeader/Subject", "subject"},
	{"edXMLHeader/MessageHeader/Content", "content"},
	{"edXMLHeader/MessageHeader/DueDate", "dueDate"},
	{"edXMLHeader/MessageHeader/SteeringType", "steeringType"},
	{"edXMLHeader/MessageHeader/DocumentId", "documentId"},
	{"edXMLHeader/MessageHeader/From", "from"},
	{"edXMLHeader/MessageHeader/To", "to"},
	{"edXMLHeader/TraceHeaderList/Bussiness/BussinessDocType", "business.type"},
	{"edXMLHeader/TraceHeaderList/Bussiness/DocumentId", "business.documentId"},
	{"edXMLHeader/TraceHeaderList/Bussiness", "business"},
}

// metaField names an element path by its JSON field, with indexed lists
// (To[2]/OrganId becomes to[1]) counted from zero as JSON is.
func metaField(path string) string {
	for _, f := range metaFields {
		if path == f.elem || strings.HasPrefix(path, f.elem+"/") {
			return f.json + strings.ReplaceAll(strings.TrimPrefix(path, f.elem), "/", ".")
		}
	}
	for _, f := range []struct{ elem, json string }{
		{"edXMLHeader/MessageHeader/To[", "to"},
		{"edXMLHeader/MessageHeader/ToPlaces/Place[", "toPlaces"},
		{"edXMLHeader/MessageHeader/OtherInfo/Appendixes/Appendix[", "appendixes"},
		{"edXMLHeader/MessageHeader/ResponseFor[", "responseFor"},
		{"AttachmentEncoded/Attachment[", "attachments"},
	} {
		if rest, ok := strings.CutPrefix(path, f.elem); ok {
			var n int
			var tail string
			if _, err := fmt.Sscanf(rest, "%d]", &n); err == nil {
				if i := strings.IndexByte(rest, ']'); i >= 0 {
					tail = rest[i+1:]
				}
				if f.json == "to" && tail == "/OrganId" {
					tail = ""
				}
				return fmt.Sprintf("%s[%d]%s", f.json, n-1, strings.ReplaceAll(tail, "/", "."))
			}
		}
	}
	return path
}

// promulgated is the document's date: as given, or the day it is handed
// over, in Vietnam.
func promulgated(ps *Problems, s string, at time.Time) Date {
	if s == "" {
		return DateOf(at.In(Vietnam))
	}
	return metaDate(ps, "promulgationDate", s)
}

// jsonKind names the JSON a field takes, in a vendor's words, never a Go
// type's name.
func jsonKind(field string, t reflect.Type) string {
	if field == "from" || strings.HasSuffix(field, ".from") {
		return `an object naming the agency, like {"organId": "000.00.07.H26"}`
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a JSON list"
	case reflect.Struct, reflect.Map:
		if t.Name() == "Date" {
			return "a date, YYYY-MM-DD"
		}
		return "a JSON object"
	}
	return "of another JSON type"
}
