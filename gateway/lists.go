package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// The local API's lists and histories: pages filtered before their limit,
// a cursor to the next, and every parameter checked by name.

// listDocuments answers GET /v1/documents: newest first, a page of at
// most limit, filtered in the store's query so a page is full while
// matching documents remain; the next page's cursor is in the Link and
// X-Next-Cursor headers.
func (g *Gateway) listDocuments(w http.ResponseWriter, r *http.Request) {
	f, err := g.documentFilter(r)
	if err != nil {
		g.fail(w, err)
		return
	}
	recs, next, err := queue.List(r.Context(), g.store, f)
	if errors.Is(err, queue.ErrInvalid) {
		err = envelope.Problems{{Path: "after", Rule: "must be the cursor a previous page returned", Value: f.After}}
	}
	if err != nil {
		g.fail(w, err)
		return
	}
	out := make([]*localapi.Document, 0, len(recs))
	for _, rec := range recs {
		out = append(out, documentView(rec))
	}
	if next != "" {
		q := r.URL.Query()
		q.Set("after", next)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
		w.Header().Set("X-Next-Cursor", next)
	}
	writeJSON(w, http.StatusOK, out)
}

// documentParams are the query parameters GET /v1/documents reads.
var documentParams = []string{"state", "agency", "kind", "to", "since", "until", "limit", "after"}

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

// documentFilter reads GET /v1/documents's query into a store filter,
// naming every parameter it cannot use.
func (g *Gateway) documentFilter(r *http.Request) (queue.Filter, error) {
	l := readList(r, documentParams)
	f := queue.Filter{Dir: queue.Outbound, Limit: l.limit(), After: l.q.Get("after"), Since: l.instant("since"), Until: l.instant("until")}
	var tests []func(*queue.Record) bool
	switch want := l.q.Get("state"); want {
	case "":
	case localapi.StateSent:
		f.States = []queue.State{queue.Done}
	case localapi.StateDead:
		f.States = []queue.State{queue.Dead}
	case localapi.StateSending:
		f.States = []queue.State{queue.Leased}
	case localapi.StateAccepted, localapi.StateRetry:
		f.States = []queue.State{queue.Ready}
		tests = append(tests, func(rec *queue.Record) bool { return documentView(rec).State == want })
	default:
		l.bad("state", "must be accepted, sending, retry, sent or dead", want)
	}
	if v := l.q.Get("kind"); v != "" {
		if v != string(kindDocument) && v != string(kindStatus) {
			l.bad("kind", "must be document or status", v)
		}
		tests = append(tests, func(rec *queue.Record) bool { return rec.Meta[metaKind] == v })
	}
	if a := l.code("agency"); a != "" {
		tests = append(tests, func(rec *queue.Record) bool { return g.agencyOfDocument(rec) == a })
	}
	if to := l.code("to"); to != "" {
		tests = append(tests, func(rec *queue.Record) bool { return readOut(rec).sentTo(to) })
	}
	if err := l.err(); err != nil {
		return f, err
	}
	// The client's scope is part of the query: its pages hold only its
	// agencies' documents, and are full.
	c := clientOf(r)
	tests = append(tests, func(rec *queue.Record) bool { return c.allows(g.agencyOfDocument(rec)) })
	f.Match = func(rec *queue.Record) bool {
		for _, ok := range tests {
			if !ok(rec) {
				return false
			}
		}
		return true
	}
	return f, nil
}

// inboxParams are the query parameters GET /v1/inbox reads.
var inboxParams = []string{"state", "agency", "from", "since", "until", "limit", "after", "wait"}

