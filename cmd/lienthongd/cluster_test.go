package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
	"lienthong/queue"
	"lienthong/queue/pgstore"
	"lienthong/queue/pgstore/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(m, &cluster) }

// A city's gateway on three nodes: three daemons share one PostgreSQL
// database and one configuration; the hub and the peer run in this
// process. While documents flow both ways one node is killed with SIGKILL
// three times and another is stopped (SIGSTOP) past its leases. Every
// document goes to the axis once, every package from it is delivered and
// acknowledged once, nothing is left, every node shows the same inbox,
// and an urgent document overtakes a backlog.
func TestClusterOfThree(t *testing.T) {
	pgtest.Need(t, cluster)
	const outbound, inbound, backlog = 1000, 300, 400
	bin := buildDaemon(t)
	dsn := cluster.NewDatabase(t)
	dir := t.TempDir()
	if d := os.Getenv("CLUSTER_DIR"); d != "" {
		dir = d // kept, to read the nodes' logs
	}
	// Leases of 15 s (a 5 s call and 10 s more), so a stopped node's
	// run out within the test.
	short := func(peer bool, c *conf.Config) {
		// Both sides retry within seconds once the outage ends.
		c.Outbound.RetryCap, c.Outbound.BreakerCooldown = conf.Duration(5*time.Second), conf.Duration(2*time.Second)
		if !peer {
			c.Axis.CallTimeout = conf.Duration(5 * time.Second)
		}
	}
	exchange := filepath.Join(dir, "exchange")
	s, err := devstack.Open(devstack.Options{Dir: exchange, StoreDSN: dsn, Detached: true, ManualPeer: true, Log: zerolog.Nop(), Configure: short})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteNodeConfig(filepath.Join(exchange, devstack.NodeFile)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	ready := make(chan struct{})
	go func() { ran <- s.Run(ctx, func() { close(ready) }) }()
	<-ready
	defer func() {
		cancel()
		<-ran
		s.Close()
	}()

	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = &node{n: i, bin: bin, exchange: exchange, state: filepath.Join(dir, fmt.Sprintf("node-%d", i)), token: s.Token}
		nodes[i].start(t)
	}
	defer func() {
		for _, n := range nodes {
			n.stop()
		}
		if t.Failed() {
			for _, n := range nodes {
				log, _ := os.ReadFile(n.log())
				t.Logf("node %d log (last 3 KiB):\n%s", n.n, log[max(0, len(log)-3072):])
			}
		}
	}()

	// submit hands a document to the nodes in turn, from the one named,
	// as a load balancer does: a node that is down or stopped is passed
	// over, and a retry of an accepted document names the same record.
	submit := func(from int, m map[string]any) string {
		for try := 0; ; try++ {
			n := nodes[(from+try)%len(nodes)]
			c, cancelReq := context.WithTimeout(context.Background(), 5*time.Second)
			acc, err := n.client().Submit(c, m, nil)
			cancelReq()
			if err == nil {
				return acc.ID
			}
			if try > 300 {
				t.Errorf("document %v: no node took it: %v", m["codeNumber"], err)
				return ""
			}
		}
	}
	doc := func(i, priority int) map[string]any {
		return map[string]any{
			"to": []string{devstack.PeerCode}, "codeNumber": fmt.Sprint(i), "codeNotation": "CUM-DI",
			"promulgationDate": "2026-03-16", "documentType": map[string]any{"type": 1, "name": "Công văn"},
			"subject": fmt.Sprintf("V/v thử cụm ba nút %d", i), "priority": priority,
			"signer": map[string]string{"competence": "KT. Giám đốc", "position": "Phó Giám đốc", "fullName": "Trần Văn Mẫu"},
		}
	}

	// Packages from the peer, with a file each, while the nodes fail.
	var peerDone sync.WaitGroup
	peerDone.Go(func() {
		for i := range inbound {
			m := doc(i, 0)
			m["to"], m["codeNotation"] = []string{devstack.AgencyCode}, "CUM-DEN"
			m["attachments"] = []map[string]string{{"name": "vb.txt", "description": "Văn bản"}}
			c, cancelReq := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := s.PeerClient.Submit(c, m, []localapi.Upload{{Name: "vb.txt", Data: fileOf(i)}})
			cancelReq()
			if err != nil {
				t.Errorf("peer document %d: %v", i, err)
			}
		}
	})

	// The faults, each at a point of the load.
	var submitted atomic.Int64
	reached := func(n int64) {
		for submitted.Load() < n {
			time.Sleep(10 * time.Millisecond) // polling the submitting loop's progress
		}
	}
	var faults sync.WaitGroup
	faults.Go(func() {
		for _, at := range []int64{80, 300, 520} {
			reached(at)
			nodes[2].kill()
			nodes[2].start(t)
		}
	})
	faults.Go(func() {
		reached(180)
		nodes[1].pause()
		// Past its leases (axis.call_timeout 5 s plus 10 s), so the other
		// nodes take over what it held.
		time.Sleep(20 * time.Second) // the length of the fault, not a wait for work
		nodes[1].resume()
	})
	var wg sync.WaitGroup
	work := make(chan int)
	for w := range 8 {
		wg.Go(func() {
			for i := range work {
				submit(w, doc(i, 0))
				submitted.Add(1)
			}
		})
	}
	for i := range outbound - backlog {
		work <- i
	}
	faults.Wait()

	// A backlog the axis cannot take, then an urgent document behind it.
	s.Hub.SetFaults(axishub.Faults{OutageUntil: time.Now().Add(time.Hour)})
	for i := outbound - backlog; i < outbound; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	urgent := outbound
	submit(0, doc(urgent, 3))
	s.Hub.SetFaults(axishub.Faults{})
	peerDone.Wait()

	// Nothing left on any node: every record finished.
	store, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, NoMigrate: true, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		open, dead := 0, 0
		for _, g := range store.Stats() {
			switch g.State {
			case queue.Ready, queue.Leased:
				open += g.Count
			case queue.Dead:
				dead += g.Count
			}
		}
		if dead > 0 {
			t.Fatalf("%d records dead: %+v", dead, store.Stats())
		}
		ours, theirs := crossed(t, s.Hub)
		if open == 0 && ours == outbound+1 && theirs == inbound {
			break
		}
		if time.Now().After(deadline) {
			ours, theirs := crossed(t, s.Hub)
			t.Fatalf("work left after 5 minutes: %d of our documents and %d of the peer's acknowledged on the axis; %+v", ours, theirs, store.Stats())
		}
		time.Sleep(200 * time.Millisecond) // polling the shared queue, bounded by the deadline
	}

	// Every document once on the axis; the urgent one before 50 of the
	// backlog submitted ahead of it.
	pkgs, err := s.Hub.Packages()
	if err != nil {
		t.Fatal(err)
	}
	uploads := map[string]int{}
	ordinaryBefore := 0
	var urgentAt time.Time
	for _, p := range pkgs {
		if p.From == devstack.AgencyCode && p.Notation == fmt.Sprintf("%d/CUM-DI", urgent) {
			urgentAt = p.Created
		}
	}
	for _, p := range pkgs {
		if p.From != devstack.AgencyCode || !strings.HasSuffix(p.Notation, "/CUM-DI") {
			continue
		}
		uploads[p.Notation]++
		var i int
		fmt.Sscanf(p.Notation, "%d/", &i)
		if i >= outbound-backlog && i < outbound && p.Created.Before(urgentAt) {
			ordinaryBefore++
		}
	}
	for i := 0; i <= outbound; i++ {
		if n := uploads[fmt.Sprintf("%d/CUM-DI", i)]; n != 1 {
			t.Errorf("document %d went to the axis %d times, want once", i, n)
		}
	}
	if urgentAt.IsZero() || ordinaryBefore >= 50 {
		t.Errorf("the urgent document was uploaded after %d of the backlog, want fewer than 50", ordinaryBefore)
	}
	t.Logf("urgent document uploaded after %d of the %d documents of the backlog", ordinaryBefore, backlog)

	// Every package from the peer acknowledged once.
	acked := 0
	for _, p := range pkgs {
		if p.From == devstack.PeerCode && p.MessageType == axis.MessageEdoc {
			acked++
			if n := p.Acks[devstack.AgencyCode]; n != 1 {
				t.Errorf("package %s (%s) acknowledged %d times, want once", p.DocID, p.Notation, n)
			}
		}
	}
	if acked != inbound {
		t.Errorf("%d packages from the peer on the axis, want %d", acked, inbound)
	}

	// Every node shows the same inbox, each package once, and serves its
	// files whichever node delivered it.
	var first []string
	for _, n := range nodes {
		items, err := n.client().Inbox(context.Background(), "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		seen := map[string]int{}
		for _, it := range items {
			ids = append(ids, it.ID)
			seen[it.CodeNumber]++
		}
		slices.Sort(ids)
		if len(seen) != inbound || len(items) != inbound {
			t.Errorf("node %d: %d inbox items of %d documents, want %d of %d", n.n, len(items), len(seen), inbound, inbound)
		}
		if first == nil {
			first = ids
		} else if !slices.Equal(ids, first) {
			t.Errorf("node %d shows another inbox than node 0", n.n)
		}
		for _, it := range items[:20] {
			var i int
			fmt.Sscan(it.CodeNumber, &i)
			b, err := n.client().InboxFile(context.Background(), it.ID, 1)
			if err != nil || sha256.Sum256(b) != sha256.Sum256(fileOf(i)) {
				t.Errorf("node %d: file of %s: %d bytes, %v; want the peer's file", n.n, it.ID, len(b), err)
			}
		}
	}

	// One evidence log for the cluster, sealed by whichever node held it
	// at the time, killed ones included: it verifies through any node.
	c := nodes[len(nodes)-1].client()
	if _, err := c.EvidenceCheckpoint(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	rep, err := c.EvidenceVerify(context.Background())
	if err != nil || !rep.OK || rep.Entries < outbound+1+2*inbound {
		t.Errorf("evidence log of the cluster: %+v, %v; want every package in it, verified", rep, err)
	}
	t.Logf("evidence log: %d entries, %d checkpoints", rep.Entries, rep.Checkpoints)
}

// crossed counts our documents the hub holds (each once however often it
// was uploaded) and the peer's documents we acknowledged: the peer sends
// from its own queue, and retries after the outage at its own pace.
func crossed(t *testing.T, hub *axishub.Hub) (ours, theirs int) {
	pkgs, err := hub.Packages()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		switch {
		case p.From == devstack.AgencyCode && strings.HasSuffix(p.Notation, "/CUM-DI"):
			seen[p.Notation] = true
		case p.From == devstack.PeerCode && p.MessageType == axis.MessageEdoc && p.Acks[devstack.AgencyCode] > 0:
			theirs++
		}
	}
	return len(seen), theirs
}

