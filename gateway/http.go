package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// maxMetadata bounds the JSON metadata part of a submission.
const maxMetadata = 1 << 20

// listen binds the API and metrics listeners, so a port in use fails Open.
func (g *Gateway) listen() error {
	ln, err := net.Listen("tcp", g.cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen: %w", err)
	}
	g.apiLn = &limitListener{Listener: ln, slots: make(chan struct{}, max(g.cfg.API.MaxConnections, 8))}
	g.uploads = make(chan struct{}, max(g.cfg.API.MaxUploads, 1))
	// Headers in 10 s; an idle keep-alive connection goes after a minute;
	// a body must keep coming (bodyDeadline).
	g.apiSrv = &http.Server{Handler: g.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
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

// Handler is the local API.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, localapi.Health{Ready: true, Checks: map[string]string{"process": "ok"}})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, checks := g.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, localapi.Health{Ready: ok, Checks: checks})
	})
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/documents", g.postDocument)
	api.HandleFunc("GET /v1/documents", g.listDocuments)
	api.HandleFunc("GET /v1/documents/{id}", g.getDocument)
	api.HandleFunc("GET /v1/documents/{id}/events", g.documentEvents)
	api.HandleFunc("POST /v1/documents/{id}/resend", g.resendDocument)
	api.HandleFunc("POST /v1/documents/{id}/recall", g.recallDocument)
	api.HandleFunc("POST /v1/documents/{id}/revoke", g.revokeDocument)
	api.HandleFunc("GET /v1/inbox", g.listInbox)
	api.HandleFunc("GET /v1/inbox/{id}", g.getInbox)
	api.HandleFunc("GET /v1/inbox/{id}/events", g.inboxEvents)
	api.HandleFunc("GET /v1/inbox/{id}/files/{n}", g.getInboxFile)
	api.HandleFunc("POST /v1/inbox/{id}/status", g.postInboxStatus)
	api.HandleFunc("GET /v1/agencies", g.listAgencies)
	api.HandleFunc("GET /v1/directory/search", g.searchDirectory)
	api.HandleFunc("GET /v1/directory/{code}", g.getAgency)
	mux.Handle("/v1/", g.authenticate(api))
	return g.observe(mux, api)
}

// observe counts every request by route and status and logs the refused
// ones, so an operator can show what the legacy system was told. Log
// lines are sampled, so a flood of bad requests cannot flood the journal.
func (g *Gateway) observe(mux, api *http.ServeMux) http.Handler {
	log := g.log.With().Str("component", "api").Logger().Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, route := mux.Handler(r)
		if route == "/v1/" {
			if _, p := api.Handler(r); p != "" {
				route = p
			}
		}
		if route == "" {
			route = "other"
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(sw, r)
		g.m.apiRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		if sw.code < 400 {
			return
		}
		ev := log.Warn()
		if sw.code >= 500 {
			ev = log.Error()
		}
		client := clientOf(r).name
		ev.Str("route", route).Str("path", r.URL.Path).Int("status", sw.code).Str("remote", r.RemoteAddr).
			Str("client", client).Str("error", sw.msg).Msg("local API request refused")
	})
}

