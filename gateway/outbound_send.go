package gateway

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"lienthong/gateway/axis"
	"lienthong/queue"
)

// axisSender is what the sending side needs of the axis.
type axisSender interface {
	SendEdoc(ctx context.Context, r axis.SendRequest) (string, error)
	GetSentEdocList(ctx context.Context, messageType, docID string) ([]axis.SentItem, error)
}

var _ axisSender = (*axis.Client)(nil)

// sender is one send slot: it leases the most urgent due record at or
// above minPriority and sends it on its agency's link. sends run on hard,
// which outlives ctx by the shutdown grace.
//
// After a send the axis took, the slot closes the record and leases the
// next in one commit. A record so leased is sent even when ctx has ended.
// A record whose link is paused (its breaker open) waits for it, the
// attempt uncounted; while every link is paused, the slot sleeps.
func (o *outbound) sender(ctx, hard context.Context, minPriority int) {
	var next *queue.Record
	for ctx.Err() == nil || next != nil {
		r := next
		next = nil
		if r == nil {
			now := o.clock.Now()
			if paused, wait := o.axes.paused(now); paused {
				sleep(ctx, o.clock, wait, nil)
				continue
			}
			woken := o.wake.wait()
			var err error
			if r, err = queue.Lease(context.Background(), o.store, now, queue.Outbound, minPriority); err != nil {
				if !errors.Is(err, queue.ErrEmpty) {
					o.log.Error().Err(err).Msg("lease outbound")
				}
				sleep(ctx, o.clock, idle(o.store, queue.Outbound, now), woken)
				continue
			}
		}
		l := o.axes.of(cmp.Or(r.Meta[metaFrom], o.me.OrganID))
		if ok, wait := l.breaker.allow(o.clock.Now()); !ok {
			o.holdForBreaker(r, l, wait)
			continue
		}
		chain := -1 // no chaining once the slot is to stop
		if ctx.Err() == nil {
			chain = minPriority
		}
		next = o.send(hard, r, l, chain)
	}
}

// send sends one leased record on l, whose breaker let it through. When
// the axis took it and chain is not negative, it returns the next due
// record at or above priority chain, leased in the commit that closed
// this one.
func (o *outbound) send(ctx context.Context, r *queue.Record, l *link, chain int) *queue.Record {
	rec := readOut(r)
	log := o.log.With().Str("id", r.ID).Str("document_id", rec.DocumentID).Int("attempt", r.Attempts).Str("axis", l.id).Logger()
	// A lease that expired may have ended mid-upload: the axis is asked
	// first, as after an unanswered send, until it answers. Should the
	// mark not be stored, the lease is left to expire again.
	if r.LeaseExpired() && !rec.Ambiguous {
		if _, err := queue.SetMeta(context.Background(), o.store, r.ID, markAmbiguous); err != nil {
			l.breaker.release()
			log.Error().Err(err).Msg("mark a record whose lease expired for the reconcile step; it is taken again when this lease expires")
			return nil
		}
		rec.Ambiguous = true
	}
	if rec.Ambiguous {
		docID, found, err := o.reconcile(ctx, l, r, rec, log)
		switch {
		case err != nil:
			// Every path settles the breaker: a probe left out would
			// hold every slot and the poller back for good.
			if axis.ClassOf(err) == axis.Terminal {
				l.breaker.success()
			} else {
				l.breaker.failure(o.clock.Now())
			}
			o.retry(r, err, log)
			return nil
		case found:
			log.Info().Str("axis_doc_id", docID).Msg("the axis had the package already: not resending")
			return o.sent(r, rec, docID, log, chain)
		}
		log.Info().Msg("the axis does not have the package: sending again")
	}
	upload, err := o.upload(r)
	if err != nil {
		l.breaker.release()
		o.dead(r, fmt.Sprintf("payload unreadable: %v", err), log)
		return nil
	}
	var to []string
	if rec.Kind == kindStatus {
		to = rec.To
	}
	docID, err := l.out().SendEdoc(ctx, axis.SendRequest{
		From: cmp.Or(rec.From, o.me.OrganID), MessageType: rec.MessageType, To: to,
		Upload: upload,
	})
	switch cls := axis.ClassOf(err); {
	case err == nil:
		l.breaker.success()
		return o.sent(r, rec, docID, log, chain)
	case cls == axis.Terminal:
		l.breaker.success() // the axis answered
		o.dead(r, err.Error(), log)
	case cls == axis.Ambiguous:
		l.breaker.failure(o.clock.Now())
		if _, err := queue.SetMeta(context.Background(), o.store, r.ID, markAmbiguous); err != nil {
			log.Error().Err(err).Msg("mark the send ambiguous")
		}
		o.retry(r, err, log)
	default:
		if l.breaker.failure(o.clock.Now()) {
			log.Warn().Err(err).Msg("axis failing: pausing sends (circuit breaker open)")
		}
		o.retry(r, err, log)
	}
	return nil
}

