// Package devstack runs a whole exchange on one machine: a reference axis
// hub on loopback, our gateway, and a peer agency's gateway whose simulated
// document system answers every package. `lienthongd -dev` runs it for a
// first look; tests and the load tool run it for real traffic without the
// national axis. Everything it makes is marked not for production.
package devstack

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/envelope/devca"
	"lienthong/gateway"
	"lienthong/gateway/api"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/evidence"
	"lienthong/gateway/localapi"
	"lienthong/queue/atomicfile"
)

// The two agencies of the stack and their axis systems.
const (
	AgencyCode = "000.00.07.H26" // ours: Sở Thông tin và Truyền thông Hà Nội
	AgencyName = "Sở Thông tin và Truyền thông Hà Nội (dev)"
	PeerCode   = "000.00.00.G22" // the peer: Văn phòng Chính phủ
	// UnitCode is a unit of our agency that our gateway serves too, with
	// its own key, as a city's shared system serves its departments.
	UnitCode = "000.01.07.H26"
	UnitName = "Phòng Công nghệ thông tin, Sở TT&TT Hà Nội (dev)"
	PeerName = "Văn phòng Chính phủ (dev)"
	systemA  = "00.53.W00"
	systemB  = "00.54.W00"
)

// Options shape a stack. The zero value runs on real time in a fresh
// temporary folder with the peer answering automatically.
type Options struct {
	Dir string // state; a new temporary folder when empty
	Log zerolog.Logger
	// Clock drives the gateways and the hub; real time when nil.
	Clock gateway.Clock
	// RecallAnswer is what the peer answers a recall (13) or a revocation,
	// update or replacement: "15" (agree, the default) or "16" (refuse).
	RecallAnswer string
	// ManualPeer leaves the peer's inbox to the caller instead of
	// answering every document with 03.
	ManualPeer bool
	// Faults make the hub misbehave from the start.
	Faults axishub.Faults
	// Registerer takes our gateway's metrics; a fresh registry when nil.
	Registerer prometheus.Registerer
	NoSync     bool
	// StoreDSN, when set, keeps our gateway's work in that PostgreSQL
	// database instead of a bbolt file.
	StoreDSN string
	// Configure, when set, edits each gateway's configuration (ours first)
	// before it opens.
	Configure func(peer bool, c *conf.Config)
	// Detached opens the hub and the peer only: our side is run from
	// Config by other processes, as the nodes of a cluster on StoreDSN
	// are. Agency and Client are then nil.
	Detached bool
}

// Stack is a running exchange.
type Stack struct {
	Dir        string
	Hub        *axishub.Hub
	HubURL     string
	Agency     *gateway.Gateway // ours
	Peer       *gateway.Gateway
	Client     *localapi.Client // ours, with our token
	PeerClient *localapi.Client
	Token      string
	// ScopedToken may act for UnitCode only.
	ScopedToken string
	MetricsURL  string
	CAFile      string
	// CA is the dev CA that issued both agencies' certificates, so tests
	// can issue more that the gateways trust.
	CA         *devca.CA
	Config     conf.Config // ours
	PeerConfig conf.Config
	opts       Options
	meter      partyMeter
	hubSrv     *http.Server
	ports      map[string]string // listener addresses of an earlier run
	hubLn      net.Listener
	temporary  bool
}

