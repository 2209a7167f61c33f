package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"lienthong/gateway/localapi"
)

// The crash suite runs the real daemon binary and kills it with SIGKILL
// while documents flow both ways; the whole development exchange (axis
// hub, our gateway and the peer) dies and restarts on the same state.

func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lienthongd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type child struct {
	cmd        *exec.Cmd
	api, peer  *localapi.Client
	agency, to string
}

// startDaemon runs "lienthongd -dev -state dir" and waits for its dev.env.
func startDaemon(t *testing.T, bin, dir string) *child {
	t.Helper()
	env := filepath.Join(dir, "dev.env")
	os.Remove(env)
	log, err := os.OpenFile(filepath.Join(dir, "daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "-dev", "-state", dir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := waitForEnv(t, env, 60*time.Second, func() string {
		cmd.Process.Kill()
		cmd.Wait()
		logText, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
		return string(logText)
	})
	return &child{cmd: cmd,
		api:    &localapi.Client{Base: v["LIENTHONG_API"], Token: v["LIENTHONG_TOKEN"]},
		peer:   &localapi.Client{Base: v["LIENTHONG_PEER_API"], Token: v["LIENTHONG_PEER_TOKEN"]},
		agency: v["LIENTHONG_AGENCY"], to: v["LIENTHONG_PEER"]}
}

func (d *child) kill(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()
}

// crashDoc is one document of the suite; out ones go from our gateway to
// the peer, in ones from the peer to us.
type crashDoc struct {
	n   int
	out bool
}

func (c crashDoc) metadata(to string) map[string]any {
	notation := "VP-DEN"
	if c.out {
		notation = "VP-DI"
	}
	return map[string]any{
		"to": []string{to}, "codeNumber": fmt.Sprint(c.n), "codeNotation": notation,
		"promulgationDate": "2026-03-16", "documentType": map[string]any{"type": 1, "name": "Công văn"},
		"subject": fmt.Sprintf("V/v thử mất điện %d", c.n), "priority": c.n % 4,
		"signer": map[string]string{"competence": "KT. Giám đốc", "position": "Phó Giám đốc", "fullName": "Trần Văn Mẫu"},
	}
}

func TestKill9MidLoadEveryDocumentOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the daemon: not with -short")
	}
	bin := buildDaemon(t)
	dir := t.TempDir()
	if d := os.Getenv("CRASH_DIR"); d != "" {
		dir = d
	}
	const perSide, rounds = 40, 10
	const batch = perSide / rounds
	var docs []crashDoc
	for i := range perSide {
		docs = append(docs, crashDoc{n: 100 + i, out: true}, crashDoc{n: 100 + i, out: false})
	}
	accepted := map[crashDoc]bool{}
	var mu sync.Mutex

	// submitAll hands every document not yet accepted to its gateway,
	// four at a time, until each was accepted or the daemon died. A
	// refused retry of an accepted document must name the same record.
	submitAll := func(d *child, upTo int) {
		var wg sync.WaitGroup
		work := make(chan crashDoc)
		for range 4 {
			wg.Go(func() {
				for c := range work {
					client, to := d.api, d.to
					if !c.out {
						client, to = d.peer, d.agency
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := client.Submit(ctx, c.metadata(to), nil)
					cancel()
					if err == nil {
						mu.Lock()
						accepted[c] = true
						mu.Unlock()
					}
				}
			})
		}
		for _, c := range docs[:upTo] {
			mu.Lock()
			done := accepted[c]
			mu.Unlock()
			if !done {
				work <- c
			}
		}
		close(work)
		wg.Wait()
	}

	for round := range rounds {
		d := startDaemon(t, bin, dir)
		go submitAll(d, 2*batch*(round+1))
		time.Sleep(time.Duration(100+rand.IntN(500)) * time.Millisecond) // the kill lands at a random point of the load
		d.kill(t)
		mu.Lock()
		t.Logf("round %d: killed with %d of %d documents accepted so far", round+1, len(accepted), len(docs))
		mu.Unlock()
	}

	d := startDaemon(t, bin, dir)
	defer d.kill(t)
	submitAll(d, len(docs))
	if len(accepted) != len(docs) {
		t.Fatalf("%d of %d documents accepted after the last restart", len(accepted), len(docs))
	}
	count := func(c *localapi.Client, notation string) map[string]int {
		items, err := c.Inbox(context.Background(), "", 0)
		if err != nil {
			t.Fatalf("inbox: %v", err)
		}
		seen := map[string]int{}
		for _, it := range items {
			if it.CodeNotation == notation {
				seen[it.CodeNumber]++
			}
		}
		return seen
	}
	deadline := time.Now().Add(90 * time.Second)
	var atPeer, atUs map[string]int
	for {
		atPeer, atUs = count(d.peer, "VP-DI"), count(d.api, "VP-DEN")
		if len(atPeer) == perSide && len(atUs) == perSide || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling for delivery, bounded by the deadline
	}
	for _, c := range docs {
		seen, where := atUs, "our inbox"
		if c.out {
			seen, where = atPeer, "the peer's inbox"
		}
		if n := seen[fmt.Sprint(c.n)]; n != 1 {
			t.Errorf("document %d (out %v) is in %s %d times, want exactly once", c.n, c.out, where, n)
		}
	}
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
		t.Logf("daemon log (last 4 KiB):\n%s", log[max(0, len(log)-4096):])
	}
}
