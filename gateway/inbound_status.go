package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// receiveStatus applies an authentic status package where its sender may
// give it: a recall request (13) only from the sender of the document it
// names; any other code only from a recipient of our document, 15 and 16
// only to a recall, revocation, update or replacement. Anything else is
// quarantined, never applied.
func (in *inbound) receiveStatus(r *queue.Record, st *envelope.Status, o origin, log zerolog.Logger, ln *leaseNext) {
	code, from, docID := st.StatusCode, st.From.OrganID, st.ResponseFor.DocumentID
	log = log.With().Str("status", string(code)).Str("from", from).Str("document_id", docID).Logger()
	forged := func(why string) {
		in.quarantine(r, &envelope.Package{Kind: envelope.KindStatus, Status: st}, "status "+string(code)+" not applied: "+why, refusedForgedStatus, o, log, ln)
	}
	if code == envelope.StatusRecall {
		itemRec, why := in.recallRequested(from, docID, st.ResponseFor.OrganID, st.Description, log)
		if why != "" && in.clock.Now().Sub(r.Created) < recallWait {
			// A recall sent right after its document can overtake it:
			// it waits for the document before it is refused.
			in.retry(r, fmt.Errorf("recall of %s, which %s has not delivered here yet: waiting for the document", docID, from), log)
			return
		}
		if why != "" {
			forged(why)
			return
		}
		var also []queue.Event
		if itemRec != "" {
			also = append(also, event(itemRec, evRecall, from, in.clock.Now(), atDirection, "in", atCode, string(code),
				atDescription, st.Description, atStatusTime, stamp(st.Timestamp), atLink, r.ID))
		}
		in.finish(r, statusDone(st), log, ln, also...)
		return
	}
	out, why, kind := in.statusTarget(st)
	if why != "" {
		in.quarantine(r, &envelope.Package{Kind: envelope.KindStatus, Status: st}, "status "+string(code)+" not applied: "+why, kind, o, log, ln)
		return
	}
	// The report and the inbound record's end are one write.
	var applied bool
	err := in.close(r, statusDone(st), ln, func(tx queue.Tx, now time.Time) (err error) {
		out, applied, err = applyStatus(tx, out.ID, st, r.ID, now)
		return err
	})
	if err != nil {
		in.retry(r, err, log)
		return
	}
	in.statusApplied(st, out, applied, log)
}

// applyStatus records a recipient's status on our document in tx: the
// time its code first arrived always, the code itself where it
// supersedes the current one (a late 01 does not move a 03 back), and the
// event either way. carrier is the record of the status package.
func applyStatus(tx queue.Tx, outID string, st *envelope.Status, carrier string, now time.Time) (rec *queue.Record, applied bool, err error) {
	from, code := st.From.OrganID, string(st.StatusCode)
	rec, err = tx.Change(outID, func(r *queue.Record) error {
		rs := recipientsOf(r)
		i := slices.IndexFunc(rs, func(c recipient) bool { return c.OrganID == from })
		if i < 0 {
			rs = append(rs, recipient{OrganID: from})
			i = len(rs) - 1
		}
		rc := &rs[i]
		if _, seen := rc.Times[code]; !seen {
			if rc.Times == nil {
				rc.Times = map[string]time.Time{}
			}
			rc.Times[code] = st.Timestamp
		}
		if rc.Status == "" || supersedes(*rc, code, st.Timestamp) {
			rc.Status, rc.Description, rc.UpdatedAt = code, st.Description, st.Timestamp
			applied = true
		}
		return setRecipients(r, rs)
	})
	if err != nil {
		return nil, false, err
	}
	staff := ""
	if s := st.StaffInfo; s != nil {
		staff = strings.TrimSpace(s.Staff + " " + s.Department)
	}
	kept := ""
	if !applied {
		kept = "later than the current code; recorded, not applied"
	}
	tx.Emit(event(outID, statusKind(code), from, now, atDirection, "in", atCode, code, atDescription, st.Description,
		atStaff, staff, atStatusTime, stamp(st.Timestamp), atLink, carrier, atReason, kept))
	return rec, applied, nil
}

