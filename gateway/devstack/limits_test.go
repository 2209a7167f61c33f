package devstack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
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

// With every connection busy, one beyond the cap is closed at once; with
// them held idle, as a client hoarding keep-alives holds them, a newcomer
// takes the place of the one idle longest, so the API still answers. A
// submission beyond the uploads in flight is answered 503 with
// Retry-After; neither holds back the API afterwards.
func TestConnectionAndUploadCaps(t *testing.T) {
	s, _ := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		c.API.MaxConnections, c.API.MaxUploads = 8, 1
	}})
	addr := strings.TrimPrefix(s.Client.Base, "http://")
	ctx, cancel := context.WithCancel(context.Background())
	// Eight long polls keep every connection busy.
	polls := make(chan error, 8)
	for range 8 {
		c := &localapi.Client{Base: s.Client.Base, Token: s.Token, HTTP: &http.Client{Transport: &http.Transport{}}}
		go func() { _, err := c.Inbox(ctx, localapi.InboxNew, 5*time.Minute); polls <- err }()
	}
	waitConns(t, s, 8)
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("a connection over the cap of busy ones was kept (read %d, %v)", n, err)
	}
	extra.Close()
	// The probes answer on the metrics listener whatever holds the API.
	if resp, err := http.Get(strings.TrimSuffix(s.MetricsURL, "/metrics") + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("readyz on the metrics listener with the API full: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	for range 8 {
		<-polls
	}
	waitConns(t, s, 0)

	// Eight connections held idle between requests: a newcomer is served.
	hoard := &http.Transport{MaxIdleConnsPerHost: 8}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := &localapi.Client{Base: s.Client.Base, Token: s.Token, HTTP: &http.Client{Transport: hoard}}
			c.Inbox(context.Background(), localapi.InboxNew, 1500*time.Millisecond)
		})
	}
	wg.Wait()
	waitConns(t, s, 8)
	fresh := &localapi.Client{Base: s.Client.Base, Token: s.Token, HTTP: &http.Client{Transport: &http.Transport{}}}
	if h, err := fresh.Ready(context.Background()); err != nil || !h.Ready {
		t.Fatalf("with every slot hoarded idle, a new client's readyz: %+v, %v", h, err)
	}
	hoard.CloseIdleConnections()

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

// waitConns waits until our API holds n connections open.
func waitConns(t *testing.T, s *devstack.Stack, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		got := openConns(s)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API holds %d connections, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond) // polls the real server's count of its connections; the count ends the wait
	}
}

// openConns is how many connections our API holds open, from its metrics.
func openConns(s *devstack.Stack) int {
	resp, err := http.Get(s.MetricsURL)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "lienthong_api_connections "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return -1
}
