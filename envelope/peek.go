package envelope

import (
	"bytes"
	"encoding/xml"
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