// fileOf is the file of the peer's document i.
func fileOf(i int) []byte {
	return []byte(strings.Repeat(fmt.Sprintf("Nội dung văn bản số %d. ", i), 1+i%50))
}

// node is one daemon of the cluster, joined to the exchange: its own
// state folder and listeners, the shared database and configuration
// otherwise.
type node struct {
	n                    int
	bin, exchange, state string
	token                string
	mu                   sync.Mutex
	api                  *localapi.Client
	cmd                  *exec.Cmd
	exited               chan struct{}
}

func (n *node) log() string { return filepath.Join(n.state, "daemon.log") }

func (n *node) client() *localapi.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.api
}

// start runs "lienthongd -dev -join" and waits until the node is ready.
func (n *node) start(t *testing.T) {
	if err := os.MkdirAll(n.state, 0o700); err != nil {
		t.Error(err)
		return
	}
	env := filepath.Join(n.state, "dev.env")
	os.Remove(env)
	log, err := os.OpenFile(n.log(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Error(err)
		return
	}
	defer log.Close()
	cmd := exec.Command(n.bin, "-dev", "-join", n.exchange, "-state", n.state)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(env); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "export LIENTHONG_API="); ok {
					n.mu.Lock()
					n.api = &localapi.Client{Base: strings.Trim(v, "'"), Token: n.token}
					n.mu.Unlock()
				}
			}
			resp, err := http.Get(n.client().Base + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(n.log())
			t.Errorf("node %d ended before it was ready:\n%s", n.n, b[max(0, len(b)-3072):])
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Errorf("node %d not ready within a minute", n.n)
			return
		}
		time.Sleep(20 * time.Millisecond) // polling for dev.env and /readyz, bounded by the deadline
	}
}

func (n *node) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		n.cmd.Process.Signal(sig)
	}
}

func (n *node) kill() {
	n.signal(syscall.SIGKILL)
	<-n.exited
}

func (n *node) pause()  { n.signal(syscall.SIGSTOP) }
func (n *node) resume() { n.signal(syscall.SIGCONT) }

// stop ends the daemon as systemd does, and waits for it.
func (n *node) stop() {
	n.signal(syscall.SIGCONT)
	n.signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(time.Minute):
		n.kill()
	}
}
