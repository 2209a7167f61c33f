package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/localapi"
)

// The lists and histories: pages filtered before their limit, a cursor
// to the next, and every parameter checked by name.

// documentParams are the query parameters GET /v1/documents reads.
var documentParams = []string{"state", "agency", "kind", "to", "since", "until", "limit", "after"}

// listDocuments answers GET /v1/documents: newest first, a full page while
// matching documents remain; the next page's cursor is in the Link and
// X-Next-Cursor headers.
func (s *server) listDocuments(w http.ResponseWriter, r *http.Request) {
	l := readList(r, documentParams)
	q := localapi.DocumentQuery{State: l.q.Get("state"), Kind: l.q.Get("kind"), Agency: l.code("agency"), To: l.code("to"),
		Since: l.instant("since"), Until: l.instant("until"), Limit: l.limit(), After: l.q.Get("after")}
	if err := l.err(); err != nil {
		fail(w, err)
		return
	}
	docs, next, err := s.g.Documents(r.Context(), callerOf(r), q)
	if err != nil {
		fail(w, err)
		return
	}
	setNext(w, r, l.q, next)
	writeJSON(w, http.StatusOK, docs)
}

// inboxParams are the query parameters GET /v1/inbox reads.
var inboxParams = []string{"state", "agency", "from", "since", "until", "limit", "after", "wait"}

// listInbox answers GET /v1/inbox: the most urgent first, then the
// oldest, as a document system works through it. With wait, an empty
// page waits for an item.
func (s *server) listInbox(w http.ResponseWriter, r *http.Request) {
	l := readList(r, inboxParams)
	q := localapi.InboxQuery{State: l.q.Get("state"), Agency: l.code("agency"), From: l.code("from"),
		Since: l.instant("since"), Until: l.instant("until"), Limit: l.limit(), After: l.q.Get("after")}
	var wait time.Duration
	if v := l.q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			l.bad("wait", "must be a duration up to 5m, like 30s", v)
		}
		wait = d
	}
	if err := l.err(); err != nil {
		fail(w, err)
		return
	}
	c := callerOf(r)
	items, next, changed, err := s.g.Inbox(c, q)
	if err != nil {
		fail(w, err)
		return
	}
	if len(items) == 0 && wait > 0 {
		// Waits out the whole wait unless an item this client may see
		// arrives: another agency's mail must not end the poll early.
		t := time.NewTimer(wait)
		defer t.Stop()
	poll:
		for len(items) == 0 {
			select {
			case <-changed:
				if items, next, changed, err = s.g.Inbox(c, q); err != nil {
					fail(w, err)
					return
				}
			case <-t.C:
				break poll
			case <-r.Context().Done():
				return
			}
		}
	}
	setNext(w, r, l.q, next)
	writeJSON(w, http.StatusOK, items)
}

// setNext names the next page, when there is one.
func setNext(w http.ResponseWriter, r *http.Request, q url.Values, next string) {
	if next == "" {
		return
	}
	q.Set("after", next)
	w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	w.Header().Set("X-Next-Cursor", next)
}

// listQuery reads the parameters the lists share, gathering a problem
// for each one it cannot use, so one answer names them all.
type listQuery struct {
	q  url.Values
	ps envelope.Problems
}

// readList starts reading a list's query; a parameter not in known is a
// problem.
func readList(r *http.Request, known []string) *listQuery {
	l := &listQuery{q: r.URL.Query()}
	for k := range l.q {
		if !slices.Contains(known, k) {
			l.bad(k, "is not a parameter of this list: use "+strings.Join(known, ", "), "")
		}
	}
	return l
}

func (l *listQuery) bad(param, rule, value string) {
	l.ps = append(l.ps, envelope.Problem{Path: param, Rule: rule, Value: value})
}

// limit is the page size: 100 unless given, from 1 to 1000.
func (l *listQuery) limit() int {
	v := l.q.Get("limit")
	if v == "" {
		return 100
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		l.bad("limit", "must be a whole number from 1 to 1000", v)
	}
	return n
}

// code is an agency identifier code, or "".
func (l *listQuery) code(param string) string {
	v := l.q.Get(param)
	if v != "" {
		if _, err := directory.ParseCode(v); err != nil {
			l.bad(param, "must be an agency identifier code such as 000.00.00.H26", v)
		}
	}
	return v
}

// instant is a time (RFC 3339) or a date's first moment in Vietnam; zero
// when not given.
func (l *listQuery) instant(param string) time.Time {
	v := l.q.Get(param)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	t, err := time.ParseInLocation(time.DateOnly, v, envelope.Vietnam)
	if err != nil {
		l.bad(param, "must be a time (RFC 3339) or a date (YYYY-MM-DD, Vietnam time)", v)
	}
	return t
}

// err is the problems found, or nil.
func (l *listQuery) err() error {
	if len(l.ps) == 0 {
		return nil
	}
	return l.ps
}
