package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/api"
	"lienthong/gateway/devstack"
	"lienthong/gateway/devstack/stacktest"
	"lienthong/gateway/localapi"
)

func TestContentDisposition(t *testing.T) {
	got := api.ContentDisposition(`Công văn "số 1".pdf`)
	want := `attachment; filename="C_ng v_n _s_ 1_.pdf"; filename*=UTF-8''C%C3%B4ng%20v%C4%83n%20%22s%E1%BB%91%201%22.pdf`
	if got != want {
		t.Errorf("contentDisposition = %s\nwant %s", got, want)
	}
}

// call makes one request with a token and returns the status and body.
func call(t *testing.T, base, token, method, path, ctype string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The multipart form, part by part: each refusal names its field.
func TestSubmissionParts(t *testing.T) {
	s, _ := stacktest.Start(t, devstack.Options{ManualPeer: true})
	type part struct{ name, file, contentType, body string }
	meta, _ := json.Marshal(stacktest.Memo("V/v thử", 0, "a.pdf", "b.txt"))
	tests := []struct {
		name        string
		contentType string // "" for the writer's multipart type
		parts       []part
		wantCode    int
		wantField   string // the first problem's field; "" for none
	}{
		{"metadata and two files", "", []part{{"metadata", "", "", string(meta)}, {"file", "a.pdf", "application/pdf", "%PDF-a"}, {"file", "b.txt", "application/octet-stream", "b"}}, 202, ""},
		{"not multipart", "application/json", nil, 422, "Content-Type"},
		{"no metadata", "", []part{{"file", "a.pdf", "", "x"}}, 422, "metadata"},
		{"metadata twice", "", []part{{"metadata", "", "", string(meta)}, {"metadata", "", "", string(meta)}}, 422, "metadata"},
		{"file without a name", "", []part{{"metadata", "", "", string(meta)}, {"file", "", "", "x"}}, 422, "file[0]"},
		{"unknown part", "", []part{{"metadata", "", "", string(meta)}, {"photo", "p.jpg", "", "x"}}, 422, "photo"},
		{"metadata not JSON", "", []part{{"metadata", "", "", "{"}}, 422, ""},
		{"metadata refused before the files", "", []part{{"metadata", "", "", `{"to":["000.00.00.G22"]}`}, {"file", "a.pdf", "", "x"}}, 422, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			for _, p := range tt.parts {
				h := textproto.MIMEHeader{}
				cd := `form-data; name="` + p.name + `"`
				if p.file != "" {
					cd += `; filename="` + p.file + `"`
				}
				h.Set("Content-Disposition", cd)
				if p.contentType != "" {
					h.Set("Content-Type", p.contentType)
				}
				w, _ := mw.CreatePart(h)
				w.Write([]byte(p.body))
			}
			mw.Close()
			ct := mw.FormDataContentType()
			if tt.contentType != "" {
				ct = tt.contentType
			}
			code, b := call(t, s.Client.Base, s.Token, "POST", "/v1/documents", ct, &body)
			if code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", code, tt.wantCode, b)
			}
			if code != 422 {
				return
			}
			var e localapi.Error
			if err := json.Unmarshal(b, &e); err != nil || len(e.Problems) == 0 {
				t.Fatalf("a refusal without problems: %s", b)
			}
			if tt.wantField != "" && e.Problems[0].Field != tt.wantField {
				t.Errorf("problem field = %q, want %q (%s)", e.Problems[0].Field, tt.wantField, b)
			}
		})
	}
}

