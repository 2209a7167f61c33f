package devstack_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// docs/api.yaml is valid OpenAPI, and what the daemon answers is what it
// says: each answer of a real exchange is checked against it.
func TestAPIMatchesItsDescription(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../docs/api.yaml")
	if err != nil {
		t.Fatalf("load docs/api.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/api.yaml is not valid OpenAPI: %v", err)
	}
	s, clock := start(t, devstack.Options{ManualPeer: true})
	doc.Servers = openapi3.Servers{{URL: s.Client.Base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := s.Client.Submit(context.Background(), memo("V/v đối chiếu API", 0, "a.txt"), []localapi.Upload{{Name: "a.txt", Data: []byte("tệp")}})
	if err != nil {
		t.Fatal(err)
	}
	item := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 1, "the document at the peer")[0]
	if _, err := s.PeerClient.Answer(context.Background(), item.ID, localapi.StatusRequest{Code: "03"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "03 at the sender", func() bool { return recipientStatus(t, s.Client, acc.ID) == "03" })

	other := memo("V/v khác", 0)
	other["codeNumber"] = "153"
	submission := func(meta map[string]any) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mj, _ := json.Marshal(meta)
		mw.WriteField("metadata", string(mj))
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	fresh, freshType := submission(other)
	same, sameType := submission(memo("V/v đối chiếu API", 0))
	broken, brokenType := submission(map[string]any{"to": []string{"x"}})
	calls := []struct {
		method, path, token, body string
		base                      string
		ctype                     string
	}{
		{"POST", "/v1/documents", s.Token, fresh, s.Client.Base, freshType},
		{"POST", "/v1/documents", s.Token, same, s.Client.Base, sameType},
		{"POST", "/v1/documents", s.Token, broken, s.Client.Base, brokenType},
		{"POST", "/v1/documents", s.ScopedToken, fresh, s.Client.Base, freshType},
		{"GET", "/v1/documents/" + acc.ID, s.ScopedToken, "", s.Client.Base, ""},
		{"POST", "/v1/documents/" + acc.ID + "/resend", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/documents/out-9999999999/resend", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/documents/" + acc.ID + "/recall", s.Token, `{"reason":"nhầm"}`, s.Client.Base, ""},
		{"POST", "/v1/documents/out-9999999999/recall", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/documents/" + acc.ID + "/revoke", s.Token, `{"reason":"nhầm"}`, s.Client.Base, ""},
		{"POST", "/v1/documents/out-9999999999/revoke", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/inbox/" + item.ID + "/files/1", s.PeerClient.Token, "", s.PeerClient.Base, ""},
		{"GET", "/v1/inbox/" + item.ID + "/files/9", s.PeerClient.Token, "", s.PeerClient.Base, ""},
		{"GET", "/v1/inbox/in-9999999999", s.PeerClient.Token, "", s.PeerClient.Base, ""},
		{"POST", "/v1/inbox/in-9999999999/status", s.PeerClient.Token, `{"code":"03"}`, s.PeerClient.Base, ""},
		{"POST", "/v1/inbox/" + item.ID + "/status", s.PeerClient.Token, `{"code":"99"}`, s.PeerClient.Base, ""},
		{"GET", "/v1/directory/000.00.00.X99", s.Token, "", s.Client.Base, ""},
		{"GET", "/healthz", "", "", s.Client.Base, ""},
		{"GET", "/v1/documents/" + acc.ID, s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/documents", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/documents?limit=1&state=sent&kind=document&to=" + devstack.PeerCode + "&since=2026-01-01", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/documents?colour=red", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/documents/" + acc.ID + "/events", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/documents/out-9999999999", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/documents/out-9999999999/events", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/inbox/" + item.ID + "/events", s.PeerClient.Token, "", s.PeerClient.Base, ""},
		{"GET", "/v1/inbox?limit=abc", s.PeerClient.Token, "", s.PeerClient.Base, ""},
		{"GET", "/v1/inbox", s.PeerClient.Token, "", s.PeerClient.Base, ""},
		{"GET", "/v1/inbox/" + item.ID, s.PeerClient.Token, "", s.PeerClient.Base, ""},
		{"POST", "/v1/inbox/" + item.ID + "/status", s.PeerClient.Token, `{"code":"02"}`, s.PeerClient.Base, ""},
		{"GET", "/v1/directory/search?q=ha+noi", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/documents", "wrong-token-wrong-token", "", s.Client.Base, ""},
		{"GET", "/readyz", "", "", s.Client.Base, ""},
		{"GET", "/v1/agencies", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/directory/" + devstack.UnitCode, s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/summary", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/documents/" + acc.ID + "/retry", s.Token, "", s.Client.Base, ""},
		{"DELETE", "/v1/documents/" + acc.ID, s.Token, `{"reason":"gửi nhầm"}`, s.Client.Base, ""},
		{"DELETE", "/v1/documents/out-9999999999?reason=x", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/documents/resend", s.Token, `{"since":"2026-01-01T00:00:00Z"}`, s.Client.Base, ""},
		{"GET", "/v1/summary", s.ScopedToken, "", s.Client.Base, ""},
		{"GET", "/v1/reports/timeliness?by=agency&since=2026-03-01", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/reports/timeliness?month=2026-03&format=csv&table=overdue", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/reports/timeliness?by=city", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/console/link", s.Token, `{"path":"/ui/reports"}`, s.Client.Base, ""},
		{"GET", "/v1/inbound/problems", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/inbound/problems", s.ScopedToken, "", s.Client.Base, ""},
		{"POST", "/v1/inbound/001a2419378533ac61f6b2655/refetch", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/inbound/in-0000000001/refetch", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/inbound/in-0000000001/set-aside", s.Token, `{"reason":"đã xử lý"}`, s.Client.Base, ""},
		{"POST", "/v1/inbound/in-0000000001/set-aside", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/inbound/in-9999999999/set-aside?reason=x", s.Token, "", s.Client.Base, ""},
		{"POST", "/v1/console/link", s.Token, `{"path":"https://elsewhere.example/"}`, s.Client.Base, ""},
		{"POST", "/v1/evidence/checkpoint", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/evidence/checkpoint", s.ScopedToken, "", s.Client.Base, ""},
		{"GET", "/v1/evidence/verify", s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/evidence/bundle?document=" + url.QueryEscape(acc.DocumentID), s.Token, "", s.Client.Base, ""},
		{"GET", "/v1/evidence/bundle", s.Token, "", s.Client.Base, ""},
	}
	walked := map[string]bool{}
	for _, c := range calls {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, _ := http.NewRequest(c.method, c.base+c.path, body)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", cmp.Or(c.ctype, "application/json"))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Match the route against the description's server.
			match, _ := http.NewRequest(c.method, s.Client.Base+c.path, nil)
			route, params, err := router.FindRoute(match)
			if err != nil {
				t.Fatalf("%s %s is not in docs/api.yaml: %v", c.method, c.path, err)
			}
			walked[c.method+" "+route.Path] = true
			in := &openapi3filter.RequestValidationInput{Request: match, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
				Options: &openapi3filter.Options{IncludeResponseStatus: true}}
			out.SetBodyBytes(raw)
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				t.Errorf("%d answer does not match docs/api.yaml: %v\n%s", resp.StatusCode, err, bytes.TrimSpace(raw))
			}
		})
	}
	// Every operation the description names was walked.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !walked[method+" "+path] {
				t.Errorf("%s %s is described but was not called", method, path)
			}
		}
	}
}

// The Go client speaks the description: every request it makes and every
// answer it reads, through a proxy that checks both against docs/api.yaml.
func TestGoClientMatchesTheDescription(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../../docs/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, clock := start(t, devstack.Options{ManualPeer: true})
	target, _ := url.Parse(s.Client.Base)
	doc.Servers = openapi3.Servers{{URL: s.Client.Base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	walked := map[string]bool{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		check, _ := http.NewRequest(r.Method, s.Client.Base+r.URL.RequestURI(), bytes.NewReader(body))
		check.Header = r.Header.Clone()
		route, params, err := router.FindRoute(check)
		if err != nil {
			t.Errorf("the client called %s %s, which docs/api.yaml does not describe", r.Method, r.URL.Path)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		mu.Lock()
		walked[r.Method+" "+route.Path] = true
		mu.Unlock()
		in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("the client's %s %s does not match docs/api.yaml: %v", r.Method, r.URL.Path, err)
		}
		rec := httptest.NewRecorder()
		fwd := httputil.NewSingleHostReverseProxy(target)
		r.Body = io.NopCloser(bytes.NewReader(body))
		fwd.ServeHTTP(rec, r)
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("the answer the client read to %s %s does not match docs/api.yaml: %v", r.Method, r.URL.Path, err)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer proxy.Close()
	ctx := context.Background()
	c := &localapi.Client{Base: proxy.URL, Token: s.Token}
	acc, err := c.Submit(ctx, memo("V/v qua máy khách Go", 0, "a.txt"), []localapi.Upload{{Name: "a.txt", Data: []byte("tệp")}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "the document sent", func() bool {
		d, err := c.Document(ctx, acc.ID)
		return err == nil && d.State == localapi.StateSent
	})
	for _, call := range []func() error{
		func() error { _, err := c.DocumentEvents(ctx, acc.ID); return err },
		func() error { _, err := c.Documents(ctx, "", 0); return err },
		func() error { _, err := c.DocumentPage(ctx, url.Values{"limit": {"1"}}); return err },
		func() error { _, err := c.Recall(ctx, acc.ID, "nhầm"); return err },
		func() error { _, err := c.Revoke(ctx, acc.ID, "nhầm"); return err },
		func() error { _, err := c.Resend(ctx, acc.ID); return ignoreStatus(err, 409) },
		func() error { _, err := c.Inbox(ctx, localapi.InboxNew, 0); return err },
		func() error { _, err := c.InboxPage(ctx, url.Values{"limit": {"1"}}); return err },
		func() error { _, err := c.Search(ctx, "Hà Nội"); return err },
		func() error { _, err := c.Agency(ctx, devstack.PeerCode); return err },
		func() error { _, err := c.Agencies(ctx); return err },
		func() error { _, err := c.Ready(ctx); return err },
		func() error { _, err := c.Summary(ctx); return err },
		func() error {
			_, err := c.Timeliness(ctx, url.Values{"month": {"2026-03"}, "by": {"agency"}}, nil)
			return err
		},
		func() error {
			_, err := c.Timeliness(ctx, url.Values{"format": {"csv"}}, io.Discard)
			return err
		},
		func() error { _, err := c.ConsoleLink(ctx, "/ui/"); return err },
		func() error { _, err := c.InboundProblems(ctx); return err },
		func() error { _, err := c.Refetch(ctx, "001a2419378533ac61f6b2655"); return ignoreStatus(err, 404) },
		func() error {
			_, err := c.SetAside(ctx, "in-9999999999", "đã xử lý")
			return ignoreStatus(err, 404)
		},
		func() error { _, err := c.RetryNow(ctx, acc.ID); return ignoreStatus(err, 409) },
		func() error { _, err := c.Discard(ctx, acc.ID, "gửi nhầm"); return ignoreStatus(err, 409) },
		func() error {
			_, err := c.ResendAll(ctx, localapi.ResendQuery{Agency: devstack.AgencyCode})
			return err
		},
		func() error { _, err := c.EvidenceCheckpoint(ctx, true); return err },
		func() error { _, err := c.EvidenceCheckpoint(ctx, false); return err },
		func() error { _, err := c.EvidenceVerify(ctx); return err },
		func() error { return c.EvidenceBundle(ctx, acc.DocumentID, "", io.Discard) },
	} {
		if err := call(); err != nil {
			t.Error(err)
		}
	}
	// The inbox side: a document from the peer, read and answered.
	in := memo("V/v đến", 0, "b.txt")
	in["to"], in["codeNumber"] = []string{devstack.AgencyCode}, "88"
	if _, err := s.PeerClient.Submit(ctx, in, []localapi.Upload{{Name: "b.txt", Data: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	item := waitInbox(t, clock, c, localapi.InboxNew, 1, "the peer's document")[0]
	for _, call := range []func() error{
		func() error { _, err := c.InboxItem(ctx, item.ID); return err },
		func() error { _, err := c.InboxEvents(ctx, item.ID); return err },
		func() error { _, err := c.InboxFile(ctx, item.ID, 1); return err },
		func() error {
			_, err := c.Answer(ctx, item.ID, localapi.StatusRequest{Code: "03", Description: "Đã vào sổ"})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for path, pi := range doc.Paths.Map() {
		for method := range pi.Operations() {
			if !walked[method+" "+path] && path != "/healthz" {
				t.Errorf("the Go client has no call for %s %s", method, path)
			}
		}
	}
}

func ignoreStatus(err error, code int) error {
	if status(err) == code {
		return nil
	}
	return err
}
