package gateway

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"lienthong/gateway/axis"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// axisHealth is the axis as this node last reached it: a call the axis
// answered, even with a refusal, reached it; one that got no answer did
// not.
type axisHealth struct {
	mu           sync.Mutex
	lastOK       time.Time
	failingSince time.Time
	lastErr      string
}

func (h *axisHealth) observe(now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil || axis.ClassOf(err) == axis.Terminal {
		h.lastOK, h.failingSince, h.lastErr = now, time.Time{}, ""
		return
	}
	if h.failingSince.IsZero() {
		h.failingSince = now
	}
	h.lastErr = err.Error()
}

func (h *axisHealth) read() (lastOK, failingSince time.Time, lastErr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastOK, h.failingSince, h.lastErr
}

// Limits of what needs action.
const (
	certWarnDays = 30               // a signing certificate this close to expiry
	evidenceLate = 10 * time.Minute // entries unsigned this long
	retryScan    = 10000            // queued records looked at for retries
)

// Summary is the gateway's state for an operator, and the problems that
// need action. The whole gateway's: a token scoped to some agencies is
// refused.
func (g *Gateway) Summary(ctx context.Context, c Caller) (*localapi.Summary, error) {
	if err := unscoped(c, "the summary is"); err != nil {
		return nil, err
	}
	now := g.clock.Now()
	s := &localapi.Summary{Time: now.UTC(), Problems: []string{}}
	g.axisSummary(s, now)
	if err := g.queueSummary(ctx, s, now); err != nil {
		return nil, edge(err)
	}
	g.inboxSummary(s, now)
	s.Directory = localapi.DirectorySummary{Agencies: g.dir.Len(), Stale: g.dir.Stale(now)}
	if t := g.dir.LastSync(); !t.IsZero() {
		s.Directory.Synced = stampOf(t)
	}
	if held, err := g.dir.Held(); err == nil {
		s.Directory.Held = len(held)
	}
	switch {
	case s.Directory.Synced == nil:
		problem(s, "the agency directory was never synced from the axis: recipients cannot be checked")
	case s.Directory.Stale:
		problem(s, "the agency directory was last synced %s: check the axis and the log line 'directory sync failed'", ago(now, *s.Directory.Synced))
	}
	if s.Directory.Held > 0 {
		problem(s, "%d directory change(s) held: an agency we exchange with would be deleted or moved; check with the axis operator (lienthong dir held), then list the codes in directory.accept_changes", s.Directory.Held)
	}
	agencies, err := g.Agencies(ctx, c)
	if err != nil {
		return nil, err
	}
	s.Agencies = agencies
	for _, a := range agencies {
		switch {
		case a.Key == "none":
			problem(s, "%s %s has no signing key: its documents cannot be sent", a.Code, a.Name)
		case a.NotAfter != nil && !now.Before(*a.NotAfter):
			problem(s, "the signing certificate of %s expired on %s: renew it (docs/operators.md, Rotating the signing certificate)", a.Code, a.NotAfter.Format(time.DateOnly))
		case a.NotAfter != nil && a.NotAfter.Sub(now) < certWarnDays*24*time.Hour:
			problem(s, "the signing certificate of %s expires in %d days (%s): renew it", a.Code, int(a.NotAfter.Sub(now).Hours()/24), a.NotAfter.Format(time.DateOnly))
		}
	}
	if err := g.evidenceSummary(ctx, s, now); err != nil {
		return nil, edge(err)
	}
	return s, nil
}

func (g *Gateway) axisSummary(s *localapi.Summary, now time.Time) {
	worst := -1
	axes := g.cfg.AllAxes()
	for _, ax := range axes {
		a := g.axisState(ax.Name, now)
		s.Axes = append(s.Axes, a)
		switch {
		case a.State != "unreachable":
		case len(axes) == 1:
			problem(s, "the axis is unreachable since %s (%s): documents are queued and go once it answers; check the network and %s",
				a.FailingSince.UTC().Format(time.RFC3339), a.LastError, ax.Endpoint)
		default:
			problem(s, "axis %s is unreachable since %s (%s): its agencies' documents are queued and go once it answers; check the network and %s",
				ax.Name, a.FailingSince.UTC().Format(time.RFC3339), a.LastError, ax.Endpoint)
		}
		if rank := slices.Index([]string{"ok", "not reached yet", "unreachable"}, a.State); rank > worst {
			worst, s.Axis = rank, a
		}
	}
	s.Axis.Name = ""
}

// axisState is one axis as its calls went, its breaker the worst of its
// links'.
func (g *Gateway) axisState(name string, now time.Time) localapi.AxisState {
	a := localapi.AxisState{Name: name, State: "ok", Breaker: [...]string{"closed", "open", "half-open"}[g.axes.breakerState(name, now)]}
	lastOK, since, lastErr := g.healths[name].read()
	if !lastOK.IsZero() {
		a.LastSuccess = stampOf(lastOK)
	}
	switch {
	case !since.IsZero():
		a.State, a.FailingSince, a.LastError = "unreachable", stampOf(since), lastErr
	case lastOK.IsZero():
		a.State = "not reached yet"
	}
	return a
}

