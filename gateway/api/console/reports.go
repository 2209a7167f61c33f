package console

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strings"
	"time"

	"lienthong/gateway/localapi"
)

// weeks is how many weeks the chart shows, the month's last among them.
const weeks = 8

// reports shows a month's timeliness by counterpart, a chart of the time
// to 03 week by week, and the overdue documents: the monthly report,
// printable as it is.
func (c *Console) reports(w http.ResponseWriter, r *http.Request, s *session) {
	now := c.now().In(vietnam)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, vietnam)
	if m := r.URL.Query().Get("month"); m != "" {
		t, err := time.ParseInLocation("2006-01", m, vietnam)
		if err != nil {
			c.render(w, http.StatusUnprocessableEntity, "error", s, map[string]any{"Message": "Tháng phải có dạng YYYY-MM: " + m, "Back": "/ui/reports"})
			return
		}
		month = t
	}
	by := "counterpart"
	if r.URL.Query().Get("by") == "agency" {
		by = "agency"
	}
	rep, err := c.g.Timeliness(r.Context(), s.caller, localapi.ReportQuery{Since: month, Until: month.AddDate(0, 1, 0), By: by})
	if err != nil {
		c.fail(w, s, err)
		return
	}
	// Weeks from Monday, the last one holding the month's last day.
	end := month.AddDate(0, 1, 0)
	last := end.AddDate(0, 0, -1)
	lastMonday := last.AddDate(0, 0, -((int(last.Weekday()) + 6) % 7))
	var bars []bar
	for i := weeks - 1; i >= 0; i-- {
		from := lastMonday.AddDate(0, 0, -7*i)
		wr, err := c.g.Timeliness(r.Context(), s.caller, localapi.ReportQuery{Since: from, Until: from.AddDate(0, 0, 7)})
		if err != nil {
			c.fail(w, s, err)
			return
		}
		d := wr.Total.Sent.ToRegistered
		bars = append(bars, bar{Label: from.Format("02/01"), Median: d.Median, P90: d.P90, Count: d.Count})
	}
	c.render(w, http.StatusOK, "reports", s, map[string]any{
		"Report": rep, "Month": month.Format("2006-01"), "MonthVi": month.Format("01/2006"), "By": by,
		"Prev": month.AddDate(0, -1, 0).Format("2006-01"), "Next": month.AddDate(0, 1, 0).Format("2006-01"),
		"Chart": chart(bars),
	})
}

// bar is one week of the chart.
type bar struct {
	Label       string
	Median, P90 float64 // seconds
	Count       int
}

// chart draws the weeks' median time to 03 as bars, the 90th percentile
// as a tick above each, in hours, as an SVG the page embeds.
func chart(bars []bar) template.HTML {
	const w, h, left, bottom, top = 640, 240, 48, 36, 16
	top90 := 1.0
	for _, b := range bars {
		top90 = max(top90, b.P90/3600, b.Median/3600)
	}
	scale := float64(h-bottom-top) / top90
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Thời gian từ khi gửi đến khi vào sổ (03), theo tuần">`, w, h)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, h-bottom, w, h-bottom)
	for _, frac := range []float64{0, 0.5, 1} {
		y := float64(h-bottom) - frac*top90*scale
		format := `<text x="%d" y="%.0f" class="tick">%.0f giờ</text>`
		if top90 < 10 {
			format = `<text x="%d" y="%.0f" class="tick">%.1f giờ</text>`
		}
		fmt.Fprintf(&sb, format, left-4, y+4, frac*top90)
	}
	slot := float64(w-left) / float64(len(bars))
	for i, b := range bars {
		x := float64(left) + float64(i)*slot + slot*0.2
		bw := slot * 0.6
		if b.Count > 0 {
			bh := b.Median / 3600 * scale
			fmt.Fprintf(&sb, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" class="median"><title>Tuần %s: trung vị %s, P90 %s, %d văn bản</title></rect>`,
				x, float64(h-bottom)-bh, bw, max(bh, 1), html.EscapeString(b.Label), span(b.Median), span(b.P90), b.Count)
			y90 := float64(h-bottom) - b.P90/3600*scale
			fmt.Fprintf(&sb, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="p90"/>`, x, y90, x+bw, y90)
		}
		fmt.Fprintf(&sb, `<text x="%.0f" y="%d" class="label">%s</text>`, x+bw/2, h-bottom+16, html.EscapeString(b.Label))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()) // numbers and escaped labels only
}