// statusDone is what the record of a status package keeps once applied.
func statusDone(st *envelope.Status) inRecord {
	return inRecord{Inbox: inboxStatus, Kind: kindStatus, StatusCode: string(st.StatusCode), From: st.From.OrganID, DocumentID: st.ResponseFor.DocumentID}
}

// statusTarget finds the outbound document an authentic status other than
// a recall request (13) is about, or says why it may not be applied, and
// how that counts: the document is not held here (stale: purged, or never
// sent), or the sender is not its recipient, or 15/16 answer a recall that
// was never made (forged).
func (in *inbound) statusTarget(st *envelope.Status) (out *queue.Record, why, kind string) {
	code, from, docID := st.StatusCode, st.From.OrganID, st.ResponseFor.DocumentID
	out, err := queue.GetByKey(context.Background(), in.store, queue.Outbound, outDocumentKey(docID))
	if err != nil {
		return nil, "it is about " + docID + ", which this gateway does not hold (purged, or never sent)", refusedStale
	}
	sent := readOut(out)
	switch {
	case !sent.sentTo(from):
		return nil, from + " is not a recipient of " + docID, refusedForgedStatus
	case code.AnswersRecall() && !sent.Recalled && sent.Business == envelope.BusinessNew:
		return nil, "15 and 16 answer a recall, and " + docID + " was not recalled", refusedForgedStatus
	}
	return out, "", ""
}

// statusApplied logs a status applied to our document, or kept out by a
// newer one, and tells the legacy system of the change.
func (in *inbound) statusApplied(st *envelope.Status, out *queue.Record, applied bool, log zerolog.Logger) {
	code := st.StatusCode
	// Each status package is processed once: one arriving after a later
	// code, and so not applied, is still a time to measure.
	if code == envelope.StatusArrived || code == envelope.StatusRegistered {
		if sent := readOut(out).SentAt; !sent.IsZero() {
			at := st.Timestamp
			if at.Before(sent) || at.After(in.clock.Now()) {
				at = in.clock.Now() // a recipient's clock off: when it reached us
			}
			in.m.toStatus.WithLabelValues(string(code)).Observe(at.Sub(sent).Seconds())
		}
	}
	if !applied {
		current := ""
		for _, rc := range recipientsOf(out) {
			if rc.OrganID == st.From.OrganID {
				current = rc.Status
			}
		}
		log.Info().Str("current", current).Msg("status older than the recipient's current one: kept the current")
		return
	}
	ev := log.Info()
	if code == envelope.StatusRefused || code == envelope.StatusRecallRefused {
		ev = log.Warn().Str("description", st.Description)
	}
	ev.Str("outbound_id", out.ID).Msg("recipient status: " + code.Name())
}

// supersedes reports whether a status received now replaces a recipient's
// current one. Statuses cross the axis out of order: besides the order of
// advances, a progress status (01, 03–06) replaces a refusal or an answer
// to a recall or change only when it was written later, so a late 01 does
// not undo a 15.
func supersedes(cur recipient, next string, at time.Time) bool {
	c, n := envelope.StatusCode(cur.Status), envelope.StatusCode(next)
	if !n.Advances(c) {
		return false
	}
	if n.Progress() && !c.Progress() && c.Valid() {
		return at.After(cur.UpdatedAt)
	}
	return true
}

// recallWait is how long a recall waits for the document it names, which
// it may overtake on the axis, before it is refused.
const recallWait = 15 * time.Minute

