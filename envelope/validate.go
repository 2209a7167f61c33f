package envelope

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"lienthong/directory"
)

// ValidateOptions tune Validate. The zero value is the default.
type ValidateOptions struct {
	// Now, when set, refuses promulgation dates after today (in UTC+7).
	// Zero skips the check, e.g. when re-reading archived packages.
	Now time.Time
}

// Validate checks a package against the cardinalities, lengths and code lists
// of the standard and returns every problem found, or nil.
func Validate(p *Package, opts ValidateOptions) error {
	return p.validate(opts).err()
}

func (p *Package) validate(opts ValidateOptions) Problems {
	v := &validator{opts: opts}
	switch {
	case p.Kind == KindDocument && p.Document != nil:
		v.document(p.Document)
	case p.Kind == KindStatus && p.Status != nil:
		v.status(p.Status, "edXMLHeader/MessageHeader")
	default:
		v.add("edXMLHeader/MessageHeader", "is required", "")
	}
	return v.probs
}

type validator struct {
	opts  ValidateOptions
	probs Problems
}

func (v *validator) add(path, rule, value string) { v.probs.add(path, rule, value) }

// str checks a text field: required when asked, at most max characters when
// max > 0, and writable as XML without change.
func (v *validator) str(path, s string, required bool, max int) {
	switch {
	case s == "":
		if required {
			v.add(path, "is required", "")
		}
		return
	case !utf8.ValidString(s):
		v.add(path, "is not valid UTF-8", "")
		return
	case strings.IndexFunc(s, func(r rune) bool { return !isXMLChar(r) }) >= 0:
		v.add(path, "contains a control character XML cannot carry", s)
		return
	case strings.Trim(s, " \t\r\n") != s:
		v.add(path, "has leading or trailing white space", s)
	}
	if n := utf8.RuneCountInString(s); max > 0 && n > max {
		v.add(path, fmt.Sprintf("is %d characters long, at most %d are allowed", n, max), s)
	}
}

// code checks an agency identifier code.
func (v *validator) code(path, s string) {
	if s == "" {
		v.add(path, "is required", "")
		return
	}
	if _, err := directory.ParseCode(s); err != nil {
		ce := err.(*directory.CodeError)
		v.add(path, ce.Rule, s)
	}
}

func (v *validator) email(path, s string) {
	v.str(path, s, false, 100)
	if s == "" {
		return
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		v.add(path, "is not an e-mail address", s)
	}
}

func (v *validator) org(path string, o Organization) {
	v.code(path+"/OrganId", o.OrganID)
	v.str(path+"/OrganizationInCharge", o.OrganizationInCharge, false, 500)
	v.str(path+"/OrganName", o.OrganName, false, 200)
	v.str(path+"/OrganAdd", o.OrganAdd, false, 500)
	v.email(path+"/Email", o.Email)
	v.str(path+"/Telephone", o.Telephone, false, 20)
	v.str(path+"/Fax", o.Fax, false, 20)
	v.str(path+"/Website", o.Website, false, 100)
}

func (v *validator) date(path string, d Date, required bool) {
	switch {
	case d.IsZero():
		if required {
			v.add(path, "is required", "")
		}
	case !d.valid():
		v.add(path, "is not a calendar date", fmt.Sprintf("%04d/%02d/%02d", d.Year, int(d.Month), d.Day))
	}
}

