package devstack_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"lienthong/gateway/evidence"
	"lienthong/gateway/evidence/tsatest"
	"lienthong/gateway/localapi"
	"lienthong/queue/pgstore/pgtest"
)

// After documents and statuses crossed both ways, the log verifies, and
// the bundle of each document holds every package of it that crossed: the
// document and the statuses about it.
func TestEvidenceOfTheExchange(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) devstack.Options
	}{
		{"bbolt", func(*testing.T) devstack.Options { return devstack.Options{} }},
		{"postgres", func(t *testing.T) devstack.Options {
			pgtest.Need(t, cluster)
			return devstack.Options{StoreDSN: cluster.NewDatabase(t)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := start(t, tc.opts(t))
			ctx := context.Background()
			out, err := s.Client.Submit(ctx, memo("V/v bằng chứng", 0, "a.txt"), []localapi.Upload{{Name: "a.txt", Data: []byte("nội dung")}})
			if err != nil {
				t.Fatal(err)
			}
			in := memo("V/v gửi sở", 0)
			in["to"], in["codeNumber"] = []string{devstack.AgencyCode}, "77"
			if _, err := s.PeerClient.Submit(ctx, in, nil); err != nil {
				t.Fatal(err)
			}
			items := waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the peer's document")
			if _, err := s.Client.Answer(ctx, items[0].ID, localapi.StatusRequest{Code: "03", Description: "Đã vào sổ"}); err != nil {
				t.Fatal(err)
			}
			eventually(t, clock, 500*time.Millisecond, "our document registered by the peer", func() bool {
				return recipientStatus(t, s.Client, out.ID) == "03"
			})
			eventually(t, clock, 500*time.Millisecond, "our 03 sent", func() bool {
				it, err := s.Client.InboxItem(ctx, items[0].ID)
				if err != nil || it.StatusID == "" {
					return false
				}
				d, err := s.Client.Document(ctx, it.StatusID)
				return err == nil && d.State == localapi.StateSent
			})
			// The time to 01 and 03 is measured, with no agency label;
			// the 01 may be processed after the 03.
			measured := func(code string) bool {
				return regexp.MustCompile(`(?m)^lienthong_time_to_status_seconds_count\{code="` + code + `"\} [1-9]`).MatchString(stacktest.Metrics(t, s.MetricsURL))
			}
			for _, code := range []string{"01", "03"} {
				eventually(t, clock, 100*time.Millisecond, "time to "+code+" measured", func() bool { return measured(code) })
			}
			cp, err := s.Client.EvidenceCheckpoint(ctx, true)
			if err != nil || cp.Size == 0 || !strings.HasPrefix(cp.VerifierKey, "lienthong/"+devstack.AgencyCode+"+") {
				t.Fatalf("checkpoint: %+v, %v", cp, err)
			}
			rep, err := s.Client.EvidenceVerify(ctx)
			if err != nil || !rep.OK || rep.Checkpoints == 0 || rep.Packages == 0 {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
			scoped := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}
			if _, err := scoped.EvidenceVerify(ctx); status(err) != 403 {
				t.Errorf("a token scoped to one unit verifies the whole log: %v, want 403", err)
			}
			for _, c := range []struct {
				doc  string
				want []string // kind and status code of each entry
			}{
				{out.DocumentID, []string{"sent ", "fetched ", "received 01", "fetched ", "received 03"}},
				{items[0].DocumentID, []string{"fetched ", "delivered ", "sent 01", "sent 03"}},
			} {
				var tarred bytes.Buffer
				if err := s.Client.EvidenceBundle(ctx, c.doc, "", &tarred); err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				if err := evidence.ReadTar(&tarred, dir); err != nil {
					t.Fatal(err)
				}
				if probs, err := evidence.VerifyBundle(dir, cp.VerifierKey); err != nil || len(probs) > 0 {
					t.Fatalf("bundle of %s: %q, %v", c.doc, probs, err)
				}
				var p evidence.Proof
				raw, _ := os.ReadFile(filepath.Join(dir, "proof.json"))
				json.Unmarshal(raw, &p)
				var got []string
				for _, pe := range p.Entries {
					e, _ := evidence.ParseEntry(decode(t, pe.Entry))
					got = append(got, e.Kind+" "+e.StatusCode)
					if pe.File == "" {
						t.Errorf("entry %d of %s has no package file", pe.Index, c.doc)
					}
				}
				// Packages of one document cross in parallel: the order
				// of the log is the order they were committed in.
				slices.Sort(got)
				slices.Sort(c.want)
				if !slices.Equal(got, c.want) {
					t.Errorf("entries of %s: %q, want %q", c.doc, got, c.want)
				}
			}
		})
	}
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// With a time-stamping authority configured, a checkpoint is stamped; while
// the authority is down, exchange goes on and the stamp comes later.
func TestEvidenceTimestampedLater(t *testing.T) {
	tsa := tsatest.New(t)
	tsa.Down.Store(true)
	srv := httptest.NewServer(tsa)
	defer srv.Close()
	s, clock := start(t, devstack.Options{Configure: func(peer bool, c *conf.Config) {
		if !peer {
			c.Evidence.TSA = srv.URL
		}
	}})
	ctx := context.Background()
	acc, err := s.Client.Submit(ctx, memo("V/v dấu thời gian", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "the document registered while the authority is down", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "03"
	})
	cp, err := s.Client.EvidenceCheckpoint(ctx, true)
	if err != nil || cp.Timestamp != nil {
		t.Fatalf("checkpoint with the authority down: %+v, %v", cp, err)
	}
	tsa.Down.Store(false)
	eventually(t, clock, 10*time.Second, "the checkpoint stamped", func() bool {
		cp, err = s.Client.EvidenceCheckpoint(ctx, false)
		return err == nil && cp.Timestamp != nil
	})
	if at, err := evidence.CheckTimestamp(cp.Timestamp, []byte(cp.Checkpoint)); err != nil || !at.Equal(tsa.Now) {
		t.Fatalf("the stamp: %v, %v", at, err)
	}
	rep, err := s.Client.EvidenceVerify(ctx)
	if err != nil || !rep.OK || rep.Timestamps == 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}
