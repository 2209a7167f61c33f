package gateway

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"lienthong/conf"
	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/localapi"
	"lienthong/gateway/timeliness"
	"lienthong/queue"
)

// openCalendar builds the working-day calendar from the configuration.
func openCalendar(c conf.Calendar) (*timeliness.Calendar, error) {
	days := map[int]bool{}
	if c.HolidaysFile != "" {
		f, err := os.Open(c.HolidaysFile)
		if err != nil {
			return nil, fmt.Errorf("calendar.holidays_file: %w", err)
		}
		err = timeliness.ParseHolidays(f, days)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("calendar.holidays_file %s: %w", c.HolidaysFile, err)
		}
	}
	for i, d := range c.Holidays {
		if err := timeliness.AddDays(d, true, days); err != nil {
			return nil, fmt.Errorf("calendar.holidays[%d]: %w", i, err)
		}
	}
	for i, d := range c.WorkDays {
		if err := timeliness.AddDays(d, false, days); err != nil {
			return nil, fmt.Errorf("calendar.work_days[%d]: %w", i, err)
		}
	}
	return timeliness.NewCalendar(days), nil
}

// reportRow makes the report row of a document we sent or received, in
// the commit that writes its record; statuses and packages not delivered
// have none. me is our agency in records of one-agency versions;
// autoArrived says 01 was answered at delivery.
func reportRow(me string, autoArrived bool) func(*queue.Record) []byte {
	return func(r *queue.Record) []byte {
		if r.Dir == queue.Outbound {
			return sentRow(r, me)
		}
		return receivedRow(r, me, autoArrived)
	}
}

func sentRow(r *queue.Record, me string) []byte {
	o := readOut(r)
	if o.Kind != kindDocument {
		return nil
	}
	row := timeliness.Row{
		Sent: true, DocumentID: o.DocumentID, Subject: o.Subject, Uploaded: o.SentAt, Deadline: o.Deadline,
		Recalled: o.Recalled, Dropped: o.SentAt.IsZero() && r.State == queue.Dead,
	}
	from := cmp.Or(o.From, me)
	rs := recipientsOf(r)
	for _, code := range o.To {
		p := timeliness.Party{Agency: from, Counterpart: code}
		for _, rc := range rs {
			if rc.OrganID != code {
				continue
			}
			p.Arrived, p.Refused, p.Registered = rc.Times["01"], rc.Times["02"], rc.Times["03"]
			if !p.Refused.IsZero() {
				p.Reason = rc.Description
			}
		}
		row.Parties = append(row.Parties, p)
	}
	return row.Encode()
}

func receivedRow(r *queue.Record, me string, autoArrived bool) []byte {
	in := readIn(r)
	if in.Kind != kindDocument {
		return nil
	}
	items := itemsOf(r)
	if len(items) == 0 {
		return nil
	}
	row := timeliness.Row{DocumentID: in.DocumentID, Uploaded: axisTime(in.AxisTime, r.Created)}
	for _, it := range items {
		row.Subject = it.Subject
		p := timeliness.Party{Agency: cmp.Or(it.Agency, me), Counterpart: it.From}
		p.Arrived = answeredAt(r, it.ID, "01")
		if p.Arrived.IsZero() && autoArrived {
			p.Arrived = it.Received
		}
		p.Registered = answeredAt(r, it.ID, "03")
		p.Refused = answeredAt(r, it.ID, "02")
		if it.State == localapi.InboxQuarantined {
			p.Refused, p.Reason = it.Received, it.Reason
		}
		if it.Recall {
			row.Recalled = true
		}
		row.Parties = append(row.Parties, p)
	}
	return row.Encode()
}

// axisTime is when the axis says it received a package, as listed;
// fallback when it said nothing readable.
func axisTime(s string, fallback time.Time) time.Time {
	if t, err := axis.ParseListTime(s); err == nil {
		return t
	}
	return fallback
}

// Timeliness reports how fast the documents put in a period crossed and
// were registered; a scoped token sees its own agencies only.
func (g *Gateway) Timeliness(ctx context.Context, c Caller, q localapi.ReportQuery) (*localapi.TimelinessReport, error) {
	rp, ok := g.store.(queue.Reporter)
	if !ok {
		return nil, fmt.Errorf("%w: this store keeps no report rows", ErrUnavailable)
	}
	by := cmp.Or(q.By, timeliness.ByCounterpart)
	if by != timeliness.ByAgency && by != timeliness.ByCounterpart {
		return nil, envelope.Problems{{Path: "by", Rule: "must be agency or counterpart", Value: q.By}}
	}
	return timelinessReport(ctx, rp, g.cal, g.clock.Now(), by, q, c.Allows, g.agencyName)
}

// timelinessReport reads the rows of a period and adds them up.
func timelinessReport(ctx context.Context, rp queue.Reporter, cal *timeliness.Calendar, now time.Time, by string, q localapi.ReportQuery,
	allows func(string) bool, names func(string) string) (*localapi.TimelinessReport, error) {
	since, until := q.Since, q.Until
	if since.IsZero() {
		y, m, _ := now.In(envelope.Vietnam).Date()
		since = time.Date(y, m, 1, 0, 0, 0, 0, envelope.Vietnam)
	}
	if until.IsZero() {
		until = since.AddDate(0, 1, 0)
	}
	if !until.After(since) {
		return nil, envelope.Problems{{Path: "until", Rule: "must be after since (" + since.Format(time.RFC3339) + ")", Value: until.Format(time.RFC3339)}}
	}
	report := timeliness.NewReport(cal, now, by, allows)
	var row timeliness.Row
	var bad error
	err := rp.EachReportRow(ctx, since, until, func(id string, _ time.Time, b []byte) bool {
		if err := row.Decode(b); err != nil {
			bad = fmt.Errorf("report row of %s: %w", id, err)
			return false
		}
		report.Add(id, &row)
		return true
	})
	if err = cmp.Or(err, bad); err != nil {
		return nil, edge(err)
	}
	return report.Result(since.UTC(), until.UTC(), names), nil
}

// purgeReportRows drops the report rows past reports.retention.
func (g *Gateway) purgeReportRows(ctx context.Context) {
	rp, ok := g.store.(queue.Reporter)
	if !ok {
		return
	}
	cutoff := g.clock.Now().Add(-time.Duration(g.cfg.Reports.Retention))
	n, err := rp.PurgeReportRows(ctx, cutoff)
	if err != nil {
		g.log.Error().Err(err).Msg("purge report rows")
		return
	}
	if n > 0 {
		g.log.Info().Int("rows", n).Time("before", cutoff).Msg("purged report rows past reports.retention")
	}
}

// agencyName is an agency's name in the directory, "" if unknown.
func (g *Gateway) agencyName(code string) string {
	e, _ := g.dir.Lookup(code)
	return e.Name
}

// Now is the gateway's time, by which reports and the console's sessions
// reckon.
func (g *Gateway) Now() time.Time { return g.clock.Now() }
