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
