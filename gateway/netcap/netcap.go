// Package netcap keeps an HTTP server answering when clients misbehave: a
// cap on connections that makes room for a newcomer by closing the one
// idle longest, and a body that must keep coming. The local API and the
// reference hub both serve through it.
package netcap

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Listener admits at most its slots of connections. When all are taken,
// a newcomer closes the connection idle longest (a keep-alive between
// requests, or a new one that has sent nothing for a second), so one client
// holding every slot cannot lock the others out; if every connection is
// busy, the newcomer is closed at once rather than left hanging.
type Listener struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[*conn]struct{}
}

// Listen caps ln at max connections; Serve the result with Hook as the
// server's ConnState, so the listener knows which connections are idle.
func Listen(ln net.Listener, max int) *Listener {
	return &Listener{Listener: ln, max: max, conns: map[*conn]struct{}{}}
}

type conn struct {
	net.Conn
	l     *Listener
	once  sync.Once
	idle  bool      // between requests, or new
	fresh bool      // new: no request yet
	since time.Time // in that state since
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// Accept waits for a connection and makes room for it.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		c := &conn{Conn: nc, l: l, idle: true, fresh: true, since: now}
		l.mu.Lock()
		var evict *conn
		if len(l.conns) >= l.max {
			for o := range l.conns {
				// A keep-alive may go at once, its client reconnects; a new
				// connection gets a second to send its request.
				if o.idle && (!o.fresh || now.Sub(o.since) > time.Second) && (evict == nil || o.since.Before(evict.since)) {
					evict = o
				}
			}
		}
		full := len(l.conns) >= l.max && evict == nil
		if !full {
			l.conns[c] = struct{}{}
		}
		l.mu.Unlock()
		if full {
			nc.Close()
			continue
		}
		if evict != nil {
			evict.Close()
		}
		return c, nil
	}
}

// Hook is the http.Server ConnState that tells the listener which
// connections are idle.
func (l *Listener) Hook(nc net.Conn, s http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateIdle:
		c.idle, c.fresh, c.since = true, false, time.Now()
	case http.StateActive:
		c.idle, c.fresh = false, false
	}
}

// Len is how many connections are open.
func (l *Listener) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Body keeps a request body alive while it comes in, and only then: the
// connection's read deadline moves wait ahead for every 256 KiB received,
// so a client trickling a body is cut off while a slow line is not.
func Body(w http.ResponseWriter, body io.ReadCloser, wait time.Duration) io.ReadCloser {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(wait)) != nil {
		return body // not a connection that takes deadlines
	}
	return &deadlineBody{ReadCloser: body, rc: rc, wait: wait, next: bodyStep}
}

const bodyStep = 256 << 10

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	wait time.Duration
	got  int
	next int
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.got += n; b.got >= b.next {
		b.next = b.got + bodyStep
		_ = b.rc.SetReadDeadline(time.Now().Add(b.wait))
	}
	return n, err
}

// Slots bounds how many requests of a kind run at once.
type Slots chan struct{}

// NewSlots makes n slots, at least one.
func NewSlots(n int) Slots { return make(Slots, max(n, 1)) }

// Take takes a slot if one is free; the caller gives it back with Give.
func (s Slots) Take() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

// Give returns a slot taken.
func (s Slots) Give() { <-s }
