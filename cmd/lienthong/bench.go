package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"lienthong/gateway/localapi"
)

const benchLong = `Measures how fast the gateway takes documents to the axis. For every
package it times accept → axis accepted with the gateway's own clock (the
record's created and sentAt), and prints throughput, p50/p90/p99, the
daemon's CPU seconds and peak RSS, and the signing bound: how many
signatures per second the configured key makes on this machine, measured
in the same run.

Workloads:
    status   answer N received documents with 03 (status packages)
    memo     N documents with one 200 KiB PDF each
    big      N documents with one 20 MiB attachment each
    urgent   queue --backlog ordinary documents, then send N Hỏa tốc ones,
             one at a time, and time those (--mixed: while ordinary ones
             keep being submitted)

--dev runs a development exchange (lienthongd -dev: axis hub, this
agency's gateway and a peer) in a child process on fresh temporary state,
with fsync on, and stops it afterwards; its CPU and memory figures are the
whole exchange's. It also reports, per timed package, each party's CPU
(profiled by party inside the exchange) and flushes (fsyncs), from the
end of any setup until the exchange has finished what the timed packages
set off, and the bound that the exchange's CPU per package sets on the
cores. The daemon is --daemon, else lienthongd beside this
program or on PATH, else built from ./cmd/lienthongd in a source checkout.
Against a running daemon, --metrics gives its CPU and memory, --config its
signing key for the bound, and the status workload needs a peer gateway
(--peer-api, --peer-token-file) to send the documents it answers.

With --json the last line is one JSON object. A progress bar shows on a
terminal.`

const benchExample = `  lienthong bench --dev --workload memo -n 500 --concurrency 8
  lienthong bench --dev --workload urgent --backlog 5000 -n 100 --json
  lienthong bench --dev --workload urgent --backlog 10000 -n 100 --hog 2`

// benchResult is the -json line; its names are what the published figures
// quote.
type benchResult struct {
	Workload       string  `json:"workload"`
	N              int     `json:"n"`
	Concurrency    int     `json:"concurrency"`
	Completed      int     `json:"completed"`
	Errors         int     `json:"errors"`
	Throughput     float64 `json:"throughput_per_s"`
	P50            float64 `json:"p50_ms"`
	P90            float64 `json:"p90_ms"`
	P99            float64 `json:"p99_ms"`
	Max            float64 `json:"max_ms"`
	SignBound      float64 `json:"sign_bound_per_s"`
	OfBound        float64 `json:"throughput_of_sign_bound,omitempty"`
	UrgentP50      float64 `json:"urgent_p50_ms,omitempty"`
	UrgentP90      float64 `json:"urgent_p90_ms,omitempty"`
	UrgentP99      float64 `json:"urgent_p99_ms,omitempty"`
	Backlog        int     `json:"backlog,omitempty"`
	BacklogWaiting int     `json:"backlog_waiting_at_end,omitempty"`
	DaemonCPU      float64 `json:"daemon_cpu_s"`
	// CPUPerPackage and FlushesPerPackage are each party's share (gateway,
	// hub, peer) per timed package, from the development exchange.
	CPUPerPackage     map[string]float64 `json:"cpu_ms_per_package,omitempty"`
	FlushesPerPackage map[string]float64 `json:"flushes_per_package,omitempty"`
	// ExchangeCPU is the whole exchange's CPU per package, the runtime's
	// included; CPUBound is the packages per second it allows on Cores.
	ExchangeCPU   float64 `json:"exchange_cpu_ms_per_package,omitempty"`
	CPUBound      float64 `json:"cpu_bound_per_s,omitempty"`
	OfCPUBound    float64 `json:"throughput_of_cpu_bound,omitempty"`
	DaemonPeakRSS float64 `json:"daemon_peak_rss_mib"`
	// Nodes counts our gateway's nodes; JoinedPeakRSS is each joined
	// node's high-water memory (the first node's is DaemonPeakRSS, with
	// the hub and the peer in its process).
	Nodes         int       `json:"nodes,omitempty"`
	JoinedPeakRSS []float64 `json:"joined_nodes_peak_rss_mib,omitempty"`
	Cores         int       `json:"cores"`
	Hog           int       `json:"hog,omitempty"` // busy loops run beside the exchange
	Key           string    `json:"key,omitempty"`
}

func benchCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "measure throughput and latency to the axis (load tool)",
		Long: benchLong, Example: benchExample, Args: nArgs(0)}
	fs := c.Flags()
	dev := fs.Bool("dev", false, "run a development exchange (lienthongd -dev) for the run")
	storeDSN := fs.String("store", "", "with -dev: run our gateway's work in this PostgreSQL database (lienthongd -dev -store)")
	nodes := fs.Int("nodes", 1, "with -dev -store: run our gateway on this many nodes sharing the database, the requests spread over them in turn")
	daemon := fs.String("daemon", os.Getenv("LIENTHONG_DAEMON"), "with -dev: the lienthongd to run (default $LIENTHONG_DAEMON, or lienthongd beside this program or on PATH)")
	api := addAPIFlags(fs)
	metrics := fs.String("metrics", os.Getenv("LIENTHONG_METRICS"), "the daemon's /metrics URL, for its CPU and memory (default $LIENTHONG_METRICS)")
	config := fs.String("config", "", "the daemon's configuration, for the signing bound")
	peerAPI := fs.String("peer-api", os.Getenv("LIENTHONG_PEER_API"), "status workload: a peer gateway's API that sends us documents")
	peerToken := fs.String("peer-token-file", "", "file with the peer API's token (default $LIENTHONG_PEER_TOKEN)")
	to := fs.String("to", os.Getenv("LIENTHONG_PEER"), "recipient code (default $LIENTHONG_PEER)")
	workload := fs.String("workload", "memo", "status, memo, big or urgent")
	values(c, "workload", "status", "memo", "big", "urgent")
	n := fs.IntP("n", "n", 0, "packages to time (default 200; big 10; urgent 100)")
	conc := fs.Int("concurrency", 8, "submissions in flight at once")
	bigMiB := fs.Int("size", 20, "big: each document's attachment in MiB")
	backlog := fs.Int("backlog", 5000, "urgent: ordinary documents queued first")
	asJSON := fs.Bool("json", false, "end with one JSON line")
	mixed := fs.Bool("mixed", false, "urgent: keep submitting ordinary documents while the urgent ones are timed")
	hog := fs.Int("hog", 0, "run this many CPU-bound busy loops beside the exchange for the whole run, as other work on a shared machine")
	noEvidence := fs.Bool("no-evidence", false, "with -dev: run the exchange without the evidence log, to measure what it costs")
	profileDir := fs.String("profile", "", "with -dev: keep the exchange's CPU profiles in this folder, one per interval measured (status: cpu-1.pb.gz is the setup)")

	c.RunE = func(c *cobra.Command, _ []string) error {
		if *conc < 1 || *backlog < 0 || *bigMiB < 1 {
			return badUsage(c, "--concurrency and --size must be at least 1 and --backlog at least 0")
		}
		defaults := map[string]int{"status": 200, "memo": 200, "big": 10, "urgent": 100}
		if _, ok := defaults[*workload]; !ok {
			return badUsage(c, "--workload %q: must be status, memo, big or urgent", *workload)
		}
		if *n <= 0 {
			*n = defaults[*workload]
		}
		if *nodes < 1 || (*nodes > 1 && (!*dev || *storeDSN == "")) {
			return badUsage(c, "--nodes %d: must be at least 1, and more than 1 only with -dev -store DSN", *nodes)
		}

		var t *benchTarget
		var err error
		if *dev {
			t, err = startExchange(e, *daemon, *storeDSN, *profileDir, *noEvidence)
		} else {
			t, err = apiTarget(api, *metrics, *config, *peerAPI, *peerToken)
		}
		if err != nil {
			return err
		}
		defer func() { t.stop() }()
		if *nodes > 1 {
			if err := t.join(e, *nodes-1); err != nil {
				return err
			}
		}
		if *to != "" {
			t.to = *to
		}
		if t.to == "" {
			return errors.New("no recipient: give -to CODE or set LIENTHONG_PEER")
		}

		r := &benchResult{Workload: *workload, N: *n, Concurrency: *conc, Cores: runtime.NumCPU()}
		if t.signing != nil {
			if r.SignBound, r.Key, err = signBound(*t.signing, 2*time.Second); err != nil {
				return fmt.Errorf("signing bound: %w", err)
			}
		}
		b := &bench{e: e, t: t, conc: *conc, run: randomRun(), progress: isTerminal(e.stderr)}
		if *hog > 0 {
			stopHog := startHog(*hog)
			defer stopHog()
			r.Hog = *hog
		}
		var cpu0 float64
		var use0 map[string]partyUse
		b.mark = func() (err error) {
			if cpu0, err = t.cpuSeconds(e.ctx); err != nil {
				return err
			}
			// One node's count: with several, the listing decides.
			if b.outBase, err = t.outDone(e.ctx); err != nil || len(t.joined) > 0 {
				b.outBase = -1
			}
			use0, err = t.parties(e.ctx)
			return err
		}
		if err := b.mark(); err != nil {
			return err
		}
		var lat map[int][]float64
		var span time.Duration
		switch *workload {
		case "memo":
			lat, span, err = b.documents(*n, 0, attachment("cong-van.pdf", 200<<10))
		case "big":
			lat, span, err = b.documents(*n, 0, attachment("ho-so.pdf", *bigMiB<<20))
		case "urgent":
			r.Backlog = *backlog
			lat, span, r.BacklogWaiting, err = b.urgent(*backlog, *n, *mixed)
		case "status":
			lat, span, err = b.statuses(*n)
		}
		if err != nil {
			return err
		}
		// The exchange finishes what the timed packages set off (the peer
		// fetching and applying them) before their cost is read.
		settle := t.settle
		if *workload == "urgent" {
			settle = t.parties // the backlog is still draining, by design
		}
		use1, err := settle(e.ctx)
		if err != nil {
			return err
		}
		cpu1, err := t.cpuSeconds(e.ctx)
		if err != nil {
			return err
		}
		r.DaemonCPU, r.DaemonPeakRSS = cpu1-cpu0, t.peakRSS(e.ctx)
		if len(t.joined) > 0 {
			r.Nodes = 1 + len(t.joined)
			for _, pid := range t.joined {
				r.JoinedPeakRSS = append(r.JoinedPeakRSS, processPeak(pid))
			}
		}
		r.Errors = int(b.errors.Load())
		timed := lat[3]
		if *workload != "urgent" {
			timed = lat[0]
		}
		r.Completed = len(timed)
		if span > 0 {
			r.Throughput = round(float64(len(timed)) / span.Seconds())
		}
		r.P50, r.P90, r.P99, r.Max = percentile(timed, 50), percentile(timed, 90), percentile(timed, 99), percentile(timed, 100)
		if *workload == "urgent" {
			r.UrgentP50, r.UrgentP90, r.UrgentP99 = r.P50, r.P90, r.P99
		}
		if r.SignBound > 0 {
			r.OfBound = round(r.Throughput / r.SignBound)
		}
		if use0 != nil && use1 != nil && r.Completed > 0 && *workload != "urgent" {
			r.perParty(use0, use1)
		}
		b.report(r, lat)
		if *asJSON {
			line, _ := json.Marshal(r)
			fmt.Fprintln(e.stdout, string(line))
		}
		if r.Errors > 0 || r.Completed < r.N {
			return fmt.Errorf("%d of %d packages timed, %d submissions failed", r.Completed, r.N, r.Errors)
		}
		return nil
	}
	return c
}

