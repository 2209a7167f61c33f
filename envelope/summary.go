package envelope

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
)

// Summary is the short account of a package that operators and the legacy
// system see: `lienthong envelope inspect` prints it, and the verifier prints
// the same computed from the verified content.
type Summary struct {
	Kind                  string              `json:"kind"` // "document" or "status"
	DocumentID            string              `json:"documentId"`
	From                  string              `json:"from"`
	To                    []string            `json:"to"` // a status goes to ResponseFor/OrganId
	CodeNumber            string              `json:"codeNumber"`
	CodeNotation          string              `json:"codeNotation"`
	Subject               string              `json:"subject"`
	Priority              int                 `json:"priority"`
	BusinessDocType       int                 `json:"businessDocType"`
	StatusCode            string              `json:"statusCode,omitempty"`
	ResponseForDocumentID string              `json:"responseForDocumentId,omitempty"`
	Attachments           []AttachmentSummary `json:"attachments"`
	Signed                bool                `json:"signed"`
	// SignaturePlaceholder: a Signature element outside the XML-DSig
	// namespace, which signs nothing.
	SignaturePlaceholder bool `json:"signaturePlaceholder,omitempty"`
	// Targets are the documents a revocation, update or replacement acts on.
	Targets []string `json:"targets,omitempty"`
}

// AttachmentSummary describes an attachment by the bytes carried in the
// package (after base64, before any unzip), so its hash matches what the
// sender's system recorded.
type AttachmentSummary struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"` // -1 when its file is unreadable
	SHA256      string `json:"sha256"`
}

// Summary returns the package's summary.
func (p *Package) Summary() Summary {
	s := Summary{Kind: p.Kind.String(), To: []string{}, Attachments: []AttachmentSummary{}, Signed: p.Signed, SignaturePlaceholder: p.SignaturePlaceholder}
	switch {
	case p.Document != nil:
		h := &p.Document.Header
		s.DocumentID = h.DocumentID
		s.From = h.From.OrganID
		for _, t := range h.To {
			s.To = append(s.To, t.OrganID)
		}
		s.CodeNumber, s.CodeNotation = h.Code.CodeNumber, h.Code.CodeNotation
		s.Subject = h.Subject
		s.Priority = int(h.OtherInfo.Priority)
		if b := p.Document.Business; b != nil {
			s.BusinessDocType = int(b.DocType)
		}
		s.Targets = p.Document.Targets()
		for _, a := range p.Document.Attachments {
			n, sum := a.size, a.sum
			if sum == nil {
				h := sha256.New()
				n = -1
				if r, err := a.Open(); err == nil {
					n, _ = io.Copy(h, r)
					r.Close()
				}
				sum = h.Sum(nil)
			}
			s.Attachments = append(s.Attachments, AttachmentSummary{
				Name: a.Name, ContentType: a.ContentType, Size: n, SHA256: hex.EncodeToString(sum),
			})
		}
	case p.Status != nil:
		st := p.Status
		s.From = st.From.OrganID
		if st.ResponseFor.OrganID != "" {
			s.To = append(s.To, st.ResponseFor.OrganID)
		}
		s.StatusCode = string(st.StatusCode)
		s.ResponseForDocumentID = st.ResponseFor.DocumentID
	}
	return s
}
