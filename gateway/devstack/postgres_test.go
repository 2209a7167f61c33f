package devstack_test

import (
	"context"
	"testing"
	"time"

	"lienthong/gateway"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
	"lienthong/queue/pgstore/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(m, &cluster) }

// The whole exchange with our gateway's work in PostgreSQL: documents out
// and answered, documents in and answered, each with its history.
func TestExchangeOnPostgres(t *testing.T) {
	pgtest.Need(t, cluster)
	s, clock := start(t, devstack.Options{StoreDSN: cluster.NewDatabase(t)})
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		m := memo("V/v trên PostgreSQL", i%4, "a.txt")
		m["codeNumber"] = "9" + string(rune('0'+i))
		acc, err := s.Client.Submit(ctx, m, []localapi.Upload{{Name: "a.txt", Data: []byte("nội dung")}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	in := memo("V/v gửi sở", 0)
	in["to"], in["codeNumber"] = []string{devstack.AgencyCode}, "77"
	if _, err := s.PeerClient.Submit(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "every document registered by the peer", func() bool {
		for _, id := range ids {
			if recipientStatus(t, s.Client, id) != "03" {
				return false
			}
		}
		return true
	})
	items := waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the peer's document")
	if _, err := s.Client.Answer(ctx, items[0].ID, localapi.StatusRequest{Code: "03", Description: "Đã vào sổ"}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Client.DocumentEvents(ctx, ids[0])
	if err != nil || len(evs) < 4 {
		t.Fatalf("history of a document: %+v, %v", evs, err)
	}
	if evs, err := s.Client.InboxEvents(ctx, items[0].ID); err != nil || len(evs) < 2 {
		t.Fatalf("history of an inbox item: %+v, %v", evs, err)
	}
	docs, err := s.Client.Documents(ctx, "", 0)
	if err != nil || len(docs) < 6 { // five documents, the 01 and the 03 sent back
		t.Errorf("documents listed: %d, %v", len(docs), err)
	}
}

// While the database restarts, the API answers 503 with Retry-After and
// /readyz says why; once it is back, the gateway goes on by itself and
// nothing submitted before is lost.
func TestDatabaseRestartStallsAndResumes(t *testing.T) {
	pgtest.Need(t, cluster)
	s, clock := start(t, devstack.Options{StoreDSN: cluster.NewDatabase(t)})
	ctx := context.Background()
	// Each its own number: the same DocumentId with other content is refused.
	numbered := func(subject, number string) map[string]any {
		m := memo(subject, 0)
		m["codeNumber"] = number
		return m
	}
	before, err := s.Client.Submit(ctx, numbered("V/v trước khi khởi động lại", "1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = cluster.Restart(func() {
		if _, err := s.Client.Submit(ctx, numbered("V/v khi cơ sở dữ liệu dừng", "2"), nil); status(err) != 503 {
			t.Errorf("a submission with the database down: %v, want 503", err)
		}
		if h, err := s.Client.Ready(ctx); err == nil && h.Ready {
			t.Error("readyz is ready with the database down")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "the document from before the restart registered", func() bool {
		d, err := s.Client.Document(ctx, before.ID)
		return err == nil && len(d.Recipients) == 1 && d.Recipients[0].StatusCode == "03"
	})
	if acc, err := s.Client.Submit(ctx, numbered("V/v sau khi khởi động lại", "3"), nil); err != nil || acc.Existing {
		t.Errorf("a new submission after the restart: %+v, %v", acc, err)
	}
}

// A node joining a gateway on PostgreSQL takes the agency directory that
// another node synced: it never reaches the axis here, yet resolves the
// peer.
func TestJoinedNodeTakesTheDirectory(t *testing.T) {
	pgtest.Need(t, cluster)
	s, clock := start(t, devstack.Options{StoreDSN: cluster.NewDatabase(t)})
	c := s.Config
	c.StateDir, c.API.Listen, c.Metrics.Listen = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	c.Axis.Endpoint = "http://127.0.0.1:1/" // nothing listens there
	g, err := gateway.Open(c, gateway.Options{Clock: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		<-done
		g.Close()
	})
	eventually(t, clock, time.Minute, "the joined node resolves the peer", func() bool {
		_, err := g.Agency(devstack.PeerCode)
		return err == nil
	})
}
