package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// process verifies one stored package, read once, and delivers it: a
// document to the inbox, a status to the record it is about.
func (in *inbound) process(r *queue.Record) {
	rec := readIn(r)
	log := in.log.With().Str("id", r.ID).Str("axis_doc_id", rec.AxisDocID).Logger()
	raw, err := in.store.Payload(r)
	if err != nil {
		if _, err := in.store.Dead(in.clock.Now(), r.ID, r.Lease, err.Error()); err != nil {
			log.Error().Err(err).Msg("dead")
		}
		log.Error().Err(err).Msg("stored package unreadable: dead letter")
		return
	}
	cr := in.creds.Load()
	start := time.Now()
	pkg, err := envelope.OpenInbound(raw, cr.policy, envelope.VerifyOptions{
		Trust: cr.trust, Now: in.clock.Now, ReceivedAt: receivedAt(r, rec), AllowNoKeyUsage: cr.allowNoKeyUsage,
	})
	in.m.verifyDur.Observe(time.Since(start).Seconds())
	o := in.originOf(rec, pkg, cr)
	var claimed *envelope.Package
	if pkg != nil {
		claimed = pkg.Claimed
	}
	switch {
	case !o.axisOK:
		// Checked first: whatever else is wrong, this sender is not who
		// the package says, and must not be answered.
		in.quarantine(r, claimed, o.uploaderProblem(), refusedAxisSender, o, log)
		return
	case err != nil:
		in.quarantine(r, claimed, err.Error(), refusal(err), o, log)
		return
	case o.signed && !o.bound && o.mode == envelope.Require:
		in.quarantine(r, claimed, o.bindingProblem(), refusedBinding, o, log)
		return
	}
	warning := ""
	switch {
	case pkg.SignatureErr != nil:
		warning = pkg.SignatureErr.Error()
	case o.signed && !o.bound && o.mode == envelope.Warn:
		warning = o.bindingProblem()
	}
	if pkg.Package.Kind == envelope.KindStatus {
		if !o.authentic() {
			in.quarantine(r, pkg.Package, "status not applied: its sender is not established ("+cmp.Or(warning, "unsigned")+")", refusedForgedStatus, o, log)
			return
		}
		in.receiveStatus(r, pkg.Package.Status, o, log)
		return
	}
	doc := pkg.Package.Document
	h := doc.Header
	log = log.With().Str("document_id", h.DocumentID).Str("from", h.From.OrganID).Logger()
	if reason := in.checkDocument(doc); reason != "" {
		in.quarantine(r, pkg.Package, reason, refusedContent, o, log)
		return
	}
	key := deliveredKey(h.From.OrganID, h.DocumentID)
	switch {
	case !o.authentic():
		key = unverifiedKey(h.From.OrganID, h.DocumentID, r.SHA256)
	case doc.Business != nil && doc.Business.DocType != envelope.BusinessNew:
		key = changeKey(h.From.OrganID, h.DocumentID, int(doc.Business.DocType), r.SHA256)
	}
	owner, err := in.store.Claim(r.ID, key)
	if err != nil {
		in.retry(r, err, log)
		return
	}
	sameID := ""
	if owner != r.ID {
		first, err := in.store.Get(owner)
		if err != nil || first.SHA256 == r.SHA256 {
			in.finish(r, inRecord{Inbox: inboxDuplicate, DuplicateOf: owner}, log)
			in.m.messages.WithLabelValues("in", "duplicate").Inc()
			log.Info().Str("first", owner).Msg("duplicate delivery of a document already received: not delivered again")
			return
		}
		// Two authentic packages under one DocumentId: both are kept and
		// the clerk is told, never one silently dropped.
		if _, err := in.store.Claim(r.ID, key+"|"+r.SHA256); err != nil {
			in.retry(r, err, log)
			return
		}
		sameID = owner
		log.Warn().Str("first", owner).Msg("a second, different package under a DocumentId already delivered: delivered too, flagged")
	}
	item := inboxItem(r, doc)
	item.SameDocumentIDAs = sameID
	originals := in.originals(h.From.OrganID, item)
	if warning != "" {
		item.SignatureWarning = warning
		log.Warn().Str("warning", warning).Msg("signature did not hold or is not bound to the sender; delivered because policy for this sender is warn")
	}
	if err := in.inbox.write(item, doc.Attachments); err != nil {
		if errors.Is(err, errUndeliverable) {
			in.quarantine(r, pkg.Package, err.Error(), refusedContent, o, log)
			return
		}
		in.retry(r, err, log)
		return
	}
	if in.autoArrived {
		if _, err := in.answers.queueStatus(h.From.OrganID, responseFor(doc), envelope.StatusArrived, "Đã đến", nil, r.Priority); err != nil {
			in.retry(r, err, log)
			return
		}
	}
	if err := in.markChanged(originals, item, doc.Business, log); err != nil {
		in.retry(r, err, log)
		return
	}
	in.finish(r, inRecord{Inbox: localapi.InboxNew, Kind: kindDocument, DocumentID: h.DocumentID, From: h.From.OrganID}, log)
	in.inbox.put(item)
	in.m.messages.WithLabelValues("in", "delivered").Inc()
	log.Info().Int("priority", item.Priority).Int("files", len(item.Files)).Str("subject", h.Subject).Msg("document delivered to the inbox")
	in.hook.inboxChanged(item)
}

