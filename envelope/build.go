package envelope

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BuildOptions tune Build. The zero value writes attachments with their own
// MIME type, as the standard's sample does.
type BuildOptions struct {
	// Zip wraps each attachment in a one-file zip typed application/zip,
	// for peers built on the VNPT or Bkav libraries that expect it.
	Zip bool
	// Validate is passed to the rule check Build runs before writing.
	Validate ValidateOptions
}

// Build validates p and writes it as edXML. Nothing is written when p breaks
// a rule; the error is then Problems. The same package and options always
// give the same bytes.
func Build(w io.Writer, p *Package, opts BuildOptions) error {
	return build(w, p, opts, nil)
}

// sigSlot asks build for the layout a signature needs: a line of its own at
// the end of edXMLHeader holding sig, and, when canonical, no XML declaration
// and no final newline, so the output is the exclusive canonical form of the
// package with the signature taken out.
type sigSlot struct {
	canonical bool
	sig       []byte
	validated bool // the package passed validation in an earlier pass
}

func build(w io.Writer, p *Package, opts BuildOptions, slot *sigSlot) error {
	if p.Kind == KindDocument && p.Document != nil && len(p.Document.Manifest) == 0 {
		d := *p.Document
		d.Manifest = manifest(&d, d.Attachments, false)
		p = &Package{Kind: KindDocument, Document: &d}
	}
	if slot == nil || !slot.validated {
		if err := p.validate(opts.Validate).err(); err != nil {
			return err
		}
	}
	x := &xmlWriter{slot: slot}
	var bw *bufio.Writer
	if sw, ok := w.(stringWriter); ok {
		x.w = sw // already buffered, e.g. a bytes.Buffer
	} else {
		bw = bufio.NewWriterSize(w, 32<<10)
		x.w = bw
	}
	if slot == nil || !slot.canonical {
		x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	}
	x.raw(`<edXML xmlns="` + Namespace + `">` + "\n")
	x.depth = 1
	x.open(`edXMLEnvelope xmlns:edXML="` + Namespace + `"`)
	x.open("edXMLHeader")
	switch p.Kind {
	case KindDocument:
		if err := x.document(p.Document, opts); err != nil {
			return err
		}
	case KindStatus:
		x.status(p.Status)
		x.signature()
		x.close("edXMLHeader")
		x.close("edXMLEnvelope")
	}
	x.raw("</edXML>")
	if slot == nil || !slot.canonical {
		x.raw("\n")
	}
	if x.err != nil || bw == nil {
		return x.err
	}
	return bw.Flush()
}

// stringWriter is a writer that buffers itself.
type stringWriter interface {
	io.Writer
	io.StringWriter
}

// BuildBytes is Build into a byte slice.
func BuildBytes(p *Package, opts BuildOptions) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(buildSize(p))
	if err := Build(&buf, p, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildSize guesses the built size of p, to grow a buffer once.
func buildSize(p *Package) int {
	n := 8 << 10
	if p.Kind == KindDocument && p.Document != nil {
		for _, a := range p.Document.Attachments {
			n += int(a.Size())*4/3 + 1024
		}
	}
	return n
}

// DefaultDocumentID is the comma form the standard asks senders to use:
// issuer code, promulgation date, number/notation.
func (h *MessageHeader) DefaultDocumentID() string {
	return h.From.OrganID + "," + h.PromulgationInfo.PromulgationDate.String() + "," + h.Code.CodeNumber + "/" + h.Code.CodeNotation
}

// xmlWriter emits indented edXML. Element names are ours and need no
// escaping; text is escaped as canonical XML escapes it, with CR as &#xD; so
// that a signature computed over the output survives a re-read.
type xmlWriter struct {
	w     stringWriter
	depth int
	err   error
	slot  *sigSlot
}

// signature writes the signature line when a slot was asked for. The line's
// indent and newline stay when a verifier removes the element, so they are
// written around an empty slot too.
func (x *xmlWriter) signature() {
	if x.slot == nil {
		return
	}
	x.indent()
	if x.err == nil {
		_, x.err = x.w.Write(x.slot.sig)
	}
	x.raw("\n")
}

func (x *xmlWriter) raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

func (x *xmlWriter) indent() {
	for i := 0; i < x.depth; i++ {
		x.raw("  ")
	}
}

// name gives the element its prefix: everything inside the envelope is
// written edXML:-prefixed, the attachment section in the default namespace.
func (x *xmlWriter) name(tag string, prefixed bool) string {
	if prefixed {
		return "edXML:" + tag
	}
	return tag
}

func (x *xmlWriter) open(tag string) { x.openNS(tag, true) }

func (x *xmlWriter) openNS(tag string, prefixed bool) {
	x.indent()
	x.raw("<" + x.name(tag, prefixed) + ">\n")
	x.depth++
}

func (x *xmlWriter) close(tag string) { x.closeNS(tag, true) }

func (x *xmlWriter) closeNS(tag string, prefixed bool) {
	x.depth--
	x.indent()
	// An open tag may carry attributes; the close tag is the bare name.
	if i := strings.IndexByte(tag, ' '); i >= 0 {
		tag = tag[:i]
	}
	x.raw("</" + x.name(tag, prefixed) + ">\n")
}

func (x *xmlWriter) leafNS(tag, value string, prefixed bool) {
	x.indent()
	n := x.name(tag, prefixed)
	x.raw("<" + n + ">")
	x.text(value)
	x.raw("</" + n + ">\n")
}

// leaf writes a required element, even when empty.
func (x *xmlWriter) leaf(tag, value string) { x.leafNS(tag, value, true) }

// opt writes an optional element only when it has a value.
func (x *xmlWriter) opt(tag, value string) {
	if value != "" {
		x.leaf(tag, value)
	}
}

func (x *xmlWriter) optInt(tag string, v *int) {
	if v != nil {
		x.leaf(tag, strconv.Itoa(*v))
	}
}

func (x *xmlWriter) text(s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		x.raw(s[last:i])
		x.raw(esc)
		last = i + 1
	}
	x.raw(s[last:])
}