// statusWriter keeps the status and error message of an answer.
type statusWriter struct {
	http.ResponseWriter
	code int
	msg  string
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type clientKey struct{}

// authenticate admits a request carrying one of the configured tokens.
func (g *Gateway) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, known := g.tokens[sha256.Sum256([]byte(strings.TrimSpace(tok)))]
		if !ok || !known {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lienthong"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required", nil)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

func (g *Gateway) postDocument(w http.ResponseWriter, r *http.Request) {
	select {
	case g.uploads <- struct{}{}:
		defer func() { <-g.uploads }()
	default:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%d submissions are being read already (api.max_uploads): try again shortly", cap(g.uploads)), nil)
		return
	}
	limit := int64(g.cfg.Outbound.MaxDocument)
	r.Body = http.MaxBytesReader(w, newBodyDeadline(w, r.Body), limit+maxMetadata+1<<20)
	meta, files, err := readSubmission(r, g.out.scratch, g.out.precheck)
	defer removeFiles(files)
	if err != nil {
		g.fail(w, err)
		return
	}
	c := clientOf(r)
	rec, existed, err := g.out.Submit(Submission{Meta: meta, Files: files, Client: c.name, Allowed: c.allows})
	if err != nil {
		g.fail(w, err)
		return
	}
	code := http.StatusAccepted
	if existed {
		code = http.StatusOK
	}
	writeJSON(w, code, localapi.Accepted{ID: rec.ID, DocumentID: readOut(rec).DocumentID, Existing: existed})
}

// maxFiles is how many attachments a document may carry, as readers cap.
const maxFiles = 256

// readSubmission reads the multipart form: one metadata part, then file
// parts in attachment order, each written to a file in tmp as it arrives
// (in memory when tmp is ""). early, when set, checks the metadata before
// any file is read. The files are the caller's to remove, also on error.
func readSubmission(r *http.Request, tmp string, early func(*envelope.Metadata) error) (_ *envelope.Metadata, files []envelope.Attachment, err error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, files, envelope.Problems{{Path: "Content-Type", Rule: "must be multipart/form-data with a metadata part", Value: r.Header.Get("Content-Type")}}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, files, envelope.Problems{{Path: "Content-Type", Rule: err.Error()}}
	}
	var meta *envelope.Metadata
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, files, bodyError(err)
		}
		switch p.FormName() {
		case "metadata":
			if meta != nil {
				return nil, files, envelope.Problems{{Path: "metadata", Rule: "must be sent once"}}
			}
			if meta, err = envelope.DecodeMetadata(io.LimitReader(p, maxMetadata)); err != nil {
				var ps envelope.Problems
				if errors.As(err, &ps) {
					return nil, files, ps
				}
				return nil, files, bodyError(err)
			}
			if early != nil {
				if err := early(meta); err != nil {
					return nil, files, err
				}
			}
		case "file":
			if len(files) == maxFiles {
				return nil, files, envelope.Problems{{Path: fmt.Sprintf("file[%d]", maxFiles), Rule: fmt.Sprintf("a document carries at most %d files", maxFiles)}}
			}
			name := p.FileName()
			if name == "" {
				return nil, files, envelope.Problems{{Path: fmt.Sprintf("file[%d]", len(files)), Rule: "needs a file name"}}
			}
			a := envelope.Attachment{Name: name, ContentType: p.Header.Get("Content-Type")}
			if a.Data, a.Path, err = spoolPart(p, tmp); err != nil {
				if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
					return nil, files, fmt.Errorf("%w: disk full, free space in the state folder: %v", ErrUnavailable, err)
				}
				return nil, files, bodyError(err)
			}
			files = append(files, a)
		default:
			return nil, files, envelope.Problems{{Path: p.FormName(), Rule: "is not a known part (metadata, file)"}}
		}
	}
	if meta == nil {
		return nil, files, envelope.Problems{{Path: "metadata", Rule: "is required: a JSON part named metadata"}}
	}
	for i := range files {
		if files[i].ContentType == "application/octet-stream" {
			files[i].ContentType = ""
		}
	}
	return meta, files, nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: request over %d bytes", ErrTooLarge, mbe.Limit)
	}
	return envelope.Problems{{Path: "body", Rule: "is not a readable multipart body: " + err.Error()}}
}

func (g *Gateway) getDocument(w http.ResponseWriter, r *http.Request) {
	rec, err := g.scopedDocument(r)
	if err != nil {
		g.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, documentView(rec))
}

func (g *Gateway) resendDocument(w http.ResponseWriter, r *http.Request) {
	if _, err := g.scopedDocument(r); err != nil {
		g.fail(w, err)
		return
	}
	rec, err := g.out.Resend(r.PathValue("id"))
	if err != nil {
		g.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, documentView(rec))
}

func (g *Gateway) recallDocument(w http.ResponseWriter, r *http.Request) {
	g.withReason(w, r, g.out.Recall)
}

func (g *Gateway) revokeDocument(w http.ResponseWriter, r *http.Request) {
	g.withReason(w, r, g.out.Revoke)
}

// withReason reads an optional {"reason": "..."} body and answers 202
// with the record the action returns.
func (g *Gateway) withReason(w http.ResponseWriter, r *http.Request, act func(id, reason string) (*queue.Record, error)) {
	var body struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, maxMetadata)).Decode(&body); err != nil && err != io.EOF {
			g.fail(w, envelope.Problems{{Path: "body", Rule: "is not JSON: " + err.Error()}})
			return
		}
	}
	if _, err := g.scopedDocument(r); err != nil {
		g.fail(w, err)
		return
	}
	rec, err := act(r.PathValue("id"), body.Reason)
	if err != nil {
		g.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, documentView(rec))
}

