package envelope

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// ParseOptions tune Parse. The zero value is the default.
type ParseOptions struct {
	Limits Limits
	// Unzip replaces each zipped attachment (ContentType application/zip
	// around a file that is not itself a zip) by the file inside it.
	Unzip bool
	// Validate, when set, receives the options for the rule check Parse runs
	// after decoding; nil means the defaults.
	Validate *ValidateOptions

	// FileDir is where a package read by offset (ParseAt, VerifyAt,
	// OpenInboundAt) puts the contents of large attachments, one file each,
	// named by Attachment.Path; it is made when first needed, and the
	// caller removes it. Empty holds them in memory.
	FileDir string

	// splices are the long texts of a package read by offset, left in
	// its file; nil for a package read whole.
	splices *splices
	// noData leaves attachment contents undecoded: what a package claims
	// before its signature is checked needs its header, not its files.
	noData bool
}

// Parse reads an edXML package. A package that cannot be read at all (not
// XML, DOCTYPE, over a limit, not edXML) returns a nil Package and an error
// matching ErrSyntax, ErrDTD, ErrLimit or ErrNotEdXML; one without an
// envelope or header returns a nil Package and Problems. A package that
// reads but breaks rules returns the Package together with Problems, which
// list every broken rule.
func Parse(r io.Reader, opts ParseOptions) (*Package, error) {
	doc, err := readTree(r, opts.Limits)
	if err != nil {
		return nil, err
	}
	return Decode(doc.Root(), opts)
}

// ParseBytes is Parse over a byte slice.
func ParseBytes(b []byte, opts ParseOptions) (*Package, error) {
	return Parse(bytes.NewReader(b), opts)
}

// Decode turns an already read edXML root element into a Package. The
// signature verifier calls it on the canonical tree that was verified, so the
// fields read are exactly the fields signed.
func Decode(root *etree.Element, opts ParseOptions) (*Package, error) {
	if root == nil || root.Tag != "edXML" {
		name := ""
		if root != nil {
			name = root.Tag
		}
		return nil, fmt.Errorf("%w: root element is <%s>, want <edXML>", ErrNotEdXML, name)
	}
	d := &decoder{opts: opts}
	pkg := d.pkg(root)
	if d.err != nil {
		return nil, d.err
	}
	if pkg == nil {
		return nil, d.probs.err()
	}
	if opts.Unzip && pkg.Document != nil {
		max := opts.Limits.withDefaults().MaxBytes
		for i := range pkg.Document.Attachments {
			a := &pkg.Document.Attachments[i]
			if err := a.unzipInPlace(max); err != nil {
				d.probs.add(fmt.Sprintf("AttachmentEncoded/Attachment[%d]/ContentTransferEncoded", i+1), "cannot be unzipped: "+err.Error(), "")
			}
		}
	}
	vo := ValidateOptions{}
	if opts.Validate != nil {
		vo = *opts.Validate
	}
	for _, p := range pkg.validate(vo) {
		if !d.reported(p.Path) {
			d.probs = append(d.probs, p)
		}
	}
	return pkg, d.probs.err()
}

// decoder collects the problems met while turning the tree into the model.
type decoder struct {
	opts  ParseOptions
	probs Problems
	err   error // a failure to write a file, which is not the package's fault
}

func (d *decoder) reported(path string) bool {
	for _, p := range d.probs {
		if p.Path == path || strings.HasPrefix(path, p.Path+"/") {
			return true
		}
	}
	return false
}

// one returns the single child with the given local name, or nil. More than
// one is a problem: a duplicated header element is how signature-wrapping
// attacks hide a second value, so it is never resolved by picking one.
func (d *decoder) one(el *etree.Element, path string, names ...string) *etree.Element {
	var found []*etree.Element
	for _, c := range el.ChildElements() {
		for _, n := range names {
			if c.Tag == n {
				found = append(found, c)
			}
		}
	}
	if len(found) > 1 {
		d.probs.add(path+"/"+found[0].Tag, fmt.Sprintf("appears %d times, at most once is allowed", len(found)), "")
	}
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

// all returns the children with the given local names, in order.
func all(el *etree.Element, names ...string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		for _, n := range names {
			if c.Tag == n {
				out = append(out, c)
			}
		}
	}
	return out
}

// text is the element's own character data with comments skipped and
// surrounding white space trimmed, so "000.00.<!--x-->00.G12" reads as
// "000.00.00.G12".
func text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return strings.Trim(b.String(), " \t\r\n")
}

func (d *decoder) str(el *etree.Element, path, name string) string {
	return text(d.one(el, path, name))
}

