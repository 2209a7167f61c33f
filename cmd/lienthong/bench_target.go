package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"lienthong/conf"
	"lienthong/envelope/sigkey"
	"lienthong/gateway/localapi"
)

type benchTarget struct {
	api, peer  *localapi.Client
	me, to     string // our agency's code and the recipient's
	metricsURL string
	partiesURL string // the development exchange's per-party use
	pid        int    // the daemon's process, when local
	signing    *conf.Signing
	stop       func()
	// exe and state are the local development exchange's daemon and
	// state folder; joined the pids of the nodes joined to it.
	exe, state string
	joined     []int
}

// signBound counts the signatures the key makes in d with every core.
func signBound(s conf.Signing, d time.Duration) (float64, string, error) {
	kc := sigkey.Config{KeyFile: s.KeyFile, PKCS11URI: s.PKCS11URI, CertFile: s.CertFile, ChainFile: s.ChainFile}
	if s.KeyPassword.Set() {
		p, err := s.KeyPassword.Path()
		if err != nil {
			return 0, "", err
		}
		kc.PassFile = p
	}
	key, err := sigkey.Load(kc)
	if err != nil {
		return 0, "", err
	}
	defer key.Close()
	digest := sha256.Sum256([]byte("lienthong bench"))
	var count atomic.Int64
	var failure atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := key.Signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					failure.Store(err)
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	if err, ok := failure.Load().(error); ok {
		return 0, "", err
	}
	return round(float64(count.Load()) / time.Since(start).Seconds()), keyName(key), nil
}

func keyName(k *sigkey.Key) string {
	cert := k.Chain[0]
	switch pub := cert.PublicKey.(type) {
	case interface{ Size() int }:
		return fmt.Sprintf("%s %d", cert.PublicKeyAlgorithm, pub.Size()*8)
	default:
		return cert.PublicKeyAlgorithm.String()
	}
}

func apiTarget(a apiFlags, metrics, config, peerAPI, peerToken string) (*benchTarget, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	t := &benchTarget{api: c, me: os.Getenv("LIENTHONG_AGENCY"), metricsURL: metrics, stop: func() {}}
	if config != "" {
		cfg, err := conf.Load(config)
		if err != nil {
			return nil, err
		}
		t.signing = &cfg.Signing
	}
	if peerAPI != "" {
		tok := os.Getenv("LIENTHONG_PEER_TOKEN")
		if peerToken != "" {
			b, err := os.ReadFile(peerToken)
			if err != nil {
				return nil, err
			}
			tok = strings.TrimSpace(string(b))
		}
		t.peer = &localapi.Client{Base: peerAPI, Token: tok}
	}
	return t, nil
}

// startExchange runs `lienthongd -dev` as a child on fresh temporary
// state, so that the exchange's CPU and memory are measured apart from the
// load generator's, and the operator tool never links the engine.
func startExchange(e *env, daemon, storeDSN, profileDir string, noEvidence bool) (*benchTarget, error) {
	exe, err := findDaemon(e, daemon)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lienthong-bench-")
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "exchange.log"))
	if err != nil {
		return nil, err
	}
	state := filepath.Join(dir, "state")
	args := []string{"-dev", "-state", state, "-log-level", "warn"}
	if storeDSN != "" {
		args = append(args, "-store", storeDSN)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = os.Environ()
	if noEvidence {
		cmd.Env = append(cmd.Env, "LIENTHONG_DEV_NO_EVIDENCE=1")
	}
	if profileDir != "" {
		abs, err := filepath.Abs(profileDir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("--profile: %w", err)
		}
		cmd.Env = append(cmd.Env, "LIENTHONG_DEV_PROFILE_DIR="+abs)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		terminate(cmd.Process, exited)
		logFile.Close()
		os.RemoveAll(dir)
	}
	vars, err := awaitEnv(e, filepath.Join(state, "dev.env"), "development exchange", exited, logFile.Name())
	if err != nil {
		stop()
		return nil, err
	}
	return &benchTarget{
		api:        &localapi.Client{Base: vars["LIENTHONG_API"], Token: vars["LIENTHONG_TOKEN"]},
		peer:       &localapi.Client{Base: vars["LIENTHONG_PEER_API"], Token: vars["LIENTHONG_PEER_TOKEN"]},
		me:         vars["LIENTHONG_AGENCY"],
		to:         vars["LIENTHONG_PEER"],
		metricsURL: vars["LIENTHONG_METRICS"],
		partiesURL: vars["LIENTHONG_PARTIES"],
		pid:        cmd.Process.Pid,
		signing:    &conf.Signing{KeyFile: filepath.Join(state, "pki", "a.key"), CertFile: filepath.Join(state, "pki", "a.pem")},
		stop:       stop,
		exe:        exe,
		state:      state,
	}, nil
}

