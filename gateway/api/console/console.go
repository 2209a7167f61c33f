// Package console is the web console an operator opens on the local API's
// listener: what is wrong, where each document is, the dead letters and
// their actions, and the timeliness reports, in Vietnamese, rendered on
// the server with nothing fetched from elsewhere.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	pathpkg "path"
	"strings"
	"sync"
	"time"

	"lienthong/gateway/localapi"
)

// Engine is what the console asks of the engine, in localapi's terms.
type Engine interface {
	// Now is the engine's time: sessions expire and reports default by it.
	Now() time.Time
	Documents(ctx context.Context, c localapi.Caller, q localapi.DocumentQuery) ([]localapi.Document, string, error)
	Document(ctx context.Context, c localapi.Caller, id string) (*localapi.Document, error)
	DocumentEvents(ctx context.Context, c localapi.Caller, id string) ([]localapi.Event, error)
	Resend(ctx context.Context, c localapi.Caller, id string) (*localapi.Document, error)
	Discard(ctx context.Context, c localapi.Caller, id, reason string) (*localapi.Document, error)
	RetryNow(ctx context.Context, c localapi.Caller, id string) (*localapi.Document, error)
	ResendAll(ctx context.Context, c localapi.Caller, q localapi.ResendQuery) (*localapi.Resent, error)
	Inbox(c localapi.Caller, q localapi.InboxQuery) ([]localapi.InboxItem, string, <-chan struct{}, error)
	InboxItem(c localapi.Caller, id string) (*localapi.InboxItem, error)
	InboxEvents(ctx context.Context, c localapi.Caller, id string) ([]localapi.Event, error)
	Agencies(ctx context.Context, c localapi.Caller) ([]localapi.ServedAgency, error)
	Summary(ctx context.Context, c localapi.Caller) (*localapi.Summary, error)
	Timeliness(ctx context.Context, c localapi.Caller, q localapi.ReportQuery) (*localapi.TimelinessReport, error)
	InboundProblems(ctx context.Context, c localapi.Caller) ([]localapi.InboundProblem, error)
	Refetch(ctx context.Context, c localapi.Caller, id string) (*localapi.InboundProblem, error)
	SetAside(ctx context.Context, c localapi.Caller, id, reason string) (*localapi.InboundProblem, error)
}

// Lifetimes of what opens the console.
const (
	// LinkLife is how long a one-time link may be opened.
	LinkLife = 5 * time.Minute
	// SessionLife is a working day: an operator opens the console once
	// in the morning.
	SessionLife = 10 * time.Hour
)

// cookie is the session cookie's name.
const cookie = "lienthong_console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves /ui/. Sessions live in this process: a node of a cluster
// opens its own, from a link made on it.
type Console struct {
	g     Engine
	pages map[string]*template.Template
	now   func() time.Time

	mu       sync.Mutex
	links    map[string]link
	sessions map[string]*session
}

type link struct {
	caller  localapi.Caller
	path    string
	expires time.Time
}

type session struct {
	caller  localapi.Caller
	csrf    string
	expires time.Time
}

// New is the console of an engine.
func New(g Engine) (*Console, error) {
	c := &Console{g: g, now: g.Now, links: map[string]link{}, sessions: map[string]*session{}, pages: map[string]*template.Template{}}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/doclist.html", "templates/timeline.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "doclist" || name == "timeline" {
			continue // shared by the pages
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		c.pages[name] = t
	}
	return c, nil
}

// Link makes a one-time link to path (under /ui/) for a caller: opened
// within LinkLife, once, it starts a session with the caller's rights.
func (c *Console) Link(caller localapi.Caller, path string) (string, error) {
	if path == "" {
		path = "/ui/"
	}
	u, err := url.Parse(path)
	if err == nil && u.Path != "" {
		clean := pathpkg.Clean(u.Path)
		if strings.HasSuffix(u.Path, "/") && clean != "/" {
			clean += "/"
		}
		u.Path = clean
	}
	if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/ui/") || strings.HasPrefix(u.Path, "/ui/login") {
		return "", errors.New("path: must be a page of the console, under /ui/")
	}
	tok := random()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, l := range c.links {
		if now.After(l.expires) {
			delete(c.links, k)
		}
	}
	c.links[tok] = link{caller: caller, path: u.String(), expires: now.Add(LinkLife)}
	return "/ui/login?t=" + tok, nil
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Handler serves every page under /ui/.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /ui/login", c.login)
	mux.HandleFunc("POST /ui/logout", c.with(c.logout))
	mux.HandleFunc("GET /ui/{$}", c.with(c.overview))
	mux.HandleFunc("GET /ui/documents", c.with(c.documents))
	mux.HandleFunc("GET /ui/documents/{id}", c.with(c.document))
	mux.HandleFunc("POST /ui/documents/{id}/{action}", c.with(c.act))
	mux.HandleFunc("GET /ui/inbox", c.with(c.inbox))
	mux.HandleFunc("GET /ui/inbox/{id}", c.with(c.inboxItem))
	mux.HandleFunc("GET /ui/dead", c.with(c.dead))
	mux.HandleFunc("POST /ui/inbound/{id}/{action}", c.with(c.actInbound))
	mux.HandleFunc("POST /ui/resend", c.with(c.resendAll))
	mux.HandleFunc("GET /ui/agencies", c.with(c.agencies))
	mux.HandleFunc("GET /ui/reports", c.with(c.reports))
	return headers(mux)
}

// headers are every page's: nothing from elsewhere runs or frames it,
// and no address goes to another site (same-origin keeps the Origin of
// the console's own forms, which the check of a POST reads).
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// login spends a one-time link: a session cookie, and on to the page.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	now := c.now()
	c.mu.Lock()
	l, ok := c.links[tok]
	delete(c.links, tok)
	var id string
	var s *session
	if ok && !now.After(l.expires) {
		id, s = random(), &session{caller: l.caller, csrf: random(), expires: now.Add(SessionLife)}
		for k, old := range c.sessions {
			if now.After(old.expires) {
				delete(c.sessions, k)
			}
		}
		c.sessions[id] = s
	}
	c.mu.Unlock()
	if s == nil {
		c.render(w, http.StatusForbidden, "expired", nil, nil)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookie, Value: id, Path: "/ui/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, Expires: s.expires, MaxAge: int(SessionLife.Seconds()),
	})
	http.Redirect(w, r, l.path, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.mu.Lock()
	for k, v := range c.sessions {
		if v == s {
			delete(c.sessions, k)
		}
	}
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookie, Value: "", Path: "/ui/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	c.render(w, http.StatusOK, "expired", nil, map[string]any{"LoggedOut": true})
}

// with admits a request of a live session; a POST must come from the
// console's own page, with the session's form token.
func (c *Console) with(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.session(r)
		if s == nil {
			c.render(w, http.StatusUnauthorized, "expired", nil, nil)
			return
		}
		if r.Method == http.MethodPost && !sameOrigin(r, s) {
			c.render(w, http.StatusForbidden, "error", s, map[string]any{"Message": "Yêu cầu không đến từ trang quản trị này (kiểm tra chống giả mạo yêu cầu)."})
			return
		}
		h(w, r, s)
	}
}

func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(cookie)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[ck.Value]
	if s == nil || c.now().After(s.expires) {
		delete(c.sessions, ck.Value)
		return nil
	}
	return s
}

// sameOrigin checks a form: the browser says it came from this origin
// (Sec-Fetch-Site or Origin), and it carries the session's token.
func sameOrigin(r *http.Request, s *session) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	if err := r.ParseForm(); err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) == 1
}
