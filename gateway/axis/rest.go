package axis

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lienthong/envelope"
)

// Dialects an axis may speak.
const (
	DialectSDK  = "sdk"     // the national SDK's signed-header wire
	DialectREST = "rest-v2" // the provincial REST/JSON dialect
)

// Axis is what the gateway needs of an axis, whatever its dialect.
type Axis interface {
	SendEdoc(ctx context.Context, r SendRequest) (string, error)
	GetSentEdocList(ctx context.Context, messageType, docID string) ([]SentItem, error)
	GetReceivedEdocList(ctx context.Context, messageType string) ([]ReceivedItem, error)
	GetEdocTo(ctx context.Context, docID string, w io.Writer) (int64, error)
	UpdateStatus(ctx context.Context, docID, status string) error
	Close()
}

var (
	_ Axis = (*Client)(nil)
	_ Axis = (*RESTClient)(nil)
)

// Open makes a client for cfg's dialect.
func Open(cfg Config) (Axis, error) {
	switch cfg.Dialect {
	case "", DialectSDK:
		return New(cfg)
	case DialectREST:
		return NewREST(cfg)
	}
	return nil, fmt.Errorf("axis dialect %q: want %s or %s", cfg.Dialect, DialectSDK, DialectREST)
}

// ErrNoSentList is a dialect's answer to a sent-list query it cannot ask:
// the REST dialect lists only what was received.
var ErrNoSentList = errors.New("axis: this dialect has no list of sent packages")

// Token says how the REST dialect's bearer token is obtained: the login
// endpoint's path and body were not seen in use, so both are settings.
type Token struct {
	URL      string // default the endpoint's /v1/login
	User     string
	Password string
	Form     bool          // a form body instead of JSON
	TTL      time.Duration // how long a token is kept; default 29 min
}

// RESTClient speaks the REST/JSON dialect of a provincial axis. The
// received list is a date window, not a queue: it dedupes by DocId and
// leaves out what this client acknowledged done. Safe for concurrent use.
type RESTClient struct {
	cfg  Config
	base string
	http *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
	logins  atomic.Int64

	amu   sync.Mutex
	acked map[string]time.Time // DocIds answered done, and when
}

// NewREST checks the configuration and prepares the connection pool.
func NewREST(cfg Config) (*RESTClient, error) {
	sdk, err := New(cfg) // the same checks, defaults and transport
	if err != nil {
		return nil, err
	}
	cfg = sdk.cfg
	if cfg.Token.TTL <= 0 {
		cfg.Token.TTL = 29 * time.Minute
	}
	if cfg.Token.URL == "" {
		cfg.Token.URL = sdk.base.String() + "/v1/login"
	}
	if u, err := url.Parse(cfg.Token.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("axis token URL %q: want an http or https URL", cfg.Token.URL)
	}
	if cfg.ListWindow <= 0 {
		cfg.ListWindow = 72 * time.Hour
	}
	return &RESTClient{cfg: cfg, base: sdk.base.String(), http: sdk.http, acked: map[string]time.Time{}}, nil
}

// Close drops idle connections.
func (c *RESTClient) Close() { c.http.CloseIdleConnections() }

// Logins counts the tokens obtained, for tests and diagnostics.
func (c *RESTClient) Logins() int64 { return c.logins.Load() }

// restAnswer is the dialect's envelope; code may be a number or a string.
type restAnswer struct {
	Code        json.RawMessage `json:"code"`
	Message     string          `json:"message"`
	Data        json.RawMessage `json:"data"`
	ErrorDetail json.RawMessage `json:"errorDetail"`
}

func (a *restAnswer) code() string { return strings.Trim(string(a.Code), `" `) }

// ok: code 0, or 200 as some answers carry, or none at all.
func (a *restAnswer) ok() bool {
	c := a.code()
	return c == "" || c == "0" || c == "200" || c == "null"
}

func (a *restAnswer) desc() string {
	d := a.Message
	if len(a.ErrorDetail) > 0 && string(a.ErrorDetail) != "null" && string(a.ErrorDetail) != "[]" {
		d += " " + snippet(a.ErrorDetail)
	}
	return strings.TrimSpace(d)
}

// restCall is one request of the dialect.
type restCall struct {
	op       string
	method   string
	query    url.Values
	body     func() (io.Reader, int64, string, error) // reopened on a replay
	mutating bool
	stream   func(io.Reader) (*restAnswer, error)
}

