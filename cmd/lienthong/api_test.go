package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// devStack runs the development exchange on real time for the CLI.
func devStack(t *testing.T) *devstack.Stack {
	t.Helper()
	s, _ := stoppableStack(t, t.TempDir())
	return s
}

// stoppableStack is devStack in dir, with what stops it before the test
// ends (it is stopped then otherwise).
func stoppableStack(t *testing.T, dir string) (*devstack.Stack, func()) {
	t.Helper()
	s, err := devstack.Open(devstack.Options{Dir: dir, NoSync: true, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done; s.Close() }) }
	t.Cleanup(stop)
	return s, stop
}

func TestSendStatusInboxOverTheAPI(t *testing.T) {
	s := devStack(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(s.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api := []string{"--api", s.Client.Base, "--token-file", tokenFile}
	code, out, errOut := lienthong(t, "", append(append([]string{"send"}, api...),
		"--metadata", "../../docs/examples/cong-van.json", "../../docs/examples/cong-van-152.pdf")...)
	if code != 0 {
		t.Fatalf("send: exit %d\n%s", code, errOut)
	}
	var acc localapi.Accepted
	if err := json.Unmarshal([]byte(out), &acc); err != nil || acc.ID == "" {
		t.Fatalf("send printed %q, %v", out, err)
	}
	// The simulated peer answers 03 within seconds of real time.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, errOut = lienthong(t, "", append(append([]string{"status"}, api...), acc.ID)...)
		if code != 0 {
			t.Fatalf("status: exit %d\n%s", code, errOut)
		}
		var d localapi.Document
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Recipients) == 1 && d.Recipients[0].StatusCode == "03" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 03 within 30s: %s", out)
		}
		time.Sleep(50 * time.Millisecond) // polling the condition, bounded by the deadline
	}

	peerToken := filepath.Join(t.TempDir(), "peer-token")
	os.WriteFile(peerToken, []byte(s.PeerClient.Token), 0o600)
	peer := []string{"--api", s.PeerClient.Base, "--token-file", peerToken}
	code, out, _ = lienthong(t, "", append(append([]string{"inbox"}, peer...), "--state", "answered")...)
	if code != 0 || !strings.Contains(out, acc.DocumentID) {
		t.Fatalf("peer inbox: exit %d\n%s", code, out)
	}
	var items []localapi.InboxItem
	if err := json.Unmarshal([]byte(out), &items); err != nil || len(items) == 0 {
		t.Fatalf("peer inbox printed %q, %v", out, err)
	}
	// Flags after the words, as the help writes them; "-token-file" in the
	// single-dash form older scripts use.
	saved := filepath.Join(t.TempDir(), "saved.pdf")
	code, _, errOut = lienthong(t, "", "inbox", "get", items[0].ID, "1", "-o", saved, "--api", s.PeerClient.Base, "-token-file", peerToken)
	want, _ := os.ReadFile("../../docs/examples/cong-van-152.pdf")
	if got, _ := os.ReadFile(saved); code != 0 || !bytes.Equal(got, want) {
		t.Fatalf("inbox get ID 1 -o FILE: exit %d, %d bytes saved of %d\n%s", code, len(got), len(want), errOut)
	}
	// The item was answered 03: a 02 now is refused with the rule.
	code, _, errOut = lienthong(t, "", append(append([]string{"inbox", "answer", "--staff", "Văn thư"}, peer...), items[0].ID, "02")...)
	if code != 1 || !strings.Contains(errOut, "02 (refuse) cannot follow 03") {
		t.Fatalf("inbox answer 02 after 03: exit %d\n%s", code, errOut)
	}
	code, out, _ = lienthong(t, "", append(append([]string{"dir", "search"}, api...), "van phong chinh phu")...)
	if code != 0 || !strings.Contains(out, devstack.PeerCode) {
		t.Fatalf("dir search over the API: exit %d\n%s", code, out)
	}
	// A refusal names the field and the rule.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"to":["000.00.00.H99"],"codeNumber":"1","codeNotation":"X","promulgationDate":"2026-03-16","documentType":{"type":1,"name":"CV"},"subject":"s"}`), 0o600)
	code, _, errOut = lienthong(t, "", append(append([]string{"send"}, api...), "--metadata", bad)...)
	if code != 1 || !strings.Contains(errOut, "422") || !strings.Contains(errOut, "to[0]") {
		t.Fatalf("send of an unknown recipient: exit %d\n%s", code, errOut)
	}
}

func TestAPICommandsNeedAnAddress(t *testing.T) {
	t.Setenv("LIENTHONG_API", "")
	code, _, errOut := lienthong(t, "", "outbox")
	if code != 1 || !strings.Contains(errOut, "LIENTHONG_API") {
		t.Fatalf("outbox without an API: exit %d\n%s", code, errOut)
	}
}
