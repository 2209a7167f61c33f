// Command axishub serves the reference axis adapter: the national document
// exchange axis as agencies' gateways see it, for demos, tests and load
// runs where the real one cannot be reached.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"lienthong/gateway/axis/axishub"
)

const usage = `Usage:
  axishub -listen ADDR -data DIR -systems systems.json -agencies agencies.json [faults]

Serves the axis adapter protocol (XroadVnpt-* headers signed with HMAC-SHA256,
sendEdoc as the axis SDK uploads it, raw or multipart, JSON answers) at
http://ADDR/<operation>, for any path prefix. Timestamps are not checked
unless -replay-window is set: the SDK stamps in its JVM's zone, once per
service object. The first line printed is
  axishub listening on http://HOST:PORT
(-listen 127.0.0.1:0 picks a free port). State lives in DIR/axishub.db and
survives restarts.

systems.json:  [{"systemId":"00.53.W00","secret":"...","codes":["000.00.07.H26"]}]
  A system may register and delete only units under its own codes; one
  with "operator": true may change any agency, as the axis operator does.
agencies.json: [{"code":"000.00.07.H26","name":"...","pid":"000.00.00.H26","mail":"..."}]

Faults, to rehearse what a real network and adapter do:
  -error-rate 0.1          answer HTTP 500 to this share of calls
  -latency 20ms-200ms      wait this long (uniform in the range) before answering
  -outage 30s              answer HTTP 503 for this long after start
  -drop-after-upload 0.05  close the connection after storing this share of
                           uploads: the sender cannot tell they arrived
  -duplicate               deliver each package once more after it is acknowledged
  -slow-read 100000        read uploads at this many bytes per second
  -fetch-fails             answer every package download HTTP 500

Replay protection:
  The same signed sendEdoc again (a replay, or a retry after a lost answer)
  stores nothing and answers the first call's DocId, for a day.
  -replay-window 5m        refuse calls whose timestamp, read as Vietnam time,
                           is further than this from the hub's clock

Dialect:
  -dialect rest-v2         speak the provincial REST/JSON dialect instead:
                           POST /v1/login (JSON or form username, password) for
                           a bearer token, then /v1/sendEdoc (multipart file),
                           /v1/syncReceivedEdocList?messageType&fromDate&toDate
                           (a date window that keeps taken packages),
                           /v1/getEdoc?docId and /v1/updateStatus, each with
                           X-SystemId and X-SecretKey; the faults apply too
  -account USER:PASSWORD   a login the rest-v2 dialect takes (repeatable)
  -token-ttl 30m           how long a rest-v2 token lasts

Limits (a client cannot hold the hub):
  -max-connections 1024    connections open at once; a newcomer takes the
                           place of the one idle longest
  -max-uploads 8           sendEdoc uploads read at once; more are answered 503
  An upload must send 256 KiB every 30 s; idle connections close after a minute.

Example:
  axishub -listen 127.0.0.1:8080 -data /tmp/hub -systems systems.json -agencies agencies.json
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "axishub:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("axishub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	dir := fs.String("data", "", "state directory (required)")
	sysFile := fs.String("systems", "", "systems.json (required)")
	agFile := fs.String("agencies", "", "agencies.json (required)")
	var f axishub.Faults
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "")
	latency := fs.String("latency", "", "")
	outage := fs.Duration("outage", 0, "")
	fs.Float64Var(&f.DropAfterUpload, "drop-after-upload", 0, "")
	fs.BoolVar(&f.Duplicate, "duplicate", false, "")
	fs.IntVar(&f.SlowRead, "slow-read", 0, "")
	fs.BoolVar(&f.FetchFails, "fetch-fails", false, "")
	window := fs.Duration("replay-window", 0, "")
	maxConns := fs.Int("max-connections", 1024, "")
	maxUploads := fs.Int("max-uploads", 8, "")
	dialect := fs.String("dialect", "sdk", "")
	accounts := map[string]string{}
	fs.Func("account", "", func(v string) error {
		u, p, ok := strings.Cut(v, ":")
		if !ok || u == "" {
			return errors.New("want USER:PASSWORD")
		}
		accounts[u] = p
		return nil
	})
	tokenTTL := fs.Duration("token-ttl", 30*time.Minute, "")
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *sysFile == "" || *agFile == "" {
		fs.Usage()
		return errors.New("-data, -systems and -agencies are required")
	}
	switch *dialect {
	case "sdk":
	case "rest-v2":
		if len(accounts) == 0 {
			return errors.New("-dialect rest-v2 needs at least one -account USER:PASSWORD for its logins")
		}
	default:
		return fmt.Errorf("-dialect %q: want sdk or rest-v2", *dialect)
	}
	if *latency != "" {
		lo, hi, _ := strings.Cut(*latency, "-")
		var err error
		if f.LatencyMin, err = time.ParseDuration(lo); err != nil {
			return fmt.Errorf("-latency: %w", err)
		}
		f.LatencyMax = f.LatencyMin
		if hi != "" {
			if f.LatencyMax, err = time.ParseDuration(hi); err != nil {
				return fmt.Errorf("-latency: %w", err)
			}
		}
	}
	if *outage > 0 {
		f.OutageUntil = time.Now().Add(*outage)
	}
	systems, err := axishub.ReadSystems(*sysFile)
	if err != nil {
		return err
	}
	agencies, err := axishub.ReadAgencies(*agFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	hub, err := axishub.Open(axishub.Options{Dir: *dir, Systems: systems, Agencies: agencies, Faults: f, Window: *window, MaxUploads: *maxUploads,
		Dialect: *dialect, Accounts: accounts, TokenTTL: *tokenTTL})
	if err != nil {
		return err
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "axishub listening on http://%s\n", ln.Addr())
	srv, capped := hub.Server(ln, *maxConns)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(capped); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
