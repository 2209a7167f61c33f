package devstack_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"lienthong/gateway/devstack"
)

// BenchmarkSubmit is the accept path the legacy system waits on: HTTP,
// validation, recipient resolution, signing and a durable put, over
// loopback with fsync on.
func BenchmarkSubmit(b *testing.B) {
	s, err := devstack.Open(devstack.Options{Dir: b.TempDir(), Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		b.Fatal(err)
	}
	defer func() { cancel(); <-done }()
	b.ResetTimer()
	for i := range b.N {
		m := memo("V/v đo hiệu năng", 0)
		m["codeNumber"] = fmt.Sprint(i + 1)
		if _, err := s.Client.Submit(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
	}
}
