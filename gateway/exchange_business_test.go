package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// A document the peer already registered (03) is revoked: the revocation
// reuses its DocumentId, is delivered, not dropped as a duplicate, and is
// linked to the original, which waits for the clerk's answer; the 15
// comes back as the recipient's state of the original.
func TestRevokeRegisteredDocument(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	acc, err := s.Client.Submit(ctx, memo("V/v sẽ bị thu hồi", 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	orig := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 1, "the document at the peer")[0]
	if _, err := s.PeerClient.Answer(ctx, orig.ID, localapi.StatusRequest{Code: "03"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "03 at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "03"
	})
	rev, err := s.Client.Revoke(ctx, acc.ID, "Ban hành nhầm")
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if rev.ID == acc.ID || rev.DocumentID != acc.DocumentID || rev.Priority != 2 {
		t.Errorf("revocation record %+v, want its own record under the original's DocumentId, as urgent", rev)
	}
	if again, err := s.Client.Revoke(ctx, acc.ID, "Ban hành nhầm"); err != nil || again.ID != rev.ID {
		t.Errorf("second Revoke = %v, %v; want the first revocation again", again, err)
	}
	change := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 1, "the revocation in the peer's inbox")[0]
	if change.BusinessDocType != 1 || change.DocumentID != orig.DocumentID || !slices.Equal(change.TargetIDs, []string{orig.ID}) || change.TargetUnknown {
		t.Fatalf("revocation item = %+v, want type 1 linked to %s", change, orig.ID)
	}
	got, err := s.PeerClient.InboxItem(ctx, orig.ID)
	if err != nil || got.Change != localapi.ChangeRevoked || got.State != localapi.InboxRecall || got.StatusCode != "03" ||
		len(got.ChangedBy) != 1 || got.ChangedBy[0].ID != change.ID || got.ChangedBy[0].Reason != "Ban hành nhầm" {
		t.Fatalf("original after the revocation = %+v (%v), want it registered, marked revoked and waiting for 15/16", got, err)
	}
	if _, err := s.PeerClient.Answer(ctx, change.ID, localapi.StatusRequest{Code: "15"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.PeerClient.InboxItem(ctx, orig.ID); got.State != localapi.InboxAnswered || got.StatusCode != "15" {
		t.Errorf("original after 15 to its revocation = %+v, want it answered 15 too", got)
	}
	eventually(t, clock, 500*time.Millisecond, "15 (revocation agreed) at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "15"
	})
}

// The dev peer agrees to a recall by itself, as the README's tour shows.
func TestDevPeerAnswersRecall(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	ctx := context.Background()
	acc, err := s.Client.Submit(ctx, memo("V/v thu hồi tự động", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "03 at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "03"
	})
	if _, err := s.Client.Recall(ctx, acc.ID, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "15 (recall agreed) at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "15"
	})
}

// Answers follow the status order, and only documents are recalled.
func TestAnswerOrderAndRecallOfStatus(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	if _, err := s.Client.Submit(ctx, memo("V/v thứ tự trạng thái", 0), nil); err != nil {
		t.Fatal(err)
	}
	item := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 1, "the document at the peer")[0]
	answered, err := s.PeerClient.Answer(ctx, item.ID, localapi.StatusRequest{Code: "03"})
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"02", "15", "01"} {
		if _, err := s.PeerClient.Answer(ctx, item.ID, localapi.StatusRequest{Code: code}); status(err) != 409 && status(err) != 422 {
			t.Errorf("answer %s after 03: %v, want a refusal naming the rule", code, err)
		}
	}
	if _, err := s.PeerClient.Answer(ctx, item.ID, localapi.StatusRequest{Code: "05"}); err != nil {
		t.Errorf("05 after 03: %v", err)
	}
	if _, err := s.PeerClient.Recall(ctx, answered.StatusID, ""); status(err) != 409 {
		t.Errorf("recall of a status package: %v, want 409", err)
	}
}

