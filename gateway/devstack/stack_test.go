package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/envelope"
	"lienthong/envelope/sigkey"
	"lienthong/gateway/axis"

	"lienthong/conf"
	"lienthong/envelope/devca"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/clocktest"
	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// fakeClock is the engine tests' shared clock.
type fakeClock = clocktest.Clock

// The shared helpers, by their short names.
var (
	start           = stacktest.Start
	eventually      = stacktest.Eventually
	memo            = stacktest.Memo
	recipientStatus = stacktest.RecipientStatus
	waitInbox       = stacktest.WaitInbox
	newInbox        = stacktest.Inbox
	newAgencyKey    = stacktest.NewAgencyKey
	status          = stacktest.Status
)

func TestDocumentWithAttachmentsRegisteredByPeer(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	pdf := bytes.Repeat([]byte("%PDF-1.7 công văn\n"), 5000)
	annex := []byte("Phụ lục: danh sách đơn vị\n")
	acc, err := s.Client.Submit(ctx, memo("V/v thử nghiệm liên thông", 0, "cong-van.pdf", "phu-luc.txt"),
		[]localapi.Upload{{Name: "cong-van.pdf", Data: pdf}, {Name: "phu-luc.txt", Data: annex}})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if again, err := s.Client.Submit(ctx, memo("V/v thử nghiệm liên thông", 0, "cong-van.pdf", "phu-luc.txt"),
		[]localapi.Upload{{Name: "cong-van.pdf", Data: pdf}, {Name: "phu-luc.txt", Data: annex}}); err != nil || again.ID != acc.ID || !again.Existing {
		t.Fatalf("second Submit of the same document = %+v, %v; want the first record %s", again, err, acc.ID)
	}
	// The same DocumentId with another subject or other files is another
	// document: refused, never taken as the first.
	if _, err := s.Client.Submit(ctx, memo("V/v khác hẳn", 0, "cong-van.pdf", "phu-luc.txt"),
		[]localapi.Upload{{Name: "cong-van.pdf", Data: pdf}, {Name: "phu-luc.txt", Data: annex}}); status(err) != 409 || !strings.Contains(err.Error(), acc.ID) {
		t.Errorf("the same DocumentId with another subject: %v, want 409 naming %s", err, acc.ID)
	}
	if _, err := s.Client.Submit(ctx, memo("V/v thử nghiệm liên thông", 0, "cong-van.pdf", "phu-luc.txt"),
		[]localapi.Upload{{Name: "cong-van.pdf", Data: pdf[1:]}, {Name: "phu-luc.txt", Data: annex}}); status(err) != 409 {
		t.Errorf("the same DocumentId with another file: %v, want 409", err)
	}

	var item localapi.InboxItem
	eventually(t, clock, 500*time.Millisecond, "the peer's inbox to show the document", func() bool {
		items := newInbox(t, s.PeerClient, localapi.InboxNew)
		if len(items) == 1 {
			item = items[0]
		}
		return len(items) == 1
	})
	if item.Promulgated != "2026-03-16" {
		t.Errorf("the inbox gives promulgationDate %q, want it as submitted: 2026-03-16", item.Promulgated)
	}
	if item.DocumentID != acc.DocumentID || item.From != devstack.AgencyCode || len(item.Files) != 2 {
		t.Fatalf("inbox item = %+v, want document %s from %s with 2 files", item, acc.DocumentID, devstack.AgencyCode)
	}
	for i, want := range [][]byte{pdf, annex} {
		got, err := s.PeerClient.InboxFile(ctx, item.ID, i+1)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("file %d: %d bytes, %v; want the %d bytes sent", i+1, len(got), err, len(want))
		}
	}
	// Files lost from the state folder (or never there, on another node)
	// are written again from the stored package.
	if err := os.RemoveAll(filepath.Join(s.PeerConfig.StateDir, "inbox", item.ID)); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{pdf, annex} {
		got, err := s.PeerClient.InboxFile(ctx, item.ID, i+1)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("file %d after its folder was removed: %d bytes, %v; want the %d bytes sent", i+1, len(got), err, len(want))
		}
	}
	eventually(t, clock, 500*time.Millisecond, "status 01 at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "01"
	})
	if _, err := s.PeerClient.Answer(ctx, item.ID, localapi.StatusRequest{Code: "03", Staff: "Văn thư"}); err != nil {
		t.Fatalf("Answer 03: %v", err)
	}
	eventually(t, clock, 500*time.Millisecond, "status 03 at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "03"
	})
	if items := newInbox(t, s.PeerClient, localapi.InboxAnswered); len(items) != 1 || items[0].StatusCode != "03" {
		t.Errorf("peer's answered inbox = %+v, want the item answered 03", items)
	}
}

