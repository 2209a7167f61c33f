package gateway

import (
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"lienthong/envelope"
)

// The local API's defences against slow, idle and greedy clients, and the
// spooling of uploads to files.

// limitListener closes connections beyond its slots at once: a client
// holding many idle connections cannot take every descriptor, and those
// waiting get an immediate refusal rather than a hang.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
		default:
			c.Close()
		}
	}
}

type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *slotConn) Close() error {
	c.once.Do(c.free)
	return c.Conn.Close()
}

// bodyDeadline keeps an upload alive while it comes in, and only then: the
// connection's read deadline moves 30 s ahead for every 256 KiB received,
// so a client trickling a body is cut off while a slow line is not.
type bodyDeadline struct {
	io.ReadCloser
	rc   *http.ResponseController
	got  int
	next int
}

const bodyStep, bodyWait = 256 << 10, 30 * time.Second

func newBodyDeadline(w http.ResponseWriter, body io.ReadCloser) io.ReadCloser {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(bodyWait)) != nil {
		return body // not a connection that takes deadlines (tests)
	}
	return &bodyDeadline{ReadCloser: body, rc: rc, next: bodyStep}
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.got += n; b.got >= b.next {
		b.next = b.got + bodyStep
		_ = b.rc.SetReadDeadline(time.Now().Add(bodyWait))
	}
	return n, err
}

// removeFiles removes the spooled files of a submission.
func removeFiles(files []envelope.Attachment) {
	for _, f := range files {
		if f.Path != "" {
			os.Remove(f.Path)
		}
	}
}
