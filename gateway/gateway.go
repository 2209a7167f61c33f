package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/evidence"
	"lienthong/gateway/netcap"
	"lienthong/gateway/timeliness"
	"lienthong/queue"
	"lienthong/queue/pgstore"
)

// Options are what the daemon hands the engine besides the configuration.
type Options struct {
	Log zerolog.Logger
	// Registerer takes the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Clock is real time when nil.
	Clock Clock
	// NoSync skips fsync in the stores. Only for tests.
	NoSync bool
	// API builds the local API's handler over the engine (package
	// gateway/api); nil answers every request 404, for engines under test.
	API func(*Gateway) (http.Handler, error)
	// ShutdownGrace bounds how long Run waits for in-flight sends once its
	// context ends; zero means 30 seconds.
	ShutdownGrace time.Duration
}

// Gateway is one agency's running edge. It composes the sending and the
// receiving side over one store, key and axis client, and owns the
// listeners and every goroutine.
type Gateway struct {
	cfg     conf.Config
	base    zerolog.Logger // the daemon's, for edges that name their own component
	log     zerolog.Logger
	clock   Clock
	grace   time.Duration
	store   queue.Store
	dir     *directory.Directory
	creds   atomic.Pointer[credentials]
	retired []*credentials // replaced by Reload, closed with the gateway
	reload  sync.Mutex
	axes    *links
	codes   *directory.Retired // withdrawn agency codes
	m       *metrics
	hook    *webhook
	ev      *evidence.Log // nil when evidence.enabled is false
	evMu    sync.Mutex    // one seal and checkpoint at a time on this node
	tsaNext time.Time     // when a failed time-stamp is asked again
	opened  time.Time     // when Open began, by the gateway's clock

	out   *outbound
	in    *inbound
	inbox *inbox

	apiLn, metricsLn net.Listener
	apiSrv, metSrv   *http.Server
	metricsHandler   http.Handler

	scratch string // see Open
	cal     *timeliness.Calendar

	axisSeen atomic.Bool
	healths  map[string]*axisHealth // of each axis, by name
	closed   sync.Once
}

