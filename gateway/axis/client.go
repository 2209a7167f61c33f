package axis

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Config says where the axis adapter is and who we are to it.
type Config struct {
	Endpoint string // base URL; operations are appended as path segments
	SystemID string // the integration system's registered id
	Secret   []byte // the HMAC key shared with the adapter
	// PaddedHashFile sends hash-file as plain hex instead of the SDK's
	// unpadded form, for adapters that compare it with standard hex.
	PaddedHashFile bool
	UserAgent      string // default SDKUserAgent

	ConnectTimeout time.Duration // dial and TLS handshake; default 10 s
	HeaderTimeout  time.Duration // from request sent to response headers; default 60 s
	CallTimeout    time.Duration // whole call, upload and answer included; default 10 min
	MaxConns       int           // connections kept to the adapter; default 4

	CAFile   string // PEM roots for the adapter's TLS certificate; system roots when empty
	CertFile string // client certificate for mutual TLS
	KeyFile  string

	// MaxAnswer bounds an answer's size, a downloaded package included;
	// default 256 MiB.
	MaxAnswer int64
	// Now stamps calls; time.Now when nil.
	Now func() time.Time
	// Observe, when set, is told of every call's operation, duration and
	// error, so the caller can export them without wrapping each call.
	Observe func(op string, took time.Duration, err error)
}

// Client calls the axis adapter. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
}

