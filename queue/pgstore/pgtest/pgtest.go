// Package pgtest runs a throwaway PostgreSQL for tests: Debian's
// postgresql, initialised in a temporary folder, listening only on a Unix
// socket there, as an unprivileged user when the tests run as root.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running throwaway PostgreSQL.
type Cluster struct {
	dir  string
	bin  string
	opts string // the server's options, again at a restart
	cred *syscall.Credential
	n    atomic.Int64
}

// ErrMissing is a machine without PostgreSQL's programs.
var ErrMissing = errors.New("PostgreSQL (initdb, pg_ctl) is not installed: apt-get install postgresql")

// bin finds the folder of initdb and pg_ctl: on PATH, or Debian's.
func bin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", ErrMissing
	}
	return filepath.Dir(found[len(found)-1]), nil
}

// Start initialises and starts a cluster in a new temporary folder.
func Start() (*Cluster, error) {
	b, err := bin()
	if err != nil {
		return nil, err
	}
	reapOrphans(b)
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	// Who owns the cluster, so a later run can stop it if this one dies
	// without stopping it (killed, or stopped on a timeout).
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: b}
	if os.Geteuid() == 0 {
		// initdb refuses root: the cluster runs as nobody.
		u, err := user.Lookup("nobody")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs the user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if err := c.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories=%s -c fsync=off -c full_page_writes=off -c max_connections=200", dir)
	c.opts = opts
	if err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "120", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return c, nil
}

// reapOrphans stops and removes the clusters of test runs that died
// without stopping them.
func reapOrphans(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
			continue // its owner still runs
		}
		c := &Cluster{dir: dir, bin: bin}
		if fi, err := os.Stat(dir); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(os.Geteuid()) {
				c.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			}
		}
		c.Stop()
	}
}

func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// DSN is the connection string of a database of the cluster.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", c.dir, db)
}

// NewDatabase creates an empty database and returns its DSN.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%d", c.n.Add(1))
	conn, err := pgx.Connect(context.Background(), c.DSN("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	return c.DSN(name)
}

// Restart stops the server and calls between before starting it again,
// as a database restarting under its clients.
func (c *Cluster) Restart(between func()) error {
	if err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop"); err != nil {
		return err
	}
	between()
	return c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-o", c.opts, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "120", "start")
}

// Stop stops the cluster and removes its folder.
func (c *Cluster) Stop() error {
	err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	return errors.Join(err, os.RemoveAll(c.dir))
}

// ForTests starts a cluster for a test binary: nil, with no error, when
// PostgreSQL is missing outside CI (the tests that need it skip); in CI
// (CI=true) a missing PostgreSQL is an error.
func ForTests() (*Cluster, error) {
	c, err := Start()
	if errors.Is(err, ErrMissing) && os.Getenv("CI") != "true" {
		fmt.Fprintln(os.Stderr, "pgtest:", err, "- the tests that need it skip")
		return nil, nil
	}
	return c, err
}

// Main runs a test binary's tests with a cluster in cluster, started
// first and stopped after.
func Main(m *testing.M, cluster **Cluster) {
	c, err := ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	*cluster = c
	code := m.Run()
	if c != nil {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	os.Exit(code)
}

// Need skips a test when there is no cluster (PostgreSQL missing outside
// CI).
func Need(tb testing.TB, c *Cluster) {
	tb.Helper()
	if c == nil {
		tb.Skip(ErrMissing.Error())
	}
}
