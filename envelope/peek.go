package envelope

import (
	"bytes"
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
	dec := xml.NewDecoder(skipBOM(&limitedReader{r: r, max: 1 << 20}))
	var path []string
	var text strings.Builder
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return PriorityNormal
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text.Reset()
		case xml.CharData:
			if text.Len() < 16 {
				text.Write(bytes.TrimSpace(t))
			}
		case xml.EndElement:
			n := len(path)
			switch {
			case n == 0:
				return PriorityNormal
			case n >= 3 && path[n-1] == "Priority" && path[n-2] == "OtherInfo" && path[n-3] == "MessageHeader":
				p, err := strconv.Atoi(text.String())
				if err != nil || !Priority(p).Valid() {
					return PriorityNormal
				}
				return Priority(p)
			case path[n-1] == "MessageHeader":
				return PriorityNormal
			}
			path = path[:n-1]
		}
	}
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
}

// PeekHeader reads a package's routing header without reading its body
// or attachments, so that a hub or a queue can route and order packages of
// any size in constant memory.
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
				case leaf == "StatusCode" && h.StatusCode == "":
					if len(v) == 1 && v[0] >= '0' && v[0] <= '9' {
						v = "0" + v // some peers write 5 for 05
					}
					h.StatusCode = StatusCode(v)
				}
			}
			if path[n-1] == "edXMLHeader" {
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