// recallRequested marks the inbox document a recall (13) names and
// returns its record; it says why not when the sender never sent that
// document here.
func (in *inbound) recallRequested(from, docID, asked, desc string, log zerolog.Logger) (record, why string) {
	key, agency := deliveredKey(from, docID), in.me.OrganID
	if asked != "" && asked != in.me.OrganID {
		if _, ok := in.creds.Load().agencies.serves(asked, in.dir); ok {
			key, agency = key+"|"+asked, asked
		}
	}
	r, err := queue.GetByKey(context.Background(), in.store, queue.Inbound, key)
	if err != nil {
		return "", "a recall of " + docID + ", which " + from + " never delivered here"
	}
	// The item of the agency asked, whichever of the package's items it
	// is: a package to several of our agencies has one each.
	id := in.inbox.idFor(r.ID, agency)
	item, err := in.inbox.change(id, true, func(item *localapi.InboxItem) error {
		item.Recall = true
		if !recallAnswered(item) {
			item.State = localapi.InboxRecall
		}
		if desc != "" {
			item.Reason = desc
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		log.Warn().Str("inbox_id", r.ID).Msg("recall of a document missing from the inbox: ignored")
		return "", ""
	case err != nil:
		log.Error().Err(err).Msg("record the recall request")
		return "", ""
	}
	log.Warn().Str("inbox_id", r.ID).Msg("sender asks for the document back: answer 15 (agree) or 16 (refuse)")
	in.hook.inboxChanged(item, evRecall)
	return r.ID, ""
}

// Answer sends the legacy system's business status about an inbox item
// back to its sender.
func (in *inbound) Answer(id string, req localapi.StatusRequest) (*localapi.InboxItem, error) {
	if !envelope.StatusCode(req.Code).Answerable() {
		if _, ok := in.inbox.get(id); !ok {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, envelope.Problems{{Path: "code", Rule: "must be one of " + envelope.JoinCodes(envelope.AnswerCodes()), Value: req.Code}}
	}
	var statusID string
	// The rules are checked against the item's current value and the
	// status queued under its lock: two answers cannot both pass them.
	// The item's new state is stored with the status, in its commit;
	// item.json on disk keeps the state of the last other change, and
	// load reads the answer back from the store.
	item, err := in.inbox.change(id, false, func(item *localapi.InboxItem) error {
		if item.State == localapi.InboxQuarantined {
			return fmt.Errorf("%w: a quarantined package was already refused", ErrConflict)
		}
		if rule := answerRule(item, req.Code); rule != "" {
			return fmt.Errorf("%w: %s", ErrConflict, rule)
		}
		rf := envelope.ResponseFor{OrganID: item.From, Code: item.CodeNumber + "/" + item.CodeNotation, DocumentID: item.DocumentID}
		// YYYY-MM-DD; items stored by earlier versions say yyyy/MM/dd.
		for _, layout := range []string{time.DateOnly, "2006/01/02"} {
			if d, err := time.ParseInLocation(layout, item.Promulgated, envelope.Vietnam); err == nil {
				rf.PromulgationDate = envelope.DateOf(d)
				break
			}
		}
		var staff *envelope.StaffInfo
		if req.Staff != "" || req.Department != "" {
			staff = &envelope.StaffInfo{Staff: req.Staff, Department: req.Department}
		}
		desc := req.Description
		if desc == "" {
			desc = envelope.StatusCode(req.Code).Name()
		}
		if err := in.answers.signable(item.Agency); err != nil {
			return err
		}
		rec, err := in.answers.queueStatus(item.Agency, item.From, rf, envelope.StatusCode(req.Code), desc, staff, item.Priority, answerMeta(item.ID, req.Code, in.clock.Now()))
		if err != nil {
			return err
		}
		statusID = rec.ID
		item.StatusCode, item.StatusID, item.State = req.Code, rec.ID, localapi.InboxAnswered
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := in.mirrorAnswer(item, req.Code, statusID); err != nil {
		return nil, err
	}
	return item, nil
}

// answerRule says why code cannot follow the item's last answer, or "":
// 03 → 04 → 05 → 06 only forward (05 may repeat); 02 only before the
// document was registered; 15 and 16 only to a recall, revocation, update
// or replacement, and once.
func answerRule(item *localapi.InboxItem, code string) string {
	last, next := envelope.StatusCode(item.StatusCode), envelope.StatusCode(code)
	switch {
	case next.AnswersRecall():
		if !item.Recall && item.BusinessDocType == 0 {
			return "15 and 16 answer a recall, revocation, update or replacement; this document was not asked back"
		}
		if last.AnswersRecall() {
			return "already answered " + string(last) + " to the sender's request"
		}
		return ""
	case next == envelope.StatusRefused:
		if last != "" && last != envelope.StatusArrived && last != envelope.StatusRefused {
			return "02 (refuse) cannot follow " + string(last) + ": the document was already taken in"
		}
		return ""
	}
	if last == envelope.StatusRefused {
		return code + " cannot follow 02: the document was refused"
	}
	if last.AnswersRecall() || !next.Advances(last) {
		return code + " cannot follow " + string(last) + ": statuses go 03 → 04 → 05 → 06"
	}
	return ""
}