// New checks the configuration and prepares the connection pool.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("axis endpoint %q: want an http or https URL", cfg.Endpoint)
	}
	if cfg.SystemID == "" || len(cfg.Secret) == 0 {
		return nil, errors.New("axis: system id and secret are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ConnectTimeout, 10*time.Second)
	def(&cfg.HeaderTimeout, 60*time.Second)
	def(&cfg.CallTimeout, 10*time.Minute)
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4
	}
	if cfg.MaxAnswer <= 0 {
		cfg.MaxAnswer = 256 << 20
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = SDKUserAgent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tlsc, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsc,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		MaxConnsPerHost:       cfg.MaxConns,
		MaxIdleConnsPerHost:   cfg.MaxConns,
		IdleConnTimeout:       90 * time.Second,
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{cfg: cfg, base: u, http: &http.Client{Transport: tr}}, nil
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func tlsConfig(cfg Config) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("axis CA: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("axis CA %s: no PEM certificate", cfg.CAFile)
		}
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("axis client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{c}
	}
	return t, nil
}

// Upload is a package to send: opened when the request is written, so it
// streams from disk, and reopened if the request must be replayed.
type Upload struct {
	Name   string
	Size   int64
	SHA256 [32]byte
	Open   func() (io.ReadCloser, error)
}

// FileUpload reads a file once to hash it; the upload streams it again.
func FileUpload(path string) (Upload, error) {
	f, err := os.Open(path)
	if err != nil {
		return Upload{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Upload{}, err
	}
	u := Upload{Name: filepath.Base(path), Size: n, Open: func() (io.ReadCloser, error) { return os.Open(path) }}
	copy(u.SHA256[:], h.Sum(nil))
	return u, nil
}

// BytesUpload sends a package held in memory.
func BytesUpload(name string, b []byte) Upload {
	return Upload{Name: name, Size: int64(len(b)), SHA256: sha256.Sum256(b),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// SendRequest is one sendEdoc call.
type SendRequest struct {
	From        string   // the sending agency's code
	MessageType string   // MessageEdoc or MessageStatus
	To          []string // optional: the axis routes by the package's own To when empty
	Upload      Upload
}

// SendEdoc uploads a package and returns the axis's id for it.
func (c *Client) SendEdoc(ctx context.Context, r SendRequest) (string, error) {
	fields := []Field{{"from", r.From}, {"servicetype", ServiceEdoc}, {"messagetype", r.MessageType}}
	if len(r.To) > 0 {
		to, _ := json.Marshal(r.To)
		fields = append(fields, Field{"to", string(to)})
	}
	fields = append(c.stamp(fields), Field{"hash-file", HashFile(r.Upload.SHA256, c.cfg.PaddedHashFile)}, Field{"Content-Type", "application/octet-stream"})
	a, err := c.do(ctx, call{op: "sendEdoc", method: http.MethodPost, fields: fields, upload: &r.Upload, mutating: true})
	if err != nil {
		return "", err
	}
	if a.DocID == "" {
		return "", &Error{Op: "sendEdoc", Class: Ambiguous, Desc: "the answer is OK but carries no DocId"}
	}
	return a.DocID, nil
}

// GetReceivedEdocList lists packages of a message type waiting for us.
func (c *Client) GetReceivedEdocList(ctx context.Context, messageType string) ([]ReceivedItem, error) {
	var out []ReceivedItem
	err := c.list(ctx, "getReceivedEdocList", c.jsonFields(Field{"servicetype", ServiceEdoc}, Field{"messagetype", messageType}), &out)
	return out, err
}

// GetEdoc fetches a package, carried base64 in the JSON answer.
func (c *Client) GetEdoc(ctx context.Context, docID string) ([]byte, error) {
	a, err := c.do(ctx, call{op: "getEdoc", method: http.MethodPost, fields: c.jsonFields(Field{"docId", docID})})
	if err != nil {
		return nil, err
	}
	var s string
	if err := json.Unmarshal(a.Data, &s); err != nil {
		return nil, &Error{Op: "getEdoc", Class: Retryable, Desc: "data is not a base64 string", Err: err}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &Error{Op: "getEdoc", Class: Retryable, Desc: "data is not base64", Err: err}
	}
	return b, nil
}

// DownloadEdoc streams a package into w and returns its size.
func (c *Client) DownloadEdoc(ctx context.Context, docID string, w io.Writer) (int64, error) {
	var n int64
	_, err := c.do(ctx, call{op: "downloadEdoc", method: http.MethodGet, fields: c.jsonFields(Field{"docId", docID}),
		raw: func(r io.Reader) error {
			var err error
			n, err = io.Copy(w, io.LimitReader(r, c.cfg.MaxAnswer))
			return err
		}})
	return n, err
}

// UpdateStatus acknowledges a fetched package: StatusDone takes it off our
// pending list, StatusFail leaves it there for another try.
func (c *Client) UpdateStatus(ctx context.Context, docID, status string) error {
	_, err := c.do(ctx, call{op: "updateStatus", method: http.MethodPost, fields: c.jsonFields(Field{"docid", docID}, Field{"status", status})})
	return err
}

// GetSentEdocList lists what we sent, one entry per recipient; docID
// narrows it to one package, the way a sender reconciles an ambiguous send.
func (c *Client) GetSentEdocList(ctx context.Context, messageType, docID string) ([]SentItem, error) {
	f := []Field{{"servicetype", ServiceEdoc}, {"messagetype", messageType}}
	if docID != "" {
		f = append(f, Field{"docId", docID})
	}
	var out []SentItem
	err := c.list(ctx, "getSentEdocList", c.jsonFields(f...), &out)
	return out, err
}

// CountReceiveEdoc counts document packages waiting for us.
func (c *Client) CountReceiveEdoc(ctx context.Context) (int, error) {
	return c.count(ctx, "countReceiveEdoc", MessageEdoc)
}

// CountReceiveStatus counts status packages waiting for us.
func (c *Client) CountReceiveStatus(ctx context.Context) (int, error) {
	return c.count(ctx, "countReceiveStatus", MessageStatus)
}

func (c *Client) count(ctx context.Context, op, mt string) (int, error) {
	a, err := c.do(ctx, call{op: op, method: http.MethodGet, fields: c.jsonFields(Field{"servicetype", ServiceEdoc}, Field{"messagetype", mt})})
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.Trim(string(a.Count), `" `))
	if err != nil {
		return 0, &Error{Op: op, Class: Retryable, Desc: fmt.Sprintf("count %q is not a number", a.Count)}
	}
	return n, nil
}

// GetAgenciesList fetches the whole agency directory.
func (c *Client) GetAgenciesList(ctx context.Context) ([]Agency, error) {
	var out []Agency
	err := c.list(ctx, "getAgenciesList", c.jsonFields(), &out)
	return out, err
}

// GetSynchronizeUnit fetches directory entries with versions and deletions,
// for incremental sync.
func (c *Client) GetSynchronizeUnit(ctx context.Context) ([]Agency, error) {
	var out []Agency
	err := c.list(ctx, "getSynchronizeUnit", c.jsonFields(), &out)
	return out, err
}

// RegisterAgency adds an agency under our system.
func (c *Client) RegisterAgency(ctx context.Context, r Registration) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, call{op: "registerAgency", method: http.MethodPost, fields: c.jsonFields(), body: body, mutating: true})
	return err
}

// DeleteAgency removes an agency registered under our system.
func (c *Client) DeleteAgency(ctx context.Context, code string) error {
	_, err := c.do(ctx, call{op: "deleteAgency", method: http.MethodPost, fields: c.jsonFields(Field{"AgencyCode", code}), mutating: true})
	return err
}

// stamp appends the identity fields every call carries.
func (c *Client) stamp(f []Field) []Field {
	return append(f, Field{"systemid", c.cfg.SystemID}, Field{"timestamp", FormatTimestamp(c.cfg.Now())})
}

func (c *Client) jsonFields(f ...Field) []Field {
	return append(c.stamp(f), Field{"Content-Type", "application/json"})
}

func (c *Client) list(ctx context.Context, op string, fields []Field, out any) error {
	a, err := c.do(ctx, call{op: op, method: http.MethodPost, fields: fields})
	if err != nil {
		return err
	}
	if len(a.Data) == 0 || string(a.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(a.Data, out); err != nil {
		return &Error{Op: op, Class: Retryable, Desc: "data has an unexpected shape", Err: err}
	}
	return nil
}

// call is one HTTP exchange with the adapter.
type call struct {
	op       string
	method   string
	fields   []Field
	upload   *Upload
	body     []byte
	mutating bool                  // a lost answer leaves its effect unknown
	raw      func(io.Reader) error // reads a non-JSON answer
}

// countingBody notes when the whole upload has been read by the transport.
type countingBody struct {
	r    io.Reader
	c    io.Closer
	done *atomic.Bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.done.Store(true)
	}
	return n, err
}

func (b *countingBody) Close() error { return b.c.Close() }

func (c *Client) do(ctx context.Context, cl call) (*Answer, error) {
	if c.cfg.Observe == nil {
		return c.roundTrip(ctx, cl)
	}
	start := time.Now()
	a, err := c.roundTrip(ctx, cl)
	c.cfg.Observe(cl.op, time.Since(start), err)
	return a, err
}

func (c *Client) roundTrip(ctx context.Context, cl call) (*Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	sh := Sign(c.cfg.Secret, cl.fields)
	var sent atomic.Bool
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base.String()+"/"+cl.op, nil)
	if err != nil {
		return nil, &Error{Op: cl.op, Class: Terminal, Err: err}
	}
	for k, v := range sh.Headers {
		req.Header[k] = []string{v} // names as the SDK writes them, not canonicalised
	}
	req.Header[HeaderSign] = []string{sh.SignHeader}
	req.Header[HeaderSignKey] = []string{sh.SignKeys}
	req.Header[HeaderHash] = []string{sh.Hash}
	req.Header[HeaderVersion] = []string{ProtocolVersion}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Content-Type", "application/json")
	switch {
	case cl.upload != nil:
		if err := c.setUpload(req, cl.upload, &sent); err != nil {
			return nil, &Error{Op: cl.op, Class: Terminal, Desc: "cannot open the package", Err: err}
		}
	case cl.body != nil:
		b := cl.body
		req.ContentLength = int64(len(b))
		req.GetBody = func() (io.ReadCloser, error) {
			return &countingBody{r: bytes.NewReader(b), c: io.NopCloser(nil), done: &sent}, nil
		}
		req.Body, _ = req.GetBody()
	default:
		sent.Store(true) // nothing to upload: the request is out once written
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(cl, err, sent.Load())
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if cl.raw != nil && resp.StatusCode == http.StatusOK && !strings.HasPrefix(ct, "application/json") {
		if err := cl.raw(resp.Body); err != nil {
			return nil, &Error{Op: cl.op, Class: Retryable, Desc: "download cut short", Err: err}
		}
		return &Answer{Status: "OK"}, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxAnswer+1))
	if err != nil {
		return nil, transportError(cl, err, true)
	}
	if int64(len(body)) > c.cfg.MaxAnswer {
		return nil, &Error{Op: cl.op, Class: Terminal, HTTPStatus: resp.StatusCode, Desc: fmt.Sprintf("answer over %d bytes", c.cfg.MaxAnswer)}
	}
	var a Answer
	jerr := json.Unmarshal(body, &a)
	if resp.StatusCode != http.StatusOK {
		e := &Error{Op: cl.op, HTTPStatus: resp.StatusCode, Code: a.ErrorCode, Desc: a.ErrorDesc}
		if jerr != nil || e.Desc == "" {
			e.Desc = strings.TrimSpace(snippet(body))
		}
		e.Class = classifyHTTP(resp.StatusCode)
		return nil, e
	}
	if jerr != nil {
		cls := Retryable
		if cl.mutating {
			cls = Ambiguous // the adapter took the call but its answer is unreadable
		}
		return nil, &Error{Op: cl.op, Class: cls, HTTPStatus: resp.StatusCode, Desc: "answer is not JSON: " + snippet(body), Err: jerr}
	}
	if !a.OK() {
		return nil, &Error{Op: cl.op, Class: classifyCode(a.ErrorCode), HTTPStatus: resp.StatusCode, Code: a.ErrorCode, Desc: a.ErrorDesc}
	}
	return &a, nil
}

