package gateway

import (
	"errors"
	"fmt"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// Recall asks every recipient of a sent document to give it back (status
// 13); their 15 or 16 answers arrive as recipient states.
func (o *outbound) Recall(id, reason string) (*queue.Record, error) {
	r, err := o.document(id)
	if err != nil {
		return nil, err
	}
	if r.State != queue.Done {
		return nil, fmt.Errorf("%w: the document has not reached the axis yet (state %s)", ErrConflict, r.State)
	}
	rec := readOut(r)
	rf := envelope.ResponseFor{OrganID: o.me.OrganID, Code: rec.Notation, DocumentID: rec.DocumentID}
	if reason == "" {
		reason = "Đề nghị thu hồi văn bản"
	}
	for _, to := range rec.To {
		if _, err := o.queueStatus(to, rf, envelope.StatusRecall, reason, nil, r.Priority); err != nil {
			return nil, err
		}
	}
	o.log.Warn().Str("id", id).Str("document_id", rf.DocumentID).Strs("to", rec.To).Msg("recall requested")
	return o.store.SetMeta(id, markRecalled)
}

// Resend brings a dead outbound record back to the queue.
func (o *outbound) Resend(id string) (*queue.Record, error) {
	rec, err := o.document(id)
	if err != nil {
		return nil, err
	}
	if rec.State != queue.Dead {
		return nil, fmt.Errorf("%w: only a dead document can be resent (state %s)", ErrConflict, rec.State)
	}
	rec, err = o.store.Resend(id, "resent by the legacy system")
	if err != nil {
		return nil, err
	}
	o.log.Info().Str("id", id).Msg("dead letter resent")
	o.wake.notify()
	return rec, nil
}

// document returns an outbound record by id.
func (o *outbound) document(id string) (*queue.Record, error) {
	rec, err := o.store.Get(id)
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
