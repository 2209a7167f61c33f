package devstack_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

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
