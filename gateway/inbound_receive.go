package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// process verifies one stored package, read once, and delivers it: a
// document to the inbox, a status to the record it is about. The package
// is read by offset and its attachments decoded into a folder beside the
// inbox, so memory does not follow its size.
func (in *inbound) process(r *queue.Record, ln *leaseNext) {
	rec := readIn(r)
	log := in.log.With().Str("id", r.ID).Str("axis_doc_id", rec.AxisDocID).Logger()
	src, err := in.store.OpenPayload(context.Background(), r)
	if err != nil {
		if _, err := killRecord(in.store, in.clock.Now(), r, err.Error()); err != nil {
			log.Error().Err(err).Msg("dead")
		}
		log.Error().Err(err).Msg("stored package unreadable: dead letter")
		return
	}
	defer src.Close()
	files := in.inbox.scratch(r.ID)
	defer os.RemoveAll(files)
	at, size, err := payloadAt(src)
	if err != nil {
		in.retry(r, err, log)
		return
	}
	pkg, cr, err := in.verify(at, size, receivedAt(r, rec), files)
	o := in.originOf(rec, pkg, cr)
	var claimed *envelope.Package
	if pkg != nil {
		claimed = pkg.Claimed
	}
	switch {
	case err != nil && o.claimed == "":
		// Nothing names a sender to hold against the uploader: the
		// package cannot be read, and its own error says why.
		in.quarantine(r, claimed, "the package cannot be read: "+err.Error(), refusedUnreadable, o, log, ln)
		return
	case !o.axisOK:
		// Checked first: whatever else is wrong, this sender is not who
		// the package says, and must not be answered.
		in.quarantine(r, claimed, o.uploaderProblem(), refusedAxisSender, o, log, ln)
		return
	case err != nil:
		in.quarantine(r, claimed, err.Error(), refusal(err), o, log, ln)
		return
	case o.signed && !o.bound && o.mode == envelope.Require:
		in.quarantine(r, claimed, o.bindingProblem(), refusedBinding, o, log, ln)
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
			in.quarantine(r, pkg.Package, "status not applied: its sender is not established ("+cmp.Or(warning, "unsigned")+")", refusedForgedStatus, o, log, ln)
			return
		}
		in.receiveStatus(r, pkg.Package.Status, o, log, ln)
		return
	}
	doc := pkg.Package.Document
	h := doc.Header
	log = log.With().Str("document_id", h.DocumentID).Str("from", h.From.OrganID).Logger()
	ours, reason := in.checkDocument(doc)
	if reason != "" {
		in.quarantine(r, pkg.Package, reason, refusedContent, o, log, ln)
		return
	}
	var delivered []string
	for i, agency := range ours {
		item, settled := in.deliver(r, pkg, agency, i, o, warning, log, ln)
		if settled {
			return // retried or quarantined as a whole
		}
		if item != "" {
			delivered = append(delivered, item)
		}
	}
	if len(delivered) == 0 {
		in.finish(r, inRecord{Inbox: inboxDuplicate}, log, ln)
		return
	}
	in.finish(r, inRecord{Inbox: localapi.InboxNew, Kind: kindDocument, DocumentID: h.DocumentID, From: h.From.OrganID, Items: delivered}, log, ln)
}

// verify opens a received package by offset under the credentials of the
// moment, its attachments decoded into files, and times it. The receivers
// and the fetchers' quick path for statuses both use it, so a package meets
// the same rules whichever way it takes.
func (in *inbound) verify(at io.ReaderAt, size int64, received time.Time, files string) (*envelope.Inbound, *credentials, error) {
	cr := in.creds.Load()
	start := time.Now()
	pkg, err := envelope.OpenInboundAt(at, size, cr.policy, envelope.VerifyOptions{
		Trust: cr.trust, Now: in.clock.Now, ReceivedAt: received, AllowNoKeyUsage: cr.allowNoKeyUsage,
		Parse: envelope.ParseOptions{FileDir: files},
	})
	in.m.verifyDur.Observe(time.Since(start).Seconds())
	return pkg, cr, err
}