func (g *Gateway) getInbox(w http.ResponseWriter, r *http.Request) {
	item, err := g.scopedItem(r)
	if err != nil {
		g.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, item)
}

func (g *Gateway) getInboxFile(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		g.fail(w, envelope.Problems{{Path: "n", Rule: "must be a file number from 1", Value: r.PathValue("n")}})
		return
	}
	if _, err := g.scopedItem(r); err != nil {
		g.fail(w, err)
		return
	}
	f, fh, err := g.inbox.file(r.PathValue("id"), n)
	if err != nil {
		g.fail(w, err)
		return
	}
	defer fh.Close()
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", contentDisposition(f.Name))
	w.Header().Set("Digest", "sha-256="+f.SHA256)
	http.ServeContent(w, r, "", time.Time{}, fh)
}

func (g *Gateway) postInboxStatus(w http.ResponseWriter, r *http.Request) {
	var req localapi.StatusRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxMetadata)).Decode(&req); err != nil {
		g.fail(w, envelope.Problems{{Path: "body", Rule: "is not a JSON status request: " + err.Error()}})
		return
	}
	if _, err := g.scopedItem(r); err != nil {
		g.fail(w, err)
		return
	}
	item, err := g.in.Answer(r.PathValue("id"), req)
	if err != nil {
		g.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, item)
}

func (g *Gateway) searchDirectory(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	out := []localapi.Agency{}
	for _, e := range g.dir.Search(r.URL.Query().Get("q"), cmpOr(limit, 20)) {
		out = append(out, g.agencyView(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) getAgency(w http.ResponseWriter, r *http.Request) {
	e, ok := g.dir.Lookup(r.PathValue("code"))
	if !ok {
		g.fail(w, fmt.Errorf("%w: agency %s", ErrNotFound, r.PathValue("code")))
		return
	}
	writeJSON(w, http.StatusOK, g.agencyView(e))
}

// fail maps an error to its status: the one place the API decides codes.
func (g *Gateway) fail(w http.ResponseWriter, err error) {
	var ps envelope.Problems
	switch {
	case errors.As(err, &ps):
		out := make([]localapi.Problem, len(ps))
		for i, p := range ps {
			out[i] = localapi.Problem{Field: p.Path, Rule: p.Rule, Value: p.Value}
		}
		writeError(w, http.StatusUnprocessableEntity, "the request breaks "+strconv.Itoa(len(ps))+" rule(s)", out)
	case errors.Is(err, ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error(), nil)
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, err.Error(), nil)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, ErrForbidden):
		writeError(w, http.StatusForbidden, err.Error(), nil)
	default:
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
	}
}

func writeError(w http.ResponseWriter, code int, msg string, ps []localapi.Problem) {
	if sw, ok := w.(*statusWriter); ok {
		sw.msg = msg
		for _, p := range ps {
			sw.msg += "; " + p.Field + ": " + p.Rule
		}
	}
	writeJSON(w, code, localapi.Error{Message: msg, Problems: ps})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// contentDisposition names a file as RFC 6266 asks: an ASCII fallback and
// the UTF-8 name in filename*, from a name already cleaned of path parts.
func contentDisposition(name string) string {
	var fallback, star strings.Builder
	for _, r := range name {
		switch {
		case r < 0x80 && r >= 0x20 && r != '"' && r != '\\' && r != 0x7f:
			fallback.WriteRune(r)
		default:
			fallback.WriteByte('_')
		}
	}
	for _, c := range []byte(name) {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			star.WriteByte(c)
		} else {
			fmt.Fprintf(&star, "%%%02X", c)
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + star.String()
}

// agencyView is a directory entry as the API shows it, marked when ours.
func (g *Gateway) agencyView(e directory.Entry) localapi.Agency {
	_, ours := g.creds.Load().agencies.serves(e.Code, g.dir)
	return localapi.Agency{Code: e.Code, Name: e.Name, Parent: e.Parent, Mail: e.Mail, Deleted: e.Deleted, Ours: ours}
}