// Open creates credentials, the hub and both gateways, with every
// listener bound, ready to Run.
func Open(o Options) (_ *Stack, err error) {
	if o.Clock == nil {
		o.Clock = gateway.SystemClock{}
	}
	s := &Stack{Dir: o.Dir, opts: o}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "lienthong-dev-"); err != nil {
			return nil, err
		}
		s.temporary = true
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	now := o.Clock.Now()
	pki := filepath.Join(s.Dir, "pki")
	if s.CAFile, s.CA, err = writePKI(pki, now); err != nil {
		return nil, err
	}
	if err := writeUnitKey(filepath.Join(pki, "units"), s.CA, now); err != nil {
		return nil, err
	}
	secrets := filepath.Join(s.Dir, "secrets")
	v := map[string]string{}
	for _, name := range []string{"axis-a", "axis-b", "token-a", "token-b", "token-unit"} {
		if v[name], err = secret(filepath.Join(secrets, name)); err != nil {
			return nil, err
		}
	}
	secretA, secretB, peerToken := v["axis-a"], v["axis-b"], v["token-b"]
	s.Token, s.ScopedToken = v["token-a"], v["token-unit"]
	for name, line := range map[string]string{
		"tokens-a": "dev-legacy " + s.Token + "\nunit-legacy " + s.ScopedToken + " " + UnitCode,
		"tokens-b": "peer-legacy " + peerToken,
	} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(line+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	// Nodes on one database sign the shared evidence log with one key.
	if _, _, err := evidence.KeyFile(filepath.Join(secrets, "evidence-a"), "lienthong/"+AgencyCode); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "hub"), 0o700); err != nil {
		return nil, err
	}
	hub, err := axishub.Open(axishub.Options{
		Dir: filepath.Join(s.Dir, "hub"), Now: o.Clock.Now, Faults: o.Faults,
		Systems: []axishub.System{
			{SystemID: systemA, Secret: secretA, Codes: []string{AgencyCode, UnitCode}},
			{SystemID: systemB, Secret: secretB, Codes: []string{PeerCode}},
		},
		Agencies: Agencies,
	})
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	s.Hub = hub
	s.ports = ReadPorts(filepath.Join(s.Dir, "ports.json"))
	if s.hubLn, err = net.Listen("tcp", s.port("hub")); err != nil {
		return nil, err
	}
	s.HubURL = "http://" + s.hubLn.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/", hub)
	mux.HandleFunc("GET "+PartiesPath, s.partiesHandler)
	var capped net.Listener
	s.hubSrv, capped = hub.Server(s.hubLn, 1024)
	s.hubSrv.Handler, s.hubLn = mux, capped

	s.Config = s.config("a", AgencyCode, AgencyName, systemA, false)
	s.PeerConfig = s.config("b", PeerCode, PeerName, systemB, true)
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	log := o.Log.With().Str("agency", AgencyCode).Logger()
	if !o.Detached {
		as(PartyGateway, func() {
			s.Agency, err = gateway.Open(s.Config, gateway.Options{Log: log, Registerer: reg, Clock: o.Clock, NoSync: o.NoSync, API: localAPI})
		})
		if err != nil {
			return nil, fmt.Errorf("our gateway: %w", err)
		}
	}
	plog := o.Log.With().Str("agency", PeerCode).Logger()
	as(PartyPeer, func() {
		s.Peer, err = gateway.Open(s.PeerConfig, gateway.Options{Log: plog, Clock: o.Clock, NoSync: o.NoSync, API: localAPI})
	})
	if err != nil {
		return nil, fmt.Errorf("peer gateway: %w", err)
	}
	s.PeerClient = &localapi.Client{Base: "http://" + s.Peer.APIAddr(), Token: peerToken}
	if s.Agency == nil {
		return s, nil
	}
	s.Client = &localapi.Client{Base: "http://" + s.Agency.APIAddr(), Token: s.Token}
	if a := s.Agency.MetricsAddr(); a != "" {
		s.MetricsURL = "http://" + a + "/metrics"
	}
	return s, nil
}

// localAPI is the local API over a gateway, as the daemon serves it.
func localAPI(g *gateway.Gateway) (http.Handler, error) { return api.New(g) }

