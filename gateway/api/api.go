// Package api is the local API: the HTTP edge through which a document
// system submits, follows and answers documents. It holds the tokens and
// their scopes, the limits on what a client may send, and the mapping of
// the engine's errors to HTTP; everything else it asks of the engine.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/envelope"
	"lienthong/gateway/api/console"
	"lienthong/gateway/localapi"
	"lienthong/gateway/netcap"
)

// maxBody bounds a JSON request body and a submission's metadata part.
const maxBody = 1 << 20

// Engine is what the local API asks of the engine (a *gateway.Gateway),
// in localapi's terms: the API links nothing of the store.
type Engine interface {
	Config() conf.Config
	Logger() zerolog.Logger
	// ObserveRequest counts an answer by route and status.
	ObserveRequest(route string, code int)
	Ready() (bool, map[string]string)

	Precheck(m *envelope.Metadata) error
	SpoolUpload(r io.Reader) (path string, err error)
	Submit(c localapi.Caller, meta *envelope.Metadata, files []envelope.Attachment) (localapi.Accepted, error)

	Recall(ctx context.Context, c localapi.Caller, id, reason string) (*localapi.Document, error)
	Revoke(ctx context.Context, c localapi.Caller, id, reason string) (*localapi.Document, error)

	InboxFile(c localapi.Caller, id string, n int) (*localapi.File, *os.File, error)
	Answer(c localapi.Caller, id string, req localapi.StatusRequest) (*localapi.InboxItem, error)

	SearchDirectory(q string, limit int) []localapi.Agency
	Agency(code string) (*localapi.Agency, error)

	EvidenceCheckpoint(ctx context.Context, c localapi.Caller, now bool) (*localapi.EvidenceCheckpoint, error)
	EvidenceVerify(ctx context.Context, c localapi.Caller) (*localapi.EvidenceReport, error)
	EvidenceBundle(ctx context.Context, c localapi.Caller, document, record string) (func(io.Writer) error, error)

	// console.Engine holds the reads and the dead-letter actions the
	// console shares with the API.
	console.Engine
}

// server is the local API over one engine.
type server struct {
	g       Engine
	console *console.Console
	tokens  tokens
	uploads netcap.Slots // submissions being read
	log     zerolog.Logger
}

// New is the local API of an engine; it fails when the token file cannot
// be read, so a daemon with no usable token does not start.
func New(g Engine) (http.Handler, error) {
	c := g.Config()
	text, err := c.API.Tokens.Read()
	if err != nil {
		return nil, fmt.Errorf("api.tokens: %w", err)
	}
	toks, err := parseTokens(text)
	if err != nil {
		return nil, err
	}
	con, err := console.New(g)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &server{g: g, console: con, tokens: toks, uploads: netcap.NewSlots(c.API.MaxUploads)}
	s.log = g.Logger().With().Str("component", "api").Logger().Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second})
	return s.routes(), nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, localapi.Health{Ready: true, Checks: map[string]string{"process": "ok"}})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, checks := s.g.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, localapi.Health{Ready: ok, Checks: checks})
	})
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/documents", s.postDocument)
	api.HandleFunc("GET /v1/documents", s.listDocuments)
	api.HandleFunc("GET /v1/documents/{id}", s.getDocument)
	api.HandleFunc("GET /v1/documents/{id}/events", s.documentEvents)
	api.HandleFunc("POST /v1/documents/{id}/resend", s.resendDocument)
	api.HandleFunc("POST /v1/documents/{id}/retry", s.retryDocument)
	api.HandleFunc("DELETE /v1/documents/{id}", withReason(s.g.Discard))
	api.HandleFunc("POST /v1/documents/resend", s.resendAll)
	api.HandleFunc("POST /v1/documents/{id}/recall", withReason(s.g.Recall))
	api.HandleFunc("POST /v1/documents/{id}/revoke", withReason(s.g.Revoke))
	api.HandleFunc("GET /v1/inbox", s.listInbox)
	api.HandleFunc("GET /v1/inbox/{id}", s.getInbox)
	api.HandleFunc("GET /v1/inbox/{id}/events", s.inboxEvents)
	api.HandleFunc("GET /v1/inbox/{id}/files/{n}", s.getInboxFile)
	api.HandleFunc("POST /v1/inbox/{id}/status", s.postInboxStatus)
	api.HandleFunc("GET /v1/agencies", s.listAgencies)
	api.HandleFunc("GET /v1/directory/search", s.searchDirectory)
	api.HandleFunc("GET /v1/directory/{code}", s.getAgency)
	api.HandleFunc("GET /v1/summary", s.summary)
	api.HandleFunc("GET /v1/reports/timeliness", s.timeliness)
	api.HandleFunc("GET /v1/inbound/problems", s.inboundProblems)
	api.HandleFunc("POST /v1/inbound/{id}/refetch", s.refetch)
	api.HandleFunc("POST /v1/inbound/{id}/set-aside", withReason(s.g.SetAside))
	api.HandleFunc("GET /v1/evidence/checkpoint", s.evidenceCheckpoint(false))
	api.HandleFunc("POST /v1/evidence/checkpoint", s.evidenceCheckpoint(true))
	api.HandleFunc("GET /v1/evidence/verify", s.evidenceVerify)
	api.HandleFunc("GET /v1/evidence/bundle", s.evidenceBundle)
	api.HandleFunc("POST /v1/console/link", s.consoleLink)
	mux.Handle("/v1/", s.authenticate(api))
	mux.Handle("/ui/", s.console.Handler())
	return s.observe(mux, api)
}

