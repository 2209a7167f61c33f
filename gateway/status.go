package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// Errors for requests about records that cannot take them.
var (
	ErrNotFound = errors.New("no such record")
	ErrConflict = errors.New("not possible in the record's state")
)

// queueStatus builds, signs and stores a status package to one agency. A
// status already queued for the same document, recipient and code is not
// queued twice; 05 (processing) may repeat.
func (g *Gateway) queueStatus(to string, rf envelope.ResponseFor, code envelope.StatusCode, desc string, staff *envelope.StaffInfo, prio int) (*queue.Record, error) {
	now := g.clock.Now()
	st := &envelope.Status{From: g.me, ResponseFor: rf, StaffInfo: staff, StatusCode: code, Description: desc, Timestamp: now.In(envelope.Vietnam).Truncate(time.Second)}
	key := "status:" + to + "|" + rf.DocumentID + "|" + string(code)
	if code == envelope.StatusProcessing {
		key += "|" + strconv.FormatInt(now.UnixNano(), 10)
	}
	if r, err := g.store.GetByKey(queue.Outbound, key); err == nil {
		return r, nil
	}
	start := time.Now()
	raw, err := g.creds.Load().signer.SignBytes(&envelope.Package{Kind: envelope.KindStatus, Status: st}, envelope.BuildOptions{})
	if err != nil {
		return nil, fmt.Errorf("sign status %s: %w", code, err)
	}
	g.m.signDuration.Observe(time.Since(start).Seconds())
	rec, existed, err := g.put(queue.Item{
		Dir: queue.Outbound, Key: key, Priority: prio, Payload: raw,
		Meta: map[string]string{
			metaKind: "status", metaMessageType: axis.MessageStatus, metaTo: to, metaDocumentID: rf.DocumentID,
			metaStatusCode: string(code), metaNotation: rf.Code, metaTitle: "Status " + string(code),
		},
	})
	if err != nil {
		return nil, err
	}
	if !existed {
		g.log.Info().Str("id", rec.ID).Str("to", to).Str("document_id", rf.DocumentID).Str("status", string(code)).Msg("status queued")
		g.wakeOut.notify()
	}
	return rec, nil
}

// receiveStatus applies a status package: a recall request (13) marks the
// received document; any other code moves the recipient's state of our
// outbound document.
func (g *Gateway) receiveStatus(r *queue.Record, st *envelope.Status, log zerolog.Logger) {
	code, from, docID := st.StatusCode, st.From.OrganID, st.ResponseFor.DocumentID
	log = log.With().Str("status", string(code)).Str("from", from).Str("document_id", docID).Logger()
	g.m.statuses.WithLabelValues("in", string(code)).Inc()
	g.m.messages.WithLabelValues("in", "status").Inc()
	meta := map[string]string{metaInbox: "status", metaKind: "status", metaStatusCode: string(code), metaFrom: from, metaDocumentID: docID}
	if code == envelope.StatusRecall {
		g.recallRequested(from, docID, st.Description, log)
		g.finishInbound(r, meta, log)
		return
	}
	rec, err := g.store.GetByKey(queue.Outbound, "doc:"+docID)
	if err != nil {
		g.finishInbound(r, meta, log)
		log.Warn().Msg("status about a document this gateway has no record of: ignored")
		return
	}
	if !strings.Contains(","+rec.Meta[metaTo]+",", ","+from+",") {
		g.finishInbound(r, meta, log)
		log.Warn().Msg("status from an agency the document was not sent to: ignored")
		return
	}
	var current string
	rec, applied, err := g.store.UpdateRecipient(rec.ID, queue.Recipient{OrganID: from, Status: string(code), Description: st.Description, UpdatedAt: st.Timestamp},
		func(cur queue.Recipient) bool { current = cur.Status; return advances(cur.Status, string(code)) })
	if err != nil {
		g.retryInbound(r, err, log)
		return
	}
	g.finishInbound(r, meta, log)
	if !applied {
		log.Info().Str("current", current).Msg("status older than the recipient's current one: kept the current")
		return
	}
	ev := log.Info()
	if code == envelope.StatusRefused || code == envelope.StatusRecallRefused {
		ev = log.Warn().Str("description", st.Description)
	}
	ev.Str("outbound_id", rec.ID).Msg("recipient status: " + code.Name())
	g.hook.documentChanged(g.documentView(rec))
}

// advances reports whether a recipient's state may move from cur to next:
// 01 → 03 → 04 → 05 → 06 only forward (statuses may arrive out of order);
// 02 and the recall answers always count.
func advances(cur, next string) bool {
	rank := func(c string) int {
		switch c {
		case "01", "03", "04", "05", "06":
			return int(c[1] - '0')
		}
		return -1
	}
	rc, rn := rank(cur), rank(next)
	return rc < 0 || rn < 0 || rn >= rc
}

func (g *Gateway) recallRequested(from, docID, desc string, log zerolog.Logger) {
	r, err := g.store.GetByKey(queue.Inbound, "doc:"+from+"|"+docID)
	if err != nil {
		log.Warn().Msg("recall of a document this gateway never delivered: ignored")
		return
	}
	item, ok := g.inbox.get(r.ID)
	if !ok {
		log.Warn().Str("inbox_id", r.ID).Msg("recall of a document missing from the inbox: ignored")
		return
	}
	item.Recall, item.State = true, localapi.InboxRecall
	if desc != "" {
		item.Reason = desc
	}
	if err := g.writeItem(item); err != nil {
		log.Error().Err(err).Msg("record the recall request")
		return
	}
	g.inbox.put(item)
	log.Warn().Str("inbox_id", r.ID).Msg("sender asks for the document back: answer 15 (agree) or 16 (refuse)")
	g.hook.inboxChanged(item)
}

