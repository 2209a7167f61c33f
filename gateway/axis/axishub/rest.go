package axishub

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"lienthong/envelope"
	"lienthong/gateway/axis"
)

// The REST/JSON dialect of a provincial axis, over the same store as the
// SDK wire: login for a bearer token, then /v1/sendEdoc, a received list
// by date window that keeps what was taken, /v1/getEdoc and
// /v1/updateStatus, each answered in the {code, message, data} envelope.

// restAnswer is the dialect's envelope.
type restAnswer struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	Data        any    `json:"data"`
	ErrorDetail []any  `json:"errorDetail"`
}

func writeREST(w http.ResponseWriter, status, code int, msg string, data any) {
	b, err := json.Marshal(restAnswer{Code: code, Message: msg, Data: data, ErrorDetail: []any{}})
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":20,"message":"answer not encodable","data":null,"errorDetail":[]}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// restCode turns a failure of the shared store into the dialect's codes.
func restCode(err error) (int, int, string) {
	var fl *failure
	if !errors.As(err, &fl) {
		return http.StatusInternalServerError, 20, err.Error()
	}
	switch fl.code {
	case "400", "413":
		return http.StatusOK, 10, fl.desc
	case "403":
		return http.StatusOK, 19, fl.desc
	case "404":
		return http.StatusOK, 18, fl.desc
	}
	var n int
	if _, err := fmt.Sscan(fl.code, &n); err == nil && n < 100 {
		return http.StatusOK, n, fl.desc
	}
	return http.StatusInternalServerError, 20, fl.desc
}

// RevokeTokens forgets every token issued, as a provider does when it
// restarts: the next call of each client is answered 401.
func (h *Hub) RevokeTokens() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.tokens)
}

func (h *Hub) serveREST(w http.ResponseWriter, r *http.Request, f Faults, roll, roll2 float64) {
	op := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch {
	case h.opts.Now().Before(f.OutageUntil):
		writeREST(w, http.StatusServiceUnavailable, 20, "LGSP system error: unavailable (outage)", nil)
		return
	case roll < f.ErrorRate, f.FetchFails && op == "getEdoc":
		writeREST(w, http.StatusInternalServerError, 20, "LGSP system error (injected)", nil)
		return
	}
	if op == "login" {
		h.login(w, r)
		return
	}
	sys, err := h.restAuth(r)
	if err != nil {
		var fl *failure
		if errors.As(err, &fl) && fl.code == "401" {
			writeREST(w, http.StatusUnauthorized, 401, fl.desc, nil)
			return
		}
		st, code, msg := restCode(err)
		writeREST(w, st, code, msg, nil)
		return
	}
	var data any
	switch {
	case op == "sendEdoc" && r.Method == http.MethodPost:
		if !h.uploads.Take() {
			writeREST(w, http.StatusServiceUnavailable, 20, "too many uploads at once: try again shortly", nil)
			return
		}
		defer h.uploads.Give()
		var id string
		if id, err = h.restSend(r, sys, f); err == nil {
			if roll2 < f.DropAfterUpload {
				drop(w)
				return
			}
			data = id
		}
	case op == "syncReceivedEdocList" && r.Method == http.MethodGet:
		data, err = h.window(sys, r.URL.Query())
	case op == "getEdoc" && r.Method == http.MethodGet:
		id := r.URL.Query().Get("docId")
		src, err := h.fetch(sys, id)
		if err != nil {
			st, code, msg := restCode(err)
			writeREST(w, st, code, msg, nil)
			return
		}
		defer src.Close()
		idJSON, _ := json.Marshal(id)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, `{"code":0,"message":"OK","data":{"docId":%s,"data":"`, idJSON)
		enc := base64.NewEncoder(base64.StdEncoding, w)
		io.Copy(enc, src)
		enc.Close()
		io.WriteString(w, `"},"errorDetail":[]}`)
		return
	case op == "updateStatus" && r.Method == http.MethodPost:
		var body struct {
			DocID       string `json:"docId"`
			Status      string `json:"status"`
			Description string `json:"description"`
		}
		if err = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			err = fail("10", "the body is not JSON {docId, status, description}: %v", err)
			break
		}
		err = h.updateStatus(sys, body.DocID, strings.ToLower(body.Status), false)
	default:
		writeREST(w, http.StatusNotFound, 404, fmt.Sprintf("no operation %s %s", r.Method, r.URL.Path), nil)
		return
	}
	if err != nil {
		st, code, msg := restCode(err)
		writeREST(w, st, code, msg, nil)
		return
	}
	writeREST(w, http.StatusOK, 0, "OK", data)
}

