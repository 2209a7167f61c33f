package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"

	"github.com/google/pprof/profile"
)

// The parties of the exchange: our gateway, the reference hub and the
// peer gateway. Each runs under its own profiler label, so that the load
// tool can tell their CPU apart although they share one process.
const (
	PartyGateway = "gateway"
	PartyHub     = "hub"
	PartyPeer    = "peer"
	partyOther   = "other" // the runtime: garbage collection, timers
)

// PartiesPath is where, beside the hub, the stack serves Parties.
const PartiesPath = "/dev/parties"

// as runs f with every goroutine it starts labelled as party's.
func as(party string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("party", party), func(context.Context) { f() })
}

// PartyUse is what one party has cost since the first reading.
type PartyUse struct {
	CPUSeconds float64 `json:"cpu_s"`
	Flushes    uint64  `json:"flushes"`
}

// partyMeter profiles the process from its first reading on, and sums CPU
// by party at each reading.
type partyMeter struct {
	mu  sync.Mutex
	on  bool
	buf bytes.Buffer
	cpu map[string]float64
	n   int // readings so far
}

// ProfileDirEnv names a folder where the development stack keeps the CPU
// profile of each interval between two readings (cpu-1.pb.gz, ...), for
// go tool pprof -tagfocus=party=gateway.
const ProfileDirEnv = "LIENTHONG_DEV_PROFILE_DIR"

// read returns each party's CPU since the first read, restarting the
// profile to take what it holds.
func (m *partyMeter) read() (map[string]float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cpu == nil {
		m.cpu = map[string]float64{}
	}
	if m.on {
		pprof.StopCPUProfile()
		m.on = false
		m.n++
		if dir := os.Getenv(ProfileDirEnv); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("cpu-%d.pb.gz", m.n)), m.buf.Bytes(), 0o644); err != nil {
				return nil, err
			}
		}
		p, err := profile.Parse(&m.buf)
		if err != nil {
			return nil, err
		}
		idx := -1
		for i, st := range p.SampleType {
			if st.Type == "cpu" && st.Unit == "nanoseconds" {
				idx = i
			}
		}
		for _, s := range p.Sample {
			if idx < 0 {
				break
			}
			party := partyOther
			if l := s.Label["party"]; len(l) > 0 {
				party = l[0]
			}
			m.cpu[party] += float64(s.Value[idx]) / 1e9
		}
	}
	m.buf.Reset()
	if err := pprof.StartCPUProfile(&m.buf); err != nil {
		return nil, err
	}
	m.on = true
	out := make(map[string]float64, len(m.cpu))
	for k, v := range m.cpu {
		out[k] = v
	}
	return out, nil
}

// Parties reports each party's CPU and flushes. CPU is counted from the
// first call on, by profiling the process, which costs a little; a
// caller measures between two calls.
func (s *Stack) Parties() (map[string]PartyUse, error) {
	cpu, err := s.meter.read()
	if err != nil {
		return nil, err
	}
	out := map[string]PartyUse{
		PartyGateway: {Flushes: s.Agency.Flushes()},
		PartyHub:     {Flushes: s.Hub.Flushes()},
		PartyPeer:    {Flushes: s.Peer.Flushes()},
	}
	for party, sec := range cpu {
		u := out[party]
		u.CPUSeconds = sec
		out[party] = u
	}
	return out, nil
}

// partiesHandler serves Parties as JSON, beside the hub, for the load
// tool.
func (s *Stack) partiesHandler(w http.ResponseWriter, r *http.Request) {
	use, err := s.Parties()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(use)
}
