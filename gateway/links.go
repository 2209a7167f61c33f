package gateway

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lienthong/conf"
	"lienthong/directory"
	"lienthong/gateway/axis"
	"lienthong/queue"
)

// link is one axis reached with one credential: the documents of the
// agencies on it go out through it, a poller lists what it holds for
// them, and its breaker pauses it alone, so one axis being down does not
// slow another.
type link struct {
	axis    string // the axis's name: metrics label and DocId scope
	id      string // the axis, or axis/CODE for an agency's own credentials
	breaker *breaker
	cur     atomic.Pointer[linkClient] // swapped when credentials reload
}

// linkClient is a link's client, as the sending and receiving sides see it.
type linkClient struct {
	client axis.Axis // nil in tests that give the sides their own
	out    axisSender
	in     axisReceiver
}

func (l *link) out() axisSender   { return l.cur.Load().out }
func (l *link) in() axisReceiver  { return l.cur.Load().in }
func (l *link) client() axis.Axis { return l.cur.Load().client }

func newLink(name, id string, cl axis.Axis, b *breaker) *link {
	l := &link{axis: name, id: id, breaker: b}
	l.cur.Store(&linkClient{client: cl, out: cl, in: cl})
	return l
}

// scoped is a DocId as the inbox keys it: the national axis's as the axis
// gave it, so stores from before other axes keep their keys; another's
// behind its name, so the same DocId on two axes never collides.
func (l *link) scoped(docID string) string {
	if l.axis == conf.NationalAxis {
		return docID
	}
	return l.axis + ":" + docID
}

// foreign is the axis's name, "" for the national axis: what an inbound
// record notes of where it came from.
func (l *link) foreign() string {
	if l.axis == conf.NationalAxis {
		return ""
	}
	return l.axis
}

// links are every link of the gateway and which agency goes out on which.
type links struct {
	all      []*link
	polled   []*link          // those some agency uses, the first always
	byAgency map[string]*link // configured agencies
	units    sync.Map         // unit code → *link, found under a configured agency
}

// oneLink is a gateway on a single axis, as tests build one.
func oneLink(out axisSender, in axisReceiver, b *breaker) *links {
	l := &link{axis: conf.NationalAxis, id: conf.NationalAxis, breaker: b}
	l.cur.Store(&linkClient{out: out, in: in})
	return &links{all: []*link{l}, polled: []*link{l}, byAgency: map[string]*link{}}
}

// of is the link an agency's packages go out on: its own, its parent
// agency's for a unit, else the first.
func (ls *links) of(code string) *link {
	if l, ok := ls.byAgency[code]; ok {
		return l
	}
	if l, ok := ls.units.Load(code); ok {
		return l.(*link)
	}
	l := ls.all[0]
	if c, err := directory.ParseCode(code); err == nil {
		for p := c.Parent(); p != ""; p = p.Parent() {
			if pl, ok := ls.byAgency[string(p)]; ok {
				l = pl // the nearest configured agency above it
				break
			}
		}
	}
	ls.units.Store(code, l)
	return l
}

// paused reports whether every link's breaker is open, and the soonest
// one closes: a sender then waits instead of leasing.
func (ls *links) paused(now time.Time) (bool, time.Duration) {
	wait := time.Duration(0)
	for _, l := range ls.all {
		ok, w := l.breaker.peek(now)
		if ok {
			return false, 0
		}
		if wait == 0 || w < wait {
			wait = w
		}
	}
	return true, wait
}

// linkPlan is one link as a configuration describes it.
type linkPlan struct {
	id   string
	axis conf.Axis // with the agency's own credentials, for axis/CODE
}

// planLinks lists the links a configuration needs, in order, and which
// one each configured agency goes out on.
func planLinks(c conf.Config) (plans []linkPlan, byAgency map[string]string) {
	axes := c.AllAxes()
	byName := map[string]conf.Axis{}
	for _, a := range axes {
		plans = append(plans, linkPlan{id: a.Name, axis: a})
		byName[a.Name] = a
	}
	byAgency = map[string]string{}
	for _, ag := range append([]conf.Agency{c.Agency}, c.Agencies...) {
		name := cmp.Or(ag.Axis, axes[0].Name)
		byAgency[ag.Code] = name
		if ag.AxisSystemID != "" {
			a := byName[name]
			a.SystemID, a.Secret = ag.AxisSystemID, ag.AxisSecret
			id := name + "/" + ag.Code
			plans = append(plans, linkPlan{id: id, axis: a})
			byAgency[ag.Code] = id
		}
	}
	return plans, byAgency
}

