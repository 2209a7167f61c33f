package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/localapi"
)

// tourBlocks are the shell blocks of the README's five-minute tour.
func tourBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start, end := strings.Index(text, "## A five-minute tour"), strings.Index(text, "## What is here")
	if start < 0 || end < start {
		t.Fatal("README has no five-minute tour")
	}
	var blocks []string
	for _, part := range strings.Split(text[start:end], "```sh\n")[1:] {
		blocks = append(blocks, part[:strings.Index(part, "```")])
	}
	return blocks
}

// expectations are the key/value pairs the tour's comments promise, such
// as "state":"sent": values without dots, which do not change from run to
// run.
var promised = regexp.MustCompile(`"[A-Za-z0-9\[\]]+":"[^".]*"`)

// The README's tour runs as written against a -dev daemon: every block
// exits 0 and prints what its comments say, the recall's 15 arrives.
func TestReadmeTour(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("the tour needs curl: %v", err)
	}
	blocks := tourBlocks(t)
	if len(blocks) < 6 || !strings.Contains(blocks[0], "lienthongd -dev -state /tmp/lt") {
		t.Fatalf("the tour changed shape (%d blocks); update this test with it", len(blocks))
	}
	bin := filepath.Join(t.TempDir(), "lienthong")
	if out, err := exec.Command("go", "build", "-o", bin, "lienthong/cmd/lienthong").CombinedOutput(); err != nil {
		t.Fatalf("build lienthong: %v\n%s", err, out)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-dev", "-state", dir}, &out, &errb) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run -dev: %v", err)
		}
	}()
	vars := waitForEnv(t, filepath.Join(dir, "dev.env"), 60*time.Second, errb.String)
	api := &localapi.Client{Base: vars["LIENTHONG_API"], Token: vars["LIENTHONG_TOKEN"]}
	waitStatus := func(code string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; {
			d, err := api.Document(ctx, "out-0000000001")
			if err == nil && len(d.Recipients) > 0 && d.Recipients[0].StatusCode == code {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("out-0000000001 never reached %s: %+v %v", code, d, err)
			}
			time.Sleep(50 * time.Millisecond) // polling the API, bounded by the deadline
		}
	}
	for i, block := range blocks[1:] {
		script := ". " + filepath.Join(dir, "dev.env") + "\n" +
			strings.ReplaceAll(block, "go run ./cmd/lienthong ", bin+" ")
		if i == 1 {
			waitStatus("03") // "within a second or two the peer has it"
		}
		cmd := exec.Command("bash", "-e", "-c", script)
		cmd.Dir = "../.."
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("block %d failed: %v\n%s\n%s", i+1, err, block, got)
		}
		for _, want := range promised.FindAllString(commentsOf(block), -1) {
			if !strings.Contains(string(got), want) {
				t.Errorf("block %d printed no %s:\n%s", i+1, want, got)
			}
		}
		if strings.Contains(block, "/recall") {
			waitStatus("15") // "watch the peer's answer arrive as 15"
		}
	}
}

func commentsOf(block string) string {
	var b strings.Builder
	for _, l := range strings.Split(block, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
