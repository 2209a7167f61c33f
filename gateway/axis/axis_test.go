package axis_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/axis/axistest"
)

const (
	codeA   = "000.00.07.H26"
	codeB   = "000.00.00.G22"
	unknown = "000.00.99.H26"
)

var systems = []axishub.System{
	{SystemID: "00.53.W00", Secret: "bí mật A", Codes: []string{codeA}},
	{SystemID: "00.54.W00", Secret: "bí mật B", Codes: []string{codeB}},
}

var agencies = []axis.Agency{
	{Code: codeA, Name: "Sở Ví Dụ Hà Nội"},
	{Code: codeB, Name: "Văn phòng Chính phủ"},
}

// startHub serves a hub on a loopback port; dir keeps its store, so a
// second hub on the same dir is the first one restarted.
func startHub(t testing.TB, dir string, f axishub.Faults) (*axishub.Hub, string) {
	t.Helper()
	hub, err := axishub.Open(axishub.Options{Dir: dir, Systems: systems, Agencies: agencies, Faults: f, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hub}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		hub.Close()
	})
	return hub, "http://" + ln.Addr().String() + "/XrdAdapter/adapter"
}

func config(url string, i int) axis.Config {
	return axis.Config{Endpoint: url, SystemID: systems[i].SystemID, Secret: []byte(systems[i].Secret)}
}

func TestConformance(t *testing.T) {
	_, url := startHub(t, t.TempDir(), axishub.Faults{})
	axistest.Run(t, axistest.Env{Endpoint: url, A: config(url, 0), B: config(url, 1), CodeA: codeA, CodeB: codeB, Unknown: unknown})
}

func send(ctx context.Context, c *axis.Client, pkg []byte) (string, error) {
	return c.SendEdoc(ctx, axis.SendRequest{From: codeA, MessageType: axis.MessageEdoc, Upload: axis.BytesUpload("d.edxml", pkg)})
}

func TestFailureClasses(t *testing.T) {
	ctx := context.Background()
	hub, url := startHub(t, t.TempDir(), axishub.Faults{})
	a := axistest.Client(t, config(url, 0))
	pkg := axistest.Document(t, codeA, codeB)

	hub.SetFaults(axishub.Faults{ErrorRate: 1})
	_, err := send(ctx, a, pkg)
	if !errors.Is(err, axis.ErrRetryable) {
		t.Fatalf("HTTP 500: %v", err)
	}

	hub.SetFaults(axishub.Faults{OutageUntil: time.Now().Add(time.Hour)})
	if _, err := a.GetReceivedEdocList(ctx, axis.MessageEdoc); !errors.Is(err, axis.ErrRetryable) {
		t.Fatalf("HTTP 503: %v", err)
	}

	// The ambiguous case: the package arrived, the answer did not. The
	// sent list tells the caller not to send again.
	hub.SetFaults(axishub.Faults{DropAfterUpload: 1})
	_, err = send(ctx, a, pkg)
	if !errors.Is(err, axis.ErrAmbiguous) {
		t.Fatalf("dropped after upload: %v", err)
	}
	hub.SetFaults(axishub.Faults{})
	sent, err := a.GetSentEdocList(ctx, axis.MessageEdoc, "")
	if err != nil || len(sent) != 1 {
		t.Fatalf("the dropped send did arrive; sent list: %v %+v", err, sent)
	}

	// Slow answers: headers later than the client waits. A send whose
	// upload went out is ambiguous; a list call is simply retryable.
	hub.SetFaults(axishub.Faults{LatencyMin: 300 * time.Millisecond})
	slow := config(url, 0)
	slow.HeaderTimeout = 50 * time.Millisecond
	sc := axistest.Client(t, slow)
	if _, err := send(ctx, sc, pkg); !errors.Is(err, axis.ErrAmbiguous) {
		t.Fatalf("send with no answer in time: %v", err)
	}
	if _, err := sc.GetReceivedEdocList(ctx, axis.MessageEdoc); !errors.Is(err, axis.ErrRetryable) {
		t.Fatalf("list with no answer in time: %v", err)
	}
	hub.SetFaults(axishub.Faults{})

	// Nobody listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := send(ctx, axistest.Client(t, config(dead, 0)), pkg); !errors.Is(err, axis.ErrRetryable) {
		t.Fatalf("connection refused: %v", err)
	}
}

func TestHubDuplicateDeliveryAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	hub, url := startHub(t, dir, axishub.Faults{Duplicate: true})
	a, b := axistest.Client(t, config(url, 0)), axistest.Client(t, config(url, 1))
	id, err := send(ctx, a, axistest.Document(t, codeA, codeB))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
		t.Fatal(err)
	}
	list, _ := b.GetReceivedEdocList(ctx, axis.MessageEdoc)
	if len(list) != 1 || list[0].DocID != id {
		t.Fatalf("duplicate fault: want %s delivered again, got %+v", id, list)
	}
	second, err := send(ctx, a, axistest.Document(t, codeA, codeB))
	if err != nil {
		t.Fatal(err)
	}

	// Restart: a new hub on the same store still has both pending.
	hub.Close()
	_, url2 := startHub(t, dir, axishub.Faults{})
	b2 := axistest.Client(t, config(url2, 1))
	list, err = b2.GetReceivedEdocList(ctx, axis.MessageEdoc)
	if err != nil || len(list) != 2 || list[0].DocID != id || list[1].DocID != second {
		t.Fatalf("after restart: %v %+v", err, list)
	}
	got, err := b2.GetEdoc(ctx, second)
	if err != nil || !bytes.Contains(got, []byte("edXML")) {
		t.Fatalf("package after restart: %v", err)
	}
}

