package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// Inbound record metadata keys.
const (
	metaInbox       = "inbox" // the inbox state, or "status" / "duplicate"
	metaReason      = "reason"
	metaFrom        = "from"
	metaPromulgated = "promulgated" // yyyy/MM/dd of the document
	metaDuplicateOf = "duplicateOf"
)

// poller lists what the axis holds for us, fetches it and acknowledges
// it once stored. It polls again at once while lists keep coming back
// non-empty, and every poll interval otherwise.
func (g *Gateway) poller(ctx context.Context) {
	for ctx.Err() == nil {
		if ok, wait := g.breaker.allow(g.clock.Now()); !ok {
			g.sleep(ctx, wait, nil)
			continue
		}
		n, err := g.pollOnce(ctx)
		wait := time.Duration(g.cfg.Inbound.PollInterval)
		switch {
		case err != nil && ctx.Err() == nil:
			if axis.ClassOf(err) == axis.Terminal {
				g.breaker.success()
			} else if g.breaker.failure(g.clock.Now()) {
				g.log.Warn().Err(err).Msg("axis failing: pausing polls (circuit breaker open)")
			}
			g.log.Warn().Err(err).Msg("poll the axis")
		case err == nil:
			g.breaker.success()
			if n > 0 {
				wait = 0
			}
		default:
			g.breaker.release()
		}
		if wait > 0 {
			g.sleep(ctx, wait, nil)
		}
	}
}

// pollOnce fetches every listed package of both message types and
// returns how many it stored.
func (g *Gateway) pollOnce(ctx context.Context) (int, error) {
	n := 0
	for _, mt := range []string{axis.MessageEdoc, axis.MessageStatus} {
		items, err := g.axis.GetReceivedEdocList(ctx, mt)
		if err != nil {
			return n, err
		}
		for _, it := range items {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			stored, err := g.fetch(ctx, mt, it)
			if err != nil {
				return n, err
			}
			if stored {
				n++
			}
		}
	}
	return n, nil
}

// fetch stores one listed package and then acknowledges it: durable
// before acknowledged. A package already stored (the acknowledgement was
// lost) is only acknowledged again.
func (g *Gateway) fetch(ctx context.Context, mt string, it axis.ReceivedItem) (bool, error) {
	key := "axis:" + it.DocID
	log := g.log.With().Str("axis_doc_id", it.DocID).Str("message_type", mt).Logger()
	_, err := g.store.GetByKey(queue.Inbound, key)
	stored := false
	switch {
	case errors.Is(err, queue.ErrNotFound):
		raw, err := g.axis.GetEdoc(ctx, it.DocID)
		if err != nil {
			return false, fmt.Errorf("get %s: %w", it.DocID, err)
		}
		rec, existed, err := g.put(queue.Item{
			Dir: queue.Inbound, Key: key, Priority: peekPriority(raw), Payload: raw,
			Meta: map[string]string{metaAxisDocID: it.DocID, metaMessageType: mt, metaFrom: it.From},
		})
		if err != nil {
			return false, fmt.Errorf("store %s: %w", it.DocID, err)
		}
		stored = !existed
		g.m.messages.WithLabelValues("in", "fetched").Inc()
		log.Info().Str("id", rec.ID).Str("from", it.From).Int("bytes", len(raw)).Msg("package fetched and stored")
		g.wakeIn.notify()
	case err != nil:
		return false, err
	}
	if err := g.axis.UpdateStatus(ctx, it.DocID, axis.StatusDone); err != nil {
		return stored, fmt.Errorf("acknowledge %s: %w", it.DocID, err)
	}
	return stored, nil
}

// peekPriority reads a package's priority so urgent ones are verified
// first; anything unreadable waits as ordinary.
func peekPriority(raw []byte) int {
	p, err := envelope.ParseBytes(raw, envelope.ParseOptions{})
	if err != nil || p.Kind != envelope.KindDocument {
		return 0
	}
	return min(max(int(p.Document.Header.OtherInfo.Priority), 0), queue.MaxPriority)
}

