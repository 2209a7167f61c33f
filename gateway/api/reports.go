package api

import (
	"net/http"
	"strings"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/gateway/timeliness"
)

// reportParams are the query parameters GET /v1/reports/timeliness reads.
var reportParams = []string{"since", "until", "month", "by", "format", "table"}

// timeliness answers GET /v1/reports/timeliness: JSON, or with format=csv
// (or Accept: text/csv) a spreadsheet of the rows, or with table=overdue
// of the overdue documents.
func (s *server) timeliness(w http.ResponseWriter, r *http.Request) {
	l := readList(r, reportParams)
	q := localapi.ReportQuery{Since: l.instant("since"), Until: l.instant("until"), By: l.q.Get("by")}
	if m := l.q.Get("month"); m != "" {
		t, err := time.ParseInLocation("2006-01", m, envelope.Vietnam)
		switch {
		case err != nil:
			l.bad("month", "must be a month YYYY-MM", m)
		case !q.Since.IsZero() || !q.Until.IsZero():
			l.bad("month", "is given instead of since and until, not with them", m)
		default:
			q.Since, q.Until = t, t.AddDate(0, 1, 0)
		}
	}
	format := l.q.Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "json" && format != "csv" {
		l.bad("format", "must be json or csv", format)
	}
	table := l.q.Get("table")
	if table != "" && table != "rows" && table != "overdue" {
		l.bad("table", "must be rows or overdue", table)
	}
	if err := l.err(); err != nil {
		fail(w, err)
		return
	}
	rep, err := s.g.Timeliness(r.Context(), callerOf(r), q)
	if err != nil {
		fail(w, err)
		return
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	name := "timeliness-" + rep.Since.In(envelope.Vietnam).Format("2006-01-02")
	write := timeliness.WriteCSV
	if table == "overdue" {
		name, write = "overdue-"+rep.Since.In(envelope.Vietnam).Format("2006-01-02"), timeliness.WriteOverdueCSV
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	_ = write(w, rep)
}
