package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// States of an inbound problem as the API names them.
const (
	problemDead        = "dead"
	problemUnfetchable = "unfetchable"
	problemRefetching  = "refetching"
	problemSetAside    = "set-aside"
)

// Kinds of the events of the inbound tools.
const evSetAside = "set-aside"

// metaSetAside is why an operator set a dead inbound package aside.
const metaSetAside = "setAside"

// maxProblems bounds the dead records one listing reads.
const maxProblems = 10000

// problems lists the packages received that could not be handled: dead
// records, oldest first, then the packages the axis lists that could not
// be fetched (this node's, kept in memory).
func (in *inbound) problems(ctx context.Context) ([]localapi.InboundProblem, error) {
	out := []localapi.InboundProblem{}
	f := queue.Filter{Dir: queue.Inbound, States: []queue.State{queue.Dead}, Limit: 1000}
	for len(out) < maxProblems {
		recs, next, err := queue.List(ctx, in.store, f)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			m := readIn(r)
			out = append(out, localapi.InboundProblem{
				ID: r.ID, State: problemDead, AxisDocID: m.AxisDocID, From: m.From, MessageType: m.MessageType,
				Since: r.Updated.UTC(), Failures: r.Attempts, LastError: r.LastError,
			})
		}
		if next == "" {
			break
		}
		f.After = next
	}
	oldestFirst := func(a, b localapi.InboundProblem) int {
		return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.ID, b.ID))
	}
	slices.SortFunc(out, oldestFirst)
	in.fetchMu.Lock()
	var un []localapi.InboundProblem
	for id, st := range in.fetches {
		if st.failures == 0 && st.lastErr == "" {
			continue
		}
		un = append(un, localapi.InboundProblem{
			ID: id, State: problemUnfetchable, AxisDocID: id, From: st.item.From, MessageType: st.mt,
			Since: st.since.UTC(), Failures: st.failures, LastError: st.lastErr, SetAside: st.setAside,
		})
	}
	in.fetchMu.Unlock()
	slices.SortFunc(un, oldestFirst)
	return append(out, un...), nil
}

// unfetchable counts the packages set aside as unfetchable, and since
// when the oldest.
func (in *inbound) unfetchable() (n int, oldest time.Time) {
	in.fetchMu.Lock()
	defer in.fetchMu.Unlock()
	for _, st := range in.fetches {
		if st.setAside {
			n++
			if oldest.IsZero() || st.since.Before(oldest) {
				oldest = st.since
			}
		}
	}
	return n, oldest
}

// refetch tries a problem package again: a dead record is processed again
// from the package stored; an unfetchable one is fetched at the next poll,
// its failures forgotten.
func (in *inbound) refetch(ctx context.Context, id, client string) (*localapi.InboundProblem, error) {
	if !strings.HasPrefix(id, "in-") {
		in.fetchMu.Lock()
		st, ok := in.fetches[id]
		delete(in.fetches, id)
		in.fetchMu.Unlock()
		if !ok {
			return nil, fmt.Errorf("%w: no package %s could not be fetched on this node (GET /v1/inbound/problems lists them)", ErrNotFound, id)
		}
		in.log.Warn().Str("axis_doc_id", id).Str("client", client).Int("failures", st.failures).Msg("unfetchable package to be fetched again at the next poll")
		in.wake.notify()
		return &localapi.InboundProblem{ID: id, State: problemRefetching, AxisDocID: id, From: st.item.From, MessageType: st.mt, Since: st.since.UTC(), Failures: st.failures}, nil
	}
	r, err := in.deadRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	now := in.clock.Now()
	reason := "processed again by " + cmp.Or(client, "an operator")
	err = in.store.Update(ctx, func(tx queue.Tx) (err error) {
		if r, err = tx.Resend(now, id, reason); err == nil {
			tx.Emit(event(id, evResent, "", now, atReason, reason, atClient, client))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	m := readIn(r)
	in.log.Warn().Str("id", id).Str("axis_doc_id", m.AxisDocID).Str("client", client).Msg("dead inbound package put back to be processed again")
	in.wake.notify()
	return &localapi.InboundProblem{ID: id, State: problemRefetching, AxisDocID: m.AxisDocID, From: m.From, MessageType: m.MessageType, Since: now.UTC(), Failures: r.Attempts}, nil
}

// setAside ends a dead inbound package for good once an operator dealt
// with it by hand (asked the sender, registered it on paper): it stays,
// finished, with the reason and who set it aside in its history.
func (in *inbound) setAside(ctx context.Context, id, client, reason string) (*localapi.InboundProblem, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, envelope.Problems{{Path: "reason", Rule: "is required: say how the package was dealt with"}}
	}
	if !strings.HasPrefix(id, "in-") {
		return nil, fmt.Errorf("%w: %s is a package the axis still lists: it is set aside already until the next start; re-fetch it once the cause is fixed", ErrConflict, id)
	}
	r, err := in.deadRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	now := in.clock.Now()
	err = in.store.Update(ctx, func(tx queue.Tx) (err error) {
		r, err = endByHand(tx, now, r, "set aside", map[string]string{metaSetAside: reason}, event(id, evSetAside, "", now, atReason, reason, atClient, client))
		return err
	})
	if err != nil {
		return nil, err
	}
	m := readIn(r)
	in.log.Warn().Str("id", id).Str("axis_doc_id", m.AxisDocID).Str("client", client).Str("reason", reason).Msg("dead inbound package set aside by an operator")
	return &localapi.InboundProblem{ID: id, State: problemSetAside, AxisDocID: m.AxisDocID, From: m.From, MessageType: m.MessageType, Since: now.UTC(), Failures: r.Attempts, LastError: r.LastError}, nil
}

// deadRecord reads an inbound record the tools may act on.
func (in *inbound) deadRecord(ctx context.Context, id string) (*queue.Record, error) {
	r, err := queue.Get(ctx, in.store, id)
	if errors.Is(err, queue.ErrNotFound) || err == nil && r.Dir != queue.Inbound {
		return nil, fmt.Errorf("%w: no inbound record %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if r.State != queue.Dead {
		return nil, fmt.Errorf("%w: %s is not dead (state %s): only a package given up is processed again or set aside", ErrConflict, id, r.State)
	}
	return r, nil
}

// InboundProblems lists the packages received that could not be handled;
// the whole gateway's, so a scoped token is refused.
func (g *Gateway) InboundProblems(ctx context.Context, c Caller) ([]localapi.InboundProblem, error) {
	if err := unscoped(c, "the inbound problems are"); err != nil {
		return nil, err
	}
	ps, err := g.in.problems(ctx)
	return ps, edge(err)
}

// Refetch tries a dead or unfetchable inbound package again.
func (g *Gateway) Refetch(ctx context.Context, c Caller, id string) (*localapi.InboundProblem, error) {
	if err := unscoped(c, "the inbound problems are"); err != nil {
		return nil, err
	}
	p, err := g.in.refetch(ctx, id, c.Name)
	return p, edge(err)
}

// SetAside ends a dead inbound package, with the reason.
func (g *Gateway) SetAside(ctx context.Context, c Caller, id, reason string) (*localapi.InboundProblem, error) {
	if err := unscoped(c, "the inbound problems are"); err != nil {
		return nil, err
	}
	p, err := g.in.setAside(ctx, id, c.Name, reason)
	return p, edge(err)
}
