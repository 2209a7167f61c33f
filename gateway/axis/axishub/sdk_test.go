package axishub

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axistest"
)

// sdkRequest is one request of ../testdata/sdk-wire.txt, recorded from the
// axis SDK: headers with their names as sent, the body summarised.
type sdkRequest struct {
	method, op string
	headers    [][2]string
	bodyLen    int
}

func readSDKWire(t *testing.T) []sdkRequest {
	t.Helper()
	f, err := os.Open("../testdata/sdk-wire.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sdkRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== "):
			f := strings.Fields(line)
			out = append(out, sdkRequest{method: f[1], op: f[2][strings.LastIndexByte(f[2], '/')+1:]})
		case strings.HasPrefix(line, "-- body "):
			fmt.Sscanf(line, "-- body %d bytes", &out[len(out)-1].bodyLen)
		case len(out) > 0 && strings.Contains(line, ": "):
			k, v, _ := strings.Cut(line, ": ")
			out[len(out)-1].headers = append(out[len(out)-1].headers, [2]string{k, v})
		}
	}
	if len(out) < 12 {
		t.Fatalf("read %d recorded requests, want every operation", len(out))
	}
	return out
}

// sdkHub is a hub knowing the recording's two systems and their secrets,
// with its clock a day after the recording: the SDK's timestamps are
// accepted at any age.
func sdkHub(t *testing.T) *Hub {
	t.Helper()
	h, err := Open(Options{
		Dir: t.TempDir(), Seed: 1,
		Now: func() time.Time { return time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC) },
		Systems: []System{
			// The recording registers an agency elsewhere in the tree, as
			// the axis operator's own system may.
			{SystemID: "00.53.W00", Secret: "secret-A=<&'>", Codes: []string{"000.00.07.H26"}, Operator: true},
			{SystemID: "00.99.W00", Secret: "secret-B", Codes: []string{"000.00.00.G22"}},
		},
		Agencies: []axis.Agency{{Code: "000.00.07.H26", Name: "A"}, {Code: "000.00.00.G22", Name: "B"}, {Code: "000.00.00.H26", Name: "Hà Nội"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func (r sdkRequest) build(body io.Reader) *http.Request {
	req := httptest.NewRequest(r.method, "/XrdAdapter/adapter/"+r.op, body)
	for _, h := range r.headers {
		req.Header[h[0]] = append(req.Header[h[0]], h[1]) // names as the SDK wrote them
	}
	return req
}

// Every recorded request authenticates: the HMAC over the sign-header as
// sent verifies with the recorded secret, each signed header is there,
// in the SDK's order and case.
func TestSDKRequestsAuthenticate(t *testing.T) {
	h := sdkHub(t)
	for _, r := range readSDKWire(t) {
		t.Run(r.op, func(t *testing.T) {
			sys, hdr, err := h.authenticate(r.build(nil))
			if err != nil {
				t.Fatalf("authenticate: %v", err)
			}
			if sys.SystemID == "" || hdr["timestamp"] == "" {
				t.Errorf("system %q, fields %v", sys.SystemID, hdr)
			}
		})
	}
}

// Every operation but sendEdoc (whose body the recording only sums up)
// answers the recorded request with status, ErrorCode and ErrorDesc, in
// ASCII; the ones needing no package answer OK.
func TestSDKRequestsAnswered(t *testing.T) {
	h := sdkHub(t)
	for _, r := range readSDKWire(t) {
		if r.op == "sendEdoc" {
			continue
		}
		t.Run(r.op, func(t *testing.T) {
			var body io.Reader
			if r.bodyLen == 2 {
				body = strings.NewReader("{}")
			}
			if r.op == "registerAgency" {
				body = strings.NewReader(`{"id":"","pcode":"000.00.00.H26","code":"000.01.07.H26","name":"Phòng thử","mail":"p@example.vn","mobile":"","fax":""}`)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r.build(body))
			raw := w.Body.Bytes()
			if r.op == "downloadEdoc" && w.Header().Get("Content-Type") == "application/octet-stream" {
				t.Fatalf("downloadEdoc of docId null gave a package")
			}
			var a map[string]any
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, raw)
			}
			for _, k := range []string{"status", "ErrorCode", "ErrorDesc"} {
				if _, ok := a[k]; !ok {
					t.Errorf("answer lacks %s: %s", k, raw)
				}
			}
			for _, c := range raw {
				if c >= 0x80 {
					t.Fatalf("answer is not ASCII: %s", raw)
				}
			}
			docless := r.op != "getEdoc" && r.op != "downloadEdoc" && r.op != "updateStatus" && r.op != "deleteAgency"
			if docless && a["status"] != "OK" {
				t.Errorf("answer %s, want OK", raw)
			}
		})
	}
}

// sdkSend is a sendEdoc request as the SDK writes it, signed with the
// recording's secret, carrying pkg in the given form.
func sdkSend(t *testing.T, pkg []byte, stamp string, multipartForm bool) *http.Request {
	t.Helper()
	sum := sha256.Sum256(pkg)
	fields := []axis.Field{{Name: "systemid", Value: "00.53.W00"}, {Name: "servicetype", Value: "eDoc"}, {Name: "messagetype", Value: "edoc"},
		{Name: "hash-file", Value: axis.HashFile(sum, false)}, {Name: "from", Value: "000.00.07.H26"},
		{Name: "timestamp", Value: stamp}, {Name: "Content-Type", Value: "application/octet-stream"}}
	sh := axis.Sign([]byte("secret-A=<&'>"), fields)
	body, ctype := append(bytes.Clone(pkg), '\r', '\n'), "application/octet-stream"
	if multipartForm {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile(axis.FilePart, "d.edxml")
		w.Write(pkg)
		mw.Close()
		body, ctype = b.Bytes(), mw.FormDataContentType()
	}
	req := httptest.NewRequest("POST", "/XrdAdapter/adapter/sendEdoc", bytes.NewReader(body))
	for k, v := range sh.Headers {
		req.Header[k] = []string{v}
	}
	req.Header[axis.HeaderSign] = []string{sh.SignHeader}
	req.Header[axis.HeaderSignKey] = []string{sh.SignKeys}
	req.Header[axis.HeaderHash] = []string{sh.Hash}
	req.Header.Set("Content-Type", ctype)
	return req
}

// The SDK's send is accepted in its raw form, from a JVM in any zone and
// with a stamp made hours before; the multipart form of older clients is
// accepted too. The package stored is the file, without the CRLF.
func TestSDKSendForms(t *testing.T) {
	pkg := axistest.Document(t, "000.00.07.H26", "000.00.00.G22")
	tests := []struct {
		name      string
		stamp     string
		multipart bool
	}{
		{"raw, Vietnam zone", "29112026T220635+0320", false},
		{"raw, stamped in UTC hours earlier", "29112026T150635+0320", false},
		{"multipart", "30112026T050000+0000", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdkHub(t)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, sdkSend(t, pkg, tt.stamp, tt.multipart))
			var a map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a["status"] != "OK" || a["DocId"] == "" || a["ErrorDesc"] != "Thanh cong" {
				t.Fatalf("answer %s (%v)", w.Body.Bytes(), err)
			}
			src, err := h.fetch(System{Codes: []string{"000.00.00.G22"}}, a["DocId"])
			if err != nil {
				t.Fatal(err)
			}
			stored, err := io.ReadAll(src)
			src.Close()
			if err != nil || !bytes.Equal(stored, pkg) {
				t.Fatalf("stored %d bytes (%v), want the %d of the package without the CRLF", len(stored), err, len(pkg))
			}
		})
	}
}