// setUpload makes a multipart body of exactly known length that streams
// the package from its source.
func (c *Client) setUpload(req *http.Request, u *Upload, sent *atomic.Bool) error {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	var rnd [12]byte
	rand.Read(rnd[:])
	if err := mw.SetBoundary("lienthong-" + hex.EncodeToString(rnd[:])); err != nil {
		return err
	}
	name := u.Name
	if name == "" {
		name = "package.edxml"
	}
	if _, err := mw.CreateFormFile(FilePart, name); err != nil {
		return err
	}
	head := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return err
	}
	tail := bytes.Clone(buf.Bytes())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.ContentLength = int64(len(head)) + u.Size + int64(len(tail))
	req.GetBody = func() (io.ReadCloser, error) {
		f, err := u.Open()
		if err != nil {
			return nil, err
		}
		r := io.MultiReader(bytes.NewReader(head), io.LimitReader(f, u.Size), bytes.NewReader(tail))
		return &countingBody{r: r, c: f, done: sent}, nil
	}
	body, err := req.GetBody()
	req.Body = body
	return err
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// Class sorts failures by what the caller should do next.
type Class int

const (
	// Retryable failed before the adapter could act: try again later.
	Retryable Class = iota
	// Terminal will fail the same way again: fix the cause first.
	Terminal
	// Ambiguous may have taken effect: for a send, look in
	// getSentEdocList before sending again.
	Ambiguous
)