func (c *RESTClient) do(ctx context.Context, cl restCall) (*restAnswer, error) {
	start := time.Now()
	a, err := c.call(ctx, cl, false)
	if herr := (*Error)(nil); errors.As(err, &herr) && herr.HTTPStatus == http.StatusUnauthorized && herr.Op != "login" {
		// A token the axis no longer takes: log in again, once, and retry
		// the call once.
		c.mu.Lock()
		c.token = ""
		c.mu.Unlock()
		a, err = c.call(ctx, cl, true)
	}
	if c.cfg.Observe != nil {
		c.cfg.Observe(cl.op, time.Since(start), err)
	}
	return a, err
}

func (c *RESTClient) call(ctx context.Context, cl restCall, again bool) (*restAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	token, err := c.bearer(ctx)
	if err != nil {
		return nil, err
	}
	u := c.base + "/v1/" + cl.op
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, nil)
	if err != nil {
		return nil, &Error{Op: cl.op, Class: Terminal, Err: err}
	}
	var sent atomic.Bool
	if cl.body != nil {
		body, n, ct, err := cl.body()
		if err != nil {
			return nil, &Error{Op: cl.op, Class: Terminal, Desc: "cannot open the package", Err: err}
		}
		if rc, ok := body.(io.Closer); ok {
			defer rc.Close()
		}
		req.Body = &countingBody{r: body, c: io.NopCloser(nil), done: &sent}
		req.ContentLength = n
		req.Header.Set("Content-Type", ct)
	} else {
		sent.Store(true)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-SystemId", c.cfg.SystemID)
	req.Header.Set("X-SecretKey", string(c.cfg.Secret))
	req.Header.Set("Accept", jsonType)
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(call{op: cl.op, mutating: cl.mutating}, err, sent.Load())
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		desc := "the bearer token was refused"
		if again {
			desc = "the bearer token was refused right after a new login: check axis token settings"
		}
		return nil, &Error{Op: cl.op, Class: Terminal, HTTPStatus: resp.StatusCode, Desc: desc}
	}
	if cl.stream != nil && resp.StatusCode == http.StatusOK {
		a, err := cl.stream(io.LimitReader(resp.Body, c.cfg.MaxAnswer+1))
		if err != nil {
			return nil, &Error{Op: cl.op, Class: Retryable, HTTPStatus: resp.StatusCode, Desc: "answer cut short or malformed", Err: err}
		}
		return a, restFailure(cl.op, resp.StatusCode, a)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, transportError(call{op: cl.op, mutating: cl.mutating}, err, true)
	}
	var a restAnswer
	if jerr := json.Unmarshal(body, &a); jerr != nil {
		cls := classifyHTTP(resp.StatusCode)
		if resp.StatusCode == http.StatusOK {
			cls = Retryable
			if cl.mutating {
				cls = Ambiguous
			}
		}
		return nil, &Error{Op: cl.op, Class: cls, HTTPStatus: resp.StatusCode, Desc: "answer is not JSON: " + snippet(body), Err: jerr}
	}
	if resp.StatusCode != http.StatusOK && a.ok() {
		return nil, &Error{Op: cl.op, Class: classifyHTTP(resp.StatusCode), HTTPStatus: resp.StatusCode, Desc: cmp.Or(a.desc(), snippet(body))}
	}
	return &a, restFailure(cl.op, resp.StatusCode, &a)
}

func restFailure(op string, status int, a *restAnswer) error {
	if a.ok() {
		return nil
	}
	cls := classifyRESTCode(a.code())
	if status >= 500 && cls == Terminal && RESTCodes[a.code()].Class != Terminal {
		cls = Retryable // an unknown code in a server error
	}
	return &Error{Op: op, Class: cls, HTTPStatus: status, Code: a.code(), Desc: cmp.Or(a.desc(), RESTCodes[a.code()].Meaning)}
}

// bearer is the cached token, or a new one.
func (c *RESTClient) bearer(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if c.token != "" && now.Before(c.expires) {
		return c.token, nil
	}
	tok, ttl, err := c.login(ctx)
	if err != nil {
		return "", err
	}
	c.logins.Add(1)
	c.token, c.expires = tok, now.Add(min(ttl, c.cfg.Token.TTL))
	return tok, nil
}

