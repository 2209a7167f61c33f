package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/gateway/axis"
)

func TestServesAndPrintsAddress(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "systems.json")
	ag := filepath.Join(dir, "agencies.json")
	os.WriteFile(sys, []byte(`[{"systemId":"00.53.W00","secret":"s","codes":["000.00.07.H26"]}]`), 0o600)
	os.WriteFile(ag, []byte(`[{"code":"000.00.07.H26","name":"Sở Ví Dụ"},{"code":"000.00.00.G22","name":"VPCP"}]`), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-data", filepath.Join(dir, "hub"), "-systems", sys, "-agencies", ag}, pw, io.Discard)
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "axishub listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	c, err := axis.New(axis.Config{Endpoint: url, SystemID: "00.53.W00", Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.GetAgenciesList(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("agencies: %v %+v", err, list)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestBadInputsNamed(t *testing.T) {
	dir := t.TempDir()
	ag := filepath.Join(dir, "agencies.json")
	os.WriteFile(ag, []byte(`[{"code":"not a code","name":"x"}]`), 0o600)
	sys := filepath.Join(dir, "systems.json")
	os.WriteFile(sys, []byte(`[{"systemId":"a","secret":"s","codes":[],"extra":1}]`), 0o600)
	err := run(context.Background(), []string{"-data", dir, "-systems", sys, "-agencies", ag}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "extra") {
		t.Fatalf("unknown field in systems.json: %v", err)
	}
	os.WriteFile(sys, []byte(`[]`), 0o600)
	err = run(context.Background(), []string{"-data", dir, "-systems", sys, "-agencies", ag}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "entry 0") {
		t.Fatalf("malformed agency code: %v", err)
	}
}