// A replacement submitted with business type 3 in its metadata reaches
// the peer linked to the document it replaces, and the peer's 15 shows on
// the replacement.
func TestReplaceThroughMetadata(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	ctx := context.Background()
	first, err := s.Client.Submit(ctx, memo("V/v bản cũ", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "03 for the first", func() bool {
		return recipientStatus(t, s.Client, first.ID) == "03"
	})
	m := memo("V/v bản thay thế", 0)
	m["codeNumber"] = "153"
	m["business"] = map[string]any{"type": 3, "reason": "Thay thế văn bản", "replacements": []map[string]any{{"documentId": first.DocumentID, "organIds": []string{devstack.PeerCode}}}}
	second, err := s.Client.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "15 for the replacement", func() bool {
		return recipientStatus(t, s.Client, second.ID) == "15"
	})
	items, err := s.PeerClient.Inbox(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var orig, repl localapi.InboxItem
	for _, it := range items {
		switch it.DocumentID {
		case first.DocumentID:
			orig = it
		case second.DocumentID:
			repl = it
		}
	}
	if repl.BusinessDocType != 3 || !slices.Equal(repl.Targets, []string{first.DocumentID}) || !slices.Equal(repl.TargetIDs, []string{orig.ID}) {
		t.Errorf("replacement item = %+v, want it linked to %s", repl, orig.ID)
	}
	if orig.Change != localapi.ChangeReplaced || orig.StatusCode != "03" {
		t.Errorf("original = %+v, want it registered and marked replaced", orig)
	}
}

// A link in the spool outbox is never followed: neither a metadata file
// nor an attachment that is a link to a secret gets signed and sent.
func TestSpoolRefusesLinks(t *testing.T) {
	spool := t.TempDir()
	s, clock := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		if !peer {
			c.Spool.Dir, c.Spool.ScanInterval = spool, conf.Duration(time.Second)
		}
	}})
	eventually(t, clock, 500*time.Millisecond, "the spool folders", func() bool {
		_, err := os.Stat(filepath.Join(spool, "outbox"))
		return err == nil
	})
	secret := filepath.Join(s.Dir, "pki", "a.key")
	m := memo("V/v lấy trộm khóa", 0)
	m["attachments"] = []map[string]string{{"file": "key.pdf"}}
	b, _ := json.Marshal(m)
	if err := os.Symlink(secret, filepath.Join(spool, "outbox", "key.pdf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spool, "outbox", "steal.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "meta.json")
	os.WriteFile(target, b, 0o600)
	if err := os.Symlink(target, filepath.Join(spool, "outbox", "linked.json")); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "both refused", func() bool {
		_, e1 := os.Stat(filepath.Join(spool, "failed", "steal.result.json"))
		_, e2 := os.Stat(filepath.Join(spool, "failed", "linked.result.json"))
		return e1 == nil && e2 == nil
	})
	r, _ := os.ReadFile(filepath.Join(spool, "failed", "steal.result.json"))
	if !strings.Contains(string(r), "symbolic link") {
		t.Errorf("result %s, want the link named", r)
	}
	if docs, _ := s.Client.Documents(context.Background(), "", 0); len(docs) != 0 {
		t.Errorf("%d documents queued from links, want none", len(docs))
	}
}

// A recall and a revocation of one document, back to back, reach the
// peer as two changes of one inbox item: twenty times over, every
// original ends linked to its revocation and answered, never left in
// recall, whichever order the two arrive and are answered in.
func TestRecallAndRevokeBackToBack(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	ctx := context.Background()
	const n = 20
	var ids []string
	for i := range n {
		m := memo(fmt.Sprintf("V/v thu hồi liền nhau %d", i), 0)
		m["codeNumber"] = fmt.Sprint(300 + i)
		acc, err := s.Client.Submit(ctx, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	for _, id := range ids {
		eventually(t, clock, 100*time.Millisecond, "sent: "+id, func() bool {
			d, err := s.Client.Document(ctx, id)
			return err == nil && d.State == localapi.StateSent
		})
		if _, err := s.Client.Recall(ctx, id, ""); err != nil {
			t.Fatalf("Recall %s: %v", id, err)
		}
		if _, err := s.Client.Revoke(ctx, id, "Ban hành nhầm"); err != nil {
			t.Fatalf("Revoke %s: %v", id, err)
		}
	}
	settled := func() (bad string) {
		items, err := s.PeerClient.Inbox(ctx, "", 0)
		if err != nil {
			return err.Error()
		}
		originals := 0
		for _, it := range items {
			if it.State == localapi.InboxQuarantined {
				return fmt.Sprintf("%s quarantined: %s", it.ID, it.Reason)
			}
			if !strings.HasPrefix(it.Subject, "V/v thu hồi liền nhau") {
				continue // a revocation, or a status package
			}
			originals++
			linked := slices.ContainsFunc(it.ChangedBy, func(c localapi.InboxChange) bool { return c.Change == localapi.ChangeRevoked })
			if !linked || it.State != localapi.InboxAnswered || it.StatusCode != "15" {
				return fmt.Sprintf("%s: state %s, code %s, changedBy %v, reason %q", it.ID, it.State, it.StatusCode, it.ChangedBy, it.Reason)
			}
		}
		if originals != n {
			return fmt.Sprintf("%d originals at the peer, want %d", originals, n)
		}
		return ""
	}
	last := ""
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last seen: %s", last)
		}
	})
	eventually(t, clock, 100*time.Millisecond, "every original linked and answered 15", func() bool {
		last = settled()
		return last == ""
	})
	// Nothing moves them afterwards: the state holds.
	clock.Advance(time.Minute)
	if bad := settled(); bad != "" {
		t.Errorf("after settling: %s", bad)
	}
}