func (g *Gateway) queueSummary(ctx context.Context, s *localapi.Summary, now time.Time) error {
	for _, st := range g.store.Stats() {
		var c *localapi.Count
		switch {
		case st.Dir == queue.Outbound && st.State == queue.Ready:
			c = &s.Outbound.Queued
		case st.Dir == queue.Outbound && st.State == queue.Leased:
			c = &s.Outbound.Sending
		case st.Dir == queue.Outbound && st.State == queue.Dead:
			c = &s.Outbound.Dead
		case st.Dir == queue.Inbound && (st.State == queue.Ready || st.State == queue.Leased):
			c = &s.Inbound.Processing
		case st.Dir == queue.Inbound && st.State == queue.Dead:
			c = &s.Inbound.Dead
		default:
			continue
		}
		add(c, st.Count, st.Oldest)
	}
	// Retries among the queued, oldest first, as far as retryScan.
	if s.Outbound.Queued.Count > 0 {
		f := queue.Filter{Dir: queue.Outbound, States: []queue.State{queue.Ready}, Limit: 1000}
		for seen := 0; seen < retryScan; seen += f.Limit {
			recs, next, err := queue.List(ctx, g.store, f)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Attempts > 0 {
					add(&s.Outbound.Retry, 1, r.Created)
				}
			}
			if next == "" {
				break
			}
			f.After = next
		}
	}
	if n := s.Outbound.Dead.Count; n > 0 {
		problem(s, "%d outbound document(s) or status(es) given up (dead): resend or discard them (lienthong outbox --state dead)", n)
	}
	if n := s.Inbound.Dead.Count; n > 0 {
		problem(s, "%d inbound package(s) could not be processed (dead): process them again once the cause is fixed (lienthong inbound refetch ID), or set them aside once dealt with by hand (lienthong inbound set-aside ID --reason …)", n)
	}
	if n, oldest := g.in.unfetchable(); n > 0 {
		add(&s.Inbound.Unfetchable, n, oldest)
		problem(s, "%d package(s) the axis lists for us could not be fetched and are set aside on this node: see lienthong inbound, and fetch them again once the cause is fixed (lienthong inbound refetch DOCID)", n)
	}
	return nil
}

func (g *Gateway) inboxSummary(s *localapi.Summary, now time.Time) {
	g.inbox.mu.Lock()
	defer g.inbox.mu.Unlock()
	for _, it := range g.inbox.items {
		switch it.State {
		case localapi.InboxQuarantined:
			add(&s.Inbound.Quarantined, 1, it.Received)
		case localapi.InboxNew:
			add(&s.Inbound.Unanswered, 1, it.Received)
			if now.After(g.cal.RegistrationDeadline(it.Received)) {
				add(&s.Inbound.Overdue, 1, it.Received)
			}
		}
	}
	if n := s.Inbound.Overdue.Count; n > 0 {
		problem(s, "%d received document(s) not registered by the end of the next working day (the oldest arrived %s): the document system has not answered them", n, s.Inbound.Overdue.Oldest.Format(time.RFC3339))
	}
}

func (g *Gateway) evidenceSummary(ctx context.Context, s *localapi.Summary, now time.Time) error {
	led, ok := g.store.(queue.Ledger)
	if g.ev == nil || !ok {
		return nil
	}
	size, _, err := led.LogSize(ctx)
	if err != nil {
		return err
	}
	pending, err := led.Pending(ctx)
	if err != nil {
		return err
	}
	last, ok, err := led.LastCheckpoint(ctx)
	if err != nil {
		return err
	}
	e := &localapi.EvidenceSummary{Unsigned: size - last.Size + pending}
	if ok {
		e.LatestCheckpoint = stampOf(last.At)
	}
	// Without a checkpoint yet, the first is due within a minute of start.
	since := g.opened
	if ok {
		since = last.At
	}
	if e.Unsigned > 0 && now.Sub(since) > evidenceLate {
		problem(s, "%d evidence entries wait for a signed checkpoint (the last %s): see the log line 'evidence log'", e.Unsigned, checkpointAge(now, last, ok))
	}
	s.Evidence = e
	return nil
}

func checkpointAge(now time.Time, last queue.Checkpoint, ok bool) string {
	if !ok {
		return "never"
	}
	return ago(now, last.At)
}

// problem adds what needs action to a summary.
func problem(s *localapi.Summary, format string, args ...any) {
	s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
}

func add(c *localapi.Count, n int, oldest time.Time) {
	c.Count += n
	if !oldest.IsZero() && (c.Oldest == nil || oldest.Before(*c.Oldest)) {
		c.Oldest = stampOf(oldest)
	}
}

func stampOf(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

// ago says how long before now t was, for a person.
func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Minute)
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < 48*time.Hour:
		return d.String() + " ago"
	}
	return fmt.Sprintf("%d days ago (%s)", int(d.Hours()/24), t.UTC().Format(time.DateOnly))
}