func (s *Stack) config(name, code, agency, system string, peer bool) conf.Config {
	c := conf.Default()
	c.StateDir = filepath.Join(s.Dir, name)
	c.Agency = conf.Agency{Code: code, Name: agency}
	c.Axis.Endpoint, c.Axis.SystemID = s.HubURL, system
	c.Axis.Secret = conf.Secret("file:" + filepath.Join(s.Dir, "secrets", "axis-"+name))
	c.Signing.KeyFile = filepath.Join(s.Dir, "pki", name+".key")
	c.Signing.CertFile = filepath.Join(s.Dir, "pki", name+".pem")
	if !peer {
		c.Agencies = []conf.Agency{{Code: UnitCode, Name: UnitName}}
		c.Signing.KeyDir = filepath.Join(s.Dir, "pki", "units")
	}
	c.Trust.Roots = s.CAFile
	c.API.Listen = s.port("api-" + name)
	c.API.Tokens = conf.Secret("file:" + filepath.Join(s.Dir, "secrets", "tokens-"+name))
	c.Metrics.Listen = s.port("metrics-" + name)
	if peer {
		c.Metrics.Listen = ""
	}
	c.Inbound.PollInterval = conf.Duration(time.Second)
	c.Outbound.RetryBase = conf.Duration(time.Second)
	c.Outbound.RetryCap = conf.Duration(30 * time.Second)
	c.Outbound.BreakerCooldown = conf.Duration(5 * time.Second)
	c.Log.Format = "console"
	if !peer && s.opts.StoreDSN != "" {
		c.Store.Engine, c.Store.DSN = "postgres", conf.Secret(s.opts.StoreDSN)
		c.Evidence.Key = conf.Secret("file:" + filepath.Join(s.Dir, "secrets", "evidence-"+name))
	}
	if os.Getenv(NoEvidenceEnv) != "" {
		c.Evidence.Enabled = false
	}
	if s.opts.Configure != nil {
		s.opts.Configure(peer, &c)
	}
	return c
}