// Every change is in the history of the record it changed, in order: at
// the sender a document is accepted, signed, sent with its axis DocId,
// then the peer's 01 and 03, the recall (13) sent and its 15; at the
// peer, the item is fetched, delivered, answered 01 and 03, recalled,
// and answered 15.
func TestHistoryOfDocumentAndInboxItem(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	ctx := context.Background()
	acc, err := s.Client.Submit(ctx, memo("V/v lịch sử văn bản", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	// 01 and 03 cross the axis side by side: both have arrived before the
	// recall, so the history's order is fixed.
	eventually(t, clock, 100*time.Millisecond, "01 and 03 at the sender", func() bool {
		d, err := s.Client.Document(ctx, acc.ID)
		if err != nil || len(d.Recipients) != 1 {
			return false
		}
		codes := d.Recipients[0].Codes
		return !codes["01"].IsZero() && !codes["03"].IsZero()
	})
	if _, err := s.Client.Recall(ctx, acc.ID, "Gửi nhầm"); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 100*time.Millisecond, "15 at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "15"
	})
	evs, err := s.Client.DocumentEvents(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The peer sends 01 and 03 at once: they may be taken in either order.
	want := []string{"accepted", "signed", "sent", "status 01 in", "status 03 in", "recall", "recall 13 out", "status 15 in"}
	got := eventSteps(evs)
	if len(got) > 4 && got[3] == "status 03 in" && got[4] == "status 01 in" {
		got[3], got[4] = got[4], got[3]
	}
	if !slices.Equal(got, want) {
		t.Errorf("document history = %v, want %v", got, want)
	}
	for i, ev := range evs {
		switch {
		case ev.Time.IsZero():
			t.Errorf("event %d (%s) has no time", i, ev.Kind)
		case ev.Kind == "sent" && ev.AxisDocID == "":
			t.Errorf("sent without the axis DocId: %+v", ev)
		case ev.Code != "" && ev.Recipient != devstack.PeerCode:
			t.Errorf("status %s names %q, want the peer", ev.Code, ev.Recipient)
		case ev.Direction == "in" && ev.StatusTime == nil:
			t.Errorf("received %s without the time the peer gave it", ev.Code)
		}
	}
	d, err := s.Client.Document(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if codes := d.Recipients[0].Codes; len(codes) != 3 || codes["01"].IsZero() || codes["03"].IsZero() || codes["15"].IsZero() {
		t.Errorf("recipient's code times = %v, want 01, 03 and 15", codes)
	}
	items, err := s.PeerClient.Inbox(ctx, "", 0)
	if err != nil || len(items) != 1 {
		t.Fatalf("peer inbox = %v, %v", items, err)
	}
	evs, err = s.PeerClient.InboxEvents(ctx, items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"fetched", "delivered", "status 01 out", "status 03 out", "recall 13 in", "status 15 out"}
	got = eventSteps(evs)
	if len(got) > 3 && got[2] == "status 03 out" && got[3] == "status 01 out" {
		got[2], got[3] = got[3], got[2]
	}
	if !slices.Equal(got, want) {
		t.Errorf("inbox item history = %v, want %v", got, want)
	}
	if _, err := s.Client.DocumentEvents(ctx, "out-9999999999"); status(err) != 404 {
		t.Errorf("events of an unknown document: %v, want 404", err)
	}
}

// eventSteps names each event by kind, and code and direction where it
// has them.
func eventSteps(evs []localapi.Event) []string {
	var out []string
	for _, ev := range evs {
		step := ev.Kind
		if ev.Code != "" {
			step += " " + ev.Code + " " + ev.Direction
		}
		out = append(out, step)
	}
	return out
}
