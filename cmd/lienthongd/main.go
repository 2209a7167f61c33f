// Command lienthongd is the gateway daemon between an agency's document
// system and the national document exchange axis.
//
//	lienthongd -config /etc/lienthong/lienthong.toml
//	lienthongd -dev [-state DIR]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/gateway"
	"lienthong/gateway/api"
	"lienthong/gateway/devstack"
	"lienthong/queue/atomicfile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lienthongd:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2) // a command line it cannot read, as other tools say
		}
		os.Exit(1)
	}
}

// usageError is a command line the daemon cannot read.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

const usage = `lienthongd connects an agency's document system to the national document
exchange axis: it signs and sends documents, fetches, verifies and delivers
incoming ones, and carries their statuses both ways.

Usage:
  lienthongd -config /etc/lienthong/lienthong.toml   run as a service
  lienthongd -config FILE -check                     validate the configuration and exit
  lienthongd -dev [-state DIR] [-store DSN]          try it: a local axis hub, a peer agency,
                                                     test certificates and a state folder
                                                     (-store: our gateway's work in PostgreSQL)
  lienthongd -dev -join DIR [-state DIR2]            one more node of that exchange's gateway,
                                                     on its PostgreSQL database

SIGHUP (systemctl reload lienthongd) rereads the configuration file and takes
a new signing key, certificate and trust settings without stopping; other
changes wait for a restart.

Flags:
`

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says
// otherwise, below the unit's MemoryHigh: documents stream, so the heap
// stays far under it, and near it the collector works harder instead of
// the kernel slowing the daemon.
const defaultMemoryLimit = 384 << 20

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	fs := flag.NewFlagSet("lienthongd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	cfgPath := fs.String("config", conf.DefaultPath, "configuration `file`")
	check := fs.Bool("check", false, "validate the configuration and exit")
	dev := fs.Bool("dev", false, "run a development exchange on this machine")
	state := fs.String("state", "", "with -dev: state `folder` (default: a new temporary folder)")
	storeDSN := fs.String("store", "", "with -dev: keep our gateway's work in this PostgreSQL `database` (a DSN) instead of a bbolt file")
	join := fs.String("join", "", "with -dev: run one more node of the gateway of the development exchange whose state is `folder` (started with -store)")
	version := fs.Bool("version", false, "print the version and exit")
	logLevel := fs.String("log-level", "info", "with -dev: least `level` logged (debug, info, warn, error); the configuration's log.level otherwise")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))}
	}
	switch {
	case *version:
		fmt.Fprintln(stdout, "lienthongd", gateway.Version)
		return nil
	case *dev && *join != "":
		if *storeDSN != "" {
			return usageError{errors.New("-join takes the database of the exchange it joins: no -store")}
		}
		return runJoin(ctx, *join, *state, *logLevel, stdout, stderr)
	case *dev:
		return runDev(ctx, *state, *storeDSN, *logLevel, stdout, stderr)
	case *join != "":
		return usageError{errors.New("-join is for -dev")}
	}
	c, err := conf.Load(*cfgPath)
	if err != nil {
		var ps conf.Problems
		if errors.As(err, &ps) {
			fmt.Fprintf(stderr, "%s has %d problem(s):\n", *cfgPath, len(ps))
			for _, p := range ps {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
			return errors.New("configuration refused")
		}
		return err
	}
	if *check {
		for _, n := range c.Notes() {
			fmt.Fprintln(stdout, "  note:", n)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		store, err := gateway.CheckStore(cctx, c)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
			return errors.New("store unreachable")
		}
		fmt.Fprintln(stdout, "  store:", store)
		switch err := gateway.CheckCredentials(c); {
		case errors.Is(err, conf.ErrNoCredentials):
			fmt.Fprintln(stdout, "  keys: kept as systemd credentials, checked when the service starts")
		case err != nil:
			fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
			return errors.New("keys refused")
		default:
			fmt.Fprintln(stdout, "  keys: every signing key matches its certificate")
		}
		fmt.Fprintf(stdout, "%s: configuration is valid\n", *cfgPath)
		return nil
	}
	log := logger(stderr, c.Log.Format, c.Log.Level)
	reg := prometheus.NewRegistry()
	g, err := gateway.Open(c, gateway.Options{Log: log, Registerer: reg, API: func(g *gateway.Gateway) (http.Handler, error) { return api.New(g) }})
	if err != nil {
		return err
	}
	defer g.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOn(ctx, hup, log, *cfgPath, g)
	return serve(ctx, log, g.Run, g.Alive, nil)
}

// reloadOn rereads the configuration at each signal and hands it to the
// gateway; a refused one leaves everything running as it was.
func reloadOn(ctx context.Context, hup <-chan os.Signal, log zerolog.Logger, path string, g *gateway.Gateway) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		daemon.SdNotify(false, daemon.SdNotifyReloading)
		c, err := conf.Load(path)
		if err == nil {
			var later []string
			if later, err = g.Reload(c); err == nil && len(later) > 0 {
				log.Warn().Strs("sections", later).Msg("reloaded; these changed settings take effect at the next restart")
			}
		}
		if err != nil {
			log.Error().Err(err).Str("config", path).Msg("reload refused: still running with the previous key and trust")
		}
		daemon.SdNotify(false, daemon.SdNotifyReady)
	}
}