func (d *decoder) pkg(root *etree.Element) *Package {
	env := d.one(root, "", "edXMLEnvelope")
	if env == nil {
		d.probs.add("edXMLEnvelope", "is required", "")
		return nil
	}
	hdr := d.one(env, "", "edXMLHeader")
	if hdr == nil {
		d.probs.add("edXMLHeader", "is required", "")
		return nil
	}
	pkg := &Package{}
	for _, s := range all(hdr, "Signature") {
		if s.NamespaceURI() == DSigNamespace {
			pkg.Signed = true
		} else {
			pkg.SignaturePlaceholder = true
		}
	}
	if len(all(hdr, "Signature")) > 1 {
		d.probs.add("edXMLHeader/Signature", fmt.Sprintf("appears %d times, at most once is allowed", len(all(hdr, "Signature"))), "")
	}
	mh := d.one(hdr, "edXMLHeader", "MessageHeader", "Status")
	if mh == nil {
		d.probs.add("edXMLHeader/MessageHeader", "is required", "")
		return nil
	}
	if mh.Tag == "Status" || (d.one(mh, "", "StatusCode") != nil && len(all(mh, "To")) == 0) {
		pkg.Kind = KindStatus
		pkg.Status = d.status(mh, "edXMLHeader/MessageHeader")
		return pkg
	}
	pkg.Kind = KindDocument
	doc := &Document{Header: d.header(mh, "edXMLHeader/MessageHeader")}
	if thl := d.one(hdr, "edXMLHeader", "TraceHeaderList"); thl != nil {
		d.trace(thl, "edXMLHeader/TraceHeaderList", doc)
	}
	if body := d.one(env, "", "edXMLBody"); body != nil {
		if man := d.one(body, "edXMLBody", "edXMLManifest"); man != nil {
			for i, r := range all(man, "Reference") {
				doc.Manifest = append(doc.Manifest, d.reference(r, fmt.Sprintf("edXMLBody/edXMLManifest/Reference[%d]", i+1)))
			}
		}
	}
	if enc := d.one(root, "", "AttachmentEncoded"); enc != nil {
		for i, a := range all(enc, "Attachment") {
			doc.Attachments = append(doc.Attachments, d.attachment(a, fmt.Sprintf("AttachmentEncoded/Attachment[%d]", i+1)))
		}
	}
	pkg.Document = doc
	return pkg
}

func (d *decoder) header(mh *etree.Element, path string) MessageHeader {
	h := MessageHeader{
		Subject:    d.str(mh, path, "Subject"),
		Content:    d.str(mh, path, "Content"),
		DocumentID: d.str(mh, path, "DocumentId"),
	}
	if f := d.one(mh, path, "From"); f != nil {
		h.From = d.org(f, path+"/From")
	}
	for i, t := range all(mh, "To") {
		h.To = append(h.To, d.org(t, fmt.Sprintf("%s/To[%d]", path, i+1)))
	}
	if c := d.one(mh, path, "Code"); c != nil {
		h.Code = Code{CodeNumber: d.str(c, path+"/Code", "CodeNumber"), CodeNotation: d.str(c, path+"/Code", "CodeNotation")}
	}
	if p := d.one(mh, path, "PromulgationInfo"); p != nil {
		pp := path + "/PromulgationInfo"
		h.PromulgationInfo = PromulgationInfo{
			Place:            d.str(p, pp, "Place"),
			PromulgationDate: d.date(d.one(p, pp, "PromulgationDate"), pp+"/PromulgationDate"),
		}
	}
	if t := d.one(mh, path, "DocumentType"); t != nil {
		tp := path + "/DocumentType"
		h.DocumentType = DocumentType{
			Type:       d.intOr(d.one(t, tp, "Type"), tp+"/Type", 0),
			TypeDetail: d.optInt(d.one(t, tp, "TypeDetail"), tp+"/TypeDetail"),
			TypeName:   d.str(t, tp, "TypeName"),
		}
	}
	if s := d.one(mh, path, "SignerInfo"); s != nil {
		sp := path + "/SignerInfo"
		h.SignerInfo = &SignerInfo{Competence: d.str(s, sp, "Competence"), Position: d.str(s, sp, "Position"), FullName: d.str(s, sp, "FullName")}
	}
	h.DueDate = d.date(d.one(mh, path, "DueDate"), path+"/DueDate")
	if tp := d.one(mh, path, "ToPlaces"); tp != nil {
		for _, p := range all(tp, "Place") {
			h.ToPlaces = append(h.ToPlaces, text(p))
		}
	}
	if o := d.one(mh, path, "OtherInfo"); o != nil {
		h.OtherInfo = d.otherInfo(o, path+"/OtherInfo")
	}
	for i, r := range all(mh, "ResponseFor") {
		h.ResponseFor = append(h.ResponseFor, d.responseFor(r, fmt.Sprintf("%s/ResponseFor[%d]", path, i+1)))
	}
	h.SteeringType = SteeringType(d.intOr(d.one(mh, path, "SteeringType"), path+"/SteeringType", 0))
	return h
}