// login takes a JSON or form body of username and password.
func (h *Hub) login(w http.ResponseWriter, r *http.Request) {
	var c struct{ Username, Password string }
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		r.ParseForm()
		c.Username, c.Password = r.PostForm.Get("username"), r.PostForm.Get("password")
	} else {
		json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&c)
	}
	want, ok := h.opts.Accounts[c.Username]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(c.Password)) != 1 {
		writeREST(w, http.StatusUnauthorized, 401, "wrong user name or password", nil)
		return
	}
	tok := rand.Text()
	h.mu.Lock()
	h.tokens[tok] = h.opts.Now().Add(h.opts.TokenTTL)
	h.mu.Unlock()
	writeREST(w, http.StatusOK, 0, "OK", map[string]any{"token": tok, "expiresIn": int(h.opts.TokenTTL / time.Second)})
}

// restAuth checks the bearer token, then the system's id and secret.
func (h *Hub) restAuth(r *http.Request) (System, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	h.mu.Lock()
	exp, known := h.tokens[tok]
	sys, found := h.systems[r.Header.Get("X-SystemId")]
	h.mu.Unlock()
	if !ok || !known || !h.opts.Now().Before(exp) {
		return System{}, fail("401", "the bearer token is missing, unknown or expired")
	}
	if !found || subtle.ConstantTimeCompare([]byte(sys.Secret), []byte(r.Header.Get("X-SecretKey"))) != 1 {
		return System{}, fail("15", "wrong SystemId or SecretKey")
	}
	return sys, nil
}

// restSend stores a package sent as a multipart file part: its sender and
// kind are read from its own header.
func (h *Hub) restSend(r *http.Request, sys System, f Faults) (string, error) {
	up, err := h.readUpload(r, "", true, f)
	if err != nil {
		return "", err
	}
	defer up.discard()
	pkg, err := up.peek()
	if err != nil {
		return "", fail("22", "the upload is not an edXML package: %v", err)
	}
	if !slices.Contains(sys.Codes, pkg.From) {
		return "", fail("19", "sender %s is not registered for system %s", pkg.From, sys.SystemID)
	}
	mt := axis.MessageEdoc
	if pkg.Kind == envelope.KindStatus {
		mt = axis.MessageStatus
	}
	return h.store(pkg.From, mt, nil, pkg, up, "18")
}

// restItem is an entry of the received list.
type restItem struct {
	DocID       string `json:"docId"`
	From        string `json:"from"`
	To          string `json:"to"`
	MessageType string `json:"messageType"`
	Created     string `json:"created"`
	Status      string `json:"status"`
}

// window lists every package to the system's codes created within the
// days fromDate to toDate (yyyy/MM/dd, Vietnam time, both included), taken
// or not: the dialect's list is a window, not a queue.
func (h *Hub) window(sys System, q map[string][]string) ([]restItem, error) {
	day := func(name string) (time.Time, error) {
		v := ""
		if len(q[name]) > 0 {
			v = q[name][0]
		}
		t, err := time.ParseInLocation("2006/01/02", v, envelope.Vietnam)
		if err != nil {
			return t, fail("10", "%s %q: want yyyy/MM/dd", name, v)
		}
		return t, nil
	}
	from, err := day("fromDate")
	if err != nil {
		return nil, err
	}
	to, err := day("toDate")
	if err != nil {
		return nil, err
	}
	mt := ""
	if len(q["messageType"]) > 0 {
		mt = q["messageType"][0]
	}
	to = to.AddDate(0, 0, 1)
	items := []restItem{}
	err = h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bDocs).ForEach(func(_, v []byte) error {
			var d doc
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if d.Created.Before(from) || !d.Created.Before(to) || (mt != "" && !strings.EqualFold(d.MessageType, mt)) {
				return nil
			}
			for _, code := range sys.Codes {
				if rc := d.Recipients[code]; rc != nil {
					items = append(items, restItem{DocID: d.DocID, From: d.From, To: code, MessageType: d.MessageType,
						Created: d.Created.In(envelope.Vietnam).Format(listTime), Status: rc.Status})
				}
			}
			return nil
		})
	})
	return items, err
}