func TestPeerAnswersAutomatically(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	acc, err := s.Client.Submit(context.Background(), memo("V/v tự động", 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 200*time.Millisecond, "status 03 from the simulated peer", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "03"
	})
}

// rogueKey gives our gateway a key from a CA the peer does not trust.
func rogueKey(t *testing.T, dir string) func(bool, *conf.Config) {
	keyFile, certFile, _ := newAgencyKey(t, dir, "rogue", devca.Leaf{Name: devstack.AgencyName, Code: devstack.AgencyCode})
	return func(peer bool, c *conf.Config) {
		if !peer {
			c.Signing.KeyFile, c.Signing.CertFile = keyFile, certFile
		}
	}
}

func TestUntrustedSignatureRefusedWith02(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true, Configure: rogueKey(t, t.TempDir())})
	acc, err := s.Client.Submit(context.Background(), memo("V/v ký sai", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "status 02 at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "02"
	})
	d, _ := s.Client.Document(context.Background(), acc.ID)
	if desc := d.Recipients[0].Description; !strings.Contains(desc, "untrusted certificate") {
		t.Errorf("02 description = %q, want the signature reason", desc)
	}
	q := newInbox(t, s.PeerClient, localapi.InboxQuarantined)
	if len(q) != 1 || !strings.Contains(q[0].Reason, "untrusted certificate") || len(newInbox(t, s.PeerClient, localapi.InboxNew)) != 0 {
		t.Fatalf("peer quarantine = %+v, want the package held with a signature reason and nothing delivered", q)
	}
}

