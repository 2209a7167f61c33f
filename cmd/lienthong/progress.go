package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws on a terminal only; nil or off draws nothing.
type progressBar struct {
	w     io.Writer
	what  string
	total int
	n     atomic.Int64
	mu    sync.Mutex
	last  time.Time
}

func newProgressBar(b *bench, what string, total int) *progressBar {
	if !b.progress {
		return nil
	}
	return &progressBar{w: b.e.stderr, what: what, total: total}
}

func (p *progressBar) add(d int) {
	if p != nil {
		p.draw(int(p.n.Add(int64(d))), false)
	}
}

func (p *progressBar) set(v int) {
	if p != nil {
		p.n.Store(int64(v))
		p.draw(v, false)
	}
}

func (p *progressBar) done() {
	if p != nil {
		p.draw(int(p.n.Load()), true)
		fmt.Fprintln(p.w)
	}
}

func (p *progressBar) draw(v int, force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := min(width, width*v/max(p.total, 1))
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), v, p.total, p.what)
}

// byteMeter shows bytes moved so far on a terminal, for long copies (a
// backup, a 100 MiB file); elsewhere it passes the bytes on and draws
// nothing.
type byteMeter struct {
	w     io.Writer // where the bytes go
	term  io.Writer // where the meter is drawn; nil for none
	what  string
	total int64 // 0 when unknown
	n     int64
	last  time.Time
}

func newByteMeter(e *env, w io.Writer, what string, total int64) *byteMeter {
	m := &byteMeter{w: w, what: what, total: total}
	if isTerminal(e.stderr) {
		m.term = e.stderr
	}
	return m
}

func (m *byteMeter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	m.n += int64(n)
	if m.term != nil && time.Since(m.last) >= 100*time.Millisecond {
		m.last = time.Now()
		m.draw()
	}
	return n, err
}

func (m *byteMeter) draw() {
	if m.total > 0 {
		fmt.Fprintf(m.term, "\r%s: %.1f / %.1f MiB (%d%%)", m.what, float64(m.n)/(1<<20), float64(m.total)/(1<<20), 100*m.n/m.total)
		return
	}
	fmt.Fprintf(m.term, "\r%s: %.1f MiB", m.what, float64(m.n)/(1<<20))
}

// done ends the meter's line.
func (m *byteMeter) done() {
	if m.term != nil {
		m.draw()
		fmt.Fprintln(m.term)
	}
}