// Every route, with a token for every agency and one for the unit only:
// the unit's token sees and acts on the unit's records and nothing of the
// department's, which it is told is forbidden, never shown.
func TestScopesOnEveryRoute(t *testing.T) {
	s, clock := stacktest.Start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	unit := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}
	// One document sent as each agency, and one arrived for each.
	mine := map[string]string{}
	for _, from := range []string{devstack.AgencyCode, devstack.UnitCode} {
		m := stacktest.Memo("V/v phạm vi "+from, 0)
		m["from"] = map[string]string{"organId": from}
		c := s.Client
		if from == devstack.UnitCode {
			c = unit
		}
		acc, err := c.Submit(ctx, m, nil)
		if err != nil {
			t.Fatalf("submit as %s: %v", from, err)
		}
		mine["doc "+from] = acc.ID
		in := stacktest.Memo("V/v đến "+from, 0, "a.txt")
		in["to"], in["codeNumber"] = []string{from}, "7"+from[4:6]
		if _, err := s.PeerClient.Submit(ctx, in, []localapi.Upload{{Name: "a.txt", Data: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
	}
	items := stacktest.WaitInbox(t, clock, s.Client, localapi.InboxNew, 2, "a document for each agency")
	for _, it := range items {
		mine["item "+it.Agency] = it.ID
	}
	routes := []struct {
		method, path string // %s is the record's id
		body         string
		item         bool
		ok           int
	}{
		{"GET", "/v1/documents/%s", "", false, 200},
		{"GET", "/v1/documents/%s/events", "", false, 200},
		{"POST", "/v1/documents/%s/resend", "", false, 409},
		{"POST", "/v1/documents/%s/recall", `{"reason":"thử"}`, false, 0},
		{"POST", "/v1/documents/%s/revoke", `{"reason":"thử"}`, false, 0},
		{"GET", "/v1/inbox/%s", "", true, 200},
		{"GET", "/v1/inbox/%s/events", "", true, 200},
		{"GET", "/v1/inbox/%s/files/1", "", true, 200},
		{"POST", "/v1/inbox/%s/status", `{"code":"03","description":"Đã vào sổ"}`, true, 202},
	}
	for _, rt := range routes {
		for _, agency := range []string{devstack.AgencyCode, devstack.UnitCode} {
			kind := "doc "
			if rt.item {
				kind = "item "
			}
			path := fmt.Sprintf(rt.path, mine[kind+agency])
			code, b := call(t, unit.Base, unit.Token, rt.method, path, "application/json", strings.NewReader(rt.body))
			switch {
			case agency == devstack.AgencyCode && code != 403:
				t.Errorf("%s %s of the department with the unit's token: %d, want 403: %s", rt.method, rt.path, code, b)
			case agency == devstack.AgencyCode && strings.Contains(string(b), "V/v"):
				t.Errorf("%s %s: the refusal shows the record: %s", rt.method, rt.path, b)
			case agency == devstack.UnitCode && code == 403:
				t.Errorf("%s %s of the unit with its own token: 403: %s", rt.method, rt.path, b)
			case agency == devstack.UnitCode && rt.ok != 0 && code != rt.ok:
				t.Errorf("%s %s of the unit: %d, want %d: %s", rt.method, rt.path, code, rt.ok, b)
			}
		}
	}
	// The lists hold only the unit's records, whatever the filter asks.
	for _, path := range []string{"/v1/documents", "/v1/documents?agency=" + devstack.AgencyCode, "/v1/inbox", "/v1/inbox?agency=" + devstack.AgencyCode, "/v1/agencies"} {
		code, b := call(t, unit.Base, unit.Token, "GET", path, "", nil)
		if code != 200 || strings.Contains(string(b), `"`+devstack.AgencyCode+`"`) && !strings.Contains(path, "agencies") {
			t.Errorf("GET %s with the unit's token: %d %s", path, code, b)
		}
		if strings.Contains(path, "agencies") {
			var got []localapi.ServedAgency
			json.Unmarshal(b, &got)
			if len(got) != 1 || got[0].Code != devstack.UnitCode {
				t.Errorf("GET /v1/agencies with the unit's token: %s, want the unit only", b)
			}
		}
	}
	// A file carries its digest as RFC 9530 writes it.
	req, _ := http.NewRequest("GET", unit.Base+"/v1/inbox/"+mine["item "+devstack.UnitCode]+"/files/1", nil)
	req.Header.Set("Authorization", "Bearer "+unit.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(body)
	if want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"; resp.Header.Get("Content-Digest") != want {
		t.Errorf("Content-Digest %q, want %q", resp.Header.Get("Content-Digest"), want)
	}
	if code, _ := call(t, unit.Base, "not-a-token-at-all", "GET", "/v1/documents", "", nil); code != 401 {
		t.Errorf("a wrong token: %d, want 401", code)
	}
	// Waiting for mail in a scope: nothing of the department's ends it.
	began := time.Now()
	if items, err := unit.Inbox(ctx, localapi.InboxRecall, 200*time.Millisecond); err != nil || len(items) != 0 || time.Since(began) < 200*time.Millisecond {
		t.Errorf("the unit's long poll: %v, %v", items, err)
	}
}

// The router's own refusals have the JSON error shape too: a method a
// path does not take is 405 naming the ones it does; an unknown path 404.
func TestRouterRefusalsAreJSON(t *testing.T) {
	s, _ := stacktest.Start(t, devstack.Options{ManualPeer: true})
	for _, tt := range []struct {
		method, path string
		code         int
		says         string
	}{
		{"PUT", "/v1/documents/out-0000000001", 405, "GET"},
		{"PUT", "/v1/inbox", 405, "GET"},
		{"GET", "/v1/nothing-here", 404, "/v1/nothing-here"},
	} {
		code, b := call(t, s.Client.Base, s.Token, tt.method, tt.path, "", nil)
		var e localapi.Error
		if code != tt.code || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Message, tt.says) {
			t.Errorf("%s %s: %d %s, want %d and a JSON error naming %s", tt.method, tt.path, code, b, tt.code, tt.says)
		}
	}
}