// openLinks makes a client for every axis of the configuration, and one
// more for every agency holding its own credentials on its axis.
func openLinks(c conf.Config, newBreaker func(conf.Axis) *breaker, clientOf func(name string, a conf.Axis) (axis.Axis, error)) (*links, error) {
	ls := &links{byAgency: map[string]*link{}}
	plans, byAgency := planLinks(c)
	byID := map[string]*link{}
	for _, p := range plans {
		cl, err := clientOf(p.axis.Name, p.axis)
		if err != nil {
			ls.close()
			if p.id != p.axis.Name {
				err = fmt.Errorf("agency %s's own credentials on axis %s: %w", p.id[len(p.axis.Name)+1:], p.axis.Name, err)
			}
			return nil, err
		}
		l := newLink(p.axis.Name, p.id, cl, newBreaker(p.axis))
		ls.all = append(ls.all, l)
		byID[p.id] = l
	}
	ls.polled = []*link{ls.all[0]}
	for _, ag := range append([]conf.Agency{c.Agency}, c.Agencies...) {
		l := byID[byAgency[ag.Code]]
		ls.byAgency[ag.Code] = l
		if !slices.Contains(ls.polled, l) {
			ls.polled = append(ls.polled, l)
		}
	}
	return ls, nil
}

// reload gives every link a client with the credentials c names now:
// secrets and token passwords are rotated without a restart. It reports
// false, changing nothing, when c needs other links than those running
// (an axis or an agency's own credentials added or removed, an agency
// moved to another axis): that waits for a restart.
func (ls *links) reload(c conf.Config, clientOf func(name string, a conf.Axis) (axis.Axis, error)) (bool, error) {
	plans, byAgency := planLinks(c)
	if len(plans) != len(ls.all) {
		return false, nil
	}
	for i, p := range plans {
		if l := ls.all[i]; l.id != p.id || l.axis != p.axis.Name {
			return false, nil
		}
	}
	for code, id := range byAgency {
		if l, ok := ls.byAgency[code]; ok && l.id != id {
			return false, nil
		}
	}
	fresh := make([]axis.Axis, len(plans))
	for i, p := range plans {
		cl, err := clientOf(p.axis.Name, p.axis)
		if err != nil {
			for _, f := range fresh[:i] {
				f.Close()
			}
			return false, fmt.Errorf("%s: %w", p.id, err)
		}
		fresh[i] = cl
	}
	for i, l := range ls.all {
		// A call under way finishes on the old client; Close only drops
		// its idle connections.
		if old := l.cur.Swap(&linkClient{client: fresh[i], out: fresh[i], in: fresh[i]}); old.client != nil {
			old.client.Close()
		}
	}
	return true, nil
}

// axes are the axes' names, in order.
func (ls *links) axes() []string {
	var names []string
	for _, l := range ls.all {
		if !slices.Contains(names, l.axis) {
			names = append(names, l.axis)
		}
	}
	return names
}

// breakerState is an axis's breaker state, the worst of its links':
// open, then half-open, then closed.
func (ls *links) breakerState(name string, now time.Time) int {
	worst := breakerClosed
	for _, l := range ls.all {
		if l.axis != name {
			continue
		}
		if st := l.breaker.state(now); st == breakerOpen || (st == breakerHalfOpen && worst == breakerClosed) {
			worst = st
		}
	}
	return worst
}

// close drops every client's idle connections.
func (ls *links) close() {
	for _, l := range ls.all {
		if c := l.client(); c != nil {
			c.Close()
		}
	}
}

// holdForBreaker returns a record leased for a link whose breaker is open
// to the queue until the breaker lets a call through, without counting
// the attempt the lease counted: an axis's outage is not the document's.
// A record taken after its lease expired is marked for the reconcile step
// in the same commit: the upload of the lease that expired may have
// arrived, and the next lease will not say that it expired.
func (o *outbound) holdForBreaker(r *queue.Record, l *link, wait time.Duration) {
	now := o.clock.Now()
	expired := r.LeaseExpired()
	err := o.store.Update(context.Background(), func(tx queue.Tx) error {
		if _, err := tx.Reschedule(now, r.ID, r.Lease, now.Add(wait), fmt.Sprintf("axis %s paused (circuit breaker open)", l.axis)); err != nil {
			return err
		}
		_, err := tx.Change(r.ID, func(r *queue.Record) error {
			r.Attempts = max(r.Attempts-1, 0)
			if expired {
				if r.Meta == nil {
					r.Meta = map[string]string{}
				}
				maps.Copy(r.Meta, markAmbiguous)
			}
			return nil
		})
		return err
	})
	if err != nil {
		o.log.Error().Err(err).Str("id", r.ID).Msg("hold a record while its axis is paused; its lease runs out instead")
	}
}
