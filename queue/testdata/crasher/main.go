// Command crasher puts and leases queue records as fast as it can and
// reports each one on stdout only after the call returned, until it is
// killed. TestCrash kills it at random moments and checks that every
// reported write survived.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"lienthong/queue"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: crasher DB RUN")
		os.Exit(2)
	}
	run := os.Args[2]
	s, err := queue.Open(os.Args[1], queue.Options{LeaseTime: time.Hour, BlobThreshold: 8 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // one write(2) a line
		mu.Unlock()
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for w := 0; w < 8; w++ {
		go func() {
			for i := 0; ; i++ {
				key := run + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				size := rand.IntN(2048)
				if i%10 == 0 {
					size = 8<<10 + rand.IntN(32<<10)
				}
				p := make([]byte, size)
				for j := range p {
					p[j] = byte(rand.UintN(256))
				}
				r, _, err := s.Put(queue.Item{Dir: queue.Outbound, Key: key, Priority: rand.IntN(5), Payload: p})
				if err != nil {
					fail(err)
				}
				say("put %s %s", key, r.ID)
			}
		}()
	}
	for w := 0; w < 2; w++ {
		go func() {
			for {
				r, err := s.Lease(time.Now(), queue.Outbound, 0)
				if err != nil {
					continue
				}
				say("lease %s %d", r.ID, r.Lease)
				if rand.IntN(3) == 0 {
					continue // abandoned: the lease must come back after it ends
				}
				if _, err := s.Done(time.Now(), r.ID, r.Lease, nil); err != nil {
					fail(err)
				}
				say("done %s", r.ID)
			}
		}()
	}
	select {}
}