// deliver makes one agency's inbox item of a document: each agency a
// package names gets its own, answered separately. It returns the item's
// id ("" for a duplicate), stored when the record is closed, and whether
// the record was settled otherwise (retried or quarantined), which ends
// the processing.
func (in *inbound) deliver(r *queue.Record, pkg *envelope.Inbound, agency envelope.Organization, n int, o origin, warning string, log zerolog.Logger, ln *leaseNext) (delivered string, settled bool) {
	doc := pkg.Package.Document
	h := doc.Header
	log = log.With().Str("agency", agency.OrganID).Logger()
	suffix := ""
	if agency.OrganID != in.me.OrganID {
		suffix = "|" + agency.OrganID
	}
	key := deliveredKey(h.From.OrganID, h.DocumentID) + suffix
	if o.authentic() && in.dir != nil {
		in.dir.NotePartner(h.From.OrganID)
	}
	switch {
	case !o.authentic():
		key = unverifiedKey(h.From.OrganID, h.DocumentID, r.SHA256) + suffix
	case doc.Business != nil && doc.Business.DocType != envelope.BusinessNew:
		key = changeKey(h.From.OrganID, h.DocumentID, int(doc.Business.DocType), r.SHA256) + suffix
	}
	owner, err := queue.Claim(context.Background(), in.store, r.ID, key)
	if err != nil {
		in.retry(r, err, log)
		return "", true
	}
	sameID := ""
	if owner != r.ID {
		first, err := queue.Get(context.Background(), in.store, owner)
		if err != nil || first.SHA256 == r.SHA256 {
			log.Info().Str("first", owner).Msg("duplicate delivery of a document already received: not delivered again")
			return "", false
		}
		// Two authentic packages under one DocumentId: both are kept and
		// the clerk is told, never one silently dropped.
		if _, err := queue.Claim(context.Background(), in.store, r.ID, key+"|"+r.SHA256); err != nil {
			in.retry(r, err, log)
			return "", true
		}
		sameID = owner
		log.Warn().Str("first", owner).Msg("a second, different package under a DocumentId already delivered: delivered too, flagged")
	}
	item := inboxItem(r, doc)
	if n > 0 {
		item.ID = r.ID + "-" + strconv.Itoa(n+1)
	}
	if ags := in.creds.Load().agencies; len(ags.byCode) > 1 || len(ags.units) > 0 {
		item.Agency = agency.OrganID
	}
	item.SameDocumentIDAs = sameID
	// A change and the document it names may be delivered side by side:
	// whichever comes second links them. A package whose sender is not
	// established changes nothing: policy warn delivers it, flagged, and
	// links it to no document.
	in.links.Lock()
	defer in.links.Unlock()
	var originals []*localapi.InboxItem
	if o.authentic() {
		originals = in.originals(h.From.OrganID, suffix, item)
	}
	if x, ok := in.retired.Of(h.From.OrganID); ok {
		item.SenderRetired = x.Why()
		log.Warn().Str("sender", h.From.OrganID).Str("retired", x.Why()).Msg("a document from a retired agency code: delivered, flagged")
	}
	if warning != "" {
		item.SignatureWarning = warning
		log.Warn().Str("warning", warning).Msg("signature did not hold or is not bound to the sender; delivered because policy for this sender is warn")
	}
	if err := in.inbox.write(item, doc.Attachments); err != nil {
		if errors.Is(err, errUndeliverable) {
			in.quarantine(r, pkg.Package, err.Error(), refusedContent, o, log, ln)
			return "", true
		}
		in.retry(r, err, log)
		return "", true
	}
	if in.autoArrived {
		if _, err := in.answers.queueStatus(agency.OrganID, h.From.OrganID, responseFor(doc), envelope.StatusArrived, "Đã đến", nil, r.Priority, &about{id: r.ID}); err != nil {
			in.retry(r, err, log)
			return "", true
		}
	}
	if err := in.markChanged(originals, item, doc.Business, log); err != nil { // none when not authentic
		in.retry(r, err, log)
		return "", true
	}
	in.inbox.put(item)
	if (doc.Business == nil || doc.Business.DocType == envelope.BusinessNew) && o.authentic() {
		if err := in.adoptChanges(item, log); err != nil {
			log.Error().Err(err).Msg("link the changes that arrived before the document")
		}
	}
	log.Info().Str("inbox_id", item.ID).Int("priority", item.Priority).Int("files", len(item.Files)).Str("subject", h.Subject).Msg("document delivered to the inbox")
	in.hook.inboxChanged(item, evDelivered)
	return item.ID, false
}

// checkDocument applies the rules beyond the signature: the package is
// for agencies we serve, which it returns, and its sender is a known one.
func (in *inbound) checkDocument(doc *envelope.Document) ([]envelope.Organization, string) {
	h := doc.Header
	ours := in.creds.Load().agencies.ours(h.To, in.dir)
	if len(ours) == 0 {
		return nil, fmt.Sprintf("MessageHeader/To: no agency this gateway serves (%s) is among the recipients", in.me.OrganID)
	}
	if in.dir.Len() > 0 {
		if _, ok := in.dir.Lookup(h.From.OrganID); !ok {
			return nil, fmt.Sprintf("MessageHeader/From/OrganId: sender %q is not in the agency directory", h.From.OrganID)
		}
	}
	return ours, ""
}

