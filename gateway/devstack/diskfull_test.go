package devstack_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// smallDisk mounts a 16 MiB tmpfs: a real file system that really fills.
func smallDisk(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m,mode=0700"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a small tmpfs: %v (CI runs as root and must allow it)", err)
		}
		t.Skipf("mounting a tmpfs needs root: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file until the disk is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xAA}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return p
		}
	}
}

// With our state folder's disk full, the API answers 503 and keeps what
// it had; once space returns, the refused document is taken and
// everything arrives once.
func TestDiskFullRefusesWith503AndResumes(t *testing.T) {
	disk := smallDisk(t)
	s, clock := start(t, devstack.Options{Configure: func(peer bool, c *conf.Config) {
		if !peer {
			c.StateDir = disk
		}
	}})
	ctx := context.Background()
	scan := localapi.Upload{Name: "ban-chup.pdf", Data: bytes.Repeat([]byte("%PDF quét "), 40_000)} // 400 KB: a blob file
	withScan := func(n string) map[string]any {
		m := memo("V/v ổ đĩa đầy "+n, 0, scan.Name)
		m["codeNumber"] = n
		return m
	}
	first, err := s.Client.Submit(ctx, withScan("501"), []localapi.Upload{scan})
	if err != nil {
		t.Fatal(err)
	}

	filler := fill(t, disk)
	_, err = s.Client.Submit(ctx, withScan("502"), []localapi.Upload{scan})
	var ae *localapi.Error
	if !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("submit on a full disk: %v; want 503", err)
	}
	if h, _ := s.Client.Ready(ctx); h == nil || h.Ready || h.Checks["store"] == "ok" {
		t.Errorf("readyz on a full disk = %+v, want not ready, naming the store", h)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	second, err := s.Client.Submit(ctx, withScan("502"), []localapi.Upload{scan})
	if err != nil {
		t.Fatalf("submit once space returned: %v", err)
	}
	deliveredOnce(t, s, clock, []string{first.ID, second.ID})
	if err := s.Agency.Alive(); err != nil {
		t.Errorf("store self-check after the disk filled and emptied: %v", err)
	}
}

// A package listed while our disk is full waits for the space, however
// long that takes: the fault is ours, so it is neither counted against
// the package nor set aside nor reported to the axis as failed, and it
// arrives once space returns, without a restart.
func TestDiskFullNeverCostsAPackage(t *testing.T) {
	disk := smallDisk(t)
	s, clock := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		if !peer {
			c.StateDir = disk
		}
	}})
	ctx := context.Background()
	filler := fill(t, disk)
	m := memo("V/v gửi lúc ổ đĩa đầy", 0)
	m["to"], m["codeNumber"] = []string{devstack.AgencyCode}, "777"
	sent, err := s.PeerClient.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	until := clock.Now().Add(30 * time.Minute)
	eventually(t, clock, 10*time.Second, "half an hour of a full disk", func() bool { return !clock.Now().Before(until) })
	if items := newInbox(t, s.Client, ""); len(items) != 0 {
		t.Fatalf("delivered on a full disk: %+v", items)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	got := waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the package once space returned")[0]
	if got.DocumentID != sent.DocumentID {
		t.Errorf("delivered %s, want %s", got.DocumentID, sent.DocumentID)
	}
}