// login asks the token endpoint, reading the token wherever the answers
// seen put it: a bare access_token or token, or inside the envelope's data.
func (c *RESTClient) login(ctx context.Context) (string, time.Duration, error) {
	var body []byte
	ct := jsonType
	if c.cfg.Token.Form {
		body = []byte(url.Values{"username": {c.cfg.Token.User}, "password": {c.cfg.Token.Password}}.Encode())
		ct = "application/x-www-form-urlencoded"
	} else {
		body, _ = json.Marshal(map[string]string{"username": c.cfg.Token.User, "password": c.cfg.Token.Password})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Token.URL, bytes.NewReader(body))
	if err != nil {
		return "", 0, &Error{Op: "login", Class: Terminal, Err: err}
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", jsonType)
	req.Header.Set("X-SystemId", c.cfg.SystemID)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", 0, transportError(call{op: "login"}, err, true)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, transportError(call{op: "login"}, err, true)
	}
	if resp.StatusCode != http.StatusOK {
		var a restAnswer
		if json.Unmarshal(b, &a) == nil && !a.ok() && resp.StatusCode != http.StatusUnauthorized {
			return "", 0, restFailure("login", resp.StatusCode, &a)
		}
		return "", 0, &Error{Op: "login", Class: classifyHTTP(resp.StatusCode), HTTPStatus: resp.StatusCode, Desc: "the token endpoint refused the login: " + snippet(b)}
	}
	type tok struct {
		AccessToken string          `json:"access_token"`
		Token       string          `json:"token"`
		AccessTok2  string          `json:"accessToken"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		ExpiresIn2  json.RawMessage `json:"expiresIn"`
	}
	var outer struct {
		tok
		restAnswer
	}
	if err := json.Unmarshal(b, &outer); err != nil {
		return "", 0, &Error{Op: "login", Class: Retryable, Desc: "the token answer is not JSON: " + snippet(b), Err: err}
	}
	if !outer.ok() {
		return "", 0, restFailure("login", resp.StatusCode, &outer.restAnswer)
	}
	t := outer.tok
	var s string
	if json.Unmarshal(outer.Data, &s) == nil && s != "" {
		t.Token = s
	} else if len(outer.Data) > 0 {
		var inner tok
		if json.Unmarshal(outer.Data, &inner) == nil && cmp.Or(inner.AccessToken, inner.Token, inner.AccessTok2) != "" {
			t = inner
		}
	}
	token := cmp.Or(t.AccessToken, t.Token, t.AccessTok2)
	if token == "" {
		return "", 0, &Error{Op: "login", Class: Terminal, Desc: "the token answer carries no token (access_token, token or accessToken)"}
	}
	ttl := c.cfg.Token.TTL
	for _, raw := range []json.RawMessage{t.ExpiresIn, t.ExpiresIn2} {
		var n float64
		if json.Unmarshal([]byte(strings.Trim(string(raw), `"`)), &n) == nil && n > 60 {
			ttl = min(ttl, time.Duration(n-30)*time.Second) // renewed before it runs out
		}
	}
	return token, ttl, nil
}

// SendEdoc uploads a package as the multipart file part and returns the
// axis's DocId for it. The dialect routes by the package's own header.
func (c *RESTClient) SendEdoc(ctx context.Context, r SendRequest) (string, error) {
	boundary := rand.Text()
	head := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\nContent-Type: application/xml\r\n\r\n", boundary, cmp.Or(r.Upload.Name, "edoc.edxml"))
	tail := "\r\n--" + boundary + "--\r\n"
	a, err := c.do(ctx, restCall{op: "sendEdoc", method: http.MethodPost, mutating: true,
		body: func() (io.Reader, int64, string, error) {
			f, err := r.Upload.Open()
			if err != nil {
				return nil, 0, "", err
			}
			body := struct {
				io.Reader
				io.Closer
			}{io.MultiReader(strings.NewReader(head), io.LimitReader(f, r.Upload.Size), strings.NewReader(tail)), f}
			return body, int64(len(head)) + r.Upload.Size + int64(len(tail)), "multipart/form-data; boundary=" + boundary, nil
		}})
	if err != nil {
		return "", err
	}
	id := restDocID(a.Data)
	if id == "" {
		return "", &Error{Op: "sendEdoc", Class: Ambiguous, Desc: "the answer is OK but carries no docId: " + snippet(a.Data)}
	}
	return id, nil
}

// restDocID reads the new DocId: data as a string, a number, or an object
// holding docId.
func restDocID(data json.RawMessage) string {
	var s string
	if json.Unmarshal(data, &s) == nil {
		return s
	}
	var o struct {
		DocID json.RawMessage `json:"docId"`
		ID    json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &o) == nil {
		return strings.Trim(string(cmpRaw(o.DocID, o.ID)), `" `)
	}
	return strings.Trim(string(data), `" `)
}

func cmpRaw(a, b json.RawMessage) json.RawMessage {
	if len(a) > 0 && string(a) != "null" {
		return a
	}
	return b
}

