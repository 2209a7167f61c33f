package axishub

import (
	"crypto/sha256"
	"testing"
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