// Open builds a gateway from a validated configuration: it opens the
// store and the directory, loads the key, checks it can sign, and binds
// the listeners, so that a Gateway that opened is ready to Run.
func Open(c conf.Config, o Options) (_ *Gateway, err error) {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 30 * time.Second
	}
	g := &Gateway{
		cfg: c, base: o.Log, log: o.Log.With().Str("component", "gateway").Logger(), clock: o.Clock, grace: o.ShutdownGrace,
	}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	spoolInbox := ""
	if c.Spool.Dir != "" {
		spoolInbox = filepath.Join(c.Spool.Dir, "inbox")
	}
	// Files read and dropped: uploads being read, a sent package reread.
	// What a crashed run left there goes.
	g.scratch = filepath.Join(c.StateDir, "scratch")
	os.RemoveAll(g.scratch)
	if err := os.MkdirAll(g.scratch, 0o700); err != nil {
		return nil, err
	}
	if g.cal, err = openCalendar(c.Calendar); err != nil {
		return nil, err
	}
	owner, err := g.openStore(o)
	if err != nil {
		return nil, err
	}
	if rp, ok := g.store.(queue.Reporter); ok {
		rp.ReportRows(reportRow(c.Agency.Code, c.Inbound.AutoArrived))
	}
	g.opened = g.clock.Now()
	if err := g.openEvidence(); err != nil {
		return nil, err
	}
	g.inbox = newInbox(filepath.Join(c.StateDir, "inbox"), spoolInbox, int64(c.Outbound.MaxDocument), g.store)
	if err := os.MkdirAll(g.inbox.dir, 0o750); err != nil {
		return nil, err
	}
	// Work a killed process held is due now; a send it had started may
	// have reached the axis, so the axis is asked before sending again.
	left, setAside, err := releaseAtStart(g.store, g.clock.Now(), owner)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	for _, r := range setAside {
		g.log.Error().Str("id", r.ID).Int("crashes", r.Crashes).Str("axis_doc_id", readIn(r).AxisDocID).
			Msg("inbound package set aside as a dead letter: the daemon died while processing it each time; keep it for analysis (lienthong queue) and ask the sender")
	}
	if out, in := left[queue.Outbound], left[queue.Inbound]; out+in > 0 {
		g.log.Warn().Int("outbound", out).Int("inbound", in).Msg("records left in flight by an earlier run: outbound ones are checked against the axis before any resend")
	}
	g.dir, err = directory.Open(filepath.Join(c.StateDir, "directory.db"), directory.Options{NoSync: o.NoSync})
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	for _, a := range append([]conf.Agency{c.Agency}, c.Agencies...) {
		g.dir.NotePartner(a.Code) // our own agencies are never moved silently
	}
	g.codes = directory.DefaultRetired()
	if c.Directory.RetiredFile != "" {
		if g.codes, err = directory.ReadRetired(c.Directory.RetiredFile, g.codes); err != nil {
			return nil, fmt.Errorf("directory.retired_file: %w", err)
		}
	}
	cr, err := g.openCredentials(c)
	if err != nil {
		return nil, err
	}
	g.creds.Store(cr)
	g.m = newMetrics(o.Registerer, func() *links { return g.axes }, g.clock, g.store.Stats)
	g.store.Subscribe(g.m.observe)
	o.Registerer.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "lienthong_flushes_total", Help: "Writes made durable on disk (fsync), by the queue and the inbox: the cost that bounds durable throughput.",
	}, func() float64 { return float64(g.Flushes()) }))
	g.m.certExpiry.Set(float64(cr.signer.Certificate().NotAfter.Unix()))
	g.m.dirAgencies.Set(float64(g.dir.Len()))
	if t := g.dir.LastSync(); !t.IsZero() {
		g.m.dirSynced.Set(float64(t.Unix()))
	}
	if err := g.openAxis(); err != nil {
		return nil, err
	}
	if g.hook, err = newWebhook(c.API, o.Log); err != nil {
		return nil, err
	}
	if g.hook != nil {
		g.hook.failed = g.m.webhookFailed.Inc
		g.store.Subscribe(notifyDocuments(g.store, g.hook))
	}
	if err := g.inbox.load(); err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	if f, ok := g.store.(queue.Follower); ok {
		// Items other nodes deliver and change show here too.
		g.inbox.follow(f, func(err error) { g.log.Error().Err(err).Msg("read the inbox again from the store") })
	}
	g.compose(o.Log)
	if n, ok := g.store.(queue.Notifier); ok {
		// Work another node put wakes this node's idle workers at once.
		n.OnPut(func(d queue.Direction) {
			if d == queue.Outbound {
				g.out.wake.notify()
			} else {
				g.in.wake.notify()
			}
		})
	}
	if reg, ok := o.Registerer.(prometheus.Gatherer); ok {
		g.metricsHandler = metricsHandler(reg)
	}
	var handler http.Handler = http.NotFoundHandler()
	if o.API != nil {
		if handler, err = o.API(g); err != nil {
			return nil, err
		}
	}
	if err := g.listen(handler); err != nil {
		return nil, err
	}
	o.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lienthong_api_connections", Help: "Connections open to the local API, against api.max_connections.",
	}, func() float64 { return float64(g.apiLn.(*netcap.Listener).Len()) }))
	return g, nil
}

// openStore opens the store the configuration names and returns the
// owner of this node's leases.
func (g *Gateway) openStore(o Options) (owner string, err error) {
	c := g.cfg
	owner, _ = os.Hostname()
	// A lease outlives the longest axis call, so no second worker takes a
	// record whose upload is still going: a tenth more, at least 10 s.
	call := time.Duration(0)
	for _, a := range c.AllAxes() {
		call = max(call, time.Duration(a.CallTimeout))
	}
	lease := call + max(call/10, 10*time.Second)
	if c.Store.Engine == "postgres" {
		dsn, err := c.Store.ReadDSN()
		if err != nil {
			return "", fmt.Errorf("store.dsn: %w", err)
		}
		// Nodes may share a host: each is its host and its API address.
		owner += " " + c.API.Listen
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, real := g.clock.(SystemClock)
		var now func() time.Time // the database's time on real clocks
		if !real {
			now = g.clock.Now
		}
		st, err := pgstore.Open(ctx, pgstore.Options{DSN: dsn, MaxConns: int32(c.Store.MaxConns),
			StatementTimeout: time.Duration(c.Store.StatementTimeout), Now: now, LeaseTime: lease, Owner: owner, Scratch: g.scratch})
		if err != nil {
			return "", fmt.Errorf("open store (postgres): %w", err)
		}
		g.store = st
		if real {
			g.clock = databaseClock{st}
			if off := st.ClockOffset(); off.Abs() > time.Second {
				g.log.Warn().Dur("offset", off).Msg("this host's clock is off the database's: the node runs on the database's time, but set up NTP on every node (docs/operators.md)")
			}
		}
		return owner, nil
	}
	if err := expectStore(c.StateDir); err != nil {
		return "", err
	}
	g.store, err = queue.Open(filepath.Join(c.StateDir, "queue.db"), queue.Options{Now: g.clock.Now, NoSync: o.NoSync, Owner: owner, LeaseTime: lease})
	if err != nil {
		return "", fmt.Errorf("open queue: %w", err)
	}
	return owner, nil
}