func (x *xmlWriter) org(tag string, o Organization) {
	x.open(tag)
	x.leaf("OrganId", o.OrganID)
	x.opt("OrganizationInCharge", o.OrganizationInCharge)
	x.opt("OrganName", o.OrganName)
	x.opt("OrganAdd", o.OrganAdd)
	x.opt("Email", o.Email)
	x.opt("Telephone", o.Telephone)
	x.opt("Fax", o.Fax)
	x.opt("Website", o.Website)
	x.close(tag)
}

func (x *xmlWriter) document(d *Document, opts BuildOptions) error {
	atts := d.Attachments
	if opts.Zip {
		atts = make([]Attachment, len(d.Attachments))
		for i, a := range d.Attachments {
			z, err := a.zipped()
			if err != nil {
				return fmt.Errorf("zip attachment %q: %w", a.Name, err)
			}
			atts[i] = z
		}
	}
	x.header(&d.Header)
	if len(d.Trace) > 0 || d.Business != nil {
		// Bussiness first, as the axis SDK's library writes it.
		x.open("TraceHeaderList")
		if d.Business != nil {
			x.business(d.Business)
		}
		for _, t := range d.Trace {
			x.open("TraceHeader")
			x.leaf("OrganId", t.OrganID)
			x.leaf("Timestamp", t.Timestamp.In(Vietnam).Format(timestampLayout))
			x.close("TraceHeader")
		}
		x.close("TraceHeaderList")
	}
	x.signature()
	x.close("edXMLHeader")
	x.open("edXMLBody")
	x.open(`edXMLManifest version="1.0"`)
	for _, r := range manifest(d, atts, opts.Zip) {
		x.open("Reference")
		x.leaf("ContentId", "cid:"+r.ContentID)
		x.opt("ContentType", r.ContentType)
		x.opt("Description", r.Description)
		x.opt("AttachmentName", r.Name)
		x.close("Reference")
	}
	x.close("edXMLManifest")
	x.close("edXMLBody")
	x.close("edXMLEnvelope")
	if len(atts) > 0 {
		x.openNS("AttachmentEncoded", false)
		for _, a := range atts {
			x.attachment(a)
		}
		x.closeNS("AttachmentEncoded", false)
	}
	return nil
}

// manifest is the document's manifest, derived from the attachments when the
// document has none; zipping retypes each entry as the attachment is.
func manifest(d *Document, atts []Attachment, zipped bool) []Reference {
	refs := d.Manifest
	if len(refs) == 0 {
		refs = make([]Reference, len(atts))
		for i, a := range atts {
			refs[i] = Reference{ContentID: a.ContentID, ContentType: a.ContentType, Description: a.Description, Name: a.Name}
		}
		return refs
	}
	if zipped {
		refs = append([]Reference(nil), refs...)
		for i := range refs {
			refs[i].ContentType = ContentTypeZip
		}
	}
	return refs
}

func (x *xmlWriter) attachment(a Attachment) {
	x.openNS("Attachment", false)
	x.leafNS("ContentId", "cid:"+a.ContentID, false)
	x.leafNS("AttachmentName", a.Name, false)
	if a.Description != "" {
		x.leafNS("Description", a.Description, false)
	}
	x.leafNS("ContentType", a.ContentType, false)
	x.indent()
	x.raw("<ContentTransferEncoded>")
	if x.err == nil {
		enc := base64.NewEncoder(base64.StdEncoding, x.w)
		var r io.ReadCloser
		if r, x.err = a.Open(); x.err == nil {
			_, x.err = io.Copy(enc, r)
			r.Close()
		}
		if x.err == nil {
			x.err = enc.Close()
		}
	}
	x.raw("</ContentTransferEncoded>\n")
	x.closeNS("Attachment", false)
}