func TestRecall(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	acc, err := s.Client.Submit(ctx, memo("V/v sẽ thu hồi", 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "the document at the peer", func() bool {
		return len(newInbox(t, s.PeerClient, localapi.InboxNew)) == 1
	})
	if _, err := s.Client.Recall(ctx, acc.ID, "Ban hành nhầm"); err != nil {
		t.Fatalf("Recall: %v", err)
	}
	var item localapi.InboxItem
	eventually(t, clock, 500*time.Millisecond, "the recall request in the peer's inbox", func() bool {
		items := newInbox(t, s.PeerClient, localapi.InboxRecall)
		if len(items) == 1 {
			item = items[0]
		}
		return len(items) == 1
	})
	if !item.Recall || item.Reason != "Ban hành nhầm" {
		t.Fatalf("recall item = %+v", item)
	}
	if _, err := s.PeerClient.Answer(ctx, item.ID, localapi.StatusRequest{Code: "15"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "15 (recall agreed) at the sender", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "15"
	})
}

func TestAxisOutageEndsWithEverythingDeliveredOnce(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	clockStart := clock.Now()
	s.Hub.SetFaults(axishub.Faults{OutageUntil: clockStart.Add(6 * time.Minute)})
	ctx := context.Background()
	var ids []string
	for i, prio := range []int{0, 0, 3, 1, 0} {
		m := memo(fmt.Sprintf("V/v mất kết nối %d", i), prio)
		m["codeNumber"] = fmt.Sprint(200 + i)
		acc, err := s.Client.Submit(ctx, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	deliveredOnce(t, s, clock, ids)
	if clock.Now().Before(clockStart.Add(6 * time.Minute)) {
		t.Fatalf("delivered at %v, before the outage ended", clock.Now())
	}
	for _, id := range ids {
		d, _ := s.Client.Document(ctx, id)
		// Six minutes of outage: the breaker keeps attempts per document
		// far below one per second.
		if d.Attempts > 12 {
			t.Errorf("%s took %d attempts during a 6-minute outage, want the breaker to hold them down", id, d.Attempts)
		}
	}
}

func TestSameDocumentTwiceDeliveredOnce(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	raw := signedMemo(t, s, clock.Now())
	secret, err := s.Config.Axis.Secret.Read()
	if err != nil {
		t.Fatal(err)
	}
	c, err := axis.New(axis.Config{Endpoint: s.HubURL, SystemID: s.Config.Axis.SystemID, Secret: []byte(secret), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Two uploads of the same package, as after a send whose answer was
	// lost: the axis sees two documents.
	for range 2 {
		// Signed a second later: the same signed call again would be a
		// replay, which the axis stores once.
		clock.Advance(time.Second)
		if _, err := c.SendEdoc(ctx, axis.SendRequest{From: devstack.AgencyCode, MessageType: axis.MessageEdoc, Upload: axis.BytesUpload("memo.edxml", raw)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, clock, 500*time.Millisecond, "both copies processed by the peer", func() bool {
		return processed(s.Peer.Stats(), queue.Inbound) == 2
	})
	if items := newInbox(t, s.PeerClient, ""); len(items) != 1 {
		t.Fatalf("peer inbox = %d items, want 1", len(items))
	}
}

// signedMemo signs a memo with our gateway's key, outside the gateway.
func signedMemo(t *testing.T, s *devstack.Stack, now time.Time) []byte {
	t.Helper()
	key, err := sigkey.Load(sigkey.Config{KeyFile: s.Config.Signing.KeyFile, CertFile: s.Config.Signing.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := envelope.NewSigner(key.Signer, key.Chain, envelope.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(memo("V/v gửi hai lần", 0))
	m, err := envelope.DecodeMetadata(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := m.Document(envelope.Organization{OrganID: devstack.AgencyCode, OrganName: devstack.AgencyName}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := signer.SignBytes(&envelope.Package{Kind: envelope.KindDocument, Document: doc}, envelope.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestLocalAPIRefusals(t *testing.T) {
	s, _ := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	bad := *s.Client
	bad.Token = "not-a-token-at-all"
	if _, err := bad.Documents(ctx, "", 0); status(err) != 401 {
		t.Errorf("wrong token: %v, want 401", err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(m map[string]any)
		status int
		field  string
	}{
		{"unknown recipient", func(m map[string]any) { m["to"] = []string{"000.00.00.H99"} }, 422, "to[0]"},
		{"malformed recipient", func(m map[string]any) { m["to"] = []string{devstack.PeerCode, "000.00.H26"} }, 422, "to[1]"},
		{"state secret", func(m map[string]any) { m["confidentiality"] = "Mật" }, 422, "confidentiality"},
		{"state secret to an unknown agency", func(m map[string]any) {
			m["confidentiality"], m["to"] = "Tối mật", []string{"000.00.00.H99"}
		}, 422, "to[0]"},
		{"bad date", func(m map[string]any) { m["promulgationDate"] = "16/03/2026x" }, 422, "promulgationDate"},
		{"priority", func(m map[string]any) { m["priority"] = 7 }, 422, "priority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memo("V/v kiểm tra", 0)
			tc.edit(m)
			_, err := s.Client.Submit(ctx, m, nil)
			var e *localapi.Error
			if !errors.As(err, &e) || e.Status != tc.status {
				t.Fatalf("Submit = %v, want %d", err, tc.status)
			}
			found := false
			for _, p := range e.Problems {
				found = found || p.Field == tc.field
			}
			if !found {
				t.Errorf("problems %+v do not name %s", e.Problems, tc.field)
			}
		})
	}
	big := make([]byte, 101<<20)
	if _, err := s.Client.Submit(ctx, memo("V/v quá lớn", 0, "big.pdf"), []localapi.Upload{{Name: "big.pdf", Data: big}}); status(err) != 413 {
		t.Errorf("oversized document: %v, want 413", err)
	}
	if docs, err := s.Client.Documents(ctx, "", 0); err != nil || len(docs) != 0 {
		t.Errorf("after refusals the outbox holds %d documents, %v; want none", len(docs), err)
	}
}

// processed counts finished records of a direction.
func processed(stats []queue.GroupStats, dir queue.Direction) int {
	n := 0
	for _, g := range stats {
		if g.Dir == dir && g.State == queue.Done {
			n += g.Count
		}
	}
	return n
}

func TestSpoolOutbox(t *testing.T) {
	spool := t.TempDir()
	s, clock := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		if !peer {
			c.Spool.Dir, c.Spool.ScanInterval = spool, conf.Duration(time.Second)
		}
	}})
	good := memo("V/v qua thư mục", 0)
	good["attachments"] = []map[string]string{{"file": "cv.pdf"}}
	bad := memo("V/v sai", 0)
	bad["to"] = []string{"000.00.00.H99"}
	for name, m := range map[string]map[string]any{"good": good, "bad": bad} {
		b, _ := json.Marshal(m)
		os.WriteFile(filepath.Join(spool, "outbox", "cv.pdf"), []byte("%PDF spool"), 0o600)
		if err := os.WriteFile(filepath.Join(spool, "outbox", name+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var acc localapi.Accepted
	eventually(t, clock, 500*time.Millisecond, "the spool results", func() bool {
		b, err := os.ReadFile(filepath.Join(spool, "sent", "good.result.json"))
		_, ferr := os.Stat(filepath.Join(spool, "failed", "bad.result.json"))
		return err == nil && json.Unmarshal(b, &acc) == nil && ferr == nil
	})
	b, _ := os.ReadFile(filepath.Join(spool, "failed", "bad.result.json"))
	if !strings.Contains(string(b), "to[0]") {
		t.Errorf("failed result does not name to[0]: %s", b)
	}
	eventually(t, clock, 500*time.Millisecond, "the spooled document at the peer", func() bool {
		items := newInbox(t, s.PeerClient, localapi.InboxNew)
		return len(items) == 1 && items[0].DocumentID == acc.DocumentID
	})
}
