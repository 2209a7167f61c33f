package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// Recall asks every recipient of a sent document to give it back (status
// 13); their 15 or 16 answers arrive as recipient states.
func (o *outbound) Recall(ctx context.Context, id, reason string) (*queue.Record, error) {
	r, err := o.document(ctx, id)
	if err != nil {
		return nil, err
	}
	rec, err := sentDocument(r, "recalled")
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "Đề nghị thu hồi văn bản"
	}
	// Marked recalled in the commit of each 13, so no answer to it can
	// arrive before the document says it was recalled.
	for _, to := range rec.To {
		// The agency asked, by which the axis routes statuses, as the
		// SDK's library writes a recall.
		rf := envelope.ResponseFor{OrganID: to, Code: rec.Notation, DocumentID: rec.DocumentID, PromulgationDate: rec.Promulgated}
		ab := &about{id: id, meta: func(string) map[string]string { return markRecalled }, kind: evRecall, recipient: to,
			attrs: []string{atDescription, reason}}
		if _, err := o.queueStatus(rec.From, to, rf, envelope.StatusRecall, reason, nil, r.Priority, ab); err != nil {
			return nil, err
		}
	}
	o.log.Warn().Str("id", id).Str("document_id", rec.DocumentID).Strs("to", rec.To).Msg("recall requested")
	return queue.Get(ctx, o.store, id)
}

// sentDocument refuses what cannot be recalled or revoked: a status
// package, a revocation, or a document the axis does not hold yet.
func sentDocument(r *queue.Record, what string) (outRecord, error) {
	rec := readOut(r)
	switch {
	case rec.Kind != kindDocument:
		return rec, fmt.Errorf("%w: %s is a status package; only a document can be %s", ErrConflict, r.ID, what)
	case rec.Business == envelope.BusinessRevoke:
		return rec, fmt.Errorf("%w: %s is itself a revocation", ErrConflict, r.ID)
	case r.State != queue.Done:
		return rec, fmt.Errorf("%w: the document has not been sent yet (state %s)", ErrConflict, documentView(r).State)
	}
	return rec, nil
}

// Revoke withdraws a sent document with a revocation package, as the axis
// SDK's library writes one: business type 1 under the original's
// DocumentId and Code, ResponseFor naming the original, no Bussiness
// DocumentId and no attachments; as urgent as the original. Each recipient
// answers 15 (agreed) or 16 (refused), shown on the original.
func (o *outbound) Revoke(ctx context.Context, id, reason string) (*queue.Record, error) {
	r, err := o.document(ctx, id)
	if err != nil {
		return nil, err
	}
	rec, err := sentDocument(r, "revoked")
	if err != nil {
		return nil, err
	}
	key := outDocumentKey(rec.DocumentID) + "|" + strconv.Itoa(int(envelope.BusinessRevoke))
	if done, err := queue.GetByKey(ctx, o.store, queue.Outbound, key); err == nil {
		return done, nil
	}
	if err := o.signable(rec.From); err != nil {
		return nil, err
	}
	orig, err := o.readSent(ctx, r)
	if err != nil || orig.Document == nil {
		return nil, fmt.Errorf("read the sent package of %s: %v", id, err)
	}
	if reason == "" {
		reason = "Thu hồi văn bản"
	}
	h := orig.Document.Header
	h.Subject = truncate("Thu hồi: "+h.Subject, 480)
	sender := cmp.Or(rec.From, o.me.OrganID)
	h.ResponseFor = []envelope.ResponseFor{{OrganID: sender, Code: rec.Notation, DocumentID: rec.DocumentID, PromulgationDate: rec.Promulgated}}
	paper := 0
	doc := &envelope.Document{
		Header:   h,
		Trace:    []envelope.TraceHeader{{OrganID: sender, Timestamp: o.clock.Now().In(envelope.Vietnam).Truncate(time.Second)}},
		Business: &envelope.Business{DocType: envelope.BusinessRevoke, Reason: reason, Paper: &paper},
	}
	ab := &about{id: id, meta: func(string) map[string]string { return markRecalled }, kind: localapi.ChangeRevoked, attrs: []string{atReason, reason}}
	out, _, err := o.signAndPut(&envelope.Package{Kind: envelope.KindDocument, Document: doc}, key, r.Priority, ab, outRecord{
		From: rec.From, Kind: kindDocument, MessageType: axis.MessageEdoc, DocumentID: rec.DocumentID, To: rec.To, Subject: h.Subject,
		Notation: rec.Notation, Title: h.Subject, Client: rec.Client, Promulgated: rec.Promulgated, Business: envelope.BusinessRevoke,
	})
	if err != nil {
		return nil, err
	}
	o.log.Warn().Str("id", id).Str("revocation_id", out.ID).Str("document_id", rec.DocumentID).Strs("to", rec.To).Msg("revocation queued")
	return out, nil
}