func (x *xmlWriter) header(h *MessageHeader) {
	x.open("MessageHeader")
	x.org("From", h.From)
	for _, t := range h.To {
		x.org("To", t)
	}
	x.leaf("DocumentId", h.DocumentID)
	x.open("Code")
	x.leaf("CodeNumber", h.Code.CodeNumber)
	x.leaf("CodeNotation", h.Code.CodeNotation)
	x.close("Code")
	x.open("PromulgationInfo")
	x.opt("Place", h.PromulgationInfo.Place)
	x.leaf("PromulgationDate", h.PromulgationInfo.PromulgationDate.String())
	x.close("PromulgationInfo")
	x.open("DocumentType")
	x.leaf("Type", strconv.Itoa(h.DocumentType.Type))
	x.optInt("TypeDetail", h.DocumentType.TypeDetail)
	x.opt("TypeName", h.DocumentType.TypeName)
	x.close("DocumentType")
	x.leaf("Subject", h.Subject)
	x.opt("Content", h.Content)
	if s := h.SignerInfo; s != nil {
		x.open("SignerInfo")
		x.opt("Competence", s.Competence)
		x.opt("Position", s.Position)
		x.opt("FullName", s.FullName)
		x.close("SignerInfo")
	}
	x.opt("DueDate", h.DueDate.String())
	x.otherInfo(&h.OtherInfo)
	for _, r := range h.ResponseFor {
		x.responseFor(r)
	}
	x.leaf("SteeringType", strconv.Itoa(int(h.SteeringType)))
	// ToPlaces last, as both the standard's samples and the SDK write it.
	if len(h.ToPlaces) > 0 {
		x.open("ToPlaces")
		for _, p := range h.ToPlaces {
			x.leaf("Place", p)
		}
		x.close("ToPlaces")
	}
	x.close("MessageHeader")
}

func (x *xmlWriter) otherInfo(o *OtherInfo) {
	x.open("OtherInfo")
	x.leaf("Priority", strconv.Itoa(int(o.Priority)))
	x.opt("SphereOfPromulgation", o.SphereOfPromulgation)
	x.opt("TyperNotation", o.TyperNotation)
	x.optInt("PromulgationAmount", o.PromulgationAmount)
	x.optInt("PageAmount", o.PageAmount)
	if o.Direction != nil {
		x.leaf("Direction", strconv.FormatBool(*o.Direction))
	}
	if len(o.Appendixes) > 0 {
		x.open("Appendixes")
		for _, a := range o.Appendixes {
			x.leaf("Appendix", a)
		}
		x.close("Appendixes")
	}
	x.close("OtherInfo")
}

func (x *xmlWriter) responseFor(r ResponseFor) {
	x.open("ResponseFor")
	x.leaf("OrganId", r.OrganID)
	x.opt("Code", r.Code)
	x.leaf("DocumentId", r.DocumentID) // before the date, as the SDK's library writes it
	x.opt("PromulgationDate", r.PromulgationDate.String())
	x.close("ResponseFor")
}

func (x *xmlWriter) staff(s *StaffInfo) {
	x.open("StaffInfo")
	x.opt("Department", s.Department)
	x.opt("Staff", s.Staff)
	x.opt("Mobile", s.Mobile)
	x.opt("Email", s.Email)
	x.close("StaffInfo")
}

func (x *xmlWriter) business(b *Business) {
	// The order of the standard's samples.
	x.open("Bussiness")
	x.opt("DocumentId", b.DocumentID)
	x.leaf("BussinessDocType", strconv.Itoa(int(b.DocType)))
	x.opt("BussinessDocReason", b.Reason)
	x.optInt("Paper", b.Paper)
	if bi := b.DocumentInfo; bi != nil {
		x.open("BussinessDocumentInfo")
		x.opt("DocumentInfo", bi.DocumentInfo)
		x.opt("DocumentReceiver", bi.DocumentReceiver)
		if len(bi.Receivers) > 0 {
			x.open("ReceiverList")
			for _, r := range bi.Receivers {
				x.open("Receiver")
				x.leaf("OrganId", r.OrganID)
				x.leaf("ReceiverType", strconv.Itoa(r.ReceiverType))
				x.close("Receiver")
			}
			x.close("ReceiverList")
		}
		x.close("BussinessDocumentInfo")
	}
	if b.StaffInfo != nil {
		x.staff(b.StaffInfo)
	}
	if len(b.ReplacementInfo) > 0 {
		x.open("ReplacementInfoList")
		for _, r := range b.ReplacementInfo {
			x.open("ReplacementInfo")
			x.leaf("DocumentId", r.DocumentID)
			x.open("OrganIdList")
			for _, o := range r.OrganIDs {
				x.leaf("OrganId", o)
			}
			x.close("OrganIdList")
			x.close("ReplacementInfo")
		}
		x.close("ReplacementInfoList")
	}
	x.close("Bussiness")
}

func (x *xmlWriter) status(s *Status) {
	x.open("MessageHeader")
	x.org("From", s.From)
	x.responseFor(s.ResponseFor)
	if s.StaffInfo != nil {
		x.staff(s.StaffInfo)
	}
	x.leaf("StatusCode", string(s.StatusCode))
	x.opt("Description", s.Description)
	x.leaf("Timestamp", s.Timestamp.In(Vietnam).Format(timestampLayout))
	x.close("MessageHeader")
}
