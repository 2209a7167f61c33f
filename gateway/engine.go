package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// The engine's API: what every edge (the local API, the spool, a console)
// may ask of the engine, in localapi's terms, never the store's. Each call
// takes the Caller, so the rule of which client sees which agency is kept
// here, once, whatever the edge.

// Caller is who asks the engine.
type Caller = localapi.Caller

// allows says whether c may act for an agency.
func allows(c Caller, code string) bool { return c.Allows == nil || c.Allows(code) }

// unscoped refuses a token scoped to some agencies what concerns the
// whole gateway; what names it, with its verb ("the summary is").
func unscoped(c Caller, what string) error {
	if c.Allows != nil {
		return fmt.Errorf("%w: client %s may act only for its own agencies; %s the whole gateway's (an unscoped token in api.tokens)", ErrForbidden, c.Name, what)
	}
	return nil
}

// forbidden is the answer for a record of an agency outside the scope.
func forbidden(c Caller, code string) error {
	return fmt.Errorf("%w: client %s may act only for its own agencies, not for %s (api.tokens scope)", ErrForbidden, c.Name, code)
}

// edge is an error as an edge answers it: a store that cannot be reached
// now is ErrUnavailable (try again), whatever the store.
func edge(err error) error {
	if errors.Is(err, queue.ErrUnavailable) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Config is the configuration the engine runs with, for edges that need
// its limits and secrets.
func (g *Gateway) Config() conf.Config { return g.cfg }

// Logger is the daemon's log, for edges that report what they refused
// under their own component.
func (g *Gateway) Logger() zerolog.Logger { return g.base }

// ObserveRequest counts an answer of the local API by route and status.
func (g *Gateway) ObserveRequest(route string, code int) {
	g.m.apiRequests.WithLabelValues(route, itoa(int64(code))).Inc()
}

// Precheck refuses metadata that cannot be sent before any file of a
// submission is read, so a bad request fails fast and cheap.
func (g *Gateway) Precheck(m *envelope.Metadata) error { return g.out.precheck(m) }

// SpoolUpload writes an uploaded file to the engine's scratch folder, so
// an upload is never held whole in memory; the caller removes the file.
func (g *Gateway) SpoolUpload(r io.Reader) (path string, err error) {
	_, path, err = spoolPart(r, g.out.scratch)
	return path, err
}

// Submit signs and queues a document for the caller; Existing is set when
// the same DocumentId was submitted before and nothing new was queued.
func (g *Gateway) Submit(c Caller, meta *envelope.Metadata, files []envelope.Attachment) (localapi.Accepted, error) {
	rec, existed, err := g.out.Submit(Submission{Meta: meta, Files: files, Client: c.Name, Allowed: c.Allows})
	if err != nil {
		return localapi.Accepted{}, edge(err)
	}
	return localapi.Accepted{ID: rec.ID, DocumentID: readOut(rec).DocumentID, Existing: existed}, nil
}

// DocumentQuery selects outbound documents.
type DocumentQuery = localapi.DocumentQuery

// Documents is a page of the caller's documents, newest first, filtered
// before the limit so a page is full while matches remain, and the next
// page's cursor ("" on the last).
func (g *Gateway) Documents(ctx context.Context, c Caller, q DocumentQuery) ([]localapi.Document, string, error) {
	f := queue.Filter{Dir: queue.Outbound, Limit: cmp.Or(q.Limit, 100), After: q.After, Since: q.Since, Until: q.Until}
	var tests []func(*queue.Record) bool
	switch q.State {
	case "":
	case localapi.StateSent, localapi.StateDiscarded:
		f.States = []queue.State{queue.Done}
		tests = append(tests, func(rec *queue.Record) bool {
			return (rec.Meta[metaDiscarded] != "") == (q.State == localapi.StateDiscarded)
		})
	case localapi.StateDead:
		f.States = []queue.State{queue.Dead}
	case localapi.StateSending:
		f.States = []queue.State{queue.Leased}
	case localapi.StateAccepted, localapi.StateRetry:
		f.States = []queue.State{queue.Ready}
		tests = append(tests, func(rec *queue.Record) bool { return documentView(rec).State == q.State })
	default:
		return nil, "", envelope.Problems{{Path: "state", Rule: "must be accepted, sending, retry, sent, dead or discarded", Value: q.State}}
	}
	switch q.Kind {
	case "":
	case string(kindDocument), string(kindStatus):
		tests = append(tests, func(rec *queue.Record) bool { return rec.Meta[metaKind] == q.Kind })
	default:
		return nil, "", envelope.Problems{{Path: "kind", Rule: "must be document or status", Value: q.Kind}}
	}
	if q.Agency != "" {
		tests = append(tests, func(rec *queue.Record) bool { return g.agencyOfDocument(rec) == q.Agency })
	}
	if q.To != "" {
		tests = append(tests, func(rec *queue.Record) bool { return readOut(rec).sentTo(q.To) })
	}
	// The scope is part of the query: a page holds only the caller's
	// agencies' documents, and is full.
	tests = append(tests, func(rec *queue.Record) bool { return allows(c, g.agencyOfDocument(rec)) })
	f.Match = func(rec *queue.Record) bool {
		for _, ok := range tests {
			if !ok(rec) {
				return false
			}
		}
		return true
	}
	recs, next, err := queue.List(ctx, g.store, f)
	if errors.Is(err, queue.ErrInvalid) {
		return nil, "", envelope.Problems{{Path: "after", Rule: "must be the cursor a previous page returned", Value: q.After}}
	}
	if err != nil {
		return nil, "", edge(err)
	}
	out := make([]localapi.Document, 0, len(recs))
	for _, rec := range recs {
		out = append(out, *documentView(rec))
	}
	return out, next, nil
}

// scopedDocument is the outbound record id, when the caller's scope covers
// the agency it was sent as.
func (g *Gateway) scopedDocument(ctx context.Context, c Caller, id string) (*queue.Record, error) {
	rec, err := g.out.document(ctx, id)
	if err != nil {
		return nil, edge(err)
	}
	if a := g.agencyOfDocument(rec); !allows(c, a) {
		return nil, forbidden(c, a)
	}
	return rec, nil
}

// Document is one of the caller's outbound documents.
func (g *Gateway) Document(ctx context.Context, c Caller, id string) (*localapi.Document, error) {
	rec, err := g.scopedDocument(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return documentView(rec), nil
}

// DocumentEvents is a document's history, oldest first.
func (g *Gateway) DocumentEvents(ctx context.Context, c Caller, id string) ([]localapi.Event, error) {
	rec, err := g.scopedDocument(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return g.events(ctx, rec.ID)
}

// Resend queues a dead document again.
func (g *Gateway) Resend(ctx context.Context, c Caller, id string) (*localapi.Document, error) {
	return g.act(ctx, c, id, func(id string) (*queue.Record, error) { return g.out.Resend(ctx, id, c.Name) })
}

// Discard gives a dead or waiting document up for good, with the reason.
func (g *Gateway) Discard(ctx context.Context, c Caller, id, reason string) (*localapi.Document, error) {
	return g.act(ctx, c, id, func(id string) (*queue.Record, error) { return g.out.Discard(ctx, id, c.Name, reason) })
}

// RetryNow sends a document waiting out its backoff at once.
func (g *Gateway) RetryNow(ctx context.Context, c Caller, id string) (*localapi.Document, error) {
	return g.act(ctx, c, id, func(id string) (*queue.Record, error) { return g.out.RetryNow(ctx, id, c.Name) })
}

// maxResend bounds one call's resends: after an outage of a day, a city's
// gateway may hold that many dead letters.
const maxResend = 10000

// ResendAll queues again every dead document of the caller's agencies
// that q picks: after an outage, one call instead of one per document.
func (g *Gateway) ResendAll(ctx context.Context, c Caller, q localapi.ResendQuery) (*localapi.Resent, error) {
	out := &localapi.Resent{IDs: []string{}}
	var ids []string
	dq := DocumentQuery{State: localapi.StateDead, Agency: q.Agency, Since: q.Since, Until: q.Until, Limit: 1000}
	for len(ids) <= maxResend {
		docs, next, err := g.Documents(ctx, c, dq)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			ids = append(ids, d.ID)
		}
		if next == "" {
			break
		}
		dq.After = next
	}
	if len(ids) > maxResend {
		ids, out.More = ids[:maxResend], true
	}
	for _, id := range ids {
		if _, err := g.out.Resend(ctx, id, c.Name); err != nil {
			if errors.Is(err, ErrConflict) {
				continue // resent by another call meanwhile
			}
			return out, edge(err)
		}
		out.Resent++
		out.IDs = append(out.IDs, id)
	}
	return out, nil
}

// Recall asks the recipients to give a sent document back (status 13).
func (g *Gateway) Recall(ctx context.Context, c Caller, id, reason string) (*localapi.Document, error) {
	return g.act(ctx, c, id, func(id string) (*queue.Record, error) { return g.out.Recall(ctx, id, reason) })
}

// Revoke withdraws a sent document with a revocation package.
func (g *Gateway) Revoke(ctx context.Context, c Caller, id, reason string) (*localapi.Document, error) {
	return g.act(ctx, c, id, func(id string) (*queue.Record, error) { return g.out.Revoke(ctx, id, reason) })
}

func (g *Gateway) act(ctx context.Context, c Caller, id string, do func(string) (*queue.Record, error)) (*localapi.Document, error) {
	if _, err := g.scopedDocument(ctx, c, id); err != nil {
		return nil, err
	}
	rec, err := do(id)
	if err != nil {
		return nil, edge(err)
	}
	return documentView(rec), nil
}

// InboxQuery selects inbox items.
type InboxQuery = localapi.InboxQuery

// Inbox is a page of the caller's inbox items, the most urgent then the
// oldest first, the next page's cursor ("" on the last), and a channel
// closed at the inbox's next change, for long polls.
func (g *Gateway) Inbox(c Caller, q InboxQuery) ([]localapi.InboxItem, string, <-chan struct{}, error) {
	f := inboxFilter{state: q.State, from: q.From, since: q.Since, until: q.Until, limit: cmp.Or(q.Limit, 100)}
	switch q.State {
	case "", localapi.InboxNew, localapi.InboxAnswered, localapi.InboxRecall, localapi.InboxQuarantined:
	default:
		return nil, "", nil, envelope.Problems{{Path: "state", Rule: "must be new, answered, recall or quarantined", Value: q.State}}
	}
	if q.After != "" {
		k, ok := decodeInboxCursor(q.After)
		if !ok {
			return nil, "", nil, envelope.Problems{{Path: "after", Rule: "must be the cursor a previous page returned", Value: q.After}}
		}
		f.after = &k
	}
	f.allow = func(it *localapi.InboxItem) bool {
		a := g.agencyOfItem(it)
		return allows(c, a) && (q.Agency == "" || a == q.Agency)
	}
	items, next, changed := g.inbox.list(f)
	if items == nil {
		items = []localapi.InboxItem{}
	}
	return items, next, changed, nil
}

// InboxItem is one of the caller's inbox items.
func (g *Gateway) InboxItem(c Caller, id string) (*localapi.InboxItem, error) {
	item, ok := g.inbox.get(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if a := g.agencyOfItem(item); !allows(c, a) {
		return nil, forbidden(c, a)
	}
	return item, nil
}

// InboxEvents is the history of the package an inbox item came from.
func (g *Gateway) InboxEvents(ctx context.Context, c Caller, id string) ([]localapi.Event, error) {
	item, err := g.InboxItem(c, id)
	if err != nil {
		return nil, err
	}
	return g.events(ctx, recordOf(item.ID))
}

// InboxFile opens file n (from 1) of an inbox item; the caller closes it.
func (g *Gateway) InboxFile(c Caller, id string, n int) (*localapi.File, *os.File, error) {
	if _, err := g.InboxItem(c, id); err != nil {
		return nil, nil, err
	}
	return g.inbox.file(id, n)
}

// Answer sends the sender a status for an inbox item.
func (g *Gateway) Answer(c Caller, id string, req localapi.StatusRequest) (*localapi.InboxItem, error) {
	if _, err := g.InboxItem(c, id); err != nil {
		return nil, err
	}
	item, err := g.in.Answer(id, req)
	return item, edge(err)
}

func (g *Gateway) events(ctx context.Context, id string) ([]localapi.Event, error) {
	evs, err := queue.Events(ctx, g.store, id)
	if err != nil {
		return nil, edge(err)
	}
	out := make([]localapi.Event, 0, len(evs))
	for _, ev := range evs {
		out = append(out, eventView(ev))
	}
	return out, nil
}

// Agencies are the configured agencies the caller may act for, each with
// its key and its waiting documents.
func (g *Gateway) Agencies(ctx context.Context, c Caller) ([]localapi.ServedAgency, error) {
	cr := g.creds.Load()
	queued := map[string]int{}
	oldest := map[string]time.Time{}
	groups, err := g.store.Groups(ctx, queue.Outbound, queue.Ready)
	if err != nil {
		return nil, edge(err)
	}
	for _, gs := range groups {
		queued[gs.Group], oldest[gs.Group] = gs.Count, gs.Oldest
	}
	out := []localapi.ServedAgency{}
	for _, code := range cr.agencies.codes() {
		if !allows(c, code) {
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
	return out, nil
}

// SearchDirectory finds agencies of the axis directory by code or name.
func (g *Gateway) SearchDirectory(q string, limit int) []localapi.Agency {
	out := []localapi.Agency{}
	for _, e := range g.dir.Search(q, cmp.Or(max(limit, 0), 20)) {
		out = append(out, g.agencyView(e))
	}
	return out
}

// Agency is one agency of the axis directory.
func (g *Gateway) Agency(code string) (*localapi.Agency, error) {
	e, ok := g.dir.Lookup(code)
	if !ok {
		return nil, fmt.Errorf("%w: agency %s", ErrNotFound, code)
	}
	a := g.agencyView(e)
	return &a, nil
}

// agencyView is a directory entry as the API shows it, marked when ours.
func (g *Gateway) agencyView(e directory.Entry) localapi.Agency {
	_, ours := g.creds.Load().agencies.serves(e.Code, g.dir)
	return localapi.Agency{Code: e.Code, Name: e.Name, Parent: e.Parent, Mail: e.Mail, Deleted: e.Deleted, Ours: ours}
}

// agencyOfDocument is the agency an outbound record was sent as.
func (g *Gateway) agencyOfDocument(r *queue.Record) string {
	return cmp.Or(readOut(r).From, g.cfg.Agency.Code)
}

// agencyOfItem is the agency an inbox item was delivered to.
func (g *Gateway) agencyOfItem(it *localapi.InboxItem) string {
	return cmp.Or(it.Agency, g.cfg.Agency.Code)
}