// join runs n more nodes of the development exchange's gateway on its
// database (lienthongd -dev -join) and spreads every API request over all
// of them in turn, as a load balancer in front of a cluster does.
func (t *benchTarget) join(e *env, n int) error {
	bases := []string{t.api.Base}
	for i := range n {
		state := filepath.Join(t.state, fmt.Sprintf("node-%d", i+2))
		if err := os.MkdirAll(state, 0o700); err != nil {
			return err
		}
		logFile, err := os.Create(filepath.Join(state, "node.log"))
		if err != nil {
			return err
		}
		cmd := exec.Command(t.exe, "-dev", "-join", t.state, "-state", state, "-log-level", "warn")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return fmt.Errorf("start node %d: %w", i+2, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := t.stop
		t.stop = func() {
			terminate(cmd.Process, exited)
			logFile.Close()
			stop()
		}
		t.joined = append(t.joined, cmd.Process.Pid)
		vars, err := awaitEnv(e, filepath.Join(state, "dev.env"), fmt.Sprintf("node %d", i+2), exited, logFile.Name())
		if err != nil {
			return err
		}
		bases = append(bases, vars["LIENTHONG_API"])
	}
	t.api.HTTP = &http.Client{Transport: &roundRobin{bases: bases}}
	return nil
}

// awaitEnv waits until a starting child has written its dev.env naming
// its API, and reads it; what, for errors, names the child.
func awaitEnv(e *env, path, what string, exited chan error, log string) (map[string]string, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if vars, err := readEnv(path); err == nil && vars["LIENTHONG_API"] != "" {
			return vars, nil
		}
		select {
		case err := <-exited:
			exited <- err
			text, _ := os.ReadFile(log)
			return nil, fmt.Errorf("%s ended before it was ready (%v):\n%s", what, err, text)
		case <-e.ctx.Done():
			return nil, e.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s not ready within 2 minutes", what)
		}
	}
}

// roundRobin sends each request to the next of several nodes' APIs.
type roundRobin struct {
	bases []string
	next  atomic.Uint64
}

func (r *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.bases[(r.next.Add(1)-1)%uint64(len(r.bases))]
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(req)
}

// terminate stops a child as systemd does, SIGTERM then, after a minute,
// SIGKILL, and waits for it to exit.
func terminate(p *os.Process, exited <-chan error) {
	p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		p.Kill()
		<-exited
	}
}

// findDaemon picks the lienthongd to run: the one named, the one beside
// this program, the one on PATH, or, in a source checkout, one built now.
func findDaemon(e *env, named string) (string, error) {
	if named != "" {
		return named, nil
	}
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), "lienthongd"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("lienthongd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(filepath.Join("cmd", "lienthongd", "main.go")); err != nil {
		return "", errors.New("no lienthongd found beside this program or on PATH: give -daemon FILE")
	}
	out := filepath.Join(os.TempDir(), "lienthong-bench-lienthongd")
	fmt.Fprintln(e.stderr, "bench: building ./cmd/lienthongd for the exchange")
	build := exec.CommandContext(e.ctx, "go", "build", "-o", out, "./cmd/lienthongd")
	build.Stderr = e.stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build lienthongd: %w", err)
	}
	return out, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// readEnv reads dev.env: lines of NAME=value, with or without export and
// single quotes.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			vars[k] = strings.Trim(v, "'")
		}
	}
	return vars, sc.Err()
}

// cpuSeconds is the daemon's CPU time so far, with its joined nodes'.
func (t *benchTarget) cpuSeconds(ctx context.Context) (float64, error) {
	if t.pid != 0 {
		total := 0.0
		for _, pid := range append([]int{t.pid}, t.joined...) {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				return 0, err
			}
			// Fields after the command name, which ends with ')': utime
			// and stime are the 12th and 13th, in clock ticks of 1/100 s.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			ut, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			total += (ut + st) / 100
		}
		return total, nil
	}
	v, _ := scrape(ctx, t.metricsURL, "process_cpu_seconds_total")
	return v, nil
}

// peakRSS is the daemon's high-water resident memory in MiB: the kernel's
// own figure for a local child, else the current RSS from its metrics.
func (t *benchTarget) peakRSS(ctx context.Context) float64 {
	if t.pid != 0 {
		return processPeak(t.pid)
	}
	v, _ := scrape(ctx, t.metricsURL, "process_resident_memory_bytes")
	return round(v / (1 << 20))
}

// processPeak is a local process's high-water resident memory in MiB.
func processPeak(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				return round(kb / 1024)
			}
		}
	}
	return 0
}

func scrape(ctx context.Context, url, name string) (float64, error) {
	if url == "" {
		return 0, errors.New("no metrics URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s not in %s", name, url)
}

// outDone is how many packages the daemon has sent to the axis or set
// aside as dead letters, from its metrics.
func (t *benchTarget) outDone(ctx context.Context) (float64, error) {
	sent, err := scrape(ctx, t.metricsURL, `lienthong_messages_total{direction="out",result="sent"}`)
	if err != nil {
		return 0, err
	}
	dead, err := scrape(ctx, t.metricsURL, `lienthong_messages_total{direction="out",result="dead"}`)
	return sent + dead, err
}

// partyUse is one party's CPU seconds and flushes so far, as the
// development exchange reports them.
type partyUse struct {
	CPUSeconds float64 `json:"cpu_s"`
	Flushes    float64 `json:"flushes"`
}

// parties reads each party's use so far; nil when the target cannot tell
// its parties apart.
func (t *benchTarget) parties(ctx context.Context) (map[string]partyUse, error) {
	if t.partiesURL == "" {
		return nil, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.partiesURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", t.partiesURL, resp.Status)
	}
	var use map[string]partyUse
	return use, json.NewDecoder(resp.Body).Decode(&use)
}

// settle waits until the exchange's parties stop writing (no flush for
// 4 s, longer than three of the development peer's one-second polls, with
// room for a slow disk; at most a minute) and returns their use then.
func (t *benchTarget) settle(ctx context.Context) (map[string]partyUse, error) {
	sum := func(u map[string]partyUse) (n float64) {
		for _, p := range u {
			n += p.Flushes
		}
		return n
	}
	last, err := t.parties(ctx)
	if last == nil || err != nil {
		return last, err
	}
	quiet := 0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		now, err := t.parties(ctx)
		if err != nil {
			return nil, err
		}
		if quiet++; sum(now) != sum(last) {
			quiet = 0
		}
		if quiet == 8 {
			return now, nil
		}
		last = now
	}
	return last, nil
}
