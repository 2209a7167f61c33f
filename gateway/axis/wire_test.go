package axis_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axistest"
)

var update = flag.Bool("update", false, "rewrite the wire goldens")

// TestHMACVector pins the header signature to a value computed outside Go:
//
//	printf '%s' '{"XroadVnpt-from":"000.00.07.H26","XroadVnpt-systemid":"00.53.W00"}' |
//	    openssl dgst -sha256 -hmac secret
func TestHMACVector(t *testing.T) {
	sh := axis.Sign([]byte("secret"), []axis.Field{{Name: "from", Value: "000.00.07.H26"}, {Name: "systemid", Value: "00.53.W00"}})
	if sh.SignHeader != `{"XroadVnpt-from":"000.00.07.H26","XroadVnpt-systemid":"00.53.W00"}` || sh.SignKeys != "from;systemid" {
		t.Fatalf("sign-header %s, keys %s", sh.SignHeader, sh.SignKeys)
	}
	if want := "c61c56a40af38c3e71245f8f2b69f34b68323dd629f0aff297fe788dfa74f58b"; sh.Hash != want {
		t.Fatalf("HMAC %s, want %s", sh.Hash, want)
	}
}

func TestHashFileUnpadded(t *testing.T) {
	var sum [32]byte
	sum[0], sum[1], sum[31] = 0x0a, 0xff, 0x00
	got := axis.HashFile(sum, false)
	// 0x0a is "a", 0xff "ff", each zero byte a single "0".
	if want := "aff" + strings.Repeat("0", 30); got != want {
		t.Fatalf("unpadded %q", got)
	}
	if p := axis.HashFile(sum, true); p != hex.EncodeToString(sum[:]) {
		t.Fatalf("padded %q", p)
	}
}

func TestTimestampForm(t *testing.T) {
	at := time.Date(2025, 3, 14, 10, 5, 12, 7e6, envelope.Vietnam)
	if s := axis.FormatTimestamp(at); s != "14032025T100512+0007" {
		t.Fatalf("timestamp %q", s)
	}
	back, err := axis.ParseTimestamp("14032025T100512+0007")
	if err != nil || !back.Equal(at) {
		t.Fatalf("parse: %v %v", back, err)
	}
}

// recorder is an HTTP server that keeps each request exactly as it came
// off the wire, header names and order included, and answers OK.
type recorder struct {
	ln   net.Listener
	reqs chan rawRequest
}

type rawRequest struct {
	line    string
	headers []string // "Name: value" as sent
	body    []byte
}

func newRecorder(t *testing.T) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, reqs: make(chan rawRequest, 1)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *recorder) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	tp := textproto.NewReader(br)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		req := rawRequest{line: line}
		n := 0
		for {
			h, err := tp.ReadLine()
			if err != nil {
				return
			}
			if h == "" {
				break
			}
			req.headers = append(req.headers, h)
			if k, v, _ := strings.Cut(h, ": "); strings.EqualFold(k, "Content-Length") {
				n, _ = strconv.Atoi(v)
			}
		}
		req.body = make([]byte, n)
		if _, err := io.ReadFull(br, req.body); err != nil {
			return
		}
		r.reqs <- req
		answer := `{"status":"OK","ErrorCode":"0","ErrorDesc":"ok","DocId":"d1","count":"3","data":[]}`
		if strings.Contains(line, "/getEdoc") {
			answer = `{"status":"OK","ErrorCode":"0","ErrorDesc":"ok","data":"PGVkWE1MLz4="}`
		}
		if strings.Contains(line, "/downloadEdoc") {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 9\r\n\r\n<edXML/>\n")
			continue
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
	}
}