// startHog runs n goroutines that only burn CPU, each on its own thread,
// until stopped: the busy machine the gateway shares in real life.
func startHog(n int) (stop func()) {
	done := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			x := uint64(1)
			for {
				select {
				case <-done:
					return
				default:
				}
				for range 100_000 {
					x = x*6364136223846793005 + 1442695040888963407
				}
				hogSink.Store(x)
			}
		}()
	}
	return func() { close(done) }
}

var hogSink atomic.Uint64

// perParty divides each party's use during the run by the packages timed.
func (r *benchResult) perParty(before, after map[string]partyUse) {
	n := float64(r.Completed)
	r.CPUPerPackage, r.FlushesPerPackage = map[string]float64{}, map[string]float64{}
	total := 0.0
	for party, a := range after {
		cpu := (a.CPUSeconds - before[party].CPUSeconds) * 1000 / n
		total += cpu
		if party == "other" {
			continue
		}
		r.CPUPerPackage[party] = round(cpu)
		r.FlushesPerPackage[party] = round((a.Flushes - before[party].Flushes) / n)
	}
	r.ExchangeCPU = round(total)
	if total > 0 {
		r.CPUBound = round(float64(r.Cores) * 1000 / total)
		r.OfCPUBound = round(r.Throughput / r.CPUBound)
	}
}

