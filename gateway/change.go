package gateway

import (
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
		r, err := in.store.GetByKey(queue.Inbound, deliveredKey(from, target)+suffix)
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
	for _, orig := range originals {
		if slices.ContainsFunc(orig.ChangedBy, func(c localapi.InboxChange) bool { return c.ID == change.ID }) {
			continue
		}
		orig.ChangedBy = append(orig.ChangedBy, localapi.InboxChange{ID: change.ID, Change: name, Reason: b.Reason})
		orig.Change = name
		if b.DocType == envelope.BusinessRevoke && orig.State != localapi.InboxQuarantined {
			orig.Recall, orig.State = true, localapi.InboxRecall
		}
		if err := in.inbox.update(orig); err != nil {
			return err
		}
		log.Warn().Str("inbox_id", orig.ID).Str("change_id", change.ID).Str("change", name).Str("state", orig.State).
			Msg("the sender " + name + " a document in the inbox: answer 15 (agree) or 16 (refuse)")
		in.hook.inboxChanged(orig)
	}
	return nil
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
		other, ok := in.inbox.get(id)
		if !ok || other.State == localapi.InboxQuarantined || other.StatusCode == code {
			continue
		}
		other.StatusCode, other.StatusID, other.State = code, statusID, localapi.InboxAnswered
		if err := in.inbox.update(other); err != nil {
			return err
		}
		in.hook.inboxChanged(other)
	}
	return nil
}