// receiver verifies and delivers stored inbound packages.
func (g *Gateway) receiver(ctx context.Context) {
	for ctx.Err() == nil {
		now := g.clock.Now()
		woken := g.wakeIn.wait()
		r, err := g.store.Lease(now, queue.Inbound, 0)
		if err != nil {
			if !errors.Is(err, queue.ErrEmpty) {
				g.log.Error().Err(err).Msg("lease inbound")
			}
			g.sleep(ctx, g.idle(queue.Inbound, now), woken)
			continue
		}
		g.process(r)
	}
}

func (g *Gateway) process(r *queue.Record) {
	log := g.log.With().Str("id", r.ID).Str("axis_doc_id", r.Meta[metaAxisDocID]).Logger()
	raw, err := g.store.Payload(r)
	if err != nil {
		if _, err := g.store.Dead(g.clock.Now(), r.ID, r.Lease, err.Error()); err != nil {
			log.Error().Err(err).Msg("dead")
		}
		log.Error().Err(err).Msg("stored package unreadable: dead letter")
		return
	}
	cr := g.creds.Load()
	start := time.Now()
	in, err := envelope.OpenInbound(raw, cr.policy, envelope.VerifyOptions{Trust: cr.trust, Now: g.clock.Now})
	g.m.verifyDur.Observe(time.Since(start).Seconds())
	if err != nil {
		g.quarantine(r, raw, err.Error(), log)
		return
	}
	if in.Package.Kind == envelope.KindStatus {
		g.receiveStatus(r, in.Package.Status, log)
		return
	}
	doc := in.Package.Document
	h := doc.Header
	log = log.With().Str("document_id", h.DocumentID).Str("from", h.From.OrganID).Logger()
	if reason := g.checkDocument(doc); reason != "" {
		g.quarantine(r, raw, reason, log)
		return
	}
	owner, err := g.store.Claim(r.ID, "doc:"+h.From.OrganID+"|"+h.DocumentID)
	if err != nil {
		g.retryInbound(r, err, log)
		return
	}
	if owner != r.ID {
		g.finishInbound(r, map[string]string{metaInbox: "duplicate", metaDuplicateOf: owner}, log)
		g.m.messages.WithLabelValues("in", "duplicate").Inc()
		log.Info().Str("first", owner).Msg("duplicate delivery of a document already received: not delivered again")
		return
	}
	item := inboxItem(r, doc)
	if in.SignatureErr != nil {
		item.SignatureWarning = in.SignatureErr.Error()
		log.Warn().Err(in.SignatureErr).Msg("signature did not hold; delivered because policy for this sender is warn")
	}
	if err := g.writeInbox(item, doc.Attachments); err != nil {
		g.retryInbound(r, err, log)
		return
	}
	if g.cfg.Inbound.AutoArrived {
		if _, err := g.queueStatus(h.From.OrganID, responseFor(doc), envelope.StatusArrived, "Đã đến", nil, r.Priority); err != nil {
			g.retryInbound(r, err, log)
			return
		}
	}
	g.finishInbound(r, map[string]string{
		metaInbox: localapi.InboxNew, metaKind: "document", metaDocumentID: h.DocumentID, metaFrom: h.From.OrganID,
	}, log)
	g.inbox.put(item)
	g.m.messages.WithLabelValues("in", "delivered").Inc()
	log.Info().Int("priority", item.Priority).Int("files", len(item.Files)).Str("subject", h.Subject).Msg("document delivered to the inbox")
	g.hook.inboxChanged(item)
}

// checkDocument applies the rules beyond the signature: the package is
// for us and its sender is a known agency.
func (g *Gateway) checkDocument(doc *envelope.Document) string {
	h := doc.Header
	if !slices.ContainsFunc(h.To, func(o envelope.Organization) bool { return o.OrganID == g.me.OrganID }) {
		return fmt.Sprintf("MessageHeader/To: this agency %s is not among the recipients", g.me.OrganID)
	}
	if g.dir.Len() > 0 {
		if _, ok := g.dir.Lookup(h.From.OrganID); !ok {
			return fmt.Sprintf("MessageHeader/From/OrganId: sender %q is not in the agency directory", h.From.OrganID)
		}
	}
	return ""
}

