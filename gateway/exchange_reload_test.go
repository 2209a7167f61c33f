package gateway_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lienthong/envelope/devca"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// A certificate rotation while the gateways run: the sender's new key is
// used at once, the recipient's new trust roots too, and a rotation to a
// certificate that cannot sign now is refused with the old key kept.
func TestReloadRotatesKeyAndTrustWithoutRestart(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	dir := t.TempDir()
	me := devca.Leaf{Name: devstack.AgencyName, Code: devstack.AgencyCode}
	keyFile, certFile, newCA := newAgencyKey(t, dir, "2027", me)

	n := 0
	sendAndSee := func(subject, state string) localapi.InboxItem {
		t.Helper()
		n++
		m := memo(subject, 0)
		m["codeNumber"] = strconv.Itoa(200 + n) // a new document each time
		if _, err := s.Client.Submit(ctx, m, nil); err != nil {
			t.Fatalf("Submit %q: %v", subject, err)
		}
		var got localapi.InboxItem
		eventually(t, clock, 500*time.Millisecond, subject+" at the peer", func() bool {
			for _, it := range newInbox(t, s.PeerClient, state) {
				if it.Subject == subject {
					got = it
					return true
				}
			}
			return false
		})
		return got
	}

	// 1. Our key moves to a CA the peer does not trust yet: refused, which
	//    shows the new key signs from the next package on.
	c := s.Config
	c.Signing.KeyFile, c.Signing.CertFile = keyFile, certFile
	if later, err := s.Agency.Reload(c); err != nil || len(later) != 0 {
		t.Fatalf("Reload with a new key = %v, %v; want no error and nothing waiting for a restart", later, err)
	}
	if it := sendAndSee("V/v khóa mới, chưa tin cậy", localapi.InboxQuarantined); !strings.Contains(it.Reason, "untrusted certificate") {
		t.Fatalf("quarantine reason %q, want an untrusted certificate", it.Reason)
	}

	// 2. The peer adds the new CA beside the old one (the overlap).
	roots := filepath.Join(dir, "roots")
	if err := os.MkdirAll(roots, 0o700); err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{s.CAFile, newCA} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(roots, []string{"old.pem", "new.pem"}[i]), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pc := s.PeerConfig
	pc.Trust.Roots = roots
	pc.Inbound.PollInterval *= 2
	later, err := s.Peer.Reload(pc)
	if err != nil || len(later) != 1 || later[0] != "inbound" {
		t.Fatalf("peer Reload = %v, %v; want the changed poll interval named as waiting for a restart", later, err)
	}
	sendAndSee("V/v khóa mới, đã tin cậy", localapi.InboxNew)

	// 3. A certificate that expired is refused; the running key stays.
	oldKey, oldCert, _ := newAgencyKey(t, dir, "2020", devca.Leaf{Name: me.Name, Code: me.Code,
		NotBefore: clock.Now().AddDate(-3, 0, 0), NotAfter: clock.Now().AddDate(-1, 0, 0)})
	bad := c
	bad.Signing.KeyFile, bad.Signing.CertFile = oldKey, oldCert
	if _, err := s.Agency.Reload(bad); err == nil || !strings.Contains(err.Error(), "signing.cert_file") || !strings.Contains(err.Error(), "not now") {
		t.Fatalf("Reload with an expired certificate: %v; want a signing.cert_file error", err)
	}
	sendAndSee("V/v sau khi từ chối chứng thư hết hạn", localapi.InboxNew)
}

// The clock passes the signing certificate's end mid-run: new documents
// are refused with 503 naming the certificate, readiness says why, and a
// reload with a valid certificate lets new ones through to the axis.
func TestCertificateExpiryMidRun(t *testing.T) {
	s, clock := start(t, devstack.Options{})
	ctx := context.Background()
	clock.Advance(3 * 365 * 24 * time.Hour) // the dev certificates last two years
	_, err := s.Client.Submit(ctx, memo("V/v sau khi hết hạn", 0), nil)
	var ae *localapi.Error
	if !errors.As(err, &ae) || ae.Status != 503 || !strings.Contains(ae.Message, "signing certificate") {
		t.Fatalf("submit with an expired certificate: %v; want 503 naming the certificate", err)
	}
	if ok, checks := s.Agency.Ready(); ok || checks["key"] != "signing certificate expired" {
		t.Errorf("readiness with an expired certificate = %v %v", ok, checks)
	}
	keyFile, certFile, _ := newAgencyKey(t, t.TempDir(), "renewed", devca.Leaf{Name: devstack.AgencyName, Code: devstack.AgencyCode,
		NotBefore: clock.Now().Add(-time.Hour), NotAfter: clock.Now().AddDate(1, 0, 0)})
	c := s.Config
	c.Signing.KeyFile, c.Signing.CertFile = keyFile, certFile
	if _, err := s.Agency.Reload(c); err != nil {
		t.Fatalf("Reload with a renewed certificate: %v", err)
	}
	acc, err := s.Client.Submit(ctx, memo("V/v sau khi gia hạn", 0), nil)
	if err != nil {
		t.Fatalf("submit after the renewal: %v", err)
	}
	eventually(t, clock, time.Second, "the document reaches the axis", func() bool {
		d, err := s.Client.Document(ctx, acc.ID)
		return err == nil && d.SentAt != nil
	})
}