// checkDocument applies the rules beyond the signature: the package is
// for us and its sender is a known agency.
func (in *inbound) checkDocument(doc *envelope.Document) string {
	h := doc.Header
	if !slices.ContainsFunc(h.To, func(o envelope.Organization) bool { return o.OrganID == in.me.OrganID }) {
		return fmt.Sprintf("MessageHeader/To: this agency %s is not among the recipients", in.me.OrganID)
	}
	if in.dir.Len() > 0 {
		if _, ok := in.dir.Lookup(h.From.OrganID); !ok {
			return fmt.Sprintf("MessageHeader/From/OrganId: sender %q is not in the agency directory", h.From.OrganID)
		}
	}
	return ""
}

// quarantine holds back a package, with the reason, counted by why, and
// answers the sender 02 when policy says so and the sender is established
// (p, the package as read, may be nil).
func (in *inbound) quarantine(r *queue.Record, p *envelope.Package, reason, why string, o origin, log zerolog.Logger) {
	item := &localapi.InboxItem{ID: r.ID, State: localapi.InboxQuarantined, Reason: reason, Received: r.Created, From: readIn(r).From}
	var doc *envelope.Document
	if p != nil && p.Kind == envelope.KindDocument {
		doc = p.Document
		*item = *inboxItem(r, doc)
		item.State, item.Reason, item.Files = localapi.InboxQuarantined, reason, nil
	}
	if err := in.inbox.write(item, nil); err != nil {
		in.retry(r, err, log)
		return
	}
	answered := ""
	if doc != nil && in.refuseInvalid && o.established() && doc.Header.DocumentID != "" {
		desc := "Từ chối tiếp nhận: " + truncate(reason, 480)
		if _, err := in.answers.queueStatus(doc.Header.From.OrganID, responseFor(doc), envelope.StatusRefused, desc, nil, r.Priority); err != nil {
			in.retry(r, err, log)
			return
		}
		answered = string(envelope.StatusRefused)
	}
	in.finish(r, inRecord{Inbox: localapi.InboxQuarantined, Reason: reason}, log)
	in.inbox.put(item)
	in.m.messages.WithLabelValues("in", "quarantined").Inc()
	in.m.refused.WithLabelValues(why).Inc()
	log.Warn().Str("reason", reason).Str("refused", why).Str("from", item.From).Str("uploader", o.uploader).
		Str("answered", answered).Msg("package quarantined")
	in.hook.inboxChanged(item)
}

func (in *inbound) finish(r *queue.Record, rec inRecord, log zerolog.Logger) {
	if _, err := in.store.Done(in.clock.Now(), r.ID, r.Lease, rec.meta()); err != nil {
		log.Error().Err(err).Msg("close inbound record; it will be processed again")
	}
}

func (in *inbound) retry(r *queue.Record, cause error, log zerolog.Logger) {
	if _, err := in.store.Retry(in.clock.Now(), r.ID, r.Lease, cause); err != nil {
		log.Error().Err(err).Msg("retry inbound")
	}
	in.m.retries.WithLabelValues("in").Inc()
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
		it.Targets = doc.Targets()
		if len(it.Targets) > 0 {
			it.TargetDocumentID = it.Targets[0]
		}
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