func (b *bench) report(r *benchResult, lat map[int][]float64) {
	w := b.e.stdout
	fmt.Fprintf(w, "workload %s: %d packages, %d in flight, %d cores\n", r.Workload, r.N, r.Concurrency, r.Cores)
	if r.Hog > 0 {
		fmt.Fprintf(w, "CPU hog         %d busy loops beside the exchange\n", r.Hog)
	}
	fmt.Fprintf(w, "throughput      %.1f packages/s (accept → axis accepted)\n", r.Throughput)
	for _, p := range []int{0, 1, 2, 3} {
		if l := lat[p]; len(l) > 0 {
			fmt.Fprintf(w, "priority %d      %d timed: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
				p, len(l), percentile(l, 50), percentile(l, 90), percentile(l, 99), percentile(l, 100))
		}
	}
	if r.Backlog > 0 {
		fmt.Fprintf(w, "backlog         %d ordinary documents queued first; %d still waiting at the end\n", r.Backlog, r.BacklogWaiting)
	}
	fmt.Fprintf(w, "daemon          %.1f CPU s, peak RSS %.0f MiB\n", r.DaemonCPU, r.DaemonPeakRSS)
	for i, rss := range r.JoinedPeakRSS {
		fmt.Fprintf(w, "node %d          peak RSS %.0f MiB\n", i+2, rss)
	}
	for _, p := range []string{"gateway", "hub", "peer"} {
		if cpu, ok := r.CPUPerPackage[p]; ok {
			fmt.Fprintf(w, "  %-13s %.2f ms CPU, %.1f flushes per package\n", p, cpu, r.FlushesPerPackage[p])
		}
	}
	if r.CPUBound > 0 {
		fmt.Fprintf(w, "CPU bound       %.0f packages/s (%.2f ms CPU per package for the whole exchange, %d cores); throughput is %.2f of it\n", r.CPUBound, r.ExchangeCPU, r.Cores, r.OfCPUBound)
	}
	if r.SignBound > 0 {
		fmt.Fprintf(w, "signing bound   %.0f signatures/s (%s, %d cores); throughput is %.2f of it\n", r.SignBound, r.Key, r.Cores, r.OfBound)
	} else {
		fmt.Fprintln(w, "signing bound   not measured: give -config with the daemon's signing key")
	}
	if r.Errors > 0 {
		fmt.Fprintf(w, "errors          %d submissions refused or failed\n", r.Errors)
	}
}

// bench drives one run against a target.
type bench struct {
	e        *env
	t        *benchTarget
	conc     int
	run      string // makes this run's document ids unique
	seq      atomic.Int64
	errors   atomic.Int64
	progress bool
	firstErr sync.Once
	// mark is called where the timed work starts, after any setup.
	mark func() error
	// outBase is the daemon's count of packages sent or dead at the mark,
	// -1 when it has no metrics to count with.
	outBase float64
}

type upload = localapi.Upload

func attachment(name string, size int) []upload {
	data := make([]byte, size) // incompressible, like a scan
	rand.Read(data)
	copy(data, "%PDF-1.7\n")
	return []upload{{Name: name, ContentType: "application/pdf", Data: data}}
}

func (b *bench) metadata(to string, priority int, files []upload) map[string]any {
	i := b.seq.Add(1)
	m := map[string]any{
		"to": []string{to}, "codeNumber": strconv.FormatInt(i, 10), "codeNotation": "BENCH-" + b.run,
		"promulgationDate": time.Now().Format("2006-01-02"), "documentType": map[string]any{"type": 1, "name": "Công văn"},
		"subject": fmt.Sprintf("V/v đo tải số %d", i), "priority": priority,
		"signer": map[string]string{"competence": "KT. Giám đốc", "position": "Phó Giám đốc", "fullName": "Trần Văn Đo"},
	}
	if len(files) > 0 {
		m["attachments"] = []map[string]string{{"name": files[0].Name, "description": "Tệp đo tải"}}
	}
	return m
}