// restItem is an entry of the received list.
type restItem struct {
	DocID       json.RawMessage `json:"docId"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	MessageType string          `json:"messageType"`
	Created     string          `json:"created"`
	Status      string          `json:"status"`
}

// GetReceivedEdocList lists the packages of the last ListWindow, one entry
// per DocId, without those this client answered done: the dialect's list
// is a date window and keeps a package after it was taken.
func (c *RESTClient) GetReceivedEdocList(ctx context.Context, messageType string) ([]ReceivedItem, error) {
	now := c.cfg.Now().In(envelope.Vietnam)
	q := url.Values{"messageType": {messageType},
		"fromDate": {now.Add(-c.cfg.ListWindow).Format("2006/01/02")}, "toDate": {now.Format("2006/01/02")}}
	a, err := c.do(ctx, restCall{op: "syncReceivedEdocList", method: http.MethodGet, query: q})
	if err != nil {
		return nil, err
	}
	var items []restItem
	if len(a.Data) > 0 && string(a.Data) != "null" {
		if err := json.Unmarshal(a.Data, &items); err != nil {
			return nil, &Error{Op: "syncReceivedEdocList", Class: Retryable, Desc: "data is not a list of entries", Err: err}
		}
	}
	c.amu.Lock()
	defer c.amu.Unlock()
	c.forget(now)
	seen := map[string]bool{}
	out := []ReceivedItem{}
	for _, it := range items {
		id := strings.Trim(string(it.DocID), `" `)
		if id == "" || id == "null" || seen[id] {
			continue
		}
		seen[id] = true
		if _, done := c.acked[id]; done {
			continue
		}
		out = append(out, ReceivedItem{DocID: id, ServiceType: ServiceEdoc, MessageType: cmp.Or(it.MessageType, messageType),
			Created: it.Created, From: it.From, To: it.To, Status: it.Status})
	}
	return out, nil
}

// forget drops acknowledgements older than the window and a day: the list
// no longer shows them. c.amu is held.
func (c *RESTClient) forget(now time.Time) {
	for id, at := range c.acked {
		if now.Sub(at) > c.cfg.ListWindow+24*time.Hour {
			delete(c.acked, id)
		}
	}
}

// GetEdocTo fetches a package into w, decoding data.data's base64 as it
// arrives: the package is never whole in memory.
func (c *RESTClient) GetEdocTo(ctx context.Context, docID string, w io.Writer) (int64, error) {
	var n int64
	_, err := c.do(ctx, restCall{op: "getEdoc", method: http.MethodGet, query: url.Values{"docId": {docID}},
		stream: func(r io.Reader) (*restAnswer, error) {
			raw, got, err := readData(r, w, "data", "data")
			n = max(got, 0)
			if err != nil {
				return nil, err
			}
			var a restAnswer
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, err
			}
			if a.ok() && got < 0 {
				return nil, errors.New("the answer holds no package in data.data")
			}
			return &a, nil
		}})
	return n, err
}

// UpdateStatus acknowledges a fetched package.
func (c *RESTClient) UpdateStatus(ctx context.Context, docID, status string) error {
	return c.UpdateStatusWith(ctx, docID, status, "")
}

// UpdateStatusWith acknowledges with a description, which the dialect
// carries with fail.
func (c *RESTClient) UpdateStatusWith(ctx context.Context, docID, status, desc string) error {
	m := map[string]string{"docId": docID, "status": status}
	if desc != "" {
		m["description"] = desc
	}
	b, _ := json.Marshal(m)
	_, err := c.do(ctx, restCall{op: "updateStatus", method: http.MethodPost,
		body: func() (io.Reader, int64, string, error) { return bytes.NewReader(b), int64(len(b)), jsonType, nil }})
	if err == nil && status == StatusDone {
		c.amu.Lock()
		c.acked[docID] = c.cfg.Now()
		c.amu.Unlock()
	}
	return err
}

// Acknowledge answers a fetched package with status, carrying desc where
// the client's dialect takes one (the REST dialect's description), so its
// callers need not know the dialect.
func Acknowledge(ctx context.Context, c interface {
	UpdateStatus(ctx context.Context, docID, status string) error
}, docID, status, desc string) error {
	if r, ok := c.(*RESTClient); ok {
		return r.UpdateStatusWith(ctx, docID, status, desc)
	}
	return c.UpdateStatus(ctx, docID, status)
}

// GetSentEdocList is not in the dialect.
func (c *RESTClient) GetSentEdocList(ctx context.Context, messageType, docID string) ([]SentItem, error) {
	return nil, &Error{Op: "getSentEdocList", Class: Terminal, Desc: "the rest-v2 dialect has no list of sent packages", Err: ErrNoSentList}
}
