package main

import (
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lienthong/gateway/localapi"
)

const reportLong = `Asks the running daemon how fast documents crossed and were registered
(GET /v1/reports/timeliness): for each counterpart (or, with --by agency,
each of our agencies), the documents sent and received, the median and 90th
percentile time from the upload to the recipient's 01 (arrived) and 03
(registered), those overdue (no 03 by the end of the next working day, or
sent after noon of the next working day after signing, per QĐ 28/2018),
refused (02) and recalled; then the overdue documents.

The period is the current month unless --month or --since/--until say
otherwise; dates are Vietnam's. On a terminal it prints tables; otherwise, or
with -o json, the report as JSON; -o csv writes a spreadsheet with a BOM,
for Excel (--overdue: of the overdue documents).`

func reportCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "report", Short: "timeliness report: how fast documents were registered, who is late",
		Long: reportLong, Args: nArgs(0),
		Example: "  lienthong report\n  lienthong report --month 2026-11 --by agency\n  lienthong report --month 2026-11 -o csv > bao-cao-11.csv\n  lienthong report --since 2026-01-01 --until 2026-07-01 --overdue -o csv > qua-han.csv"}
	api := addAPIFlags(c.Flags())
	month := c.Flags().String("month", "", "a month, YYYY-MM")
	since := c.Flags().String("since", "", "documents put from this date (YYYY-MM-DD) or time (RFC 3339)")
	until := c.Flags().String("until", "", "documents put before this date or time")
	by := c.Flags().String("by", "counterpart", "rows per counterpart or per agency (ours)")
	out := c.Flags().StringP("output", "o", "", "table, json or csv (default: table on a terminal, else json)")
	overdue := c.Flags().Bool("overdue", false, "with -o csv: the overdue documents instead of the rows")
	c.RunE = func(c *cobra.Command, _ []string) error {
		q := url.Values{"by": {*by}}
		for k, v := range map[string]string{"month": *month, "since": *since, "until": *until} {
			if v != "" {
				q.Set(k, v)
			}
		}
		format := *out
		if format == "" {
			format = "json"
			if isTerminal(e.stdout) {
				format = "table"
			}
		}
		if format != "table" && format != "json" && format != "csv" {
			return badUsage(c, "-o %q: want table, json or csv", format)
		}
		if *overdue && format != "csv" {
			return badUsage(c, "--overdue goes with -o csv; the table and JSON list the overdue documents anyway")
		}
		cl, err := api.client()
		if err != nil {
			return err
		}
		if format == "csv" {
			q.Set("format", "csv")
			if *overdue {
				q.Set("table", "overdue")
			}
			_, err := cl.Timeliness(e.ctx, q, e.stdout)
			return apiError(e, err)
		}
		r, err := cl.Timeliness(e.ctx, q, nil)
		if err != nil {
			return apiError(e, err)
		}
		if format == "json" {
			return printJSON(e, r)
		}
		printReport(e.stdout, r)
		return nil
	}
	return c
}

// printReport writes a report for a person: one line per agency or
// counterpart and side, then the overdue documents.
func printReport(w io.Writer, r *localapi.TimelinessReport) {
	fmt.Fprintf(w, "documents put %s – %s (Vietnam's dates), by %s, as of %s\n\n", day(r.Since), day(r.Until.Add(-time.Second)), r.By, local(r.Time))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tNAME\tSIDE\tDOCS\t01 MEDIAN\t01 P90\t03 MEDIAN\t03 P90\tOVERDUE\tLATE SENT\tREFUSED\tRECALLED")
	line := func(code, name, side string, s localapi.TimelinessSide) {
		if s.Documents == 0 {
			return
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", code, name, side, s.Documents,
			span(s.ToArrived.Median, s.ToArrived.Count), span(s.ToArrived.P90, s.ToArrived.Count),
			span(s.ToRegistered.Median, s.ToRegistered.Count), span(s.ToRegistered.P90, s.ToRegistered.Count),
			s.Overdue, s.LateDispatch, s.Refused, s.Recalled)
	}
	for _, row := range r.Rows {
		line(row.Code, row.Name, "sent", row.Sent)
		line(row.Code, row.Name, "received", row.Received)
	}
	line("total", "", "sent", r.Total.Sent)
	line("total", "", "received", r.Total.Received)
	tw.Flush()
	if len(r.Rows) == 0 {
		fmt.Fprintln(w, "no documents in the period")
	}
	if r.OverdueCount == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d overdue:\n", r.OverdueCount)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORD\tDOCUMENT\tSIDE\tAGENCY\tCOUNTERPART\tDEADLINE\tWHY")
	for _, d := range r.Overdue {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Record, d.DocumentID, d.Direction, d.Agency, d.Counterpart, local(d.Deadline), d.Why)
	}
	tw.Flush()
	if len(r.Overdue) < r.OverdueCount {
		fmt.Fprintf(w, "(the first %d; -o csv --overdue lists them all up to the same bound)\n", len(r.Overdue))
	}
}

// day is the date of t in Vietnam, whose days the report's period counts.
func day(t time.Time) string { return t.In(vietnam).Format(time.DateOnly) }

var vietnam = time.FixedZone("ICT", 7*3600)

// span is a duration in seconds for a person: 3h05m, 2d4h; "-" for none.
func span(sec float64, n int) string {
	if n == 0 {
		return "-"
	}
	d := time.Duration(sec) * time.Second
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}