func (d *decoder) org(el *etree.Element, path string) Organization {
	return Organization{
		OrganID:              d.str(el, path, "OrganId"),
		OrganizationInCharge: d.str(el, path, "OrganizationInCharge"),
		OrganName:            d.str(el, path, "OrganName"),
		OrganAdd:             d.str(el, path, "OrganAdd"),
		Email:                d.str(el, path, "Email"),
		Telephone:            d.str(el, path, "Telephone"),
		Fax:                  d.str(el, path, "Fax"),
		Website:              d.str(el, path, "Website"),
	}
}

func (d *decoder) otherInfo(el *etree.Element, path string) OtherInfo {
	o := OtherInfo{
		Priority:             Priority(d.intOr(d.one(el, path, "Priority"), path+"/Priority", 0)),
		SphereOfPromulgation: d.str(el, path, "SphereOfPromulgation"),
		TyperNotation:        d.str(el, path, "TyperNotation"),
		PromulgationAmount:   d.optInt(d.one(el, path, "PromulgationAmount"), path+"/PromulgationAmount"),
		PageAmount:           d.optInt(d.one(el, path, "PageAmount"), path+"/PageAmount"),
	}
	if a := d.one(el, path, "Appendixes"); a != nil {
		for _, ap := range all(a, "Appendix") {
			if s := text(ap); s != "" {
				o.Appendixes = append(o.Appendixes, s)
			}
		}
	}
	if dir := d.one(el, path, "Direction"); dir != nil && text(dir) != "" {
		v, err := strconv.ParseBool(text(dir))
		if err != nil {
			d.probs.add(path+"/Direction", "is not a boolean", text(dir))
		} else {
			o.Direction = &v
		}
	}
	return o
}

func (d *decoder) responseFor(el *etree.Element, path string) ResponseFor {
	return ResponseFor{
		OrganID:          d.str(el, path, "OrganId"),
		Code:             d.str(el, path, "Code"),
		PromulgationDate: d.date(d.one(el, path, "PromulgationDate"), path+"/PromulgationDate"),
		DocumentID:       d.str(el, path, "DocumentId"),
	}
}

func (d *decoder) trace(el *etree.Element, path string, doc *Document) {
	for i, th := range all(el, "TraceHeader") {
		p := fmt.Sprintf("%s/TraceHeader[%d]", path, i+1)
		doc.Trace = append(doc.Trace, TraceHeader{
			OrganID:   d.str(th, p, "OrganId"),
			Timestamp: d.timestamp(d.one(th, p, "Timestamp"), p+"/Timestamp"),
		})
	}
	b := d.one(el, path, "Bussiness", "Business")
	if b == nil {
		return
	}
	bp := path + "/" + b.Tag
	bus := &Business{
		DocType:    BusinessType(d.intOr(d.one(b, bp, "BussinessDocType", "BusinessDocType"), bp+"/BussinessDocType", 0)),
		Reason:     text(d.one(b, bp, "BussinessDocReason", "BusinessDocReason")),
		DocumentID: d.str(b, bp, "DocumentId"),
		Paper:      d.optInt(d.one(b, bp, "Paper"), bp+"/Paper"),
	}
	if info := d.one(b, bp, "BussinessDocumentInfo", "BusinessDocumentInfo"); info != nil {
		ip := bp + "/" + info.Tag
		bi := &BusinessDocumentInfo{DocumentInfo: d.str(info, ip, "DocumentInfo"), DocumentReceiver: d.str(info, ip, "DocumentReceiver")}
		if rl := d.one(info, ip, "ReceiverList"); rl != nil {
			for i, r := range all(rl, "Receiver") {
				rp := fmt.Sprintf("%s/ReceiverList/Receiver[%d]", ip, i+1)
				bi.Receivers = append(bi.Receivers, Receiver{
					OrganID:      d.str(r, rp, "OrganId"),
					ReceiverType: d.intOr(d.one(r, rp, "ReceiverType"), rp+"/ReceiverType", 0),
				})
			}
		}
		bus.DocumentInfo = bi
	}
	if s := d.one(b, bp, "StaffInfo"); s != nil {
		bus.StaffInfo = d.staff(s, bp+"/StaffInfo")
	}
	if rl := d.one(b, bp, "ReplacementInfoList"); rl != nil {
		for i, r := range all(rl, "ReplacementInfo") {
			rp := fmt.Sprintf("%s/ReplacementInfoList/ReplacementInfo[%d]", bp, i+1)
			ri := ReplacementInfo{DocumentID: d.str(r, rp, "DocumentId")}
			if ol := d.one(r, rp, "OrganIdList"); ol != nil {
				for _, o := range all(ol, "OrganId") {
					ri.OrganIDs = append(ri.OrganIDs, text(o))
				}
			}
			bus.ReplacementInfo = append(bus.ReplacementInfo, ri)
		}
	}
	doc.Business = bus
}