func (v *validator) document(d *Document) {
	const p = "edXMLHeader/MessageHeader"
	h := &d.Header
	v.org(p+"/From", h.From)
	if len(h.To) == 0 {
		v.add(p+"/To", "is required: at least one recipient", "")
	}
	seen := map[string]int{}
	for i, t := range h.To {
		tp := fmt.Sprintf("%s/To[%d]", p, i+1)
		v.org(tp, t)
		if j, dup := seen[t.OrganID]; dup && t.OrganID != "" {
			v.add(tp+"/OrganId", fmt.Sprintf("is already recipient To[%d]", j), t.OrganID)
		}
		seen[t.OrganID] = i + 1
	}
	v.str(p+"/Code/CodeNumber", h.Code.CodeNumber, true, 11)
	v.str(p+"/Code/CodeNotation", h.Code.CodeNotation, true, 30)
	v.str(p+"/PromulgationInfo/Place", h.PromulgationInfo.Place, false, 50)
	pd := h.PromulgationInfo.PromulgationDate
	v.date(p+"/PromulgationInfo/PromulgationDate", pd, true)
	if !v.opts.Now.IsZero() && pd.valid() && pd.String() > DateOf(v.opts.Now.In(Vietnam)).String() {
		v.add(p+"/PromulgationInfo/PromulgationDate", "is in the future", pd.String())
	}
	if t := h.DocumentType.Type; t != 1 && t != 2 {
		v.add(p+"/DocumentType/Type", "must be 1 or 2", fmt.Sprint(t))
	}
	v.str(p+"/DocumentType/TypeName", h.DocumentType.TypeName, false, 100)
	v.str(p+"/Subject", h.Subject, true, 500)
	v.str(p+"/Content", h.Content, false, 500)
	if s := h.SignerInfo; s != nil {
		v.str(p+"/SignerInfo/Competence", s.Competence, false, 200)
		v.str(p+"/SignerInfo/Position", s.Position, false, 200)
		v.str(p+"/SignerInfo/FullName", s.FullName, false, 200)
	}
	v.date(p+"/DueDate", h.DueDate, false)
	for i, pl := range h.ToPlaces {
		v.str(fmt.Sprintf("%s/ToPlaces/Place[%d]", p, i+1), pl, true, 150)
	}
	v.otherInfo(p+"/OtherInfo", &h.OtherInfo)
	for i, r := range h.ResponseFor {
		v.responseFor(fmt.Sprintf("%s/ResponseFor[%d]", p, i+1), r, false)
	}
	if !h.SteeringType.Valid() {
		v.add(p+"/SteeringType", "must be 0, 1, 2 or 3", fmt.Sprint(int(h.SteeringType)))
	}
	v.str(p+"/DocumentId", h.DocumentID, true, 200)
	for i, t := range d.Trace {
		tp := fmt.Sprintf("edXMLHeader/TraceHeaderList/TraceHeader[%d]", i+1)
		v.code(tp+"/OrganId", t.OrganID)
		if t.Timestamp.IsZero() {
			v.add(tp+"/Timestamp", "is required", "")
		}
	}
	if d.Business != nil {
		v.business("edXMLHeader/TraceHeaderList/Bussiness", d.Business)
	}
	v.attachments(d)
}

func (v *validator) otherInfo(p string, o *OtherInfo) {
	if !o.Priority.Valid() {
		v.add(p+"/Priority", "must be 0 (Thường), 1 (Khẩn), 2 (Thượng khẩn), 3 (Hỏa tốc) or 4 (Hỏa tốc hẹn giờ)", fmt.Sprint(int(o.Priority)))
	}
	v.str(p+"/SphereOfPromulgation", o.SphereOfPromulgation, false, 100)
	v.str(p+"/TyperNotation", o.TyperNotation, false, 10)
	v.ushort(p+"/PromulgationAmount", o.PromulgationAmount)
	v.ushort(p+"/PageAmount", o.PageAmount)
	for i, a := range o.Appendixes {
		v.str(fmt.Sprintf("%s/Appendixes/Appendix[%d]", p, i+1), a, true, 500)
	}
}

// ushort checks an optional unsigned short.
func (v *validator) ushort(path string, n *int) {
	if n != nil && (*n < 0 || *n > 65535) {
		v.add(path, "must be between 0 and 65535", fmt.Sprint(*n))
	}
}

// flag checks an optional 0/1 text field.
func (v *validator) flag(path, s string) {
	if s != "" && s != "0" && s != "1" {
		v.add(path, "must be 0 or 1", s)
	}
}

func (v *validator) responseFor(p string, r ResponseFor, codeRequired bool) {
	v.code(p+"/OrganId", r.OrganID)
	v.str(p+"/Code", r.Code, codeRequired, 42)
	v.date(p+"/PromulgationDate", r.PromulgationDate, false)
	v.str(p+"/DocumentId", r.DocumentID, true, 200)
}