func (c Class) String() string {
	return [...]string{"retryable", "terminal", "ambiguous"}[c]
}

// Errors matched with errors.Is by class.
var (
	ErrRetryable = errors.New("axis: retryable failure")
	ErrTerminal  = errors.New("axis: terminal failure")
	ErrAmbiguous = errors.New("axis: ambiguous failure")
)

// Error is every failure of a call, classified.
type Error struct {
	Op         string
	Class      Class
	HTTPStatus int    // 0 when no answer came
	Code       string // the adapter's ErrorCode
	Desc       string // the adapter's ErrorDesc, or what went wrong
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "axis %s (%s)", e.Op, e.Class)
	if e.HTTPStatus != 0 && e.HTTPStatus != http.StatusOK {
		fmt.Fprintf(&b, ": HTTP %d", e.HTTPStatus)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": ErrorCode %s", e.Code)
	}
	if e.Desc != "" {
		b.WriteString(": " + e.Desc)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the class sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRetryable:
		return e.Class == Retryable
	case ErrTerminal:
		return e.Class == Terminal
	case ErrAmbiguous:
		return e.Class == Ambiguous
	}
	return false
}

// ClassOf returns the class of any error a call returned; errors from
// elsewhere count as retryable.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Retryable
}

// RetryableCodes are ErrorCodes of a FAIL answer that mean "not now"
// rather than "never".
var RetryableCodes = map[string]bool{"500": true, "503": true, "429": true}

func classifyCode(code string) Class {
	if RetryableCodes[code] {
		return Retryable
	}
	return Terminal
}

func classifyHTTP(status int) Class {
	switch {
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return Retryable
	}
	return Terminal
}

// transportError classifies a failure with no answer: before the request
// was fully sent nothing happened; after, a mutating call may have landed.
func transportError(cl call, err error, sent bool) *Error {
	e := &Error{Op: cl.op, Class: Retryable, Err: err}
	var op *net.OpError
	dial := errors.As(err, &op) && op.Op == "dial"
	if sent && cl.mutating && !dial {
		e.Class = Ambiguous
		e.Desc = "no answer after the request was sent; it may have been accepted"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && e.Desc == "" {
		e.Desc = "timed out"
	}
	return e
}
