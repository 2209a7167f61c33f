package axis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// Dialect is DialectSDK (default) or DialectREST; Token and
	// ListWindow are the REST dialect's: its login, and how far back its
	// received list looks (default 72 h).
	Dialect    string
	Token      Token
	ListWindow time.Duration
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
	fields := []Field{c.system(), {"servicetype", ServiceEdoc}, {"messagetype", r.MessageType},
		{"hash-file", HashFile(r.Upload.SHA256, c.cfg.PaddedHashFile)}, {"from", r.From}}
	if len(r.To) > 0 {
		to, _ := json.Marshal(r.To)
		fields = append(fields, Field{"to", string(to)})
	}
	fields = append(fields, c.timestamp(), Field{"Content-Type", octetStream})
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
	err := c.list(ctx, "getReceivedEdocList", c.jsonFields(Field{"servicetype", ServiceEdoc}, Field{"messagetype", messageType}), nil, &out)
	return out, err
}

// GetEdoc fetches a package, carried base64 in the JSON answer.
func (c *Client) GetEdoc(ctx context.Context, docID string) ([]byte, error) {
	a, err := c.do(ctx, call{op: "getEdoc", method: http.MethodPost, fields: c.jsonFields(Field{"docId", docID}, c.filePath()), body: emptyJSON})
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

// GetEdocTo fetches a package into w, decoding the base64 of the JSON
// answer as it arrives, and returns its size: the package is never held
// whole in memory.
func (c *Client) GetEdocTo(ctx context.Context, docID string, w io.Writer) (int64, error) {
	var n int64
	_, err := c.do(ctx, call{op: "getEdoc", method: http.MethodPost, fields: c.jsonFields(Field{"docId", docID}, c.filePath()), body: emptyJSON,
		stream: func(r io.Reader) (*Answer, error) {
			a, got, err := readDataAnswer(io.LimitReader(r, c.cfg.MaxAnswer+1), w)
			n = got
			return a, err
		}})
	return n, err
}

// DownloadEdoc streams a package into w and returns its size.
func (c *Client) DownloadEdoc(ctx context.Context, docID string, w io.Writer) (int64, error) {
	var n int64
	_, err := c.do(ctx, call{op: "downloadEdoc", method: http.MethodGet, fields: c.jsonFields(Field{"docId", docID}, c.filePath()),
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
	// The SDK writes status after Content-Type.
	fields := append(c.jsonFields(Field{"docid", docID}), Field{"status", status})
	_, err := c.do(ctx, call{op: "updateStatus", method: http.MethodPost, fields: fields, body: emptyJSON})
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
	err := c.list(ctx, "getSentEdocList", c.jsonFields(f...), nil, &out)
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
	a, err := c.do(ctx, call{op: op, method: http.MethodPost, fields: c.jsonFields(Field{"servicetype", ServiceEdoc}, Field{"messagetype", mt}), body: emptyJSON})
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
	err := c.list(ctx, "getAgenciesList", c.jsonFields(), nil, &out)
	return out, err
}

// GetSynchronizeUnit fetches directory entries with versions and deletions,
// for incremental sync.
func (c *Client) GetSynchronizeUnit(ctx context.Context) ([]Agency, error) {
	var out []Agency
	err := c.list(ctx, "getSynchronizeUnit", c.jsonFields(), nil, &out)
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
	_, err := c.do(ctx, call{op: "deleteAgency", method: http.MethodPost, fields: c.jsonFields(Field{"AgencyCode", code}), body: emptyJSON, mutating: true})
	return err
}

// Content types and the body the SDK sends with calls that carry none.
const (
	octetStream = "application/octet-stream"
	jsonType    = "application/json"
)

var emptyJSON = []byte("{}")

func (c *Client) system() Field    { return Field{"systemid", c.cfg.SystemID} }
func (c *Client) timestamp() Field { return Field{"timestamp", FormatTimestamp(c.cfg.Now())} }

// filePath is the SDK's local folder for a fetched package; adapters
// ignore it, but it is signed, so it goes along.
func (c *Client) filePath() Field { return Field{"filePath", os.TempDir()} }

// jsonFields lays out a call's fields as the SDK does (its HashMap order,
// as recorded): systemid, the call's own fields, timestamp, Content-Type.
func (c *Client) jsonFields(own ...Field) []Field {
	f := append([]Field{c.system()}, own...)
	return append(f, c.timestamp(), Field{"Content-Type", jsonType})
}

func (c *Client) list(ctx context.Context, op string, fields []Field, body []byte, out any) error {
	a, err := c.do(ctx, call{op: op, method: http.MethodPost, fields: fields, body: body})
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
	// stream reads a JSON answer of a 200 as it arrives.
	stream func(io.Reader) (*Answer, error)
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
	req.Header.Set("Content-Type", jsonType)
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
	if cl.stream != nil && resp.StatusCode == http.StatusOK {
		a, err := cl.stream(resp.Body)
		if err != nil {
			return nil, &Error{Op: cl.op, Class: Retryable, HTTPStatus: resp.StatusCode, Desc: "answer cut short or malformed", Err: err}
		}
		if !a.OK() {
			return nil, &Error{Op: cl.op, Class: classifyCode(a.ErrorCode), HTTPStatus: resp.StatusCode, Code: a.ErrorCode, Desc: a.ErrorDesc}
		}
		return a, nil
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

// setUpload makes the SDK's sendEdoc body: the package, streamed from
// its source, then CRLF, with an exact length and no multipart envelope.
func (c *Client) setUpload(req *http.Request, u *Upload, sent *atomic.Bool) error {
	req.Header.Set("Content-Type", octetStream)
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("Pragma", "no-cache")
	req.Header.Set("Accept", "text/html, image/gif, image/jpeg, */*; q=0.2")
	req.ContentLength = u.Size + int64(len(crlf))
	req.GetBody = func() (io.ReadCloser, error) {
		f, err := u.Open()
		if err != nil {
			return nil, err
		}
		r := io.MultiReader(io.LimitReader(f, u.Size), strings.NewReader(crlf))
		return &countingBody{r: r, c: f, done: sent}, nil
	}
	body, err := req.GetBody()
	req.Body = body
	return err
}

// crlf ends every sendEdoc body the SDK writes; hash-file does not cover it.
const crlf = "\r\n"

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
