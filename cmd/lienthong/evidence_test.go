package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"lienthong/gateway/evidence"
	"lienthong/gateway/localapi"
)

// In the development exchange, after a document and its statuses crossed,
// evidence verify exits 0, a bundle of the document verifies offline, and
// each change to the bundle makes verify exit 1 naming the cause; with the
// daemon stopped, the store verifies offline.
func TestEvidenceCommands(t *testing.T) {
	dir := t.TempDir()
	s, stop := stoppableStack(t, dir)
	config := filepath.Join(t.TempDir(), "lienthong.toml")
	if err := s.WriteNodeConfig(config); err != nil {
		t.Fatal(err)
	}
	api := apiArgs(t, s)

	acc, err := s.Client.Submit(context.Background(), stacktest.Memo("V/v bằng chứng", 0, "a.txt"), []localapi.Upload{{Name: "a.txt", Data: []byte("nội dung")}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := s.Client.Document(context.Background(), acc.ID)
		if err == nil && len(d.Recipients) == 1 && d.Recipients[0].StatusCode == "03" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 03 within a minute: %+v, %v", d, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the condition, bounded by the deadline
	}

	code, key, errOut := lienthong(t, "", "evidence", "key", "--config", config)
	key = strings.TrimSpace(key)
	if code != 0 || !strings.HasPrefix(key, "lienthong/"+devstack.AgencyCode+"+") {
		t.Fatalf("evidence key: exit %d %q\n%s", code, key, errOut)
	}
	if code, out, errOut := lienthong(t, "", append([]string{"evidence", "checkpoint"}, api...)...); code != 0 || !strings.Contains(out, key) {
		t.Fatalf("evidence checkpoint: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := lienthong(t, "", append([]string{"evidence", "verify"}, api...)...); code != 0 || !strings.Contains(out, "evidence log verified") {
		t.Fatalf("evidence verify: exit %d\n%s%s", code, out, errOut)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if code, out, errOut := lienthong(t, "", append([]string{"evidence", "prove", "--document", acc.DocumentID, bundle}, api...)...); code != 0 {
		t.Fatalf("evidence prove: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := lienthong(t, "", "evidence", "verify", "--bundle", bundle, "--key", key); code != 0 || !strings.Contains(out, "bundle verified") {
		t.Fatalf("evidence verify --bundle: exit %d\n%s%s", code, out, errOut)
	}
	var p evidence.Proof
	raw, _ := os.ReadFile(filepath.Join(bundle, "proof.json"))
	if err := json.Unmarshal(raw, &p); err != nil || len(p.Entries) < 3 {
		t.Fatalf("proof.json: %d entries, %v", len(p.Entries), err)
	}
	sig := strings.Split(p.Checkpoint, "\n")[4]
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"a byte of the package", p.Entries[0].File, "<", "[", "package " + p.Entries[0].File + " changed"},
		{"a byte of an entry", "proof.json", p.Entries[1].Entry[4:20], flipFirst(p.Entries[1].Entry[4:20]), "changed"},
		{"a hash of the audit path", "proof.json", p.Entries[0].AuditPath[0], flipFirst(p.Entries[0].AuditPath[0]), "audit path does not lead to the checkpoint's root"},
		{"the signature line", "proof.json", jsonText(sig), jsonText(sig[:len(sig)-8] + "AAAAAAA="), "checkpoint not signed by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := filepath.Join(t.TempDir(), "bundle")
			os.MkdirAll(changed, 0o750)
			files, _ := os.ReadDir(bundle)
			for _, f := range files {
				b, _ := os.ReadFile(filepath.Join(bundle, f.Name()))
				if f.Name() == tc.file {
					c := strings.Replace(string(b), tc.old, tc.new, 1)
					if c == string(b) {
						t.Fatalf("%q not in %s", tc.old, tc.file)
					}
					b = []byte(c)
				}
				os.WriteFile(filepath.Join(changed, f.Name()), b, 0o600)
			}
			code, _, errOut := lienthong(t, "", "evidence", "verify", "--bundle", changed, "--key", key)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want 1 naming %q:\n%s", code, tc.want, errOut)
			}
		})
	}

	stop()
	db := filepath.Join(dir, "a", "queue.db")
	if code, out, errOut := lienthong(t, "", "evidence", "verify", "--db", db, "--config", config); code != 0 || !strings.Contains(out, "evidence log verified") {
		t.Fatalf("evidence verify --db: exit %d\n%s%s", code, out, errOut)
	}
	offline := filepath.Join(t.TempDir(), "offline")
	if code, out, errOut := lienthong(t, "", "evidence", "prove", "--record", acc.ID, "--db", db, "--config", config, offline); code != 0 {
		t.Fatalf("evidence prove --db: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := lienthong(t, "", "evidence", "verify", "--bundle", offline, "--key", key); code != 0 {
		t.Fatalf("offline bundle: exit %d\n%s", code, errOut)
	}
	newKey := filepath.Join(t.TempDir(), "evidence.key")
	if code, out, errOut := lienthong(t, "", "evidence", "key", "--new", "lienthong/000.00.07.H26", "--out", newKey); code != 0 || !strings.HasPrefix(out, "lienthong/000.00.07.H26+") {
		t.Fatalf("evidence key --new: exit %d\n%s%s", code, out, errOut)
	}
	if fi, err := os.Stat(newKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key file: %v, %v", fi, err)
	}
	if code, _, _ := lienthong(t, "", "evidence", "key", "--new", "x", "--out", newKey); code != 1 {
		t.Errorf("a second --new over the key: exit %d, want 1", code)
	}
}

// flipFirst changes the first character of a base64 text.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
