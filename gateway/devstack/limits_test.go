package devstack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/devstack"
)

// rawSubmit posts a hand-made multipart body and returns the status.
func rawSubmit(t *testing.T, s *devstack.Stack, body io.Reader, ctype string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.Client.Base+"/v1/documents", body)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every malformed submission is refused with the field, never 500.
func TestMalformedSubmissions(t *testing.T) {
	s, _ := start(t, devstack.Options{ManualPeer: true})
	form := func(parts ...[2]string) (io.Reader, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, p := range parts {
			if strings.HasPrefix(p[0], "file:") {
				w, _ := mw.CreateFormFile("file", strings.TrimPrefix(p[0], "file:"))
				w.Write([]byte(p[1]))
				continue
			}
			mw.WriteField(p[0], p[1])
		}
		mw.Close()
		return &b, mw.FormDataContentType()
	}
	good := `{"to":["000.00.00.G22"],"codeNumber":"1","codeNotation":"VP","promulgationDate":"2026-03-16","documentType":{"type":1},"subject":"V/v"}`
	tests := []struct {
		name  string
		parts [][2]string
		code  int
		field string
	}{
		{"not JSON", [][2]string{{"metadata", "{"}}, 422, "metadata"},
		{"unknown field", [][2]string{{"metadata", `{"subjet":"x"}`}}, 422, "subjet"},
		{"deep", [][2]string{{"metadata", strings.Repeat("[", 10000)}}, 422, "metadata"},
		{"two metadata parts", [][2]string{{"metadata", good}, {"metadata", good}}, 422, "metadata"},
		{"free-form documentId", [][2]string{{"metadata", strings.Replace(good, `"subject"`, `"documentId":"../../etc/passwd","subject"`, 1)}}, 422, "documentId"},
		{"unknown recipient, refused before the files", [][2]string{{"metadata", strings.Replace(good, "000.00.00.G22", "000.00.00.H99", 1)}, {"file:big.pdf", strings.Repeat("x", 1<<20)}}, 422, "to[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ctype := form(tt.parts...)
			code, answer := rawSubmit(t, s, body, ctype)
			if code != tt.code || !strings.Contains(answer, `"field":"`+tt.field+`"`) {
				t.Errorf("%d %s, want %d naming %s", code, answer, tt.code, tt.field)
			}
		})
	}
	parts := [][2]string{{"metadata", good}}
	for i := range 257 {
		parts = append(parts, [2]string{fmt.Sprintf("file:f%d.pdf", i), "%PDF"})
	}
	body, ctype := form(parts...)
	if code, answer := rawSubmit(t, s, body, ctype); code != 422 || !strings.Contains(answer, "at most 256") {
		t.Errorf("257 files: %d %s, want 422", code, answer)
	}
}

// Connections beyond the cap are closed at once, and a submission beyond
// the uploads in flight is answered 503 with Retry-After; neither holds
// back the API afterwards.
func TestConnectionAndUploadCaps(t *testing.T) {
	s, _ := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		c.API.MaxConnections, c.API.MaxUploads = 8, 1
	}})
	addr := strings.TrimPrefix(s.Client.Base, "http://")
	var idle []net.Conn
	for range 8 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("a connection over the cap was kept (read %d, %v)", n, err)
	}
	extra.Close()
	for _, c := range idle {
		c.Close()
	}
	// The server frees the slots as it sees the connections go: wait for
	// an answer before going on.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := s.Client.Ready(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the API did not answer after the idle connections closed")
		}
		time.Sleep(10 * time.Millisecond) // waiting for the server to notice the closes; the answer ends the wait
	}

	// One upload in flight, held open; the next is told to come back.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan int, 1)
	go func() {
		code, _ := rawSubmit(t, s, pr, mw.FormDataContentType())
		done <- code
	}()
	mw.WriteField("metadata", `{"to":["000.00.00.G22"],"codeNumber":"1","codeNotation":"VP","promulgationDate":"2026-03-16","documentType":{"type":1},"subject":"V/v chậm"}`)
	fw, _ := mw.CreateFormFile("file", "slow.pdf")
	fw.Write(bytes.Repeat([]byte("x"), 1024))
	var code int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		req, _ := http.NewRequest("POST", s.Client.Base+"/v1/documents", strings.NewReader(""))
		req.Header.Set("Authorization", "Bearer "+s.Token)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if code = resp.StatusCode; code == 503 {
			if resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			break
		}
		time.Sleep(10 * time.Millisecond) // the slow upload has not reached the handler yet; the status, not this, ends the wait
	}
	if code != 503 {
		t.Errorf("a submission beyond max_uploads got %d, want 503", code)
	}
	mw.Close()
	pw.Close()
	if got := <-done; got != 202 {
		t.Errorf("the slow upload got %d, want 202", got)
	}
	if h, err := s.Client.Ready(context.Background()); err != nil || !h.Ready {
		t.Errorf("readyz after the caps: %+v, %v", h, err)
	}
}