// serve runs a gateway under systemd's eye: READY once it serves,
// WATCHDOG while it is alive, STOPPING when asked to end.
func serve(ctx context.Context, log zerolog.Logger, runFn func(context.Context, func()) error, alive func() error, onReady func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdogDone := make(chan struct{})
	defer func() { <-watchdogDone }()
	interval, _ := daemon.SdWatchdogEnabled(false)
	go func() {
		defer close(watchdogDone)
		if interval <= 0 {
			return
		}
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := alive(); err != nil {
					log.Error().Err(err).Msg("self-check failed: withholding the watchdog ping")
					continue
				}
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	}()
	go func() {
		<-ctx.Done()
		daemon.SdNotify(false, daemon.SdNotifyStopping)
	}()
	err := runFn(ctx, func() {
		if onReady != nil {
			onReady()
		}
		daemon.SdNotify(false, daemon.SdNotifyReady)
	})
	cancel()
	return err
}

func logger(w io.Writer, format, level string) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	w0 := w
	w = zerolog.SyncWriter(w) // one line at a time from every goroutine
	if format == "console" {
		// Colours only on a terminal: a log written to a file stays text.
		f, isFile := w0.(*os.File)
		noColor := !isFile || !isatty.IsTerminal(f.Fd())
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: noColor}
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func runDev(ctx context.Context, state, storeDSN, level string, stdout, stderr io.Writer) error {
	if _, err := zerolog.ParseLevel(level); err != nil || level == "" {
		return fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	log := logger(stderr, "console", level)
	if state != "" {
		if err := os.MkdirAll(state, 0o700); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	s, err := devstack.Open(devstack.Options{Dir: state, Log: log, Registerer: reg, StoreDSN: storeDSN})
	if err != nil {
		return err
	}
	defer s.Close()
	envFile := filepath.Join(s.Dir, "dev.env")
	ready := func() {
		if err := s.WriteEnv(envFile); err != nil {
			log.Error().Err(err).Msg("write dev.env")
		}
		if storeDSN != "" {
			if err := s.WriteNodeConfig(filepath.Join(s.Dir, devstack.NodeFile)); err != nil {
				log.Error().Err(err).Msg("write the configuration for more nodes")
			}
		}
		fmt.Fprintf(stdout, devHelp, s.HubURL, devstack.AgencyCode, devstack.AgencyName, s.Client.Base,
			devstack.PeerCode, devstack.PeerName, s.MetricsURL, s.Dir, envFile, devstack.PeerCode, time.Now().Format("2006-01-02"))
	}
	return serve(ctx, log, s.Run, s.Agency.Alive, ready)
}

// runJoin runs one more node of a development exchange's gateway, on
// its database, with a state folder and listeners of its own. The
// listeners keep their ports across restarts of one state folder.
func runJoin(ctx context.Context, dir, state, level string, stdout, stderr io.Writer) error {
	if _, err := zerolog.ParseLevel(level); err != nil || level == "" {
		return fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	c, err := conf.Load(filepath.Join(dir, devstack.NodeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("-join %s: no %s there: start that exchange with lienthongd -dev -state %s -store DSN", dir, devstack.NodeFile, dir)
	}
	if err != nil {
		return fmt.Errorf("-join %s: %w", dir, err)
	}
	if state == "" {
		if state, err = os.MkdirTemp("", "lienthong-node-"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	portsFile := filepath.Join(state, "ports.json")
	ports := devstack.ReadPorts(portsFile)
	c.StateDir, c.API.Listen, c.Metrics.Listen = state, devstack.KeepPort(ports["api"]), devstack.KeepPort(ports["metrics"])
	log := logger(stderr, "console", level)
	g, err := gateway.Open(c, gateway.Options{Log: log, Registerer: prometheus.NewRegistry(), API: func(g *gateway.Gateway) (http.Handler, error) { return api.New(g) }})
	if err != nil {
		return err
	}
	defer g.Close()
	ready := func() {
		b, _ := json.Marshal(map[string]string{"api": g.APIAddr(), "metrics": g.MetricsAddr()})
		vars := "export LIENTHONG_API='http://" + g.APIAddr() + "'\nexport LIENTHONG_METRICS='http://" + g.MetricsAddr() + "/metrics'\n"
		// The rest of the exchange's variables (token, peer) hold here too.
		if env, err := os.ReadFile(filepath.Join(dir, "dev.env")); err == nil {
			for _, l := range strings.SplitAfter(string(env), "\n") {
				if !strings.HasPrefix(l, "export LIENTHONG_API=") && !strings.HasPrefix(l, "export LIENTHONG_METRICS=") {
					vars += l
				}
			}
		}
		for path, data := range map[string][]byte{portsFile: b, filepath.Join(state, "dev.env"): []byte(vars)} {
			if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
				log.Error().Err(err).Str("file", path).Msg("write")
			}
		}
		fmt.Fprintf(stdout, "lienthongd: one more node of the exchange in %s\n  local API  http://%s\n  state      %s\n", dir, g.APIAddr(), state)
	}
	return serve(ctx, log, g.Run, g.Alive, ready)
}

const devHelp = `
lienthongd is running in development mode (nothing here is fit for production).
  axis hub        %s
  our agency      %s  %s
  local API       %s
  peer agency     %s  %s (answers every document with 01, then 03)
  metrics         %s
  state           %s

Send a document (in another terminal):
  . %s
  curl -s -H "Authorization: Bearer $LIENTHONG_TOKEN" \
    -F 'metadata={"to":["%s"],"codeNumber":"1","codeNotation":"UBND-VP","promulgationDate":"%s","documentType":{"type":1,"name":"Công văn"},"subject":"V/v thử liên thông","priority":0}' \
    -F file=@README.md $LIENTHONG_API/v1/documents
  curl -s -H "Authorization: Bearer $LIENTHONG_TOKEN" $LIENTHONG_API/v1/documents/out-0000000001

Stop with Ctrl-C.
`
