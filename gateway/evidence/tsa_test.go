package evidence_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"lienthong/gateway/evidence"
	"lienthong/gateway/evidence/tsatest"
)

// A checkpoint stamped by an RFC 3161 authority: the token checks
// against the checkpoint and states the authority's time; against
// another checkpoint, or from an authority that stamped another hash, it
// does not.
func TestTimestamp(t *testing.T) {
	tsa := tsatest.New(t)
	srv := httptest.NewServer(tsa)
	defer srv.Close()
	note := []byte("lienthong/000.00.07.H26\n5\nAAAA\n\n— lienthong/000.00.07.H26 xyz\n")
	token, err := evidence.Timestamp(context.Background(), srv.Client(), srv.URL, note)
	if err != nil {
		t.Fatal(err)
	}
	at, err := evidence.CheckTimestamp(token, note)
	if err != nil || !at.Equal(tsa.Now) {
		t.Fatalf("CheckTimestamp = %v, %v; want %v", at, err, tsa.Now)
	}
	if _, err := evidence.CheckTimestamp(token, append(note, 'x')); err == nil || !strings.Contains(err.Error(), "not over this checkpoint") {
		t.Errorf("a token checked against another checkpoint: %v", err)
	}
	bad := append([]byte(nil), token...)
	bad[len(bad)-5] ^= 1 // inside the signature
	if _, err := evidence.CheckTimestamp(bad, note); err == nil {
		t.Error("a token with a changed signature checked")
	}
	tsa.Lie.Store(true)
	if _, err := evidence.Timestamp(context.Background(), srv.Client(), srv.URL, note); err == nil {
		t.Error("a token over another hash was taken")
	}
	if _, err := evidence.Timestamp(context.Background(), srv.Client(), "http://127.0.0.1:1/", note); err == nil {
		t.Error("an unreachable authority gave a token")
	}
}