// Recall asks every recipient of a sent document to give it back (status
// 13); their 15 or 16 answers arrive as recipient states.
func (g *Gateway) Recall(id, reason string) (*queue.Record, error) {
	rec, err := g.outboundDocument(id)
	if err != nil {
		return nil, err
	}
	if rec.State != queue.Done {
		return nil, fmt.Errorf("%w: the document has not reached the axis yet (state %s)", ErrConflict, rec.State)
	}
	rf := envelope.ResponseFor{OrganID: g.me.OrganID, Code: rec.Meta[metaNotation], DocumentID: rec.Meta[metaDocumentID]}
	if reason == "" {
		reason = "Đề nghị thu hồi văn bản"
	}
	for _, to := range strings.Split(rec.Meta[metaTo], ",") {
		if _, err := g.queueStatus(to, rf, envelope.StatusRecall, reason, nil, rec.Priority); err != nil {
			return nil, err
		}
	}
	g.log.Warn().Str("id", id).Str("document_id", rf.DocumentID).Str("to", rec.Meta[metaTo]).Msg("recall requested")
	return g.store.SetMeta(id, map[string]string{metaRecalled: "1"})
}

// Resend brings a dead outbound record back to the queue.
func (g *Gateway) Resend(id string) (*queue.Record, error) {
	rec, err := g.outboundDocument(id)
	if err != nil {
		return nil, err
	}
	if rec.State != queue.Dead {
		return nil, fmt.Errorf("%w: only a dead document can be resent (state %s)", ErrConflict, rec.State)
	}
	rec, err = g.store.Resend(id, "resent by the legacy system")
	if err != nil {
		return nil, err
	}
	g.log.Info().Str("id", id).Msg("dead letter resent")
	g.wakeOut.notify()
	return rec, nil
}

func (g *Gateway) outboundDocument(id string) (*queue.Record, error) {
	rec, err := g.store.Get(id)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && rec.Dir != queue.Outbound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return rec, err
}

// answerable are the codes the legacy system may answer a document with.
var answerable = map[string]bool{"02": true, "03": true, "04": true, "05": true, "06": true, "15": true, "16": true}

// Answer sends the legacy system's business status about an inbox item
// back to its sender.
func (g *Gateway) Answer(id string, req localapi.StatusRequest) (*localapi.InboxItem, error) {
	item, ok := g.inbox.get(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if !answerable[req.Code] {
		return nil, envelope.Problems{{Path: "code", Rule: "must be one of 02, 03, 04, 05, 06, 15, 16", Value: req.Code}}
	}
	if item.State == localapi.InboxQuarantined {
		return nil, fmt.Errorf("%w: a quarantined package was already refused", ErrConflict)
	}
	rf := envelope.ResponseFor{OrganID: item.From, Code: item.CodeNumber + "/" + item.CodeNotation, DocumentID: item.DocumentID}
	if d, err := time.ParseInLocation("2006/01/02", item.Promulgated, envelope.Vietnam); err == nil {
		rf.PromulgationDate = envelope.DateOf(d)
	}
	var staff *envelope.StaffInfo
	if req.Staff != "" || req.Department != "" {
		staff = &envelope.StaffInfo{Staff: req.Staff, Department: req.Department}
	}
	desc := req.Description
	if desc == "" {
		desc = envelope.StatusCode(req.Code).Name()
	}
	if err := g.signable(); err != nil {
		return nil, err
	}
	rec, err := g.queueStatus(item.From, rf, envelope.StatusCode(req.Code), desc, staff, item.Priority)
	if err != nil {
		return nil, err
	}
	item.StatusCode, item.StatusID, item.State = req.Code, rec.ID, localapi.InboxAnswered
	if err := g.writeItem(item); err != nil {
		return nil, err
	}
	g.inbox.put(item)
	return item, nil
}

// documentView is the legacy system's view of an outbound record.
func (g *Gateway) documentView(r *queue.Record) *localapi.Document {
	d := &localapi.Document{
		ID: r.ID, DocumentID: r.Meta[metaDocumentID], Kind: r.Meta[metaKind], Subject: r.Meta[metaSubject],
		Priority: r.Priority, Attempts: r.Attempts, LastError: r.LastError, AxisDocID: r.Meta[metaAxisDocID],
		Created: r.Created, Updated: r.Updated, Recalled: r.Meta[metaRecalled] != "", Recipients: []localapi.Recipient{},
	}
	switch r.State {
	case queue.Done:
		d.State = localapi.StateSent
	case queue.Dead:
		d.State = localapi.StateDead
	case queue.Leased:
		d.State = localapi.StateSending
	default:
		d.State = localapi.StateAccepted
		if r.Attempts > 0 {
			d.State = localapi.StateRetry
			t := r.NextAttempt
			d.NextRetry = &t
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, r.Meta[metaSentAt]); err == nil {
		d.SentAt = &t
	}
	for _, to := range strings.Split(r.Meta[metaTo], ",") {
		if to == "" {
			continue
		}
		rc := localapi.Recipient{OrganID: to}
		if d.State == localapi.StateSent {
			rc.StatusCode = "sent"
		}
		for _, got := range r.Recipients {
			if got.OrganID == to {
				t := got.UpdatedAt
				rc.StatusCode, rc.Description, rc.UpdatedAt = got.Status, got.Description, &t
			}
		}
		d.Recipients = append(d.Recipients, rc)
	}
	return d
}