// A refused send still names DocId, empty, which the SDK reads whatever
// the status; a wrong hash-file is refused.
func TestSDKSendRefusalCarriesDocId(t *testing.T) {
	h := sdkHub(t)
	req := sdkSend(t, []byte("<edXML/>"), "29112026T220635+0320", false)
	req.Body = io.NopCloser(strings.NewReader("<other/>\r\n"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var a map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a["status"] != "FAIL" {
		t.Fatalf("answer %s, want FAIL", w.Body.Bytes())
	}
	if id, ok := a["DocId"]; !ok || id != "" {
		t.Errorf("FAIL answer DocId = %v (present %v), want an empty DocId", id, ok)
	}
}

// With a replay window set, a stamp outside it is refused.
func TestReplayWindowOptIn(t *testing.T) {
	h := sdkHub(t)
	h.opts.Window = 5 * time.Minute
	h.opts.Now = func() time.Time { return time.Date(2026, 11, 29, 22, 6, 35, 0, envelope.Vietnam) }
	if _, _, err := h.authenticate(sdkSend(t, []byte("x"), "29112026T220635+0320", false)); err != nil {
		t.Errorf("a fresh stamp was refused: %v", err)
	}
	if _, _, err := h.authenticate(sdkSend(t, []byte("x"), "29112026T150635+0320", false)); err == nil {
		t.Error("a stamp seven hours off passed the replay window")
	}
}