func (g *Gateway) openAxis() error {
	c := g.cfg
	var err error
	g.healths = map[string]*axisHealth{}
	for _, name := range g.axisNames() {
		g.healths[name] = &axisHealth{}
	}
	g.axes, err = openLinks(c, func(a conf.Axis) *breaker {
		return newBreaker(a.BreakerFailures, time.Duration(a.BreakerCooldown))
	}, g.axisClient)
	if err == nil {
		for _, l := range g.axes.all {
			g.m.relisted.WithLabelValues(l.axis) // exported from the start, at 0
		}
	}
	return err
}

// axisClient makes the client of one axis, as a configuration gives it,
// reporting to the axis's health and metrics.
func (g *Gateway) axisClient(name string, a conf.Axis) (axis.Axis, error) {
	p := "axis"
	if name != conf.NationalAxis {
		p = "axes." + name
	}
	secret, err := a.Secret.Read()
	if err != nil {
		return nil, fmt.Errorf("%s.secret: %w", p, err)
	}
	password := ""
	if a.TokenPassword.Set() {
		if password, err = a.TokenPassword.Read(); err != nil {
			return nil, fmt.Errorf("%s.token_password: %w", p, err)
		}
	}
	return axis.Open(axis.Config{
		Endpoint: a.Endpoint, SystemID: a.SystemID, Secret: []byte(secret), PaddedHashFile: a.PaddedHashFile, Dialect: a.Dialect,
		Token:          axis.Token{URL: a.TokenURL, User: a.TokenUser, Password: password, Form: a.TokenForm, TTL: time.Duration(a.TokenTTL)},
		ListWindow:     time.Duration(a.ListWindow),
		ConnectTimeout: time.Duration(a.ConnectTimeout), CallTimeout: time.Duration(a.CallTimeout), MaxConns: a.MaxConns,
		CAFile: a.CAFile, CertFile: a.CertFile, KeyFile: a.KeyFile, Now: g.clock.Now,
		Observe: func(op string, took time.Duration, err error) {
			g.m.observeAxis(name, op, took, err)
			g.healths[name].observe(g.clock.Now(), err)
			if err == nil {
				g.axisSeen.Store(true)
			}
		},
	})
}

// axisFailing is the axis failing the longest, if any: readiness names it.
func (g *Gateway) axisFailing() (name string, since time.Time, lastErr string) {
	for _, n := range g.axisNames() {
		if _, s, e := g.healths[n].read(); !s.IsZero() && (since.IsZero() || s.Before(since)) {
			name, since, lastErr = n, s, e
		}
	}
	return name, since, lastErr
}

// axisNames are the axes' names, the first the default.
func (g *Gateway) axisNames() []string {
	var out []string
	for _, a := range g.cfg.AllAxes() {
		out = append(out, a.Name)
	}
	return out
}

// APIAddr is where the local API listens.
func (g *Gateway) APIAddr() string { return g.apiLn.Addr().String() }

// MetricsAddr is where /metrics is served; "" when turned off.
func (g *Gateway) MetricsAddr() string {
	if g.metricsLn == nil {
		return ""
	}
	return g.metricsLn.Addr().String()
}

// Ready reports whether the gateway can do its job, check by check.
func (g *Gateway) Ready() (bool, map[string]string) {
	checks := map[string]string{"store": "ok", "key": "ok", "axis": "ok"}
	if err := g.Alive(); err != nil {
		checks["store"] = err.Error()
	} else if free, ok := freeSpace(g.cfg.StateDir); ok && free < minFreeSpace {
		checks["store"] = fmt.Sprintf("the state folder's disk has %d MiB free: new work is refused below %d MiB", free>>20, minFreeSpace>>20)
	}
	if g.clock.Now().After(g.creds.Load().signer.Certificate().NotAfter) {
		checks["key"] = "signing certificate expired"
	}
	// Once reached, an axis that stops answering leaves the node ready:
	// documents are still taken and queued. Until then, it is not.
	seen := g.axisSeen.Load()
	if name, since, lastErr := g.axisFailing(); !since.IsZero() && seen {
		if len(g.healths) > 1 {
			lastErr = "axis " + name + ": " + lastErr
		}
		checks["axis"] = fmt.Sprintf("unreachable since %s: %s", since.UTC().Format(time.RFC3339), lastErr)
	} else if !seen {
		checks["axis"] = "not reached yet"
	}
	ready := true
	for k, v := range checks {
		ready = ready && (v == "ok" || (k == "axis" && seen))
	}
	return ready, checks
}

