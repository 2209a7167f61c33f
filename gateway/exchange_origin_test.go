package gateway_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/envelope"
	"lienthong/envelope/devca"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// third is an agency legitimately on the axis, with a certificate from the
// CA our gateway trusts, that sends in other agencies' names.
type third struct {
	code   string
	axis   *axis.Client
	signer *envelope.Signer
}

const thirdCode = "000.00.00.H29"

func newThird(t *testing.T, s *devstack.Stack, clock *fakeClock, ca *devca.CA, system, secret string) *third {
	t.Helper()
	if system == "" {
		system, secret = "00.77.W00", "third-secret"
		s.Hub.AddSystem(axishub.System{SystemID: system, Secret: secret, Codes: []string{thirdCode}})
	}
	c, err := axis.New(axis.Config{Endpoint: s.HubURL, SystemID: system, Secret: []byte(secret), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cert, key, err := ca.Issue(devca.Leaf{Name: "Third agency", Code: thirdCode}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := envelope.NewSigner(key, []*x509.Certificate{cert, ca.Cert}, envelope.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &third{code: thirdCode, axis: c, signer: signer}
}

// send signs p and uploads it under uploader's axis identity.
func (a *third) send(t *testing.T, uploader string, p *envelope.Package) {
	t.Helper()
	raw, err := a.signer.SignBytes(p, envelope.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mt := axis.MessageEdoc
	if p.Kind == envelope.KindStatus {
		mt = axis.MessageStatus
	}
	if _, err := a.axis.SendEdoc(context.Background(), axis.SendRequest{From: uploader, MessageType: mt, Upload: axis.BytesUpload("p.edxml", raw)}); err != nil {
		t.Fatal(err)
	}
}

func documentFrom(from, to, number string) *envelope.Package {
	h := envelope.MessageHeader{
		From: envelope.Organization{OrganID: from, OrganName: "Cơ quan " + from}, To: []envelope.Organization{{OrganID: to}},
		Code:             envelope.Code{CodeNumber: number, CodeNotation: "SVD-VP"},
		PromulgationInfo: envelope.PromulgationInfo{Place: "Hà Nội", PromulgationDate: envelope.Date{Year: 2026, Month: 3, Day: 16}},
		DocumentType:     envelope.DocumentType{Type: 1, TypeName: "Công văn"}, Subject: "V/v giả danh " + number,
	}
	h.DocumentID = h.DefaultDocumentID()
	zero := 0
	return &envelope.Package{Kind: envelope.KindDocument, Document: &envelope.Document{Header: h,
		Business: &envelope.Business{DocType: envelope.BusinessNew, Paper: &zero}}}
}

func statusFrom(from, about, docID string, code envelope.StatusCode, at time.Time) *envelope.Package {
	return &envelope.Package{Kind: envelope.KindStatus, Status: &envelope.Status{
		From:        envelope.Organization{OrganID: from},
		ResponseFor: envelope.ResponseFor{OrganID: about, Code: "152/SVD-VP", DocumentID: docID},
		StatusCode:  code, Description: "giả mạo", Timestamp: at.In(envelope.Vietnam).Truncate(time.Second),
	}}
}

// quarantinedOnce waits until our gateway has quarantined n packages and
// returns the last reason.
func quarantinedOnce(t *testing.T, s *devstack.Stack, clock *fakeClock, n int) string {
	t.Helper()
	var items []localapi.InboxItem
	eventually(t, clock, 500*time.Millisecond, "the forged package quarantined", func() bool {
		items = newInbox(t, s.Client, localapi.InboxQuarantined)
		return len(items) >= n
	})
	if len(items) != n {
		t.Fatalf("%d quarantined, want %d", len(items), n)
	}
	last := items[0]
	for _, it := range items {
		if it.Received.After(last.Received) || (it.Received.Equal(last.Received) && it.ID > last.ID) {
			last = it
		}
	}
	return last.Reason
}

// A trusted third agency forges the peer's documents, statuses, recalls
// and DocumentIds; each is quarantined with nothing applied and no status
// to a bystander, and the peer's genuine packages still arrive.
func TestForgeriesRefused(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	if s.CA == nil {
		t.Fatal("the dev stack keeps no CA to issue the third agency's certificate")
	}
	tp := newThird(t, s, clock, s.CA, "", "")

	// Genuine traffic: our document registered by the peer.
	acc, err := s.Client.Submit(ctx, memo("V/v thật", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	peerItem := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 1, "our document at the peer")[0]
	if _, err := s.PeerClient.Answer(ctx, peerItem.ID, localapi.StatusRequest{Code: "03"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "03 from the peer", func() bool { return recipientStatus(t, s.Client, acc.ID) == "03" })

	// 1. A document claiming to be the peer's, uploaded under the third's own identity.
	tp.send(t, thirdCode, documentFrom(devstack.PeerCode, devstack.AgencyCode, "901"))
	if r := quarantinedOnce(t, s, clock, 1); !strings.Contains(r, "the axis says "+thirdCode+" uploaded it") {
		t.Errorf("reason %q, want the uploader named", r)
	}

	// 2. A forged 02 "from the peer" about our document.
	tp.send(t, thirdCode, statusFrom(devstack.PeerCode, devstack.AgencyCode, acc.DocumentID, envelope.StatusRefused, clock.Now()))
	quarantinedOnce(t, s, clock, 2)
	if got := recipientStatus(t, s.Client, acc.ID); got != "03" {
		t.Errorf("recipient state after a forged 02 = %s, want 03 kept", got)
	}

	// 3. The peer's genuine document; then a forged recall of it.
	m := memo("V/v thật từ Văn phòng Chính phủ", 0)
	m["to"], m["codeNumber"] = []string{devstack.AgencyCode}, "900"
	genuine, err := s.PeerClient.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ours := waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the peer's document in our inbox")[0]
	tp.send(t, thirdCode, statusFrom(devstack.PeerCode, devstack.AgencyCode, genuine.DocumentID, envelope.StatusRecall, clock.Now()))
	quarantinedOnce(t, s, clock, 3)
	if it, _ := s.Client.InboxItem(ctx, ours.ID); it.State != localapi.InboxNew || it.Recall {
		t.Errorf("the peer's document after a forged recall = %+v, want it untouched", it)
	}

	// 4. Squatting the peer's next DocumentId: the genuine one still arrives.
	tp.send(t, thirdCode, documentFrom(devstack.PeerCode, devstack.AgencyCode, "902"))
	quarantinedOnce(t, s, clock, 4)
	m = memo("V/v số 902 thật", 0)
	m["to"], m["codeNumber"] = []string{devstack.AgencyCode}, "902"
	next, err := s.PeerClient.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "the genuine 902 in our inbox", func() bool {
		for _, it := range newInbox(t, s.Client, localapi.InboxNew) {
			if it.DocumentID == next.DocumentID {
				return true
			}
		}
		return false
	})

	// 5. Untrusted CA, claiming a bystander: quarantined, and no 02 to it.
	other, err := devca.NewCA("Forger CA", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	forger := newThird(t, s, clock, other, "00.77.W00", "third-secret")
	forger.send(t, thirdCode, documentFrom("000.00.00.G12", devstack.AgencyCode, "903"))
	quarantinedOnce(t, s, clock, 5)

	// 6. The peer's own axis identity, but signed with the third's
	// certificate: the signer is not bound to From.
	secretB, err := os.ReadFile(filepath.Join(s.Dir, "secrets", "axis-b"))
	if err != nil {
		t.Fatal(err)
	}
	stolen := newThird(t, s, clock, s.CA, "00.54.W00", strings.TrimSpace(string(secretB)))
	stolen.send(t, devstack.PeerCode, documentFrom(devstack.PeerCode, devstack.AgencyCode, "904"))
	if r := quarantinedOnce(t, s, clock, 6); !strings.Contains(r, "not bound to the sender "+devstack.PeerCode) {
		t.Errorf("reason %q, want the signer not bound to the sender", r)
	}

	// No status went to anyone the forgeries named but the peer, whose
	// axis identity carried the last one and who may hear of it.
	docs, err := s.Client.Documents(ctx, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.Kind == "status" && d.Recipients[0].OrganID == "000.00.00.G12" {
			t.Errorf("a status went to the bystander: %+v", d)
		}
		if d.Kind == "status" && strings.HasSuffix(d.DocumentID, "901/SVD-VP") {
			t.Errorf("a refusal answered the forged 901: %+v", d)
		}
	}
}

// Under policy warn a package whose signer is not bound to its sender is
// delivered, flagged; a revocation so signed changes nothing: the genuine
// document it names stays as it was, unlinked.
func TestWarnNeverLetsAnUnauthenticChangeApply(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		if !peer {
			c.Trust.Senders = map[string]string{devstack.PeerCode: "warn"}
		}
	}})
	ctx := context.Background()
	m := memo("V/v thật, sẽ bị thu hồi giả", 0)
	m["to"], m["codeNumber"] = []string{devstack.AgencyCode}, "950"
	genuine, err := s.PeerClient.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	orig := waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the peer's document in our inbox")[0]

	// The peer's axis identity, the third agency's certificate.
	secretB, err := os.ReadFile(filepath.Join(s.Dir, "secrets", "axis-b"))
	if err != nil {
		t.Fatal(err)
	}
	stolen := newThird(t, s, clock, s.CA, "00.54.W00", strings.TrimSpace(string(secretB)))
	rev := documentFrom(devstack.PeerCode, devstack.AgencyCode, "950")
	rev.Document.Header.DocumentID = genuine.DocumentID
	rev.Document.Header.ResponseFor = []envelope.ResponseFor{{OrganID: devstack.PeerCode, Code: "950/SVD-VP", DocumentID: genuine.DocumentID,
		PromulgationDate: envelope.Date{Year: 2026, Month: 3, Day: 16}}}
	rev.Document.Business.DocType, rev.Document.Business.Reason = envelope.BusinessRevoke, "giả mạo thu hồi"
	stolen.send(t, devstack.PeerCode, rev)

	var warned localapi.InboxItem
	eventually(t, clock, 100*time.Millisecond, "the unbound revocation delivered, flagged", func() bool {
		for _, it := range newInbox(t, s.Client, localapi.InboxNew) {
			if it.BusinessDocType == int(envelope.BusinessRevoke) {
				warned = it
				return true
			}
		}
		return false
	})
	if warned.SignatureWarning == "" || len(warned.TargetIDs) != 0 {
		t.Errorf("the revocation = %+v, want a signature warning and no link", warned)
	}
	got, err := s.Client.InboxItem(ctx, orig.ID)
	if err != nil || got.State != localapi.InboxNew || got.Recall || len(got.ChangedBy) != 0 || got.Change != "" {
		t.Errorf("the genuine document after an unauthentic revocation = %+v (%v), want it untouched", got, err)
	}
}