func (d *decoder) staff(el *etree.Element, path string) *StaffInfo {
	return &StaffInfo{
		Department: d.str(el, path, "Department"),
		Staff:      d.str(el, path, "Staff"),
		Mobile:     d.str(el, path, "Mobile"),
		Email:      d.str(el, path, "Email"),
	}
}

func (d *decoder) reference(el *etree.Element, path string) Reference {
	return Reference{
		ContentID:   stripCID(d.str(el, path, "ContentId")),
		ContentType: d.str(el, path, "ContentType"),
		Description: d.str(el, path, "Description"),
		Name:        d.str(el, path, "AttachmentName"),
	}
}

func (d *decoder) attachment(el *etree.Element, path string) Attachment {
	a := Attachment{
		ContentID:   stripCID(d.str(el, path, "ContentId")),
		Name:        d.str(el, path, "AttachmentName"),
		Description: d.str(el, path, "Description"),
		ContentType: d.str(el, path, "ContentType"),
	}
	enc := d.one(el, path, "ContentTransferEncoded")
	if enc == nil {
		d.probs.add(path+"/ContentTransferEncoded", "is required", "")
		return a
	}
	if d.opts.noData {
		return a
	}
	txt := text(enc)
	if d.opts.splices.contains([]byte(txt)) {
		d.external(&a, txt, path)
		return a
	}
	data, err := decodeBase64(txt)
	if err != nil {
		d.probs.add(path+"/ContentTransferEncoded", "is not valid base64", "")
		return a
	}
	a.Data = data
	return a
}

func (d *decoder) status(mh *etree.Element, path string) *Status {
	s := &Status{
		StatusCode:  StatusCode(d.str(mh, path, "StatusCode")),
		Description: d.str(mh, path, "Description"),
		Timestamp:   d.timestamp(d.one(mh, path, "Timestamp"), path+"/Timestamp"),
	}
	if len(s.StatusCode) == 1 && s.StatusCode[0] >= '0' && s.StatusCode[0] <= '9' {
		s.StatusCode = "0" + s.StatusCode // some peers write 5 for 05
	}
	if f := d.one(mh, path, "From"); f != nil {
		s.From = d.org(f, path+"/From")
	}
	if r := d.one(mh, path, "ResponseFor"); r != nil {
		s.ResponseFor = d.responseFor(r, path+"/ResponseFor")
	}
	if st := d.one(mh, path, "StaffInfo"); st != nil {
		s.StaffInfo = d.staff(st, path+"/StaffInfo")
	}
	return s
}

// intOr reads an integer element; absent or empty gives def.
func (d *decoder) intOr(el *etree.Element, path string, def int) int {
	p := d.optInt(el, path)
	if p == nil {
		return def
	}
	return *p
}

func (d *decoder) optInt(el *etree.Element, path string) *int {
	s := text(el)
	if s == "" {
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		d.probs.add(path, "is not a whole number", s)
		return nil
	}
	return &v
}

// dateLayouts are the date forms accepted on input; writing uses the first.
var dateLayouts = []string{dateLayout, "02/01/2006", "2006-01-02"}

func (d *decoder) date(el *etree.Element, path string) Date {
	s := text(el)
	if s == "" {
		return Date{}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return DateOf(t)
		}
	}
	d.probs.add(path, "is not a date in the form yyyy/MM/dd", s)
	return Date{}
}

var timestampLayouts = []string{timestampLayout, "02/01/2006 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

func (d *decoder) timestamp(el *etree.Element, path string) time.Time {
	s := text(el)
	if s == "" {
		return time.Time{}
	}
	for _, l := range timestampLayouts {
		if t, err := time.ParseInLocation(l, s, Vietnam); err == nil {
			return t
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(Vietnam)
	}
	d.probs.add(path, "is not a timestamp in the form yyyy/MM/dd HH:mm:ss", s)
	return time.Time{}
}

// stripCID normalises a content id: "cid:209", "<209>" and "209" all give "209".
func stripCID(s string) string {
	if len(s) >= 4 && strings.EqualFold(s[:4], "cid:") {
		s = s[4:]
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
}

// decodeBase64 accepts base64 broken into lines and surrounded by white
// space, with or without padding.
func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	enc := base64.StdEncoding
	if len(clean)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	return enc.DecodeString(clean)
}