func (v *validator) business(p string, b *Business) {
	if !b.DocType.Valid() {
		v.add(p+"/BussinessDocType", "must be 0 (new), 1 (revoke), 2 (update) or 3 (replace)", fmt.Sprint(int(b.DocType)))
	}
	v.str(p+"/BussinessDocReason", b.Reason, false, 500)
	// A revocation or an update may name its target by the package's own
	// DocumentId, as the axis SDK's library writes them; a replacement
	// names its targets here or in ReplacementInfoList.
	v.str(p+"/DocumentId", b.DocumentID, b.DocType == BusinessReplace && len(b.ReplacementInfo) == 0, 200)
	if b.Paper != nil && *b.Paper != 0 && *b.Paper != 1 {
		v.add(p+"/Paper", "must be 0 or 1", fmt.Sprint(*b.Paper))
	}
	if bi := b.DocumentInfo; bi != nil {
		ip := p + "/BussinessDocumentInfo"
		v.flag(ip+"/DocumentInfo", bi.DocumentInfo)
		v.flag(ip+"/DocumentReceiver", bi.DocumentReceiver)
		for i, r := range bi.Receivers {
			rp := fmt.Sprintf("%s/ReceiverList/Receiver[%d]", ip, i+1)
			v.code(rp+"/OrganId", r.OrganID)
			if r.ReceiverType != 0 && r.ReceiverType != 1 {
				v.add(rp+"/ReceiverType", "must be 0 (removed) or 1 (added)", fmt.Sprint(r.ReceiverType))
			}
		}
	}
	if s := b.StaffInfo; s != nil {
		v.staff(p+"/StaffInfo", s)
	}
	for i, r := range b.ReplacementInfo {
		rp := fmt.Sprintf("%s/ReplacementInfoList/ReplacementInfo[%d]", p, i+1)
		v.str(rp+"/DocumentId", r.DocumentID, true, 200)
		for j, o := range r.OrganIDs {
			v.code(fmt.Sprintf("%s/OrganIdList/OrganId[%d]", rp, j+1), o)
		}
	}
}

func (v *validator) staff(p string, s *StaffInfo) {
	v.str(p+"/Department", s.Department, false, 200)
	v.str(p+"/Staff", s.Staff, false, 200)
	v.str(p+"/Mobile", s.Mobile, false, 20)
	v.email(p+"/Email", s.Email)
}

// attachments checks that manifest references and attachments pair up one
// to one by content id.
func (v *validator) attachments(d *Document) {
	refs := map[string]int{}
	for i, r := range d.Manifest {
		p := fmt.Sprintf("edXMLBody/edXMLManifest/Reference[%d]", i+1)
		v.str(p+"/ContentId", r.ContentID, true, 200)
		v.str(p+"/ContentType", r.ContentType, false, 200)
		v.str(p+"/Description", r.Description, false, 500)
		v.str(p+"/AttachmentName", r.Name, false, 500)
		if j, dup := refs[r.ContentID]; dup && r.ContentID != "" {
			v.add(p+"/ContentId", fmt.Sprintf("is already used by Reference[%d]", j), "cid:"+r.ContentID)
		} else {
			refs[r.ContentID] = i + 1
		}
	}
	atts := map[string]int{}
	for i, a := range d.Attachments {
		p := fmt.Sprintf("AttachmentEncoded/Attachment[%d]", i+1)
		v.str(p+"/ContentId", a.ContentID, true, 200)
		v.str(p+"/AttachmentName", a.Name, true, 500)
		v.str(p+"/Description", a.Description, false, 500)
		v.str(p+"/ContentType", a.ContentType, true, 200)
		if j, dup := atts[a.ContentID]; dup && a.ContentID != "" {
			v.add(p+"/ContentId", fmt.Sprintf("is already used by Attachment[%d]", j), "cid:"+a.ContentID)
			continue
		}
		atts[a.ContentID] = i + 1
		if _, ok := refs[a.ContentID]; !ok && a.ContentID != "" {
			v.add(p+"/ContentId", "has no matching edXMLManifest/Reference", "cid:"+a.ContentID)
		}
	}
	for i, r := range d.Manifest {
		if _, ok := atts[r.ContentID]; !ok && r.ContentID != "" {
			v.add(fmt.Sprintf("edXMLBody/edXMLManifest/Reference[%d]/ContentId", i+1), "has no matching AttachmentEncoded/Attachment", "cid:"+r.ContentID)
		}
	}
}

func (v *validator) status(s *Status, p string) {
	v.org(p+"/From", s.From)
	v.responseFor(p+"/ResponseFor", s.ResponseFor, true)
	if s.StaffInfo != nil {
		v.staff(p+"/StaffInfo", s.StaffInfo)
	}
	switch {
	case s.StatusCode == "":
		v.add(p+"/StatusCode", "is required", "")
	case !s.StatusCode.Valid():
		v.add(p+"/StatusCode", "is not a status code ("+JoinCodes(StatusCodes())+")", string(s.StatusCode))
	}
	v.str(p+"/Description", s.Description, false, 0)
	if s.Timestamp.IsZero() {
		v.add(p+"/Timestamp", "is required", "")
	}
}

// isXMLChar reports whether r may appear in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
