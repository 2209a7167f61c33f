package axis

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readDataAnswer reads an answer whose "data" is one base64 string,
// decoding that string into w as it arrives and keeping the other fields:
// getEdoc's package never exists whole in memory, as JSON or as bytes.
func readDataAnswer(r io.Reader, w io.Writer) (*Answer, int64, error) {
	raw, n, err := readData(r, w, "data")
	n = max(n, 0)
	if err != nil {
		return nil, n, err
	}
	var a Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, n, err
	}
	return &a, n, nil
}

// readData reads a JSON answer whose base64 package is the string at path
// (data for the SDK wire, data.data for the REST dialect), decoding it into
// w as it arrives; it returns the answer with that string left out, and -1
// for the size when there was no such string.
func readData(r io.Reader, w io.Writer, path ...string) (json.RawMessage, int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	n := int64(-1)
	var walk func(depth int) (map[string]json.RawMessage, error)
	walk = func(depth int) (map[string]json.RawMessage, error) {
		if err := expect(br, '{'); err != nil {
			return nil, err
		}
		rest := map[string]json.RawMessage{}
		for {
			c, err := nextNonSpace(br)
			if err != nil {
				return nil, err
			}
			if c == '}' {
				return rest, nil
			}
			if c == ',' {
				continue
			}
			if c != '"' {
				return nil, fmt.Errorf("answer: a key expected, got %q", c)
			}
			key, err := readString(br)
			if err != nil {
				return nil, err
			}
			if err := expect(br, ':'); err != nil {
				return nil, err
			}
			c, err = nextNonSpace(br)
			if err != nil {
				return nil, err
			}
			br.UnreadByte()
			last := depth == len(path)-1
			switch {
			case key == path[depth] && c == '{' && !last:
				inner, err := walk(depth + 1)
				if err != nil {
					return nil, err
				}
				rest[key], _ = json.Marshal(inner)
				continue
			case key == path[depth] && c == '"' && last:
				br.ReadByte()
				n, err = io.Copy(w, base64.NewDecoder(base64.StdEncoding, &stringReader{r: br}))
				if err != nil {
					return nil, fmt.Errorf("%s: %w", strings.Join(path, "."), err)
				}
				continue
			}
			raw, err := readValue(br)
			if err != nil {
				return nil, err
			}
			rest[key] = raw
		}
	}
	rest, err := walk(0)
	if err != nil {
		return nil, n, err
	}
	b, err := json.Marshal(rest)
	return b, n, err
}

func nextNonSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !strings.ContainsRune(" \t\r\n", rune(c)) {
			return c, nil
		}
	}
}

func expect(br *bufio.Reader, want byte) error {
	c, err := nextNonSpace(br)
	if err != nil {
		return err
	}
	if c != want {
		return fmt.Errorf("answer: %q expected, got %q", want, c)
	}
	return nil
}

// readString reads a short JSON string after its opening quote.
func readString(br *bufio.Reader) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		b.WriteByte(c)
		if c == '\\' {
			c, err = br.ReadByte()
			if err != nil {
				return "", err
			}
			b.WriteByte(c)
			continue
		}
		if c == '"' {
			break
		}
		if b.Len() > 1<<20 {
			return "", errors.New("answer: a string over 1 MiB")
		}
	}
	var s string
	err := json.Unmarshal([]byte(b.String()), &s)
	return s, err
}

// readValue reads one JSON value other than the package, bounded.
func readValue(br *bufio.Reader) (json.RawMessage, error) {
	var b []byte
	depth, inString, escaped := 0, false, false
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		if len(b) > 16<<20 {
			return nil, errors.New("answer: a value over 16 MiB")
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				br.UnreadByte()
				return b, nil
			}
			depth--
		case c == ',' && depth == 0:
			br.UnreadByte()
			return b, nil
		}
		b = append(b, c)
	}
}

// stringReader reads a JSON string's content up to its closing quote,
// undoing the one escape base64 text can carry (\/).
type stringReader struct {
	r    *bufio.Reader
	done bool
}

func (s *stringReader) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		c, err := s.r.ReadByte()
		if err != nil {
			return n, io.ErrUnexpectedEOF
		}
		switch c {
		case '"':
			s.done = true
			return n, nil
		case '\\':
			e, err := s.r.ReadByte()
			if err != nil {
				return n, io.ErrUnexpectedEOF
			}
			if e != '/' {
				return n, fmt.Errorf("data: escape \\%c in base64", e)
			}
			c = '/'
		}
		p[n] = c
		n++
	}
	return n, nil
}
