package envelope

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// PeekPriority reads a package's priority from its header alone, so that
// a queue can order received packages without reading their attachments.
// Anything it cannot read counts as ordinary.
func PeekPriority(r io.Reader) Priority {
	h, err := PeekHeader(r)
	if err != nil {
		return PriorityNormal
	}
	return h.Priority
}

// Header is what routing a package needs, read from its header alone.
type Header struct {
	Kind        Kind
	From        string
	To          []string
	Subject     string
	Code        string // number/notation of a document
	StatusCode  StatusCode
	ResponseFor ResponseFor // of a status package
	Priority    Priority    // ordinary when absent or not a valid value
}

// PeekHeader reads a package's routing header, MessageHeader (or Bkav's
// Status), and stops there, so that a hub or a queue can route and order
// packages of any size in constant memory.
func PeekHeader(r io.Reader) (*Header, error) {
	dec := xml.NewDecoder(skipBOM(&limitedReader{r: r, max: 4 << 20}))
	var path []string
	var text strings.Builder
	h := &Header{}
	var number, notation string
	inHeader := false
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text.Reset()
			if n := len(path); n >= 2 && path[n-2] == "edXMLHeader" && (t.Name.Local == "MessageHeader" || t.Name.Local == "Status") {
				inHeader = true
			}
		case xml.CharData:
			if inHeader && text.Len() < 4096 {
				text.Write(t)
			}
		case xml.EndElement:
			n := len(path)
			if n == 0 {
				return nil, fmt.Errorf("%w: unbalanced end element", ErrSyntax)
			}
			v := strings.TrimSpace(text.String())
			if inHeader && n >= 2 {
				parent, leaf := path[n-2], path[n-1]
				switch {
				case parent == "From" && leaf == "OrganId":
					h.From = v
				case parent == "To" && leaf == "OrganId":
					h.To = append(h.To, v)
				case parent == "Code" && leaf == "CodeNumber":
					number = v
				case parent == "Code" && leaf == "CodeNotation":
					notation = v
				case parent == "ResponseFor" && leaf == "OrganId":
					h.ResponseFor.OrganID = v
				case parent == "ResponseFor" && leaf == "Code":
					h.ResponseFor.Code = v
				case parent == "ResponseFor" && leaf == "DocumentId":
					h.ResponseFor.DocumentID = v
				case leaf == "Subject" && (parent == "MessageHeader" || parent == "Status") && h.Subject == "":
					h.Subject = v // the first, as the reader takes it
				case parent == "OtherInfo" && leaf == "Priority":
					if p, err := strconv.Atoi(v); err == nil && Priority(p).Valid() {
						h.Priority = Priority(p)
					}
				case leaf == "StatusCode" && h.StatusCode == "":
					if len(v) == 1 && v[0] >= '0' && v[0] <= '9' {
						v = "0" + v // some peers write 5 for 05
					}
					h.StatusCode = StatusCode(v)
				}
			}
			// The header ends the read: what follows it is never looked at.
			if inHeader && n >= 2 && path[n-2] == "edXMLHeader" && (path[n-1] == "MessageHeader" || path[n-1] == "Status") {
				h.Kind = KindDocument
				if h.StatusCode != "" {
					h.Kind = KindStatus
				}
				if number != "" || notation != "" {
					h.Code = number + "/" + notation
				}
				if h.From == "" {
					return nil, fmt.Errorf("%w: MessageHeader/From/OrganId is missing", ErrNotEdXML)
				}
				return h, nil
			}
			path = path[:n-1]
			text.Reset()
		}
	}
}
