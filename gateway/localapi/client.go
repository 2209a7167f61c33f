package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls a gateway's local API with one client system's token.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8490
	Token string
	HTTP  *http.Client // http.DefaultClient when nil
}

// Upload is one file of a submission.
type Upload struct {
	Name        string
	ContentType string // "" lets the gateway guess from the name
	Data        []byte
}

// Submit hands over a document: metadata is the JSON object of the
// metadata part (any value that marshals to it).
func (c *Client) Submit(ctx context.Context, metadata any, files []Upload) (*Accepted, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	// The metadata part says it is JSON, as the API's description has it.
	mp, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="metadata"`}, "Content-Type": {"application/json"},
	})
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(mp).Encode(metadata); err != nil {
		return nil, err
	}
	for _, f := range files {
		h := textproto.MIMEHeader{"Content-Disposition": {fmt.Sprintf(`form-data; name="file"; filename=%q`, f.Name)}}
		if f.ContentType != "" {
			h.Set("Content-Type", f.ContentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		w.Write(f.Data)
	}
	mw.Close()
	var a Accepted
	// A gateway reading as many submissions as it takes answers 503 with
	// a short Retry-After: wait and send again, a few times.
	for try := 1; ; try++ {
		err := c.do(ctx, http.MethodPost, "/v1/documents", mw.FormDataContentType(), bytes.NewReader(body.Bytes()), &a)
		var e *Error
		if try == 10 || !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 || e.RetryAfter > 5*time.Second {
			return &a, err
		}
		select {
		case <-ctx.Done():
			return &a, ctx.Err()
		case <-time.After(e.RetryAfter):
		}
	}
}

// Document returns an outbound document's state.
func (c *Client) Document(ctx context.Context, id string) (*Document, error) {
	var d Document
	return &d, c.do(ctx, http.MethodGet, "/v1/documents/"+url.PathEscape(id), "", nil, &d)
}

// DocumentEvents returns a document's history, oldest first.
func (c *Client) DocumentEvents(ctx context.Context, id string) ([]Event, error) {
	var evs []Event
	return evs, c.do(ctx, http.MethodGet, "/v1/documents/"+url.PathEscape(id)+"/events", "", nil, &evs)
}

// InboxEvents returns the history of an inbox item's package, oldest
// first.
func (c *Client) InboxEvents(ctx context.Context, id string) ([]Event, error) {
	var evs []Event
	return evs, c.do(ctx, http.MethodGet, "/v1/inbox/"+url.PathEscape(id)+"/events", "", nil, &evs)
}

// Documents lists outbound documents in a state ("" for all), newest
// first, at most limit of them (0: one page of the server's default,
// 100), following the cursor past the server's 1,000 a page.
func (c *Client) Documents(ctx context.Context, state string, limit int) ([]Document, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	var ds []Document
	for {
		if limit > 0 {
			q.Set("limit", strconv.Itoa(min(limit-len(ds), 1000)))
		}
		p, err := c.DocumentPage(ctx, q)
		if err != nil {
			return nil, err
		}
		ds = append(ds, p.Items...)
		if p.Next == "" || limit <= 0 || len(ds) >= limit {
			return ds, nil
		}
		q.Set("after", p.Next)
	}
}

// DocumentPage lists outbound documents newest first, filtered by query
// (state, agency, kind, to, since, until, limit, and after: a previous
// page's Next).
func (c *Client) DocumentPage(ctx context.Context, query url.Values) (*Page[Document], error) {
	var p Page[Document]
	return &p, c.do(ctx, http.MethodGet, "/v1/documents?"+query.Encode(), "", nil, &p)
}

// Resend queues a dead document again.
func (c *Client) Resend(ctx context.Context, id string) (*Document, error) {
	var d Document
	return &d, c.do(ctx, http.MethodPost, "/v1/documents/"+url.PathEscape(id)+"/resend", "", nil, &d)
}

// Revoke withdraws a sent document with a revocation package; it returns
// the revocation's record.
func (c *Client) Revoke(ctx context.Context, id, reason string) (*Document, error) {
	b, _ := json.Marshal(map[string]string{"reason": reason})
	var d Document
	return &d, c.do(ctx, http.MethodPost, "/v1/documents/"+url.PathEscape(id)+"/revoke", "application/json", bytes.NewReader(b), &d)
}

// Recall asks the recipients to give a sent document back.
func (c *Client) Recall(ctx context.Context, id, reason string) (*Document, error) {
	b, _ := json.Marshal(map[string]string{"reason": reason})
	var d Document
	return &d, c.do(ctx, http.MethodPost, "/v1/documents/"+url.PathEscape(id)+"/recall", "application/json", bytes.NewReader(b), &d)
}

// Inbox lists inbox items in a state ("" for all); with wait > 0 an empty
// answer is held until an item arrives or wait passes.
func (c *Client) Inbox(ctx context.Context, state string, wait time.Duration) ([]InboxItem, error) {
	q := url.Values{"limit": {"1000"}}
	if state != "" {
		q.Set("state", state)
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var items []InboxItem
	for {
		p, err := c.InboxPage(ctx, q)
		if err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
		if p.Next == "" {
			return items, nil
		}
		q.Del("wait")
		q.Set("after", p.Next)
	}
}

// InboxPage lists one page of inbox items, the most urgent then the
// oldest first, filtered by query (state, agency, from, since, until,
// limit, wait, and after: a previous page's Next).
func (c *Client) InboxPage(ctx context.Context, query url.Values) (*Page[InboxItem], error) {
	var p Page[InboxItem]
	return &p, c.do(ctx, http.MethodGet, "/v1/inbox?"+query.Encode(), "", nil, &p)
}

// InboxItem returns one inbox item.
func (c *Client) InboxItem(ctx context.Context, id string) (*InboxItem, error) {
	var it InboxItem
	return &it, c.do(ctx, http.MethodGet, "/v1/inbox/"+url.PathEscape(id), "", nil, &it)
}

// InboxFile returns the nth file (from 1) of an inbox item.
func (c *Client) InboxFile(ctx context.Context, id string, n int) ([]byte, error) {
	var b bytes.Buffer
	err := c.InboxFileTo(ctx, id, n, &b)
	return b.Bytes(), err
}

// InboxFileTo copies the nth file of an inbox item into w as it arrives,
// for files too large to hold.
func (c *Client) InboxFileTo(ctx context.Context, id string, n int, w io.Writer) error {
	return c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/inbox/%s/files/%d", url.PathEscape(id), n), "", nil, w)
}

// Answer sends a business status about an inbox item to its sender.
func (c *Client) Answer(ctx context.Context, id string, r StatusRequest) (*InboxItem, error) {
	b, _ := json.Marshal(r)
	var it InboxItem
	return &it, c.do(ctx, http.MethodPost, "/v1/inbox/"+url.PathEscape(id)+"/status", "application/json", bytes.NewReader(b), &it)
}

// Search finds agencies by name.
func (c *Client) Search(ctx context.Context, q string) ([]Agency, error) {
	var as []Agency
	return as, c.do(ctx, http.MethodGet, "/v1/directory/search?q="+url.QueryEscape(q), "", nil, &as)
}

// Agency looks up an identifier code.
func (c *Client) Agency(ctx context.Context, code string) (*Agency, error) {
	var a Agency
	return &a, c.do(ctx, http.MethodGet, "/v1/directory/"+url.PathEscape(code), "", nil, &a)
}

// Agencies lists the agencies the gateway serves that the token covers.
func (c *Client) Agencies(ctx context.Context) ([]ServedAgency, error) {
	var out []ServedAgency
	return out, c.do(ctx, http.MethodGet, "/v1/agencies", "", nil, &out)
}

// Discard gives a dead or waiting document up for good.
func (c *Client) Discard(ctx context.Context, id, reason string) (*Document, error) {
	b, _ := json.Marshal(map[string]string{"reason": reason})
	var d Document
	return &d, c.do(ctx, http.MethodDelete, "/v1/documents/"+url.PathEscape(id), "application/json", bytes.NewReader(b), &d)
}

// RetryNow sends a document waiting out its backoff at once.
func (c *Client) RetryNow(ctx context.Context, id string) (*Document, error) {
	var d Document
	return &d, c.do(ctx, http.MethodPost, "/v1/documents/"+url.PathEscape(id)+"/retry", "", nil, &d)
}

// ResendAll queues again every dead document q picks.
func (c *Client) ResendAll(ctx context.Context, q ResendQuery) (*Resent, error) {
	b, _ := json.Marshal(q)
	var r Resent
	return &r, c.do(ctx, http.MethodPost, "/v1/documents/resend", "application/json", bytes.NewReader(b), &r)
}

// Summary is the gateway's state and what needs action.
func (c *Client) Summary(ctx context.Context) (*Summary, error) {
	var s Summary
	return &s, c.do(ctx, http.MethodGet, "/v1/summary", "", nil, &s)
}

// Timeliness fetches a timeliness report. q holds the query parameters of
// GET /v1/reports/timeliness (since, until or month, by); with format=csv
// in q, the spreadsheet is copied to w instead and the report is nil.
func (c *Client) Timeliness(ctx context.Context, q url.Values, w io.Writer) (*TimelinessReport, error) {
	path := "/v1/reports/timeliness"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if q.Get("format") == "csv" {
		return nil, c.do(ctx, http.MethodGet, path, "", nil, w)
	}
	var r TimelinessReport
	return &r, c.do(ctx, http.MethodGet, path, "", nil, &r)
}

// InboundProblems lists the packages received that could not be handled.
func (c *Client) InboundProblems(ctx context.Context) ([]InboundProblem, error) {
	var ps []InboundProblem
	return ps, c.do(ctx, http.MethodGet, "/v1/inbound/problems", "", nil, &ps)
}

// Refetch tries a dead record (in-…) or an unfetchable package (its axis
// DocId) again.
func (c *Client) Refetch(ctx context.Context, id string) (*InboundProblem, error) {
	var p InboundProblem
	return &p, c.do(ctx, http.MethodPost, "/v1/inbound/"+url.PathEscape(id)+"/refetch", "", nil, &p)
}

// SetAside ends a dead inbound package for good, with the reason.
func (c *Client) SetAside(ctx context.Context, id, reason string) (*InboundProblem, error) {
	b, _ := json.Marshal(map[string]string{"reason": reason})
	var p InboundProblem
	return &p, c.do(ctx, http.MethodPost, "/v1/inbound/"+url.PathEscape(id)+"/set-aside", "application/json", bytes.NewReader(b), &p)
}

// ConsoleLink asks for a one-time link to a page of the web console
// ("" for the overview).
func (c *Client) ConsoleLink(ctx context.Context, path string) (*ConsoleLink, error) {
	b, _ := json.Marshal(map[string]string{"path": path})
	var l ConsoleLink
	return &l, c.do(ctx, http.MethodPost, "/v1/console/link", "application/json", bytes.NewReader(b), &l)
}

// EvidenceCheckpoint returns the evidence log's latest checkpoint; with
// now, one signed of every entry so far.
func (c *Client) EvidenceCheckpoint(ctx context.Context, now bool) (*EvidenceCheckpoint, error) {
	method := http.MethodGet
	if now {
		method = http.MethodPost
	}
	var cp EvidenceCheckpoint
	return &cp, c.do(ctx, method, "/v1/evidence/checkpoint", "", nil, &cp)
}

// EvidenceVerify has the gateway check its whole evidence log.
func (c *Client) EvidenceVerify(ctx context.Context) (*EvidenceReport, error) {
	var r EvidenceReport
	return &r, c.do(ctx, http.MethodGet, "/v1/evidence/verify", "", nil, &r)
}

// EvidenceBundle copies the proof bundle of a document (or, with record
// set instead, of a record) into w as a tar stream.
func (c *Client) EvidenceBundle(ctx context.Context, document, record string, w io.Writer) error {
	q := url.Values{}
	if document != "" {
		q.Set("document", document)
	}
	if record != "" {
		q.Set("record", record)
	}
	return c.do(ctx, http.MethodGet, "/v1/evidence/bundle?"+q.Encode(), "", nil, w)
}

// Ready asks /readyz.
func (c *Client) Ready(ctx context.Context) (*Health, error) {
	var h Health
	return &h, c.do(ctx, http.MethodGet, "/readyz", "", nil, &h)
}

// do sends a request; out is JSON-decoded, or copied when a *bytes.Buffer.
// An error answer comes back as *Error.
func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := &Error{Status: resp.StatusCode}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		if json.Unmarshal(b, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(b))
		}
		if out != nil && resp.StatusCode == http.StatusServiceUnavailable && strings.HasSuffix(path, "readyz") {
			_ = json.Unmarshal(b, out)
		}
		return e
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	if p, ok := out.(interface{ setNext(string) }); ok {
		p.setNext(resp.Header.Get("X-Next-Cursor"))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
