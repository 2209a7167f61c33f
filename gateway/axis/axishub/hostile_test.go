package axishub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axistest"
)

// The same signed sendEdoc twice, a replay or a retry after a lost
// answer, stores one package: the second call gets the first's DocId.
// Any change of the signed fields is a new call.
func TestReplayedSendStoresOnce(t *testing.T) {
	h := sdkHub(t)
	pkg := axistest.Document(t, "000.00.07.H26", "000.00.00.G22")
	send := func(stamp string) string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, sdkSend(t, pkg, stamp, false))
		var a map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a["status"] != "OK" {
			t.Fatalf("answer %s (%v)", w.Body.Bytes(), err)
		}
		return a["DocId"]
	}
	first, again := send("29112026T220635+0320"), send("29112026T220635+0320")
	if first != again {
		t.Errorf("a replayed send stored %s beside %s", again, first)
	}
	if other := send("29112026T220636+0320"); other == first {
		t.Error("a send signed at another time was taken as a replay")
	}
	items, err := h.received(System{Codes: []string{"000.00.00.G22"}}, axis.MessageEdoc)
	if err != nil || len(items) != 2 {
		t.Errorf("the recipient sees %d packages (%v), want 2: the replay stored nothing", len(items), err)
	}
}

// A system may register and delete only units under its own agencies: a
// neighbour cannot delete another's agency or move it under itself.
func TestDirectoryChangesOnlyOwnUnits(t *testing.T) {
	tests := []struct {
		sys          System
		code, parent string
		ok           bool
	}{
		{System{Codes: []string{"000.00.00.H29"}}, "000.00.00.G22", "", false},
		{System{Codes: []string{"000.00.00.H29"}}, "000.00.00.G22", "000.00.00.H29", false},
		{System{Codes: []string{"000.00.00.H29"}}, "000.00.00.H29", "", false},
		{System{Codes: []string{"000.00.00.H29"}}, "000.00.01.H29", "000.00.00.H29", true},
		{System{Codes: []string{"000.00.00.H29"}}, "000.00.01.H29", "000.00.00.H26", false},
		{System{Codes: []string{"000.00.00.H29"}}, "000.00.01.H26", "", false},
		{System{Codes: []string{"000.00.00.H29"}, Operator: true}, "000.00.00.G22", "000.00.00.H29", true},
	}
	for _, tt := range tests {
		err := mayChange(tt.sys, tt.code, tt.parent)
		if (err == nil) != tt.ok {
			t.Errorf("system of %v changing %s under %q: %v, want allowed %v", tt.sys.Codes, tt.code, tt.parent, err, tt.ok)
		}
	}
}

// Served as the daemon serves it, the hub keeps answering: a newcomer
// takes the place of an idle connection, an upload that stops coming is
// cut off, and uploads beyond the cap are told to come back.
func TestHubServerLimits(t *testing.T) {
	h := sdkHub(t)
	h.opts.BodyWait, h.opts.MaxUploads = 3*time.Second, 1
	h.uploads = make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := h.Server(ln, 16)
	go srv.Serve(capped)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	// Sixteen connections held between requests; a new client is served.
	hoard := &http.Transport{MaxIdleConnsPerHost: 16}
	done := make(chan struct{}, 16)
	for range 16 {
		go func() {
			// A request the hub holds: an upload that is still coming.
			pr, pw := io.Pipe()
			req, _ := http.NewRequest("POST", base+"/XrdAdapter/adapter/countReceiveEdoc", pr)
			go func() {
				pw.Write([]byte("{"))
				time.AfterFunc(100*time.Millisecond, func() { pw.Write([]byte("}")); pw.Close() })
			}()
			if resp, err := (&http.Client{Transport: hoard}).Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- struct{}{}
		}()
	}
	for range 16 {
		<-done
	}
	for deadline := time.Now().Add(time.Minute); capped.Len() != 16; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections held, want 16", capped.Len())
		}
		time.Sleep(10 * time.Millisecond) // polls the real server's count of connections; the count ends the wait
	}
	fresh := &http.Client{Transport: &http.Transport{}}
	resp, err := fresh.Post(base+"/XrdAdapter/adapter/getAgenciesList", "application/json", nil)
	if err != nil {
		t.Fatalf("with every connection held idle, a new client: %v", err)
	}
	resp.Body.Close()
	hoard.CloseIdleConnections()

	// An upload trickling nothing is cut off; the one slot is free again.
	pkg := axistest.Document(t, "000.00.07.H26", "000.00.00.G22")
	pr, pw := io.Pipe()
	slow := sdkSend(t, pkg, "29112026T220635+0320", false)
	req, _ := http.NewRequestWithContext(context.Background(), "POST", base+"/XrdAdapter/adapter/sendEdoc", pr)
	req.Header = slow.Header
	go pw.Write(pkg[:10]) // then nothing more
	took := make(chan error, 1)
	go func() {
		resp, err := fresh.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(b, []byte("FAIL")) {
				err = fmt.Errorf("answer %s", b)
			} else {
				err = errors.New(string(b))
			}
		}
		took <- err
	}()
	// Once the slow upload holds the one slot, a second is told to come
	// back.
	for deadline := time.Now().Add(time.Minute); len(h.uploads) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the slow upload never reached the hub")
		}
		time.Sleep(10 * time.Millisecond) // polls the hub's slots; the slot taken ends the wait
	}
	resp, err = fresh.Do(sdkSendTo(t, base, pkg))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "uploads") {
		t.Errorf("an upload beyond max uploads: %d %s, want 503 naming the uploads", resp.StatusCode, b)
	}
	select {
	case err := <-took:
		t.Logf("the trickling upload ended: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("an upload sending nothing was not cut off")
	}
	pw.Close()
	resp, err = fresh.Do(sdkSendTo(t, base, pkg))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the cut, an upload: %v %v", resp, err)
	}
	resp.Body.Close()
}

// sdkSendTo is sdkSend addressed to a served hub.
func sdkSendTo(t *testing.T, base string, pkg []byte) *http.Request {
	r := sdkSend(t, pkg, time.Now().Format("02012006T150405+0000"), false)
	req, _ := http.NewRequest("POST", base+r.URL.Path, r.Body)
	req.Header = r.Header
	return req
}