// reconcile asks the axis whether an attempt that ended without an answer
// arrived after all, matching the axis's own record of what we sent by
// type, notation, title and a send time after the record was stored.
//
// An axis that keeps no list of sent packages (the REST dialect) cannot
// be asked: the package is sent again, and the receiver's own check of
// the document's identity is what keeps it from counting twice.
func (o *outbound) reconcile(ctx context.Context, l *link, r *queue.Record, rec outRecord, log zerolog.Logger) (docID string, found bool, err error) {
	items, err := l.out().GetSentEdocList(ctx, rec.MessageType, "")
	if errors.Is(err, axis.ErrNoSentList) {
		log.Warn().Msg("an unanswered send cannot be checked: this axis keeps no list of sent packages; sending again")
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reconcile: %w", err)
	}
	l.breaker.success()
	for _, it := range items {
		sent, err := axis.ParseListTime(it.SentTime)
		if err != nil || sent.Before(r.Created.Add(-time.Minute)) {
			continue
		}
		if it.FromCode == cmp.Or(rec.From, o.me.OrganID) && it.Notation == rec.Notation && it.Title == rec.Title {
			return it.SenderDocID, true, nil
		}
	}
	return "", false, nil
}

// sent closes a record the axis took and, unless chain is negative,
// leases the next due one at or above that priority in the same commit.
func (o *outbound) sent(r *queue.Record, rec outRecord, axisDocID string, log zerolog.Logger, chain int) (next *queue.Record) {
	now := o.clock.Now()
	err := o.store.Update(context.Background(), func(tx queue.Tx) (err error) {
		if _, err = tx.Finish(now, r.ID, r.Lease, markSent(axisDocID, now)); err != nil {
			return err
		}
		late := ""
		if dl := rec.Deadline; !dl.IsZero() && now.After(dl) {
			late = stamp(dl)
		}
		tx.Emit(event(r.ID, evSent, "", now, atAxisDocID, axisDocID, atCode, rec.StatusCode, atLate, late,
			atDocumentID, rec.DocumentID, atSHA256, r.SHA256, atAgency, cmp.Or(rec.From, o.me.OrganID), atCounterpart, strings.Join(rec.To, ",")))
		if rec.Kind == kindStatus && rec.About != "" {
			// The record the status is about hears it left.
			if _, err := tx.Get(rec.About); err == nil {
				tx.Emit(event(rec.About, statusKind(rec.StatusCode), strings.Join(rec.To, ","), now,
					atDirection, "out", atCode, rec.StatusCode, atAxisDocID, axisDocID, atLink, r.ID))
			}
		}
		if chain >= 0 {
			next, err = queue.LeaseNext(tx, now, queue.Outbound, chain)
		}
		return err
	})
	if err != nil {
		log.Error().Err(err).Msg("sent, but the record could not be closed; it will be reconciled")
		return nil
	}
	ev := log.Info()
	if dl := rec.Deadline; !dl.IsZero() && now.After(dl) {
		ev = log.Warn().Time("deadline", dl)
	}
	ev.Str("axis_doc_id", axisDocID).Dur("waited", now.Sub(r.Created)).Msg("sent to the axis")
	return next
}

// statusKind is the event a status code makes: a recall request is a
// recall, any other code a status.
func statusKind(code string) string {
	if code == "13" {
		return evRecall
	}
	return evStatus
}

func (o *outbound) retry(r *queue.Record, cause error, log zerolog.Logger) {
	rec, err := retryRecord(o.store, o.retryPolicy, o.clock.Now(), r, cause)
	if err != nil {
		log.Error().Err(err).Msg("retry")
		return
	}
	if rec.State == queue.Dead {
		log.Error().Err(cause).Msg("gave up after the retry limit: dead letter (resend it with POST /v1/documents/{id}/resend)")
		return
	}
	log.Warn().Err(cause).Time("next_attempt", rec.NextAttempt).Msg("send failed: will retry")
}

func (o *outbound) dead(r *queue.Record, reason string, log zerolog.Logger) {
	if _, err := killRecord(o.store, o.clock.Now(), r, reason); err != nil {
		log.Error().Err(err).Msg("dead")
		return
	}
	log.Error().Str("reason", reason).Msg("the axis refused the package: dead letter")
}

// retryRecord applies the retry policy to a failed attempt, with its
// event, in one commit.
func retryRecord(s queue.Store, p retryPolicy, now time.Time, r *queue.Record, cause error) (rec *queue.Record, err error) {
	err = s.Update(context.Background(), func(tx queue.Tx) (err error) {
		if rec, err = p.retry(tx, now, r, cause); err != nil {
			return err
		}
		if rec.State == queue.Dead {
			tx.Emit(event(r.ID, evDead, "", now, atReason, rec.LastError))
		} else {
			tx.Emit(event(r.ID, evRetry, "", now, atError, rec.LastError, atNextAttempt, stamp(rec.NextAttempt), "attempt", itoa(int64(rec.Attempts))))
		}
		return nil
	})
	return rec, err
}

// killRecord makes a leased record a dead letter, with its event.
func killRecord(s queue.Store, now time.Time, r *queue.Record, reason string) (rec *queue.Record, err error) {
	err = s.Update(context.Background(), func(tx queue.Tx) (err error) {
		if rec, err = tx.Kill(now, r.ID, r.Lease, reason); err == nil {
			tx.Emit(event(r.ID, evDead, "", now, atReason, reason))
		}
		return err
	})
	return rec, err
}

// upload is a record's package for sendEdoc, streamed from the store on
// each attempt.
func (o *outbound) upload(r *queue.Record) (axis.Upload, error) {
	u := axis.Upload{Name: r.ID + ".edxml", Size: r.Size, Open: func() (io.ReadCloser, error) { return o.store.OpenPayload(context.Background(), r) }}
	sum, err := hex.DecodeString(r.SHA256)
	if err != nil || len(sum) != len(u.SHA256) {
		return axis.Upload{}, fmt.Errorf("record %s has no SHA-256", r.ID)
	}
	copy(u.SHA256[:], sum)
	return u, nil
}
