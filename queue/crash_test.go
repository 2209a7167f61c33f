package queue

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCrashKeepsEveryAcknowledgedWrite SIGKILLs a process writing to the
// queue at random moments, 25 times over the same file, and after each kill
// checks that every Put the process saw succeed is there exactly once, every
// Done it saw is done, no leased record is lost, and Check passes.
func TestCrashKeepsEveryAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "crasher")
	build := exec.Command("go", "build", "-o", bin, "./testdata/crasher")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build crasher: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "queue.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	puts := map[string]string{} // key → id, over all runs
	for run := 0; run < 25; run++ {
		lines := crashOnce(t, bin, db, run, 20+rng.IntN(400))
		done := map[string]bool{}
		leased := map[string]bool{}
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) == 3 && f[0] == "put":
				puts[f[1]] = f[2]
			case len(f) == 3 && f[0] == "lease":
				leased[f[1]] = true
			case len(f) == 2 && f[0] == "done":
				done[f[1]] = true
			}
		}
		verifyAfterCrash(t, db, run, puts, leased, done)
	}
	t.Logf("%d acknowledged puts survived 25 kills", len(puts))
}

// crashOnce runs the crasher until it has reported n lines, kills it with
// SIGKILL, and returns the complete lines it wrote.
func crashOnce(t *testing.T, bin, db string, run, n int) []string {
	t.Helper()
	cmd := exec.Command(bin, db, fmt.Sprint("r", run))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == n {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("run %d: crasher ended with %v before it was killed:\n%s", run, err, stderr.String())
	}
	// Scanner yields a final unterminated line too; a line cut by the kill
	// is dropped by the field counts in the caller.
	return lines
}

func verifyAfterCrash(t *testing.T, db string, run int, puts map[string]string, leased, done map[string]bool) {
	t.Helper()
	// The checker's own writes need no fsync: only the process dies here.
	s, err := Open(db, Options{LeaseTime: time.Hour, NoSync: true})
	if err != nil {
		t.Fatalf("run %d: reopen: %v", run, err)
	}
	defer s.Close()
	if _, err := s.Check(); err != nil {
		t.Fatalf("run %d: %v", run, err)
	}
	for key, id := range puts {
		r, err := s.GetByKey(Outbound, key)
		if err != nil || r.ID != id {
			t.Fatalf("run %d: acknowledged put %s (%s) lost: %v", run, key, id, err)
		}
	}
	for id := range done {
		if r, err := s.Get(id); err != nil || r.State != Done {
			t.Fatalf("run %d: acknowledged done %s is %v, %v", run, id, r, err)
		}
	}
	// Every lease not acknowledged as done comes back once leases end.
	later := time.Now().Add(2 * time.Hour)
	back := map[string]bool{}
	for {
		r, err := s.Lease(later, Outbound, 0)
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		back[r.ID] = true
		if _, err := s.Done(later, r.ID, r.Lease, nil); err != nil {
			t.Fatal(err)
		}
	}
	for id := range leased {
		if done[id] || back[id] {
			continue
		}
		// Killed between Done's commit and its report: done, not lost.
		if r, err := s.Get(id); err != nil || r.State != Done {
			t.Fatalf("run %d: leased record %s lost: %v, %v", run, id, r, err)
		}
	}
	if _, err := s.Check(); err != nil {
		t.Fatalf("run %d after recovery: %v", run, err)
	}
}
