package axishub

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Faults make the hub misbehave. The zero value behaves.
type Faults struct {
	ErrorRate       float64       // share of calls answered HTTP 500
	LatencyMin      time.Duration // every call waits between min and max
	LatencyMax      time.Duration
	OutageUntil     time.Time // calls before then are answered HTTP 503
	DropAfterUpload float64   // share of sendEdoc calls whose connection is closed after the package is stored
	Duplicate       bool      // a package acknowledged done is delivered once more
	SlowRead        int       // upload bytes read per second; 0 is full speed
	FetchFails      bool      // every package download (getEdoc, downloadEdoc) answered HTTP 500
}

// SetFaults changes how the hub misbehaves from now on.
func (h *Hub) SetFaults(f Faults) {
	h.mu.Lock()
	h.faults = f
	h.mu.Unlock()
}

func (h *Hub) dice() (f Faults, roll, roll2 float64, latency time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f = h.faults
	roll, roll2 = h.rnd.Float64(), h.rnd.Float64()
	if f.LatencyMax > f.LatencyMin {
		latency = f.LatencyMin + time.Duration(h.rnd.Int64N(int64(f.LatencyMax-f.LatencyMin)))
	} else {
		latency = f.LatencyMin
	}
	return
}

var errDropped = errors.New("connection dropped")

// drop closes the connection without an answer: the sender cannot tell
// whether its package arrived.
func drop(w http.ResponseWriter) error {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
	return errDropped
}

// slowReader reads at most rate bytes per second.
type slowReader struct {
	r    io.Reader
	rate int
}

func (s *slowReader) Read(p []byte) (int, error) {
	chunk := max(s.rate/10, 1)
	if len(p) > chunk {
		p = p[:chunk]
	}
	time.Sleep(100 * time.Millisecond)
	return s.r.Read(p)
}
