package axishub

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"lienthong/gateway/axis"
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

// An upload is read whole into memory up to smallPackage and the SDK's
// CRLF, and spilled to a file beyond that; either way the SDK's CRLF is dropped when hash-file
// covers the package without it, and a wrong hash-file is refused.
func TestReadUpload(t *testing.T) {
	h, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, size := range []int{10, smallPackage - 1, smallPackage, smallPackage + 1, smallPackage + 2, 3 * smallPackage} {
		pkg := bytes.Repeat([]byte("x"), size)
		sum := sha256.Sum256(pkg)
		for _, tc := range []struct {
			name string
			body []byte
			hash string
		}{
			{"raw with CRLF", append(bytes.Clone(pkg), "\r\n"...), axis.HashFile(sum, false)},
			{"raw without CRLF", pkg, axis.HashFile(sum, true)},
		} {
			r := httptest.NewRequest(http.MethodPost, "/sendEdoc", bytes.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/octet-stream")
			up, err := h.readUpload(r, tc.hash, false, Faults{})
			if err != nil {
				t.Fatalf("%d bytes, %s: %v", size, tc.name, err)
			}
			got := up.data
			if up.path != "" {
				if got, err = os.ReadFile(up.path); err != nil {
					t.Fatal(err)
				}
			}
			if (up.path != "") != (len(tc.body) > smallPackage+2) || up.size != int64(size) || !bytes.Equal(got, pkg) {
				t.Errorf("%d bytes, %s: file %q, size %d, content equal %v", size, tc.name, up.path, up.size, bytes.Equal(got, pkg))
			}
			up.discard()
		}
		r := httptest.NewRequest(http.MethodPost, "/sendEdoc", bytes.NewReader(pkg))
		if _, err := h.readUpload(r, "00", false, Faults{}); err == nil {
			t.Errorf("%d bytes with a wrong hash-file: accepted", size)
		}
	}
	left, _ := os.ReadDir(h.blobs)
	if len(left) != 0 {
		t.Errorf("%d files left beside the blobs after refusals and discards", len(left))
	}
}