// Resend brings a dead outbound record back to the queue.
func (o *outbound) Resend(ctx context.Context, id, client string) (*queue.Record, error) {
	rec, err := o.document(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State != queue.Dead {
		return nil, fmt.Errorf("%w: only a dead document can be resent (state %s)", ErrConflict, rec.State)
	}
	now := o.clock.Now()
	reason := "resent by " + cmp.Or(client, "the legacy system")
	err = o.store.Update(ctx, func(tx queue.Tx) (err error) {
		if rec, err = tx.Resend(now, id, reason); err == nil {
			tx.Emit(event(id, evResent, "", now, atReason, reason, atClient, client))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	o.log.Info().Str("id", id).Str("client", client).Msg("dead letter resent")
	o.wake.notify()
	return rec, nil
}

// Discard gives a dead or waiting document up for good: it is never sent,
// and stays in the history with the reason and who gave it up. One being
// sent now must end its attempt first.
func (o *outbound) Discard(ctx context.Context, id, client, reason string) (*queue.Record, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, envelope.Problems{{Path: "reason", Rule: "is required: say why the document is given up"}}
	}
	rec, err := o.document(ctx, id)
	if err != nil {
		return nil, err
	}
	switch rec.State {
	case queue.Leased:
		return nil, fmt.Errorf("%w: %s is being sent now; discard it once the attempt ends", ErrConflict, id)
	case queue.Done:
		return nil, fmt.Errorf("%w: %s was sent or discarded already; recall or revoke a sent document instead", ErrConflict, id)
	}
	now := o.clock.Now()
	err = o.store.Update(ctx, func(tx queue.Tx) (err error) {
		rec, err = endByHand(tx, now, rec, "discard", map[string]string{metaDiscarded: reason}, event(id, evDiscarded, "", now, atReason, reason, atClient, client))
		return err
	})
	if err != nil {
		return nil, err
	}
	o.log.Warn().Str("id", id).Str("client", client).Str("reason", reason).Msg("document discarded: it will not be sent")
	return rec, nil
}

// endByHand finishes, in tx, a dead or waiting record an operator gives
// up: the queue only finishes a leased record, so it is leased in this
// same commit (a dead one put back first, "to" the action), finished
// with meta, and ev names who and why.
func endByHand(tx queue.Tx, now time.Time, r *queue.Record, to string, meta map[string]string, ev queue.Event) (*queue.Record, error) {
	if r.State == queue.Dead {
		if _, err := tx.Resend(now, r.ID, "to "+to); err != nil {
			return nil, err
		}
	}
	l, err := tx.LeaseRecord(now, r.ID)
	if err != nil {
		return nil, err
	}
	done, err := tx.Finish(now, r.ID, l.Lease, meta)
	if err != nil {
		return nil, err
	}
	tx.Emit(ev)
	return done, nil
}

// RetryNow makes a document waiting out its backoff due now, as one more
// attempt.
func (o *outbound) RetryNow(ctx context.Context, id, client string) (*queue.Record, error) {
	rec, err := o.document(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State != queue.Ready {
		return nil, fmt.Errorf("%w: only a queued document can be retried now (state %s; a dead one is resent)", ErrConflict, rec.State)
	}
	now := o.clock.Now()
	err = o.store.Update(ctx, func(tx queue.Tx) (err error) {
		l, err := tx.LeaseRecord(now, id)
		if err != nil {
			return err
		}
		if rec, err = tx.Reschedule(now, id, l.Lease, now, l.LastError); err != nil {
			return err
		}
		tx.Emit(event(id, evRetryNow, "", now, atClient, client))
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.log.Info().Str("id", id).Str("client", client).Msg("retry asked for now")
	o.wake.notify()
	return rec, nil
}

// document returns an outbound record by id.
func (o *outbound) document(ctx context.Context, id string) (*queue.Record, error) {
	rec, err := queue.Get(ctx, o.store, id)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && rec.Dir != queue.Outbound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return rec, err
}

// documentView is the legacy system's view of an outbound record.
func documentView(r *queue.Record) *localapi.Document {
	rec := readOut(r)
	d := &localapi.Document{
		ID: r.ID, DocumentID: rec.DocumentID, Kind: string(rec.Kind), Subject: rec.Subject,
		Priority: r.Priority, Attempts: r.Attempts, LastError: r.LastError, AxisDocID: rec.AxisDocID,
		Created: r.Created, Updated: r.Updated, Recalled: rec.Recalled, Recipients: []localapi.Recipient{},
	}
	switch r.State {
	case queue.Done:
		d.State = localapi.StateSent
		if why := r.Meta[metaDiscarded]; why != "" {
			d.State, d.Discarded = localapi.StateDiscarded, why
		}
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
	if !rec.SentAt.IsZero() {
		t := rec.SentAt
		d.SentAt = &t
	}
	for _, to := range rec.To {
		rc := localapi.Recipient{OrganID: to}
		if d.State == localapi.StateSent {
			rc.StatusCode = "sent"
		}
		for _, got := range recipientsOf(r) {
			if got.OrganID == to {
				t := got.UpdatedAt.UTC()
				rc.StatusCode, rc.Description, rc.UpdatedAt = got.Status, got.Description, &t
				for code, at := range got.Times {
					if rc.Codes == nil {
						rc.Codes = map[string]time.Time{}
					}
					rc.Codes[code] = at.UTC()
				}
			}
		}
		d.Recipients = append(d.Recipients, rc)
	}
	return d
}

// readSent reads a package this gateway sent, for what its header said;
// its attachments go to a scratch folder, removed at once.
func (o *outbound) readSent(ctx context.Context, r *queue.Record) (*envelope.Package, error) {
	src, err := o.store.OpenPayload(ctx, r)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	at, size, err := payloadAt(src)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.scratch, "sent-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return envelope.ParseAt(at, size, envelope.ParseOptions{FileDir: dir})
}
