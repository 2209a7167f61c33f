package envelope

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenInboundPolicy(t *testing.T) {
	trust, err := LoadTrust(filepath.Join(wrappingDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := ReadCertificates(filepath.Join(wrappingDir, "ca.pem"))
	opts := VerifyOptions{Trust: trust, Now: func() time.Time { return roots[0].NotBefore.Add(2 * time.Hour) }}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(wrappingDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	valid, placeholder := read("valid.edxml"), read("placeholder-signature.edxml")
	sender := "000.00.07.H26"

	in, err := OpenInbound(valid, SignaturePolicy{}, opts)
	if err != nil || in.Verified == nil || in.SignatureErr != nil || in.Mode != Require {
		t.Fatalf("valid under require: %+v, %v", in, err)
	}
	if _, err := OpenInbound(placeholder, SignaturePolicy{}, opts); !errors.Is(err, ErrNoSignature) {
		t.Fatalf("placeholder under require: err = %v", err)
	}
	in, err = OpenInbound(placeholder, SignaturePolicy{Mode: Warn}, opts)
	if err != nil || in.Verified != nil || !errors.Is(in.SignatureErr, ErrNoSignature) || in.Package.Sender() != sender {
		t.Fatalf("placeholder under warn: %+v, %v", in, err)
	}
	in, err = OpenInbound(placeholder, SignaturePolicy{Senders: map[string]SignatureMode{sender: Off}}, opts)
	if err != nil || in.Mode != Off || in.SignatureErr != nil || in.Package == nil {
		t.Fatalf("placeholder from an exempt sender: %+v, %v", in, err)
	}
	// An exception for someone else changes nothing.
	if _, err := OpenInbound(placeholder, SignaturePolicy{Senders: map[string]SignatureMode{"000.00.00.G22": Off}}, opts); !errors.Is(err, ErrSignature) {
		t.Fatalf("exception for another sender: err = %v", err)
	}
	// Warn never lets a tampered package pass as verified.
	in, err = OpenInbound(read("injected-header-in-object.edxml"), SignaturePolicy{Mode: Warn}, opts)
	if err != nil || in.Verified == nil || in.Package.Document.Header.Subject != "V/v báo cáo thử nghiệm liên thông" {
		t.Fatalf("injected header under warn: %+v, %v", in, err)
	}
}

func TestParseSignatureMode(t *testing.T) {
	for s, want := range map[string]SignatureMode{"require": Require, "": Require, "WARN": Warn, "off": Off} {
		if got, err := ParseSignatureMode(s); err != nil || got != want {
			t.Errorf("%q: %v, %v", s, got, err)
		}
	}
	if _, err := ParseSignatureMode("lenient"); err == nil {
		t.Error("an unknown mode is accepted")
	}
}
