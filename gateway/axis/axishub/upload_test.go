package axishub

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestHoldBackHashesAllButTail: whatever the writes' sizes, the hash
// covers everything but the last two bytes, which are kept.
func TestHoldBackHashesAllButTail(t *testing.T) {
	data := []byte("<edXML>package</edXML>\r\n")
	for _, step := range []int{1, 2, 3, 5, len(data)} {
		hb := &holdBack{h: sha256.New()}
		for i := 0; i < len(data); i += step {
			hb.Write(data[i:min(i+step, len(data))])
		}
		want := sha256.Sum256(data[:len(data)-2])
		if got := hb.h.Sum(nil); string(got) != string(want[:]) || string(hb.tail) != "\r\n" {
			t.Errorf("writes of %d: hash of all but the tail wrong, tail %q", step, hb.tail)
		}
	}
}

// Writes that arrive together share commits, and one that fails fails
// alone: the others' effects are all kept.
func TestGroupCommit(t *testing.T) {
	h, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	before := h.Flushes()
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Go(func() {
			errs[i] = h.update(func(tx *bolt.Tx) error {
				if err := tx.Bucket(bAgencies).Put([]byte(fmt.Sprintf("k%02d", i)), []byte("v")); err != nil {
					return err
				}
				if i == 7 {
					return errors.New("refused")
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 7) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	h.db.View(func(tx *bolt.Tx) error {
		for i := range errs {
			if got := tx.Bucket(bAgencies).Get([]byte(fmt.Sprintf("k%02d", i))); (got != nil) != (i != 7) {
				t.Errorf("write %d kept: %v", i, got != nil)
			}
		}
		return nil
	})
	if n := h.Flushes() - before; n >= 2*64 {
		t.Errorf("%d flushes for 64 concurrent writes: nothing was shared", n)
	}
}