// submit sends n documents of a priority through c to an agency, conc
// at a time, and returns the ids the gateway accepted. A submission
// answered 503 (every upload slot busy) is tried again after a moment,
// as a document system honouring Retry-After does.
func (b *bench) submit(c *localapi.Client, to string, n, priority int, files []upload, bar *progressBar) []string {
	return b.each(n, bar, func(int) (string, error) {
		m := b.metadata(to, priority, files)
		for try := 1; ; try++ {
			acc, err := c.Submit(b.e.ctx, m, files)
			var e *localapi.Error
			if err != nil && errors.As(err, &e) && e.Status == http.StatusServiceUnavailable && try < 100 {
				select {
				case <-b.e.ctx.Done():
					return "", b.e.ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			if err != nil {
				return "", err
			}
			return acc.ID, nil
		}
	})
}

// each calls call for 0…n-1, conc at a time, and returns the ids of the
// calls that succeeded.
func (b *bench) each(n int, bar *progressBar, call func(i int) (string, error)) []string {
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range b.conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || b.e.ctx.Err() != nil {
					return
				}
				id, err := call(i)
				if err != nil {
					b.failed(err)
					continue
				}
				ids[i] = id
				bar.add(1)
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(ids, func(s string) bool { return s == "" })
}

func (b *bench) failed(err error) {
	b.errors.Add(1)
	b.firstErr.Do(func() { fmt.Fprintln(b.e.stderr, "bench: submission failed:", err) })
}

// await polls the records until the axis took each one, and returns
// their latencies (ms) by priority and the span from the first accept to
// the last axis acceptance.
func (b *bench) await(c *localapi.Client, ids []string, bar *progressBar) (map[int][]float64, time.Duration, error) {
	// One listing per poll, not one request per pending record: the load
	// tool must not load what it measures.
	if err := b.awaitCount(len(ids)); err != nil {
		return nil, 0, err
	}
	lat := map[int][]float64{}
	var first, last time.Time
	pending := make(map[string]bool, len(ids))
	for _, id := range ids {
		pending[id] = true
	}
	for len(pending) > 0 {
		if err := b.e.ctx.Err(); err != nil {
			return nil, 0, err
		}
		// A few records are asked for one by one; many with one listing
		// per state, not one request each.
		var seen []localapi.Document
		if len(pending) <= 4 {
			for id := range pending {
				d, err := c.Document(b.e.ctx, id)
				if err != nil {
					return nil, 0, err
				}
				seen = append(seen, *d)
			}
		} else {
			dead, err := c.Documents(b.e.ctx, localapi.StateDead, 1<<20)
			if err != nil {
				return nil, 0, err
			}
			sent, err := c.Documents(b.e.ctx, localapi.StateSent, 1<<20)
			if err != nil {
				return nil, 0, err
			}
			seen = append(dead, sent...)
		}
		for _, d := range seen {
			if !pending[d.ID] {
				continue
			}
			if d.State == localapi.StateDead {
				return nil, 0, fmt.Errorf("%s became a dead letter: %s", d.ID, d.LastError)
			}
			if d.SentAt == nil {
				continue
			}
			delete(pending, d.ID)
			lat[d.Priority] = append(lat[d.Priority], float64(d.SentAt.Sub(d.Created).Microseconds())/1000)
			if first.IsZero() || d.Created.Before(first) {
				first = d.Created
			}
			if d.SentAt.After(last) {
				last = *d.SentAt
			}
			bar.add(1)
		}
		if len(pending) > 0 {
			select {
			case <-b.e.ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return lat, last.Sub(first), nil
}

// awaitCount waits until the daemon has sent (or given up on) n packages
// since the mark, watching one counter of its metrics, so that the records
// are listed once at the end instead of on every poll. Without metrics, or
// once they cannot be read, it leaves the waiting to the listing.
func (b *bench) awaitCount(n int) error {
	if b.outBase < 0 {
		return nil
	}
	for {
		done, err := b.t.outDone(b.e.ctx)
		if err != nil || done >= b.outBase+float64(n) {
			return b.e.ctx.Err()
		}
		select {
		case <-b.e.ctx.Done():
			return b.e.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *bench) documents(n, priority int, files []upload) (map[int][]float64, time.Duration, error) {
	bar := newProgressBar(b, "sent", 2*n)
	ids := b.submit(b.t.api, b.t.to, n, priority, files, bar)
	lat, span, err := b.await(b.t.api, ids, bar)
	bar.done()
	return lat, span, err
}

// urgent queues a backlog of ordinary documents, then sends urgent ones
// one at a time, each after the last reached the axis, as they come in
// real life: rarely, and each one wanted at once.
func (b *bench) urgent(backlog, n int, mixed bool) (map[int][]float64, time.Duration, int, error) {
	bar := newProgressBar(b, "backlog queued", backlog)
	b.submit(b.t.api, b.t.to, backlog, 0, nil, bar)
	bar.done()
	if mixed {
		// Ordinary documents keep coming, conc at a time, while the urgent
		// ones are timed: their signing competes with the urgent ones'.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range b.conc {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := b.t.api.Submit(b.e.ctx, b.metadata(b.t.to, 0, nil), nil); err != nil && b.e.ctx.Err() == nil {
						b.failed(err)
						return
					}
				}
			})
		}
		defer wg.Wait()
		defer close(stop)
	}
	bar = newProgressBar(b, "urgent sent", n)
	lat := map[int][]float64{}
	var span time.Duration
	for range n {
		acc, err := b.t.api.Submit(b.e.ctx, b.metadata(b.t.to, 3, nil), nil)
		if err != nil {
			b.failed(err)
			continue
		}
		l, s, err := b.await(b.t.api, []string{acc.ID}, nil)
		if err != nil {
			return nil, 0, 0, err
		}
		lat[3] = append(lat[3], l[3]...)
		span += s
		bar.add(1)
	}
	bar.done()
	waiting, err := b.t.api.Documents(b.e.ctx, localapi.StateAccepted, backlog+1)
	return lat, span, len(waiting), err
}

// statuses has the peer send n documents, waits for them in our inbox,
// then times our 03 answers: accept → the axis took the status package.
func (b *bench) statuses(n int) (map[int][]float64, time.Duration, error) {
	if b.t.peer == nil || b.t.me == "" {
		return nil, 0, errors.New("the status workload needs a peer gateway to send documents: give -peer-api, -peer-token-file and set LIENTHONG_AGENCY (or use -dev)")
	}
	bar := newProgressBar(b, "received", n)
	b.submit(b.t.peer, b.t.me, n, 0, nil, nil)
	var items []localapi.InboxItem
	for {
		all, err := b.t.api.Inbox(b.e.ctx, localapi.InboxNew, 0)
		if err != nil {
			return nil, 0, err
		}
		items = slices.DeleteFunc(all, func(it localapi.InboxItem) bool { return !strings.HasSuffix(it.DocumentID, "/BENCH-"+b.run) })
		bar.set(len(items))
		if len(items) >= n {
			break
		}
		select {
		case <-b.e.ctx.Done():
			return nil, 0, b.e.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	bar.done()
	// Let the automatic 01 answers drain, so that only ours are timed.
	for {
		busy, err := b.t.api.Documents(b.e.ctx, localapi.StateAccepted, 1)
		if err != nil {
			return nil, 0, err
		}
		if len(busy) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.mark(); err != nil {
		return nil, 0, err
	}
	bar = newProgressBar(b, "answers sent", 2*n)
	ids := b.each(n, bar, func(i int) (string, error) {
		it, err := b.t.api.Answer(b.e.ctx, items[i].ID, localapi.StatusRequest{Code: "03", Staff: "Văn thư (đo tải)"})
		if err != nil {
			return "", err
		}
		return it.StatusID, nil
	})
	lat, span, err := b.await(b.t.api, ids, bar)
	bar.done()
	return lat, span, err
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return round(s[max(i, 0)])
}

func round(f float64) float64 { return math.Round(f*100) / 100 }

func randomRun() string {
	var b [3]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