// observe counts every request by route and status and logs the refused
// ones, so an operator can show what the legacy system was told. Log
// lines are sampled, so a flood of bad requests cannot flood the journal.
func (s *server) observe(mux, api *http.ServeMux) http.Handler {
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
		sw := &statusWriter{ResponseWriter: w, r: r, code: http.StatusOK}
		mux.ServeHTTP(sw, r)
		s.g.ObserveRequest(route, sw.code)
		if sw.code < 400 {
			return
		}
		// A failing probe is the readiness check's answer, not a fault of
		// the API: the reason is in /readyz's own body and checks.
		ev := s.log.Warn()
		if sw.code >= 500 && route != "GET /readyz" {
			ev = s.log.Error()
		}
		ev.Str("route", route).Str("path", r.URL.Path).Int("status", sw.code).Str("remote", r.RemoteAddr).
			Str("client", sw.client).Str("error", sw.msg).Msg("local API request refused")
	})
}

// statusWriter keeps the status and error message of an answer, and
// gives the router's own plain-text refusals (an unknown path, a method a
// path does not take) the JSON error shape every other answer has.
type statusWriter struct {
	http.ResponseWriter
	r       *http.Request
	code    int
	msg     string
	client  string // the token's holder, once authenticated
	swallow bool   // the router's text, replaced
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	h := w.Header()
	if (code == http.StatusMethodNotAllowed || code == http.StatusNotFound) && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		msg := fmt.Sprintf("no such path: %s", w.r.URL.Path)
		if code == http.StatusMethodNotAllowed {
			msg = fmt.Sprintf("%s does not take %s; it takes %s", w.r.URL.Path, w.r.Method, h.Get("Allow"))
		}
		w.msg, w.swallow = msg, true
		writeJSON(w.ResponseWriter, code, localapi.Error{Message: msg})
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fail maps an error to its status: the one place the API decides codes.
func fail(w http.ResponseWriter, err error) {
	var ps envelope.Problems
	switch {
	case errors.As(err, &ps):
		writeError(w, http.StatusUnprocessableEntity, "the request breaks "+strconv.Itoa(len(ps))+" rule(s)", problems(ps))
	case errors.Is(err, localapi.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error(), nil)
	case errors.Is(err, localapi.ErrUnavailable):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, err.Error(), nil)
	case errors.Is(err, localapi.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case errors.Is(err, localapi.ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, localapi.ErrForbidden):
		writeError(w, http.StatusForbidden, err.Error(), nil)
	default:
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
	}
}

// problems are envelope problems as the API names them.
func problems(ps envelope.Problems) []localapi.Problem {
	out := make([]localapi.Problem, len(ps))
	for i, p := range ps {
		out[i] = localapi.Problem{Field: p.Path, Rule: p.Rule, Value: p.Value}
	}
	return out
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
