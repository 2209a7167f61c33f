package gateway_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"lienthong/envelope"
	"lienthong/envelope/devca"
	"lienthong/gateway/axis"
	"lienthong/gateway/devstack"
)

// A package that cannot be read names no sender to hold against its
// uploader: it is quarantined with its own error and counted as
// unreadable, never as a forgery; an authentic status about a document
// this gateway does not hold is stale, not forged.
func TestUnreadableAndStaleAreNotForgeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, clock := start(t, devstack.Options{ManualPeer: true, Registerer: reg})
	tp := newThird(t, s, clock, s.CA, "", "")
	refused := func(reason string) float64 {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != "lienthong_inbound_refused_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" && l.GetValue() == reason {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
	// Each is a real package from the third agency, to us, spoiled.
	raw, err := tp.signer.SignBytes(documentFrom(thirdCode, devstack.AgencyCode, "990"), envelope.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	decl := bytes.Index(raw, []byte("?>")) + 2
	hostile := []struct {
		name string
		body []byte
		says string
	}{
		{"doctype", slices.Concat(raw[:decl], []byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]>`), raw[decl:]), "DOCTYPE"},
		{"nesting", bytes.Replace(raw, []byte("V/v giả danh 990"), []byte(strings.Repeat("<a>", 100000)+strings.Repeat("</a>", 100000)), 1), ""},
		{"utf8", bytes.Replace(raw, []byte("</edXML:edXMLEnvelope>"), []byte("<x>\xff\xfe</x></edXML:edXMLEnvelope>"), 1), "UTF-8"},
	}
	for i, h := range hostile {
		if _, err := tp.axis.SendEdoc(context.Background(), axis.SendRequest{From: thirdCode, MessageType: axis.MessageEdoc,
			Upload: axis.BytesUpload(h.name+".edxml", h.body)}); err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		reason := quarantinedOnce(t, s, clock, i+1)
		if !strings.Contains(reason, "cannot be read") || !strings.Contains(reason, h.says) || strings.Contains(reason, "uploaded it") {
			t.Errorf("%s quarantined for %q, want its own error", h.name, reason)
		}
	}
	if got := refused("unreadable"); got != float64(len(hostile)) {
		t.Errorf("refused as unreadable: %v, want %d", got, len(hostile))
	}
	if got := refused("axis_sender"); got != 0 {
		t.Errorf("refused as axis_sender: %v, want 0: nothing was forged", got)
	}

	// The peer's genuine 03, signed by it and uploaded under its own
	// identity, about a document we never sent.
	secretB, err := os.ReadFile(filepath.Join(s.Dir, "secrets", "axis-b"))
	if err != nil {
		t.Fatal(err)
	}
	peer := newThird(t, s, clock, s.CA, "00.54.W00", strings.TrimSpace(string(secretB)))
	cert, key, err := s.CA.Issue(devca.Leaf{Name: devstack.PeerName, Code: devstack.PeerCode}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if peer.signer, err = envelope.NewSigner(key, []*x509.Certificate{cert, s.CA.Cert}, envelope.SignerOptions{}); err != nil {
		t.Fatal(err)
	}
	peer.send(t, devstack.PeerCode, statusFrom(devstack.PeerCode, devstack.AgencyCode, "000.00.07.H26,2026/03/16,999/SVD-VP", envelope.StatusRegistered, clock.Now()))
	if reason := quarantinedOnce(t, s, clock, len(hostile)+1); !strings.Contains(reason, "does not hold") {
		t.Errorf("stale status quarantined for %q", reason)
	}
	eventually(t, clock, 100*time.Millisecond, "the stale status counted as stale", func() bool { return refused("stale") == 1 })
	if got := refused("forged_status"); got != 0 {
		t.Errorf("refused as forged_status: %v, want 0", got)
	}
}