// render writes a request with its volatile parts named: the timestamp
// (inside the signed JSON too), the HMAC and the multipart boundary. It
// checks the HMAC first, with crypto/hmac over the received sign-header.
func render(t *testing.T, secret []byte, req rawRequest) string {
	t.Helper()
	hdr := map[string]string{}
	for _, h := range req.headers {
		k, v, _ := strings.Cut(h, ": ")
		hdr[k] = v
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(hdr["XroadVnpt-sign-header"]))
	if got, want := hdr["XroadVnpt-hash-header"], hex.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("hash-header %s, HMAC of the sign-header is %s", got, want)
	}
	ts := hdr["XroadVnpt-timestamp"]
	var b strings.Builder
	b.WriteString(req.line + "\n")
	lines := append([]string(nil), req.headers...)
	sort.Strings(lines)
	boundary := ""
	for _, h := range lines {
		k, v, _ := strings.Cut(h, ": ")
		switch k {
		case "XroadVnpt-hash-header":
			v = "<HMAC>"
		case "Host":
			v = "<HOST>"
		case "Content-Type":
			if mt, p, err := mime.ParseMediaType(v); err == nil && mt == "multipart/form-data" {
				boundary = p["boundary"]
			}
		}
		if ts != "" {
			v = strings.ReplaceAll(v, ts, "<TIMESTAMP>")
		}
		if boundary != "" {
			v = strings.ReplaceAll(v, boundary, "<BOUNDARY>")
		}
		b.WriteString(k + ": " + v + "\n")
	}
	b.WriteString("\n")
	switch {
	case boundary != "":
		mr := multipart.NewReader(strings.NewReader(string(req.body)), boundary)
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(p)
			sum := sha256.Sum256(data)
			fmt.Fprintf(&b, "part %q filename %q, Content-Type %s, %d bytes, sha256 %x\n", p.FormName(), p.FileName(), p.Header.Get("Content-Type"), len(data), sum)
			fmt.Fprintf(&b, "hash-file matches the part (unpadded): %v\n", hdr["XroadVnpt-hash-file"] == axis.HashFile(sum, false))
		}
	case len(req.body) > 0:
		b.WriteString(string(req.body) + "\n")
	default:
		b.WriteString("(no body)\n")
	}
	return b.String()
}

var stampRE = regexp.MustCompile(`^\d{8}T\d{6}\+\d{4}$`)

// TestWireGolden compares each operation's request with testdata/wire.
func TestWireGolden(t *testing.T) {
	rec := newRecorder(t)
	cfg := axis.Config{Endpoint: "http://" + rec.ln.Addr().String() + "/XrdAdapter/adapter", SystemID: "00.53.W00", Secret: []byte("secret")}
	c := axistest.Client(t, cfg)
	ctx := context.Background()
	pkg := axistest.Document(t, codeA, codeB)
	ops := []struct {
		name string
		call func() error
	}{
		{"sendEdoc", func() error {
			_, err := c.SendEdoc(ctx, axis.SendRequest{From: codeA, MessageType: axis.MessageEdoc, Upload: axis.BytesUpload("cong-van.edxml", pkg)})
			return err
		}},
		{"sendEdoc-status-to", func() error {
			_, err := c.SendEdoc(ctx, axis.SendRequest{From: codeA, MessageType: axis.MessageStatus, To: []string{codeB}, Upload: axis.BytesUpload("status.edxml", axistest.Status(t, codeA, codeB, "01"))})
			return err
		}},
		{"getReceivedEdocList", func() error { _, err := c.GetReceivedEdocList(ctx, axis.MessageEdoc); return err }},
		{"getEdoc", func() error { _, err := c.GetEdoc(ctx, "d1"); return err }},
		{"downloadEdoc", func() error { _, err := c.DownloadEdoc(ctx, "d1", io.Discard); return err }},
		{"updateStatus", func() error { return c.UpdateStatus(ctx, "d1", axis.StatusDone) }},
		{"getSentEdocList", func() error { _, err := c.GetSentEdocList(ctx, axis.MessageEdoc, "d1"); return err }},
		{"countReceiveEdoc", func() error { _, err := c.CountReceiveEdoc(ctx); return err }},
		{"countReceiveStatus", func() error { _, err := c.CountReceiveStatus(ctx); return err }},
		{"getAgenciesList", func() error { _, err := c.GetAgenciesList(ctx); return err }},
		{"getSynchronizeUnit", func() error { _, err := c.GetSynchronizeUnit(ctx); return err }},
		{"registerAgency", func() error {
			return c.RegisterAgency(ctx, axis.Registration{Code: "000.01.99.H26", Parent: codeA, Name: "Phòng thử nghiệm", Mail: "thu@example.vn"})
		}},
		{"deleteAgency", func() error { return c.DeleteAgency(ctx, "000.01.99.H26") }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			if err := op.call(); err != nil {
				t.Fatal(err)
			}
			req := <-rec.reqs
			for _, h := range req.headers {
				if k, v, _ := strings.Cut(h, ": "); k == "XroadVnpt-timestamp" && !stampRE.MatchString(v) {
					t.Errorf("timestamp %q is not ddMMyyyyTHHmmss+SSSS", v)
				}
			}
			got := render(t, cfg.Secret, req)
			path := filepath.Join("testdata", "wire", op.name+".txt")
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("request differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}
