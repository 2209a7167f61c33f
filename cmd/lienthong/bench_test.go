package main

import (
	"encoding/json"
	"fmt"
	"lienthong/queue/pgstore/pgtest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cluster is a throwaway PostgreSQL, nil where it is not installed.
var cluster *pgtest.Cluster

// TestMain builds the daemon that "bench -dev" runs as its child.
func TestMain(m *testing.M) {
	if os.Getenv("LIENTHONG_TEST_AS_TOOL") == "1" { // the shell completion test calls the tool back
		main()
	}
	dir, err := os.MkdirTemp("", "lienthong-test-")
	if err != nil {
		panic(err)
	}
	daemon := filepath.Join(dir, "lienthongd")
	build := exec.Command("go", "build", "-o", daemon, "lienthong/cmd/lienthongd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lienthongd:", err)
		os.Exit(1)
	}
	os.Setenv("LIENTHONG_DAEMON", daemon)
	if cluster, err = pgtest.ForTests(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func benchJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errOut := lienthong(t, "", append([]string{"bench", "-dev", "-json"}, args...)...)
	if code != 0 {
		t.Fatalf("bench %v: exit %d\n%s\n%s", args, code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet bench wrote to it: %q", errOut)
	}
	return r
}

func TestBenchMemoAndUrgent(t *testing.T) {
	r := benchJSON(t, "-workload", "memo", "-n", "6", "-concurrency", "3")
	for _, k := range []string{"throughput_per_s", "p50_ms", "p99_ms", "sign_bound_per_s", "daemon_cpu_s", "daemon_peak_rss_mib"} {
		if v, _ := r[k].(float64); v <= 0 {
			t.Errorf("memo: %s = %v, want a measured figure", k, r[k])
		}
	}
	if r["workload"] != "memo" || r["n"] != 6.0 || r["completed"] != 6.0 || r["errors"] != 0.0 {
		t.Errorf("memo result = %v", r)
	}
	r = benchJSON(t, "-workload", "urgent", "-backlog", "40", "-n", "3", "-hog", "1")
	if v, _ := r["urgent_p99_ms"].(float64); v <= 0 || r["completed"] != 3.0 || r["backlog"] != 40.0 || r["hog"] != 1.0 {
		t.Errorf("urgent result = %v, want 3 urgent documents timed behind 40", r)
	}
}

// The status workload reports each party's CPU and flushes per package:
// every party signs, stores or verifies something durable for a status.
func TestBenchStatus(t *testing.T) {
	r := benchJSON(t, "-workload", "status", "-n", "100")
	if r["completed"] != 100.0 || r["p99_ms"].(float64) <= 0 {
		t.Errorf("status result = %v", r)
	}
	cpu, _ := r["cpu_ms_per_package"].(map[string]any)
	flushes, _ := r["flushes_per_package"].(map[string]any)
	sum := 0.0
	for _, party := range []string{"gateway", "hub", "peer"} {
		// CPU is sampled at 100 Hz, so one party's share of a short run
		// may round to nothing; every party flushes for every status.
		c, ok := cpu[party].(float64)
		if !ok || c < 0 {
			t.Errorf("cpu_ms_per_package[%s] = %v", party, cpu[party])
		}
		sum += c
		if v, _ := flushes[party].(float64); v <= 0 {
			t.Errorf("flushes_per_package[%s] = %v, want a measured figure", party, flushes[party])
		}
	}
	if len(cpu) != 3 || len(flushes) != 3 || sum <= 0 {
		t.Errorf("per party: cpu %v, flushes %v; want gateway, hub and peer, some CPU", cpu, flushes)
	}
	if v, _ := r["cpu_bound_per_s"].(float64); v <= 0 {
		t.Errorf("cpu_bound_per_s = %v", r["cpu_bound_per_s"])
	}
	// The peer stores each status done, applied, in one commit: two
	// flushes at most, fewer where commits are shared.
	if v, _ := flushes["peer"].(float64); v > 2.5 {
		t.Errorf("the peer flushed %.2f times per status, want one commit (2 flushes) at most", v)
	}
}

func TestBenchRefusals(t *testing.T) {
	if code, _, errOut := lienthong(t, "", "bench", "-dev", "-workload", "huge"); code != 2 || !strings.Contains(errOut, `-workload "huge"`) {
		t.Errorf("unknown workload: exit %d, %q", code, errOut)
	}
	t.Setenv("LIENTHONG_API", "")
	if code, _, errOut := lienthong(t, "", "bench", "-workload", "memo"); code != 1 || !strings.Contains(errOut, "no local API") {
		t.Errorf("no target: exit %d, %q", code, errOut)
	}
}