// Run starts the loops and servers and blocks until ctx ends; then it
// stops taking work, lets in-flight sends finish within the grace period
// and returns. ready, when set, is called once everything is serving.
func (g *Gateway) Run(ctx context.Context, ready func()) error {
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	serve := func(srv *http.Server, ln net.Listener, tls bool) {
		if srv == nil {
			return
		}
		wg.Go(func() {
			var err error
			if tls {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	serve(g.apiSrv, g.apiLn, g.cfg.API.TLSCert != "")
	serve(g.metSrv, g.metricsLn, false)

	var loops sync.WaitGroup
	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	for range g.cfg.Outbound.Workers {
		loops.Go(func() { g.out.sender(loopCtx, hard, 0) })
	}
	for range g.cfg.Outbound.UrgentWorkers {
		loops.Go(func() { g.out.sender(loopCtx, hard, int(envelope.PriorityUrgent)) })
	}
	for range g.cfg.Inbound.Workers {
		loops.Go(func() { g.in.receiver(loopCtx) })
	}
	for _, l := range g.axes.polled {
		loops.Go(func() { g.in.poller(loopCtx, l) })
	}
	loops.Go(func() { g.directoryLoop(loopCtx) })
	loops.Go(func() { g.housekeeping(loopCtx) })
	loops.Go(func() { g.evidenceLoop(loopCtx) })
	if g.cfg.Spool.Dir != "" {
		loops.Go(func() { g.spoolLoop(loopCtx) })
	}
	g.log.Info().Str("agency", g.cfg.Agency.Code).Str("api", g.APIAddr()).Str("metrics", g.MetricsAddr()).
		Strs("axes", g.axisNames()).Msg("gateway running")
	if ready != nil {
		ready()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		stopLoops()
	}
	g.log.Info().Str("grace", g.grace.String()).Msg("stopping: finishing in-flight sends")
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.grace)
	defer cancel()
	for _, srv := range []*http.Server{g.apiSrv, g.metSrv} {
		if srv != nil {
			_ = srv.Shutdown(shutdown)
		}
	}
	done := make(chan struct{})
	go func() { loops.Wait(); close(done) }()
	select {
	case <-done:
	case <-shutdown.Done():
		g.log.Warn().Msg("grace period over: cancelling the sends still out; they will be reconciled at the next start")
		cancelHard()
		<-done
	}
	g.hook.close()
	wg.Wait()
	return err
}

// Close releases everything Open took. It is safe to call more than once.
func (g *Gateway) Close() error {
	var errs []error
	g.closed.Do(func() {
		for _, ln := range []net.Listener{g.apiLn, g.metricsLn} {
			if ln != nil {
				ln.Close()
			}
		}
		if g.axes != nil {
			g.axes.close()
		}
		if cr := g.creds.Load(); cr != nil {
			errs = append(errs, cr.close())
		}
		for _, cr := range g.retired {
			errs = append(errs, cr.close())
		}
		if g.dir != nil {
			errs = append(errs, g.dir.Close())
		}
		if g.store != nil {
			errs = append(errs, g.store.Close())
		}
	})
	return errors.Join(errs...)
}

// releaseAtStart returns to the queue, due now, every record an earlier
// process of this owner (the node) left leased, as only this owner's
// process may at its start: that work must not wait for its lease to run
// out. Leases of records stored before leases had owners count as ours.
// An outbound one is marked ambiguous, to be reconciled with the axis
// before any resend; an inbound one whose processing died with the
// process maxCrashes times in a row is set aside as dead. On a shared
// store a lease may have run out meanwhile and the record been taken up,
// or finished, by another node: it is left to that node.
func releaseAtStart(s queue.Store, now time.Time, owner string) (left map[queue.Direction]int, setAside []*queue.Record, err error) {
	left = map[queue.Direction]int{}
	var held []*queue.Record
	f := queue.Filter{States: []queue.State{queue.Leased}, Limit: 1000,
		Match: func(r *queue.Record) bool { return r.Owner == owner || r.Owner == "" }}
	for {
		page, next, err := queue.List(context.Background(), s, f)
		if err != nil {
			return nil, nil, err
		}
		held = append(held, page...)
		if next == "" {
			break
		}
		f.After = next
	}
	if len(held) == 0 {
		return left, nil, nil
	}
	err = s.Update(context.Background(), func(tx queue.Tx) error {
		left, setAside = map[queue.Direction]int{}, nil
		for _, r := range held {
			if r.Dir == queue.Inbound && r.Crashes+1 >= maxCrashes {
				reason := fmt.Sprintf("set aside: the process died %d times in a row while processing it", r.Crashes+1)
				dead, err := tx.Kill(now, r.ID, r.Lease, reason)
				if errors.Is(err, queue.ErrLeaseLost) {
					continue // expired since, and taken up by another node
				}
				if err != nil {
					return err
				}
				dead.Crashes = r.Crashes + 1
				tx.Emit(event(r.ID, evDead, "", now, atReason, reason))
				setAside = append(setAside, dead)
				continue
			}
			rec, err := tx.Release(now, r.ID, r.Lease, "its worker died")
			if errors.Is(err, queue.ErrLeaseLost) {
				continue // expired since, and taken up by another node
			}
			if err != nil {
				return err
			}
			if r.Dir == queue.Outbound {
				if _, err := queue.MergeMeta(tx, r.ID, markAmbiguous); err != nil {
					return err
				}
			}
			tx.Emit(event(r.ID, "released", "", now, atReason, "its worker died", "attempt", itoa(int64(rec.Attempts))))
			left[r.Dir]++
		}
		return nil
	})
	return left, setAside, err
}

// parts are what both sides are built from; newOutbound and newInbound
// fill what a test leaves out with what the engine would use.
type parts struct {
	cfg     conf.Config
	log     zerolog.Logger
	clock   Clock
	store   queue.Store
	dir     *directory.Directory // nil: no directory (tests)
	creds   *atomic.Pointer[credentials]
	m       *metrics
	breaker *breaker // of a single axis's link, when axes is nil
	axes    *links
	retired *directory.Retired
	hook    *webhook
	inbox   *inbox
	scratch string
	cal     *timeliness.Calendar
}

func (p *parts) defaults() {
	if p.clock == nil {
		p.clock = SystemClock{}
	}
	if p.cal == nil {
		p.cal = timeliness.NewCalendar(nil)
	}
	if p.creds == nil {
		p.creds = &atomic.Pointer[credentials]{}
	}
	if p.breaker == nil {
		p.breaker = newBreaker(p.cfg.Outbound.BreakerFailures, time.Duration(p.cfg.Outbound.BreakerCooldown))
	}
	if p.m == nil {
		axes := p.axes
		p.m = newMetrics(prometheus.NewRegistry(), func() *links { return axes }, p.clock, p.store.Stats)
		p.store.Subscribe(p.m.observe)
	}
}

// me is the primary agency, as the configuration names it.
func (p *parts) me() envelope.Organization {
	a := p.cfg.Agency
	return envelope.Organization{OrganID: a.Code, OrganName: a.Name, Email: a.Email, Telephone: a.Phone}
}

// newOutbound builds the sending side; ax is its one axis when p has no
// links.
func newOutbound(p parts, ax axisSender) *outbound {
	p.defaults()
	if p.axes == nil {
		p.axes = oneLink(ax, nil, p.breaker)
	}
	o := &outbound{
		log: p.log.With().Str("component", "outbound").Logger(), clock: p.clock, store: p.store, axes: p.axes,
		creds: p.creds, m: p.m, wake: newSignal(), hook: p.hook, me: p.me(),
		maxDocument: int64(p.cfg.Outbound.MaxDocument), retryPolicy: policyOf(p.cfg), scratch: p.scratch, cal: p.cal,
		retired: p.retired, followSuccessor: p.cfg.Outbound.FollowSuccessor,
	}
	if p.dir != nil {
		o.dir, o.dirLookup = p.dir, p.dir
	}
	return o
}

// newInbound builds the receiving side; answers queues its statuses. ax
// is its one axis when p has no links.
func newInbound(p parts, ax axisReceiver, answers answerer) *inbound {
	p.defaults()
	if p.axes == nil {
		p.axes = oneLink(nil, ax, p.breaker)
	}
	in := &inbound{
		log: p.log.With().Str("component", "inbound").Logger(), clock: p.clock, store: p.store, axes: p.axes,
		creds: p.creds, m: p.m, wake: newSignal(), hook: p.hook, inbox: p.inbox, answers: answers, me: p.me(),
		retryPolicy: policyOf(p.cfg), pollInterval: time.Duration(p.cfg.Inbound.PollInterval),
		autoArrived: p.cfg.Inbound.AutoArrived, refuseInvalid: p.cfg.Trust.RefuseInvalid, retired: p.retired,
	}
	if p.dir != nil {
		in.dir = p.dir
	}
	in.uploaders = p.cfg.Trust.Uploaders
	return in
}

// compose builds the two sides over what Open made.
func (g *Gateway) compose(base zerolog.Logger) {
	p := parts{
		cfg: g.cfg, log: base, clock: g.clock, store: g.store, dir: g.dir, creds: &g.creds, m: g.m,
		axes: g.axes, retired: g.codes, hook: g.hook, inbox: g.inbox, scratch: g.scratch, cal: g.cal,
	}
	g.out = newOutbound(p, nil)
	g.in = newInbound(p, nil, g.out)
}

// Stats counts the store's records by direction, state and priority.
func (g *Gateway) Stats() []queue.GroupStats { return g.store.Stats() }

// Alive is the watchdog's self-check: the store answers.
func (g *Gateway) Alive() error {
	_, err := queue.Get(context.Background(), g.store, "-")
	if errors.Is(err, queue.ErrNotFound) {
		return nil
	}
	return err
}

// expectStore refuses to start with a new, empty queue in a state folder
// that held one: its records (documents to send, packages received) would
// be silently gone. Only a new state folder starts empty.
func expectStore(dir string) error {
	path := filepath.Join(dir, "queue.db")
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var signs []string
	if _, err := os.Stat(filepath.Join(dir, "directory.db")); err == nil {
		signs = append(signs, "directory.db")
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "inbox")); len(entries) > 0 {
		signs = append(signs, fmt.Sprintf("%d inbox item(s)", len(entries)))
	}
	if len(signs) == 0 {
		return nil
	}
	return fmt.Errorf("open queue: %s is missing, but %s holds state of earlier runs (%s): restore queue.db from a backup (lienthong queue backup), "+
		"or move the state folder away to start anew", path, dir, strings.Join(signs, ", "))
}

// minFreeSpace is the least room the store needs to commit: below it the
// gateway reports itself not ready.
const minFreeSpace = 4 << 20

// freeSpace is how many bytes an unprivileged writer may still use on the
// disk of dir.
func freeSpace(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}

// Flushes is how many times the gateway has made writes durable on disk,
// its queue and its inbox together, since it opened.
func (g *Gateway) Flushes() uint64 { return g.store.Flushes() + g.inbox.flushes.Load() }

// CheckStore says whether the configured store can be reached and its
// schema is one this build runs on, changing nothing: for -check.
func CheckStore(ctx context.Context, c conf.Config) (string, error) {
	if c.Store.Engine != "postgres" {
		return "bbolt file " + filepath.Join(c.StateDir, "queue.db"), nil
	}
	dsn, err := c.Store.ReadDSN()
	if err != nil {
		return "", fmt.Errorf("store.dsn: %w", err)
	}
	v, err := pgstore.Probe(ctx, dsn)
	switch {
	case err != nil:
		return "", fmt.Errorf("store.dsn: %w", err)
	case v > pgstore.SchemaVersion:
		return "", fmt.Errorf("store: the database's schema is version %d, newer than this build's %d: upgrade lienthongd", v, pgstore.SchemaVersion)
	case v < pgstore.SchemaVersion:
		return fmt.Sprintf("PostgreSQL reachable; schema version %d, migrated to %d at start", v, pgstore.SchemaVersion), nil
	}
	return fmt.Sprintf("PostgreSQL reachable; schema version %d, current", v), nil
}

// CheckCredentials opens every signing key the configuration names and
// checks each against its certificate, and reads the trust settings,
// changing nothing: for -check. A key kept as a systemd credential is
// reached only inside the service (conf.ErrNoCredentials outside it).
func CheckCredentials(c conf.Config) error {
	g := &Gateway{cfg: c, clock: SystemClock{}, log: zerolog.Nop()}
	cr, err := g.openCredentials(c)
	if err != nil {
		return err
	}
	return cr.close()
}