// TestSlowUploadTimesOutRetryable: a call cut off while the upload is still
// going cannot have been accepted, so it is retryable, not ambiguous.
func TestSlowUploadTimesOutRetryable(t *testing.T) {
	hub, url := startHub(t, t.TempDir(), axishub.Faults{})
	hub.SetFaults(axishub.Faults{SlowRead: 2000})
	cfg := config(url, 0)
	cfg.CallTimeout = 300 * time.Millisecond
	big := axistest.Document(t, codeA, codeB)
	// Past what loopback socket buffers hold: bytes handed to the kernel
	// count as sent, since the client cannot see whether they arrived.
	big = append(big, bytes.Repeat([]byte(" "), 32<<20)...)
	_, err := send(context.Background(), axistest.Client(t, cfg), big)
	if !errors.Is(err, axis.ErrRetryable) {
		t.Fatalf("timeout during a slow upload: %v", err)
	}
}

// TestTLSWithCustomCA: the client trusts the adapter through a CA file.
func TestTLSWithCustomCA(t *testing.T) {
	hub, err := axishub.Open(axishub.Options{Dir: t.TempDir(), Systems: systems, Agencies: agencies})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	srv := httptest.NewTLSServer(hub)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)

	cfg := config(srv.URL, 0)
	if _, err := axistest.Client(t, cfg).GetAgenciesList(context.Background()); err == nil {
		t.Fatal("an adapter with an unknown CA was trusted")
	}
	cfg.CAFile = caFile
	if list, err := axistest.Client(t, cfg).GetAgenciesList(context.Background()); err != nil || len(list) != 2 {
		t.Fatalf("with the CA: %v", err)
	}
}

// startRESTHub serves a hub speaking the REST dialect.
func startRESTHub(t testing.TB, f axishub.Faults) (*axishub.Hub, string) {
	t.Helper()
	hub, err := axishub.Open(axishub.Options{Dir: t.TempDir(), Systems: systems, Agencies: agencies, Faults: f, Seed: 1,
		Dialect: axis.DialectREST, Accounts: map[string]string{"quantri": "mật khẩu"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	t.Cleanup(func() {
		srv.Close()
		hub.Close()
	})
	return hub, srv.URL
}

func restConfig(url string, i int) axis.Config {
	c := config(url, i)
	c.Dialect = axis.DialectREST
	c.Token = axis.Token{User: "quantri", Password: "mật khẩu", Form: i == 1}
	return c
}

func TestConformanceREST(t *testing.T) {
	hub, url := startRESTHub(t, axishub.Faults{})
	axistest.Run(t, axistest.Env{Endpoint: url, A: restConfig(url, 0), B: restConfig(url, 1), CodeA: codeA, CodeB: codeB, Unknown: unknown, Revoke: hub.RevokeTokens})
}

// TestFailureClassesREST: a system error of the REST dialect is retried,
// an upload whose answer is lost may have landed.
func TestFailureClassesREST(t *testing.T) {
	ctx := context.Background()
	hub, url := startRESTHub(t, axishub.Faults{})
	a := axistest.RESTClient(t, restConfig(url, 0))
	up := axis.BytesUpload("d.edxml", axistest.Document(t, codeA, codeB))
	hub.SetFaults(axishub.Faults{ErrorRate: 1})
	_, err := a.SendEdoc(ctx, axis.SendRequest{Upload: up})
	var ae *axis.Error
	if !errors.Is(err, axis.ErrRetryable) || !errors.As(err, &ae) || ae.Code != "20" {
		t.Fatalf("LGSP system error: %v, want retryable code 20", err)
	}
	hub.SetFaults(axishub.Faults{DropAfterUpload: 1})
	if _, err := a.SendEdoc(ctx, axis.SendRequest{Upload: up}); !errors.Is(err, axis.ErrAmbiguous) {
		t.Fatalf("connection dropped after the upload was stored: %v, want ambiguous", err)
	}
	hub.SetFaults(axishub.Faults{OutageUntil: time.Now().Add(time.Hour)})
	if _, err := a.GetReceivedEdocList(ctx, axis.MessageEdoc); !errors.Is(err, axis.ErrRetryable) {
		t.Fatalf("outage: %v, want retryable", err)
	}
}

// TestRESTTokenAnswers: the token is read wherever the answers seen put
// it, and a data object without one leaves a bare one standing.
func TestRESTTokenAnswers(t *testing.T) {
	for _, answer := range []string{
		`{"access_token":"T","expires_in":1800}`,
		`{"code":0,"data":"T"}`,
		`{"code":0,"data":{"accessToken":"T"}}`,
		`{"code":"200","token":"T","data":{"user":"quantri"}}`,
	} {
		var got string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/login" {
				w.Write([]byte(answer))
				return
			}
			got = r.Header.Get("Authorization")
			w.Write([]byte(`{"code":0,"data":[]}`))
		}))
		c, err := axis.NewREST(axis.Config{Endpoint: srv.URL, SystemID: "S", Secret: []byte("s"), Token: axis.Token{User: "u", Password: "p"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetReceivedEdocList(context.Background(), axis.MessageEdoc); err != nil || got != "Bearer T" {
			t.Errorf("login answer %s: %v, Authorization %q", answer, err, got)
		}
		srv.Close()
	}
}
