package devstack_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lienthong/conf"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// TestRetiredCodes: the agency codes the 2025 reorganisation withdrew. A
// document to one without a known successor is refused, naming why; with
// outbound.follow_successor, one with a successor goes to it, in the
// record's history; a document from a withdrawn code is delivered and
// flagged.
func TestRetiredCodes(t *testing.T) {
	dir := t.TempDir()
	ours, theirs := filepath.Join(dir, "ours.txt"), filepath.Join(dir, "theirs.txt")
	os.WriteFile(ours, []byte("000.00.00.G04 "+devstack.PeerCode+" # Văn bản thử nghiệm\n"), 0o600)
	os.WriteFile(theirs, []byte(devstack.AgencyCode+" - # sáp nhập thử\n"), 0o600)
	s, clock := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		if peer {
			c.Directory.RetiredFile = theirs
			return
		}
		c.Directory.RetiredFile, c.Outbound.FollowSuccessor = ours, true
	}})
	ctx := context.Background()

	m := memo("V/v gửi bộ đã sáp nhập", 0)
	m["to"] = []string{"000.00.00.G05"}
	_, err := s.Client.Submit(ctx, m, nil)
	if status(err) != 422 || !strings.Contains(err.Error(), "to[0]") || !strings.Contains(err.Error(), "retired") || !strings.Contains(err.Error(), "successor is not known") {
		t.Fatalf("to a retired code without a successor: %v, want 422 naming to[0] and why", err)
	}

	m = memo("V/v gửi đơn vị kế thừa", 0)
	m["to"], m["codeNumber"] = []string{"000.00.00.G04"}, "311"
	acc, err := s.Client.Submit(ctx, m, nil)
	if err != nil {
		t.Fatalf("to a retired code with a successor, following it: %v", err)
	}
	got := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 1, "the document at the successor")[0]
	if got.DocumentID != acc.DocumentID {
		t.Fatalf("at the successor: %+v", got)
	}
	evs, err := s.Client.DocumentEvents(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e localapi.Event) bool {
		return e.Kind == "successor" && e.Recipient == devstack.PeerCode && strings.Contains(e.Reason, "000.00.00.G04")
	}) {
		t.Fatalf("no successor event in %+v", evs)
	}
	// The peer holds our code as withdrawn: delivered, and flagged.
	if !strings.Contains(got.SenderRetired, devstack.AgencyCode) || !strings.Contains(got.SenderRetired, "sáp nhập thử") {
		t.Fatalf("at a peer that holds our code as retired: senderRetired %q", got.SenderRetired)
	}
}
