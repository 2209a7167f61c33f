package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"lienthong/gateway/netcap"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The listeners: bound by Open, so a port in use fails it; the API's
// capped, making room for a newcomer (netcap).

// listen binds the API and metrics listeners, so a port in use fails Open;
// handler answers on the API's.
func (g *Gateway) listen(handler http.Handler) error {
	ln, err := net.Listen("tcp", g.cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen: %w", err)
	}
	capped := netcap.Listen(ln, max(g.cfg.API.MaxConnections, 8))
	g.apiLn = capped
	// Headers in 10 s; an idle keep-alive connection goes after a minute;
	// a body must keep coming (netcap.Body).
	g.apiSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10,
		ConnState: capped.Hook}
	if g.cfg.API.TLSCert != "" {
		tc, err := g.tlsConfig()
		if err != nil {
			return err
		}
		g.apiSrv.TLSConfig = tc
	}
	if g.cfg.Metrics.Listen != "" && g.metricsHandler != nil {
		ln, err := net.Listen("tcp", g.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		g.metricsLn = ln
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", g.metricsHandler)
		// The probes here too: whatever holds the API's connections, a
		// load balancer or watchdog reaches them.
		mux.Handle("GET /healthz", handler)
		mux.Handle("GET /readyz", handler)
		g.metSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	return nil
}

func (g *Gateway) tlsConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(g.cfg.API.TLSCert, g.cfg.API.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("api.tls_cert: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if g.cfg.API.ClientCA != "" {
		pem, err := os.ReadFile(g.cfg.API.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("api.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api.client_ca: no PEM certificate in %s", g.cfg.API.ClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

func metricsHandler(reg prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
