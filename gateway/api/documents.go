package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
)

func (s *server) getDocument(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.Document(r.Context(), callerOf(r), r.PathValue("id")))
}

func (s *server) documentEvents(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.DocumentEvents(r.Context(), callerOf(r), r.PathValue("id")))
}

func (s *server) resendDocument(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.Resend(r.Context(), callerOf(r), r.PathValue("id")))
}

func (s *server) retryDocument(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.RetryNow(r.Context(), callerOf(r), r.PathValue("id")))
}

// resendAll resends the dead documents a JSON ResendQuery picks (an empty
// body: all of them).
func (s *server) resendAll(w http.ResponseWriter, r *http.Request) {
	var q localapi.ResendQuery
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&q); err != nil && err != io.EOF {
			fail(w, envelope.Problems{{Path: "body", Rule: "is not a JSON resend query: " + err.Error()}})
			return
		}
	}
	answer(w, http.StatusOK)(s.g.ResendAll(r.Context(), callerOf(r), q))
}

// withReason reads an optional {"reason": "..."} body, or the reason
// query parameter, and answers 202 with what the action returns.
func withReason[T any](act func(ctx context.Context, c localapi.Caller, id, reason string) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&body); err != nil && err != io.EOF {
				fail(w, envelope.Problems{{Path: "body", Rule: "is not JSON: " + err.Error()}})
				return
			}
		}
		if body.Reason == "" {
			body.Reason = r.URL.Query().Get("reason")
		}
		answer(w, http.StatusAccepted)(act(r.Context(), callerOf(r), r.PathValue("id"), body.Reason))
	}
}

func (s *server) getInbox(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.InboxItem(callerOf(r), r.PathValue("id")))
}

func (s *server) inboxEvents(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.InboxEvents(r.Context(), callerOf(r), r.PathValue("id")))
}

func (s *server) getInboxFile(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		fail(w, envelope.Problems{{Path: "n", Rule: "must be a file number from 1", Value: r.PathValue("n")}})
		return
	}
	f, fh, err := s.g.InboxFile(callerOf(r), r.PathValue("id"), n)
	if err != nil {
		fail(w, err)
		return
	}
	defer fh.Close()
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", contentDisposition(f.Name))
	if sum, err := hex.DecodeString(f.SHA256); err == nil {
		w.Header().Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":") // RFC 9530
	}
	w.Header().Set("Digest", "sha-256="+f.SHA256) // the earlier, non-standard form
	http.ServeContent(w, r, "", time.Time{}, fh)
}

func (s *server) postInboxStatus(w http.ResponseWriter, r *http.Request) {
	var req localapi.StatusRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		fail(w, envelope.Problems{{Path: "body", Rule: "is not a JSON status request: " + err.Error()}})
		return
	}
	answer(w, http.StatusAccepted)(s.g.Answer(callerOf(r), r.PathValue("id"), req))
}

func (s *server) listAgencies(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.Agencies(r.Context(), callerOf(r)))
}

func (s *server) searchDirectory(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	writeJSON(w, http.StatusOK, s.g.SearchDirectory(r.URL.Query().Get("q"), limit))
}

func (s *server) summary(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.Summary(r.Context(), callerOf(r)))
}

func (s *server) getAgency(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.Agency(r.PathValue("code")))
}

// answer writes what an engine call returned: the value with code, or
// the error's status.
func answer(w http.ResponseWriter, code int) func(any, error) {
	return func(v any, err error) {
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, code, v)
	}
}

// contentDisposition names a file as RFC 6266 asks: an ASCII fallback and
// the UTF-8 name in filename*, from a name already cleaned of path parts.
func contentDisposition(name string) string {
	var fallback, star strings.Builder
	for _, r := range name {
		switch {
		case r < 0x80 && r >= 0x20 && r != '"' && r != '\\' && r != 0x7f:
			fallback.WriteRune(r)
		default:
			fallback.WriteByte('_')
		}
	}
	for _, c := range []byte(name) {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			star.WriteByte(c)
		} else {
			fmt.Fprintf(&star, "%%%02X", c)
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + star.String()
}

func (s *server) inboundProblems(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.InboundProblems(r.Context(), callerOf(r)))
}

func (s *server) refetch(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusAccepted)(s.g.Refetch(r.Context(), callerOf(r), r.PathValue("id")))
}
