package gateway

import (
	"context"
	"errors"
	"slices"

	"github.com/rs/zerolog"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// A revocation, update or replacement is delivered as an inbox item of
// its own and linked to the documents it names that were delivered here:
// each original shows it in ChangedBy, and a revoked one waits for the
// clerk's 15 or 16 as a recall does. A document already registered (03)
// or in processing keeps its history: nothing is withdrawn without the
// clerk's 15.

// originals finds the inbox items of the documents a change names, and
// marks the change's item when none was ever delivered here.
func (in *inbound) originals(from, suffix string, item *localapi.InboxItem) []*localapi.InboxItem {
	var out []*localapi.InboxItem
	for _, target := range item.Targets {
		r, err := queue.GetByKey(context.Background(), in.store, queue.Inbound, deliveredKey(from, target)+suffix)
		if err != nil {
			continue
		}
		id := r.ID
		if item.Agency != "" {
			id = in.inbox.idFor(r.ID, item.Agency)
		}
		if orig, ok := in.inbox.get(id); ok && orig.ID != item.ID {
			out = append(out, orig)
			item.TargetIDs = append(item.TargetIDs, orig.ID)
		}
	}
	item.TargetUnknown = len(item.Targets) > 0 && len(out) == 0
	return out
}

// adoptChanges links a document just delivered to the changes of it that
// arrived first, as if they had come after it.
func (in *inbound) adoptChanges(item *localapi.InboxItem, log zerolog.Logger) error {
	for _, cid := range in.inbox.pendingChanges(item.From, item.DocumentID, item.Agency) {
		change, err := in.inbox.change(cid, true, func(c *localapi.InboxItem) error {
			if slices.Contains(c.TargetIDs, item.ID) {
				return errUnchanged
			}
			c.TargetIDs = append(c.TargetIDs, item.ID)
			c.TargetUnknown = false
			return nil
		})
		switch {
		case errors.Is(err, errUnchanged), errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return err
		}
		b := &envelope.Business{DocType: envelope.BusinessType(change.BusinessDocType)}
		if err := in.markChanged([]*localapi.InboxItem{item}, change, b, log); err != nil {
			return err
		}
		if recallAnswered(change) {
			if err := in.mirrorAnswer(change, change.StatusCode, change.StatusID); err != nil {
				return err
			}
		}
	}
	return nil
}

var changeNames = map[envelope.BusinessType]string{
	envelope.BusinessRevoke:  localapi.ChangeRevoked,
	envelope.BusinessUpdate:  localapi.ChangeUpdated,
	envelope.BusinessReplace: localapi.ChangeReplaced,
}

// markChanged records the change on each original, once however often it
// is processed, and tells the legacy system.
func (in *inbound) markChanged(originals []*localapi.InboxItem, change *localapi.InboxItem, b *envelope.Business, log zerolog.Logger) error {
	if b == nil {
		return nil
	}
	name := changeNames[b.DocType]
	for _, o := range originals {
		orig, err := in.inbox.change(o.ID, true, func(orig *localapi.InboxItem) error {
			if slices.ContainsFunc(orig.ChangedBy, func(c localapi.InboxChange) bool { return c.ID == change.ID }) {
				return errUnchanged
			}
			orig.ChangedBy = append(orig.ChangedBy, localapi.InboxChange{ID: change.ID, Change: name, Reason: b.Reason})
			orig.Change = name
			if b.DocType == envelope.BusinessRevoke && orig.State != localapi.InboxQuarantined {
				orig.Recall = true
				if !recallAnswered(orig) {
					orig.State = localapi.InboxRecall
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, errUnchanged):
			continue
		case err != nil:
			return err
		}
		// Rare enough for a commit of its own: the original's history.
		now := in.clock.Now()
		err = in.store.Update(context.Background(), func(tx queue.Tx) error {
			if _, err := tx.Get(recordOf(orig.ID)); err != nil {
				return nil
			}
			tx.Emit(event(recordOf(orig.ID), name, change.From, now, atLink, recordOf(change.ID), atReason, b.Reason))
			return nil
		})
		if err != nil {
			return err
		}
		log.Warn().Str("inbox_id", orig.ID).Str("change_id", change.ID).Str("change", name).Str("state", orig.State).
			Msg("the sender " + name + " a document in the inbox: answer 15 (agree) or 16 (refuse)")
		in.hook.inboxChanged(orig, name)
	}
	return nil
}

// recallAnswered reports whether the clerk already answered a request to
// have the item back: a later recall or revocation of it asks nothing new.
func recallAnswered(item *localapi.InboxItem) bool {
	return envelope.StatusCode(item.StatusCode).AnswersRecall()
}

// mirrorAnswer carries a 15 or 16 between a revocation and the document it
// revokes, so that answering either settles both and one status goes out.
func (in *inbound) mirrorAnswer(item *localapi.InboxItem, code, statusID string) error {
	if code != string(envelope.StatusRecallAgreed) && code != string(envelope.StatusRecallRefused) {
		return nil
	}
	var linked []string
	if item.BusinessDocType == int(envelope.BusinessRevoke) {
		linked = item.TargetIDs
	}
	for _, c := range item.ChangedBy {
		if c.Change == localapi.ChangeRevoked {
			linked = append(linked, c.ID)
		}
	}
	for _, id := range linked {
		other, err := in.inbox.change(id, true, func(other *localapi.InboxItem) error {
			if other.State == localapi.InboxQuarantined || (other.StatusCode == code && other.State == localapi.InboxAnswered) {
				return errUnchanged
			}
			other.StatusCode, other.StatusID, other.State = code, statusID, localapi.InboxAnswered
			return nil
		})
		switch {
		case errors.Is(err, errUnchanged), errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return err
		}
		in.hook.inboxChanged(other, evStatus)
	}
	return nil
}