// quarantine holds back a package, with the reason, counted by why, and
// answers the sender 02 when policy says so and the sender is established
// (p, the package as read, may be nil).
func (in *inbound) quarantine(r *queue.Record, p *envelope.Package, reason, why string, o origin, log zerolog.Logger, ln *leaseNext) {
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
		from := ""
		if ours := in.creds.Load().agencies.ours(doc.Header.To, in.dir); len(ours) > 0 {
			from = ours[0].OrganID
		}
		if _, err := in.answers.queueStatus(from, doc.Header.From.OrganID, responseFor(doc), envelope.StatusRefused, desc, nil, r.Priority, &about{id: r.ID}); err != nil {
			in.retry(r, err, log)
			return
		}
		answered = string(envelope.StatusRefused)
	}
	in.inbox.put(item)
	in.finish(r, inRecord{Inbox: localapi.InboxQuarantined, Reason: reason, Refused: why, Items: []string{item.ID}}, log, ln)
	log.Warn().Str("reason", reason).Str("refused", why).Str("from", item.From).Str("uploader", o.uploader).
		Str("answered", answered).Msg("package quarantined")
	in.hook.inboxChanged(item, evQuarantined)
}

// leaseNext asks that the commit closing a record also lease the next
// due one, which it then holds; nil asks for no lease.
type leaseNext struct {
	next *queue.Record
}

// finish closes a processed record with what became of it, its event,
// and any further events of the records it changed, in one commit.
func (in *inbound) finish(r *queue.Record, rec inRecord, log zerolog.Logger, ln *leaseNext, also ...queue.Event) {
	if err := in.close(r, rec, ln, nil, also...); err != nil {
		log.Error().Err(err).Msg("close inbound record; it will be processed again")
	}
}

// close is finish's commit; what with changes of other records (a status
// applied to our document) commits with it, and with ln the same commit
// leases the next due record.
func (in *inbound) close(r *queue.Record, rec inRecord, ln *leaseNext, with func(tx queue.Tx, now time.Time) error, also ...queue.Event) error {
	now := in.clock.Now()
	var next *queue.Record
	err := in.store.Update(context.Background(), func(tx queue.Tx) (err error) {
		if with != nil {
			if err := with(tx, now); err != nil {
				return err
			}
		}
		meta := rec.meta()
		// The items as they are now: a change linked since delivery
		// is in them.
		var items []*localapi.InboxItem
		for _, id := range rec.Items {
			if it, ok := in.inbox.get(id); ok {
				items = append(items, it)
			}
		}
		m, err := itemsMeta(items)
		if err != nil {
			return err
		}
		if _, err = tx.Finish(now, r.ID, r.Lease, queue.MergeMap(meta, m)); err != nil {
			return err
		}
		// What the evidence log states of the package.
		was := readIn(r)
		var agencies []string
		for _, it := range items {
			if it.Agency != "" && !slices.Contains(agencies, it.Agency) {
				agencies = append(agencies, it.Agency)
			}
		}
		pkgFacts := []string{atSHA256, r.SHA256, atAxisDocID, was.AxisDocID, atCounterpart, cmp.Or(rec.From, was.From), atAgency, strings.Join(agencies, ",")}
		switch rec.Inbox {
		case localapi.InboxNew:
			tx.Emit(event(r.ID, evDelivered, "", now, append([]string{atDocumentID, rec.DocumentID}, pkgFacts...)...))
		case inboxDuplicate:
			tx.Emit(event(r.ID, evDuplicate, "", now))
		case localapi.InboxQuarantined:
			tx.Emit(event(r.ID, evQuarantined, "", now, append([]string{atReason, rec.Reason, atRefused, rec.Refused, atDocumentID, cmp.Or(rec.DocumentID, was.DocumentID)}, pkgFacts...)...))
		case inboxStatus:
			tx.Emit(event(r.ID, evStatus, rec.From, now, append([]string{atDirection, "in", atCode, rec.StatusCode, atDocumentID, rec.DocumentID}, pkgFacts...)...))
		}
		for _, ev := range also {
			if _, err := tx.Get(ev.Record); err == nil {
				tx.Emit(ev)
			}
		}
		if ln != nil {
			next, err = queue.LeaseNext(tx, now, queue.Inbound, 0)
		}
		return err
	})
	if ln != nil {
		ln.next = next
	}
	return err
}

func (in *inbound) retry(r *queue.Record, cause error, log zerolog.Logger) {
	if _, err := retryRecord(in.store, in.retryPolicy, in.clock.Now(), r, cause); err != nil {
		log.Error().Err(err).Msg("retry inbound")
	}
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
		it.Promulgated = d.ISO() // as clients submit dates
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