// Run serves the hub and both gateways until ctx ends. ready, when set, is
// called once all of them serve and both gateways reached the hub.
func (s *Stack) Run(ctx context.Context, ready func()) error {
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	as(PartyHub, func() {
		wg.Go(func() {
			if err := s.hubSrv.Serve(s.hubLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("hub: %w", err)
			}
		})
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var up sync.WaitGroup
	var gws sync.WaitGroup
	for party, g := range map[string]*gateway.Gateway{PartyGateway: s.Agency, PartyPeer: s.Peer} {
		if g == nil {
			continue
		}
		up.Add(1)
		as(party, func() {
			gws.Go(func() {
				if err := g.Run(ctx, up.Done); err != nil {
					errc <- err
				}
			})
		})
	}
	up.Wait()
	for _, g := range []*gateway.Gateway{s.Agency, s.Peer} {
		if g == nil {
			continue
		}
		if err := g.SyncDirectory(ctx); err != nil {
			s.opts.Log.Warn().Err(err).Msg("first directory sync failed; the gateway retries it")
		}
	}
	if !s.opts.ManualPeer {
		as(PartyPeer, func() { gws.Go(func() { s.answerAll(ctx) }) })
	}
	if ready != nil {
		ready()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		cancel()
	}
	// The gateways stop first, so no call to the hub is cut short; then
	// the hub, which has nothing left to finish.
	gws.Wait()
	s.hubSrv.Close()
	wg.Wait()
	return err
}

// answerAll is the peer's document system: it registers (03) every
// document that arrives, the peer gateway having answered 01, and answers
// a recall, revocation, update or replacement with RecallAnswer.
func (s *Stack) answerAll(ctx context.Context) {
	agree := cmp.Or(s.opts.RecallAnswer, "15")
	for ctx.Err() == nil {
		recalls, err := s.PeerClient.Inbox(ctx, localapi.InboxRecall, 0)
		if err == nil {
			for _, it := range recalls {
				s.peerAnswer(ctx, it.ID, agree, "Đồng ý thu hồi (dev)")
			}
		}
		items, err := s.PeerClient.Inbox(ctx, localapi.InboxNew, time.Second)
		if err != nil {
			if ctx.Err() == nil {
				s.opts.Log.Warn().Err(err).Msg("dev peer: inbox")
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		for _, it := range items {
			if it.BusinessDocType != 0 {
				s.peerAnswer(ctx, it.ID, agree, "Đồng ý (dev)")
				continue
			}
			s.peerAnswer(ctx, it.ID, "03", "Đã vào sổ văn bản đến")
		}
	}
}

func (s *Stack) peerAnswer(ctx context.Context, id, code, desc string) {
	_, err := s.PeerClient.Answer(ctx, id, localapi.StatusRequest{Code: code, Description: desc, Staff: "Văn thư (dev)"})
	var e *localapi.Error
	if err != nil && ctx.Err() == nil && !(errors.As(err, &e) && e.Status == http.StatusConflict) {
		s.opts.Log.Warn().Err(err).Str("id", id).Str("code", code).Msg("dev peer: answer")
	}
}

// Close releases both gateways and the hub, and removes a temporary state
// folder.
func (s *Stack) Close() error {
	var errs []error
	for _, g := range []*gateway.Gateway{s.Agency, s.Peer} {
		if g != nil {
			errs = append(errs, g.Close())
		}
	}
	if s.hubLn != nil {
		s.hubLn.Close()
	}
	if s.Hub != nil {
		errs = append(errs, s.Hub.Close())
	}
	if s.temporary {
		errs = append(errs, os.RemoveAll(s.Dir))
	}
	return errors.Join(errs...)
}

// WriteEnv writes the shell variables a user needs to talk to our gateway.
// The file is for ". dev.env" in any POSIX shell: each line exports one
// single-quoted value.
func (s *Stack) WriteEnv(path string) error {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"LIENTHONG_API", s.Client.Base}, {"LIENTHONG_TOKEN", s.Token}, {"LIENTHONG_AGENCY", AgencyCode},
		{"LIENTHONG_PEER", PeerCode}, {"LIENTHONG_METRICS", s.MetricsURL},
		{"LIENTHONG_AGENCIES", AgencyCode + " " + UnitCode}, {"LIENTHONG_SCOPED_TOKEN", s.ScopedToken},
		{"LIENTHONG_PEER_API", s.PeerClient.Base}, {"LIENTHONG_PEER_TOKEN", s.PeerClient.Token},
		{"LIENTHONG_PARTIES", s.HubURL + PartiesPath},
	} {
		fmt.Fprintf(&b, "export %s='%s'\n", kv[0], strings.ReplaceAll(kv[1], "'", `'\''`))
	}
	if err := atomicfile.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return s.savePorts()
}

// NoEvidenceEnv, set, runs the stack's gateways without the evidence log,
// for the load tool to measure what the log costs.
const NoEvidenceEnv = "LIENTHONG_DEV_NO_EVIDENCE"

// NodeFile is where a stack on PostgreSQL keeps our side's configuration,
// for more nodes of it to join (lienthongd -dev -join).
const NodeFile = "node.toml"

// WriteNodeConfig writes our side's configuration as a file another
// daemon runs with: the same agency, keys, axis credentials and database,
// a state folder and listeners of its own given at its start.
func (s *Stack) WriteNodeConfig(path string) error {
	var b strings.Builder
	b.WriteString("# Our gateway of a development exchange, for more nodes on its database\n# (lienthongd -dev -join). Not fit for production.\n")
	if err := toml.NewEncoder(&b).Encode(s.Config); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, []byte(b.String()), 0o600)
}

// port is the address a listener of the stack had in an earlier run of
// the same state folder, when it is free, so that a restarted -dev keeps
// its URLs; a new port otherwise.
func (s *Stack) port(name string) string { return KeepPort(s.ports[name]) }

// KeepPort is addr when it can be listened on, else any free loopback
// port: a restarted development process keeps its URLs when it can.
func KeepPort(addr string) string {
	if addr != "" {
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	return "127.0.0.1:0"
}

// ReadPorts reads the listener addresses a run saved in path, none when
// there is no such file.
func ReadPorts(path string) map[string]string {
	m := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

// savePorts keeps the addresses the listeners got, for the next run.
func (s *Stack) savePorts() error {
	m := map[string]string{"hub": s.hubLn.Addr().String(), "api-a": s.Agency.APIAddr(), "api-b": s.Peer.APIAddr()}
	if a := s.Agency.MetricsAddr(); a != "" {
		m["metrics-a"] = a
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return atomicfile.WriteFile(filepath.Join(s.Dir, "ports.json"), b, 0o600)
}

// Agencies is the directory the dev hub serves: the two agencies of the
// stack and a few more to search.
var Agencies = []axis.Agency{
	{ID: "1", Code: AgencyCode, Name: AgencyName, Version: 1},
	{ID: "6", Code: UnitCode, Name: UnitName, Parent: AgencyCode, Version: 1},
	{ID: "2", Code: PeerCode, Name: PeerName, Version: 1},
	{ID: "3", Code: "000.00.00.H26", Name: "Ủy ban nhân dân thành phố Hà Nội", Version: 1},
	{ID: "4", Code: "000.00.00.H29", Name: "Ủy ban nhân dân Thành phố Hồ Chí Minh", Version: 1},
	{ID: "5", Code: "000.00.00.G12", Name: "Bộ Thông tin và Truyền thông", Version: 1},
}

func writePKI(dir string, now time.Time) (caFile string, ca *devca.CA, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	caFile = filepath.Join(dir, "ca.pem")
	if _, err := os.Stat(caFile); err == nil {
		ca, err := loadCA(caFile, filepath.Join(dir, "ca.key"))
		return caFile, ca, err // a state folder kept from an earlier run
	}
	if ca, err = devca.NewCA("lienthong dev CA", now); err != nil {
		return "", nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return "", nil, err
	}
	if err := writePEM(filepath.Join(dir, "ca.key"), "PRIVATE KEY", der, 0o600); err != nil {
		return "", nil, err
	}
	for name, who := range map[string][2]string{"a": {AgencyName, AgencyCode}, "b": {PeerName, PeerCode}} {
		cert, key, err := ca.Issue(devca.Leaf{Name: who[0], Code: who[1]}, now)
		if err != nil {
			return "", nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", nil, err
		}
		if err := writePEM(filepath.Join(dir, name+".key"), "PRIVATE KEY", der, 0o600); err != nil {
			return "", nil, err
		}
		if err := writePEM(filepath.Join(dir, name+".pem"), "CERTIFICATE", cert.Raw, 0o644); err != nil {
			return "", nil, err
		}
	}
	return caFile, ca, writePEM(caFile, "CERTIFICATE", ca.Cert.Raw, 0o644)
}

// loadCA reads the dev CA kept in a state folder; nil when its key was not
// kept (folders from older versions).
func loadCA(certFile, keyFile string) (*devca.CA, error) {
	kb, err := os.ReadFile(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, fmt.Errorf("dev CA in %s: not PEM", filepath.Dir(certFile))
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dev CA key in %s cannot sign", keyFile)
	}
	return &devca.CA{Cert: cert, Key: signer}, nil
}

func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), mode)
}

// secret returns the random secret kept at path, making it on first use.
func secret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	v := randomHex(20)
	return v, os.WriteFile(path, []byte(v+"\n"), 0o600)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeUnitKey issues the unit's own key and certificate into the key
// folder our gateway signs for its agencies from.
func writeUnitKey(dir string, ca *devca.CA, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	base := filepath.Join(dir, UnitCode)
	if _, err := os.Stat(base + ".key"); err == nil || ca == nil {
		return nil
	}
	cert, key, err := ca.Issue(devca.Leaf{Name: UnitName, Code: UnitCode}, now)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(base+".pem", "CERTIFICATE", cert.Raw, 0o644); err != nil {
		return err
	}
	return writePEM(base+".key", "PRIVATE KEY", der, 0o600)
}