// quarantine holds back a package that failed verification, with the
// reason, and answers the sender 02 when policy says so and the sender
// can be read from the package.
func (g *Gateway) quarantine(r *queue.Record, raw []byte, reason string, log zerolog.Logger) {
	item := &localapi.InboxItem{ID: r.ID, State: localapi.InboxQuarantined, Reason: reason, Received: r.Created, From: r.Meta[metaFrom]}
	p, _ := envelope.ParseBytes(raw, envelope.ParseOptions{})
	var doc *envelope.Document
	if p != nil && p.Kind == envelope.KindDocument {
		doc = p.Document
		*item = *inboxItem(r, doc)
		item.State, item.Reason, item.Files = localapi.InboxQuarantined, reason, nil
	}
	if err := g.writeInbox(item, nil); err != nil {
		g.retryInbound(r, err, log)
		return
	}
	answered := ""
	if doc != nil && g.cfg.Trust.RefuseInvalid && doc.Header.From.OrganID != "" && doc.Header.DocumentID != "" {
		desc := "Từ chối tiếp nhận: " + truncate(reason, 480)
		if _, err := g.queueStatus(doc.Header.From.OrganID, responseFor(doc), envelope.StatusRefused, desc, nil, r.Priority); err != nil {
			g.retryInbound(r, err, log)
			return
		}
		answered = string(envelope.StatusRefused)
	}
	g.finishInbound(r, map[string]string{metaInbox: localapi.InboxQuarantined, metaReason: reason}, log)
	g.inbox.put(item)
	g.m.messages.WithLabelValues("in", "quarantined").Inc()
	log.Warn().Str("reason", reason).Str("from", item.From).Str("answered", answered).Msg("package quarantined")
	g.hook.inboxChanged(item)
}

func (g *Gateway) finishInbound(r *queue.Record, meta map[string]string, log zerolog.Logger) {
	if _, err := g.store.Done(g.clock.Now(), r.ID, r.Lease, meta); err != nil {
		log.Error().Err(err).Msg("close inbound record; it will be processed again")
	}
}

func (g *Gateway) retryInbound(r *queue.Record, cause error, log zerolog.Logger) {
	if _, err := g.store.Retry(g.clock.Now(), r.ID, r.Lease, cause); err != nil {
		log.Error().Err(err).Msg("retry inbound")
	}
	g.m.retries.WithLabelValues("in").Inc()
	log.Error().Err(cause).Msg("inbound processing failed: will retry")
}

// inboxItem is the legacy system's view of a verified document.
func inboxItem(r *queue.Record, doc *envelope.Document) *localapi.InboxItem {
	h := doc.Header
	it := &localapi.InboxItem{
		ID: r.ID, State: localapi.InboxNew, DocumentID: h.DocumentID, From: h.From.OrganID, FromName: h.From.OrganName,
		CodeNumber: h.Code.CodeNumber, CodeNotation: h.Code.CodeNotation, Subject: h.Subject,
		Priority: int(h.OtherInfo.Priority), Received: r.Created,
	}
	if doc.Business != nil {
		it.BusinessDocType = int(doc.Business.DocType)
		it.TargetDocumentID = doc.Business.DocumentID
	}
	if d := h.PromulgationInfo.PromulgationDate; !d.IsZero() {
		it.Promulgated = d.String()
	}
	return it
}

// responseFor names a received document in a status about it.
func responseFor(doc *envelope.Document) envelope.ResponseFor {
	h := doc.Header
	return envelope.ResponseFor{
		OrganID: h.From.OrganID, Code: h.Code.CodeNumber + "/" + h.Code.CodeNotation,
		PromulgationDate: h.PromulgationInfo.PromulgationDate, DocumentID: h.DocumentID,
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
