package devstack_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// Dead letters after the axis failed: one is discarded with a reason and
// is never sent, the others are resent in one call once the axis is back;
// a document waiting out its backoff is retried at once. Each action is in
// the document's history with the client that asked for it.
func TestDeadLetterTools(t *testing.T) {
	s, clock := start(t, devstack.Options{Configure: func(peer bool, c *conf.Config) {
		if !peer {
			// Two attempts ten minutes apart: a retry waits long
			// enough to be asked for by hand.
			c.Outbound.MaxAttempts = 2
			c.Outbound.RetryBase, c.Outbound.RetryCap = conf.Duration(10*time.Minute), conf.Duration(time.Hour)
		}
	}})
	ctx := context.Background()
	s.Hub.SetFaults(axishub.Faults{ErrorRate: 1})
	var ids []string
	for i := range 3 {
		m := memo(fmt.Sprintf("V/v thư chết %d", i), 0)
		m["codeNumber"] = fmt.Sprint(400 + i)
		acc, err := s.Client.Submit(ctx, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	eventually(t, clock, time.Minute, "three dead letters", func() bool {
		docs, err := s.Client.Documents(ctx, localapi.StateDead, 0)
		return err == nil && len(docs) == 3
	})
	if _, err := s.Client.Discard(ctx, ids[0], ""); status(err) != 422 {
		t.Errorf("a discard without a reason: %v, want 422", err)
	}
	d, err := s.Client.Discard(ctx, ids[0], "Gửi nhầm nơi nhận")
	if err != nil || d.State != localapi.StateDiscarded || d.Discarded != "Gửi nhầm nơi nhận" {
		t.Fatalf("discard: %+v, %v", d, err)
	}
	evs, _ := s.Client.DocumentEvents(ctx, ids[0])
	if last := evs[len(evs)-1]; last.Kind != "discarded" || last.Client != "dev-legacy" || last.Reason != "Gửi nhầm nơi nhận" {
		t.Errorf("the discard's event: %+v", last)
	}
	if _, err := s.Client.Discard(ctx, ids[0], "again"); status(err) != 409 {
		t.Errorf("a second discard: %v, want 409", err)
	}
	sum, err := s.Client.Summary(ctx)
	if err != nil || sum.Outbound.Dead.Count != 2 || len(sum.Problems) == 0 {
		t.Errorf("summary with two dead letters: %+v, %v", sum, err)
	}

	s.Hub.SetFaults(axishub.Faults{})
	res, err := s.Client.ResendAll(ctx, localapi.ResendQuery{Agency: devstack.AgencyCode})
	if err != nil || res.Resent != 2 {
		t.Fatalf("resend all: %+v, %v", res, err)
	}
	eventually(t, clock, 500*time.Millisecond, "the two resent documents sent", func() bool {
		for _, id := range ids[1:] {
			if d, err := s.Client.Document(ctx, id); err != nil || d.State != localapi.StateSent {
				return false
			}
		}
		return true
	})
	if docs, err := s.Client.Documents(ctx, localapi.StateDiscarded, 0); err != nil || len(docs) != 1 || docs[0].ID != ids[0] {
		t.Errorf("discarded documents: %+v, %v", docs, err)
	}
	if docs, _ := s.Client.Documents(ctx, localapi.StateSent, 0); len(docs) != 2 {
		t.Errorf("%d sent documents listed, want the 2 resent (not the discarded one)", len(docs))
	}
	pkgs, err := s.Hub.Packages()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if p.Notation == "400/SVD-VP" {
			t.Error("the discarded document reached the axis")
		}
	}

	// A document waiting out a long backoff is sent when asked.
	s.Hub.SetFaults(axishub.Faults{ErrorRate: 1})
	m := memo("V/v thử lại ngay", 0)
	m["codeNumber"] = "410"
	acc, err := s.Client.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 100*time.Millisecond, "the document retrying", func() bool {
		d, err := s.Client.Document(ctx, acc.ID)
		return err == nil && d.State == localapi.StateRetry
	})
	s.Hub.SetFaults(axishub.Faults{})
	if d, err := s.Client.RetryNow(ctx, acc.ID); err != nil || d.NextRetry == nil || d.NextRetry.After(clock.Now()) {
		t.Fatalf("retry now: %+v, %v", d, err)
	}
	eventually(t, clock, 100*time.Millisecond, "the document sent after retry now", func() bool {
		d, err := s.Client.Document(ctx, acc.ID)
		return err == nil && d.State == localapi.StateSent
	})
	if _, err := s.Client.RetryNow(ctx, acc.ID); status(err) != 409 {
		t.Errorf("retry now of a sent document: %v, want 409", err)
	}
}