// listInbox answers GET /v1/inbox: the most urgent first, then the
// oldest, as a document system works through it; a page of at most
// limit, filtered before the limit, the next page's cursor in the Link
// and X-Next-Cursor headers. With wait, an empty page waits for an item.
func (g *Gateway) listInbox(w http.ResponseWriter, r *http.Request) {
	l := readList(r, inboxParams)
	q := l.q
	f := inboxFilter{state: q.Get("state"), agency: l.code("agency"), from: l.code("from"), limit: l.limit(),
		since: l.instant("since"), until: l.instant("until")}
	switch f.state {
	case "", localapi.InboxNew, localapi.InboxAnswered, localapi.InboxRecall, localapi.InboxQuarantined:
	default:
		l.bad("state", "must be new, answered, recall or quarantined", f.state)
	}
	if v := q.Get("after"); v != "" {
		k, ok := decodeInboxCursor(v)
		if !ok {
			l.bad("after", "must be the cursor a previous page returned", v)
		}
		f.after = &k
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			l.bad("wait", "must be a duration up to 5m, like 30s", v)
		}
		wait = d
	}
	if err := l.err(); err != nil {
		g.fail(w, err)
		return
	}
	c := clientOf(r)
	f.allow = func(it *localapi.InboxItem) bool {
		a := g.agencyOfItem(it)
		return c.allows(a) && (f.agency == "" || a == f.agency)
	}
	items, next, changed := g.inbox.list(f)
	if len(items) == 0 && wait > 0 {
		// Waits out the whole wait unless an item this client may see
		// arrives: another agency's mail must not end the poll early.
		t := time.NewTimer(wait)
		defer t.Stop()
	poll:
		for len(items) == 0 {
			select {
			case <-changed:
				items, next, changed = g.inbox.list(f)
			case <-t.C:
				break poll
			case <-r.Context().Done():
				return
			}
		}
	}
	if items == nil {
		items = []localapi.InboxItem{}
	}
	if next != "" {
		q.Set("after", next)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
		w.Header().Set("X-Next-Cursor", next)
	}
	writeJSON(w, http.StatusOK, items)
}

// documentEvents answers GET /v1/documents/{id}/events: the document's
// history, oldest first.
func (g *Gateway) documentEvents(w http.ResponseWriter, r *http.Request) {
	rec, err := g.scopedDocument(r)
	if err != nil {
		g.fail(w, err)
		return
	}
	g.writeEvents(w, r, rec.ID)
}

// inboxEvents answers GET /v1/inbox/{id}/events: the history of the
// package the item came from, oldest first.
func (g *Gateway) inboxEvents(w http.ResponseWriter, r *http.Request) {
	item, err := g.scopedItem(r)
	if err != nil {
		g.fail(w, err)
		return
	}
	g.writeEvents(w, r, recordOf(item.ID))
}

func (g *Gateway) writeEvents(w http.ResponseWriter, r *http.Request, id string) {
	evs, err := queue.Events(r.Context(), g.store, id)
	if err != nil {
		g.fail(w, err)
		return
	}
	out := make([]localapi.Event, 0, len(evs))
	for _, ev := range evs {
		out = append(out, eventView(ev))
	}
	writeJSON(w, http.StatusOK, out)
}

// listAgencies answers GET /v1/agencies: the configured agencies the
// client's token covers, each with its key and its waiting documents.
func (g *Gateway) listAgencies(w http.ResponseWriter, r *http.Request) {
	c := clientOf(r)
	cr := g.creds.Load()
	queued := map[string]int{}
	oldest := map[string]time.Time{}
	groups, err := g.store.Groups(r.Context(), queue.Outbound, queue.Ready)
	if err != nil {
		g.fail(w, err)
		return
	}
	for _, gs := range groups {
		queued[gs.Group], oldest[gs.Group] = gs.Count, gs.Oldest
	}
	out := []localapi.ServedAgency{}
	for _, code := range cr.agencies.codes() {
		if !c.allows(code) {
			continue
		}
		org := cr.agencies.byCode[code]
		sa := localapi.ServedAgency{Code: code, Name: org.OrganName, Units: slices.Contains(cr.agencies.units, code), Queued: queued[code]}
		if t, ok := oldest[code]; ok {
			t = t.UTC()
			sa.Oldest = &t
		}
		_, own := cr.agencyKeys[code]
		switch s, err := cr.signerFor(code); {
		case err != nil:
			sa.Key = "none"
		default:
			sa.Key = "shared"
			if own || code == cr.agencies.primary {
				sa.Key = "own"
			}
			t := s.Certificate().NotAfter.UTC()
			sa.NotAfter = &t
		}
		out = append(out, sa)
	}
	writeJSON(w, http.StatusOK, out)
}
