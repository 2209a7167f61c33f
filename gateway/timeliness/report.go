package timeliness

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"lienthong/gateway/localapi"
)

// Grouping values: whose figures a report's rows are.
const (
	ByAgency      = "agency"
	ByCounterpart = "counterpart"
)

// MaxOverdueShown bounds the overdue list of one report; the count says
// how many there are in all.
const MaxOverdueShown = 1000

// Report adds up rows. Add each row of the period, then Result.
type Report struct {
	cal    *Calendar
	now    time.Time
	by     string
	only   func(agency string) bool
	groups map[string]*group
	total  group
	late   []localapi.OverdueDocument
	nlate  int
	// deadlines memoises the registration deadline by Vietnam's day.
	deadlines map[int64]time.Time
}

// side gathers one direction's durations before they are summarised.
type side struct {
	docs, overdue, lateDispatch, refused, recalled int
	arrived, registered                            []float32
	reasons                                        map[string]int
}

type group struct{ sent, received side }

// NewReport starts a report as of now, grouped by agency or counterpart.
// only, when set, keeps the parties of the agencies it accepts.
func NewReport(cal *Calendar, now time.Time, by string, only func(agency string) bool) *Report {
	return &Report{cal: cal, now: now, by: by, only: only, groups: map[string]*group{}, deadlines: map[int64]time.Time{}}
}

// registrationDeadline is the calendar's, worked out once a day.
func (rp *Report) registrationDeadline(t time.Time) time.Time {
	k := (t.Unix() + 7*3600) / 86400
	d, ok := rp.deadlines[k]
	if !ok {
		d = rp.cal.RegistrationDeadline(t)
		rp.deadlines[k] = d
	}
	return d
}

// Add counts one document.
func (rp *Report) Add(record string, r *Row) {
	if r.Dropped {
		return
	}
	for i := range r.Parties {
		p := &r.Parties[i]
		if rp.only != nil && !rp.only(p.Agency) {
			continue
		}
		key := p.Counterpart
		if rp.by == ByAgency {
			key = p.Agency
		}
		g := rp.groups[key]
		if g == nil {
			g = &group{}
			rp.groups[key] = g
		}
		rp.count(&g.sent, &g.received, &rp.total, record, r, p)
	}
}

func (rp *Report) count(sent, received *side, total *group, record string, r *Row, p *Party) {
	s, t := received, &total.received
	if r.Sent {
		s, t = sent, &total.sent
	}
	why := ""
	var deadline time.Time
	for _, x := range []*side{s, t} {
		x.docs++
		if r.Recalled {
			x.recalled++
		}
	}
	if r.Sent && (r.Uploaded.IsZero() && rp.now.After(r.Deadline) || !r.Uploaded.IsZero() && r.Uploaded.After(r.Deadline)) && !r.Deadline.IsZero() {
		why, deadline = "sent late", r.Deadline
		s.lateDispatch++
		t.lateDispatch++
	}
	if !r.Uploaded.IsZero() {
		if !p.Arrived.IsZero() {
			d := float32(p.Arrived.Sub(r.Uploaded).Seconds())
			s.arrived, t.arrived = append(s.arrived, d), append(t.arrived, d)
		}
		if !p.Registered.IsZero() {
			d := float32(p.Registered.Sub(r.Uploaded).Seconds())
			s.registered, t.registered = append(s.registered, d), append(t.registered, d)
		}
		if !p.Refused.IsZero() {
			for _, x := range []*side{s, t} {
				x.refused++
				if x.reasons == nil {
					x.reasons = map[string]int{}
				}
				x.reasons[strings.TrimSpace(p.Reason)]++
			}
		}
		reg := rp.registrationDeadline(r.Uploaded)
		// A refused or recalled document is not waiting for a 03.
		waiting := p.Refused.IsZero() && !r.Recalled
		switch {
		case !p.Registered.IsZero() && p.Registered.After(reg):
			why, deadline = "registered late", reg
		case p.Registered.IsZero() && waiting && rp.now.After(reg):
			why, deadline = "not registered", reg
		}
	}
	if why == "" {
		return
	}
	s.overdue++
	t.overdue++
	rp.nlate++
	if len(rp.late) < MaxOverdueShown {
		dir := "received"
		if r.Sent {
			dir = "sent"
		}
		rp.late = append(rp.late, localapi.OverdueDocument{
			Record: record, DocumentID: r.DocumentID, Subject: r.Subject, Direction: dir,
			Agency: p.Agency, Counterpart: p.Counterpart, Uploaded: r.Uploaded, Deadline: deadline, Why: why,
		})
	}
}

// Result summarises what was added; names gives agencies' names.
func (rp *Report) Result(since, until time.Time, names func(code string) string) *localapi.TimelinessReport {
	out := &localapi.TimelinessReport{
		Since: since, Until: until, Time: rp.now, By: rp.by,
		Rows: []localapi.TimelinessRow{}, Overdue: rp.late, OverdueCount: rp.nlate,
	}
	if out.Overdue == nil {
		out.Overdue = []localapi.OverdueDocument{}
	}
	for code, g := range rp.groups {
		row := localapi.TimelinessRow{Code: code, Sent: g.sent.result(), Received: g.received.result()}
		if names != nil {
			row.Name = names(code)
		}
		out.Rows = append(out.Rows, row)
	}
	slices.SortFunc(out.Rows, func(a, b localapi.TimelinessRow) int { return cmp.Compare(a.Code, b.Code) })
	out.Total = localapi.TimelinessRow{Code: "", Sent: rp.total.sent.result(), Received: rp.total.received.result()}
	return out
}

func (s *side) result() localapi.TimelinessSide {
	out := localapi.TimelinessSide{
		Documents: s.docs, Overdue: s.overdue, LateDispatch: s.lateDispatch, Refused: s.refused, Recalled: s.recalled,
		ToArrived: summarise(s.arrived), ToRegistered: summarise(s.registered),
	}
	for reason, n := range s.reasons {
		out.Reasons = append(out.Reasons, localapi.RefusalReason{Reason: reason, Count: n})
	}
	slices.SortFunc(out.Reasons, func(a, b localapi.RefusalReason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// summarise gives the median and 90th percentile by the nearest rank.
func summarise(d []float32) localapi.Durations {
	if len(d) == 0 {
		return localapi.Durations{}
	}
	slices.Sort(d)
	rank := func(p float64) float64 {
		i := int(p*float64(len(d))+0.999999) - 1
		return float64(d[max(0, min(i, len(d)-1))])
	}
	return localapi.Durations{Count: len(d), Median: rank(0.5), P90: rank(0.9)}
}
