package devstack_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
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
