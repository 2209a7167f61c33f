// Package stacktest runs a development exchange inside a test: on a fake
// clock that moves only once the loops it woke have parked again, so a
// test's progress never depends on how busy the machine is.
package stacktest

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"lienthong/envelope/devca"
	"lienthong/gateway/clocktest"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// Start runs a stack on a fake clock with its logs in t.Log; it stops and
// closes it when the test ends.
func Start(t testing.TB, o devstack.Options) (*devstack.Stack, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New()
	o.Clock, o.NoSync, o.Dir = clock, true, t.TempDir()
	o.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	s, err := devstack.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("stack stopped before ready: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("stack not ready within a minute")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, clock
}

// hang bounds a wait for a condition: a guard against a hang, not a speed
// limit, for a loaded two-core machine.
const hang = 5 * time.Minute

// Step moves the clock by d, then waits until every loop it woke has
// parked on the clock again; it reports false when they had not after the
// hang guard.
func Step(clock *clocktest.Clock, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	parked := clock.Waiters()
	clock.Advance(d)
	return clock.AwaitWaiters(ctx, parked)
}

// Eventually moves the clock step by step, each time waiting for the loops
// to park, until cond holds.
func Eventually(t testing.TB, clock *clocktest.Clock, step time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) || !Step(clock, step) {
			t.Fatalf("timed out waiting for %s (fake clock at %v, %d loops parked)", what, clock.Now(), clock.Waiters())
		}
	}
}

// Memo is the metadata of an ordinary memo to the peer.
func Memo(subject string, priority int, files ...string) map[string]any {
	m := map[string]any{
		"to": []string{devstack.PeerCode}, "codeNumber": "152", "codeNotation": "SVD-VP",
		"promulgationDate": "2026-03-16", "documentType": map[string]any{"type": 1, "name": "Công văn"},
		"subject": subject, "priority": priority,
		"signer": map[string]string{"competence": "KT. Giám đốc", "position": "Phó Giám đốc", "fullName": "Trần Văn Mẫu"},
	}
	var atts []map[string]string
	for _, f := range files {
		atts = append(atts, map[string]string{"name": f, "description": "Tệp " + f})
	}
	if atts != nil {
		m["attachments"] = atts
	}
	return m
}

// Inbox is c's inbox items in state now.
func Inbox(t testing.TB, c *localapi.Client, state string) []localapi.InboxItem {
	t.Helper()
	items, err := c.Inbox(context.Background(), state, 0)
	if err != nil {
		t.Fatalf("Inbox(%s): %v", state, err)
	}
	return items
}

// WaitInbox waits until c's inbox holds n items in state and returns them.
func WaitInbox(t testing.TB, clock *clocktest.Clock, c *localapi.Client, state string, n int, what string) []localapi.InboxItem {
	t.Helper()
	var items []localapi.InboxItem
	Eventually(t, clock, 500*time.Millisecond, what, func() bool {
		items = Inbox(t, c, state)
		return len(items) == n
	})
	return items
}

// RecipientStatus is the status code of a document's one recipient.
func RecipientStatus(t testing.TB, c *localapi.Client, id string) string {
	t.Helper()
	d, err := c.Document(context.Background(), id)
	if err != nil {
		t.Fatalf("Document(%s): %v", id, err)
	}
	if len(d.Recipients) != 1 {
		t.Fatalf("Document(%s) recipients = %+v, want one", id, d.Recipients)
	}
	return d.Recipients[0].StatusCode
}

// NewAgencyKey makes a CA named after prefix and a key and certificate
// it issues for l, and writes all three as PEM files in dir.
func NewAgencyKey(t testing.TB, dir, prefix string, l devca.Leaf) (keyFile, certFile, caFile string) {
	t.Helper()
	ca, err := devca.NewCA(prefix+" CA", clocktest.Start)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(l, clocktest.Start)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile, caFile = filepath.Join(dir, prefix+".key"), filepath.Join(dir, prefix+".pem"), filepath.Join(dir, prefix+"-ca.pem")
	for f, b := range map[string]*pem.Block{
		keyFile: {Type: "PRIVATE KEY", Bytes: der}, certFile: {Type: "CERTIFICATE", Bytes: cert.Raw}, caFile: {Type: "CERTIFICATE", Bytes: ca.Cert.Raw},
	} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return keyFile, certFile, caFile
}

// Status is the HTTP status of a local API error; 0 for another error.
func Status(err error) int {
	var e *localapi.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Metrics is what the gateway's metrics listener at url exports now.
func Metrics(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
