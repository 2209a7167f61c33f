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

func TestServesRESTDialect(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "systems.json")
	ag := filepath.Join(dir, "agencies.json")
	os.WriteFile(sys, []byte(`[{"systemId":"00.53.W00","secret":"s","codes":["000.00.07.H26"]}]`), 0o600)
	os.WriteFile(ag, []byte(`[{"code":"000.00.07.H26","name":"Sở Ví Dụ"}]`), 0o600)
	args := []string{"-data", filepath.Join(dir, "hub"), "-systems", sys, "-agencies", ag, "-dialect", "rest-v2"}
	if err := run(context.Background(), args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-account") {
		t.Fatalf("rest-v2 without a login: %v, want -account named", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, append(args, "-account", "quantri:mk"), pw, io.Discard) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimPrefix(strings.TrimSpace(line), "axishub listening on ")
	c, err := axis.NewREST(axis.Config{Endpoint: url, SystemID: "00.53.W00", Secret: []byte("s"), Token: axis.Token{User: "quantri", Password: "mk"}})
	if err != nil {
		t.Fatal(err)
	}
	if list, err := c.GetReceivedEdocList(ctx, axis.MessageEdoc); err != nil || len(list) != 0 {
		t.Fatalf("received list: %v %+v", err, list)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
