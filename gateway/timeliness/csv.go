package timeliness

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"lienthong/gateway/localapi"
)

// bom makes Excel read the file as UTF-8, so Vietnamese shows.
const bom = "\uFEFF"

// WriteCSV writes the report's rows, one per agency or counterpart, with
// Vietnamese headings; durations are in hours.
func WriteCSV(w io.Writer, r *localapi.TimelinessReport) error {
	if _, err := io.WriteString(w, bom); err != nil {
		return err
	}
	c := csv.NewWriter(w)
	who := "Đơn vị"
	if r.By == ByCounterpart {
		who = "Đơn vị liên thông"
	}
	head := []string{"Mã định danh", who}
	for _, dir := range []string{"Gửi", "Nhận"} {
		head = append(head, dir+": số văn bản", dir+": trung vị đến 01 (giờ)", dir+": P90 đến 01 (giờ)",
			dir+": trung vị đến 03 (giờ)", dir+": P90 đến 03 (giờ)", dir+": quá hạn", dir+": gửi muộn",
			dir+": từ chối (02)", dir+": thu hồi")
	}
	rows := [][]string{head}
	for _, row := range append(r.Rows, withName(r.Total, "Tổng cộng")) {
		line := []string{row.Code, row.Name}
		for _, s := range []localapi.TimelinessSide{row.Sent, row.Received} {
			line = append(line, strconv.Itoa(s.Documents), hours(s.ToArrived.Median, s.ToArrived.Count), hours(s.ToArrived.P90, s.ToArrived.Count),
				hours(s.ToRegistered.Median, s.ToRegistered.Count), hours(s.ToRegistered.P90, s.ToRegistered.Count),
				strconv.Itoa(s.Overdue), strconv.Itoa(s.LateDispatch), strconv.Itoa(s.Refused), strconv.Itoa(s.Recalled))
		}
		rows = append(rows, line)
	}
	if err := c.WriteAll(rows); err != nil {
		return err
	}
	return c.Error()
}

// WriteOverdueCSV writes the list of overdue documents.
func WriteOverdueCSV(w io.Writer, r *localapi.TimelinessReport) error {
	if _, err := io.WriteString(w, bom); err != nil {
		return err
	}
	c := csv.NewWriter(w)
	rows := [][]string{{"Bản ghi", "Mã văn bản", "Trích yếu", "Chiều", "Đơn vị", "Đơn vị liên thông", "Lên trục", "Hạn", "Lý do"}}
	for _, d := range r.Overdue {
		up := ""
		if !d.Uploaded.IsZero() {
			up = d.Uploaded.In(Vietnam).Format("2006-01-02 15:04")
		}
		rows = append(rows, []string{d.Record, d.DocumentID, d.Subject, map[string]string{"sent": "gửi", "received": "nhận"}[d.Direction],
			d.Agency, d.Counterpart, up, d.Deadline.In(Vietnam).Format("2006-01-02 15:04"), whyVi[d.Why]})
	}
	if err := c.WriteAll(rows); err != nil {
		return err
	}
	return c.Error()
}

// whyVi says why a document is overdue, in Vietnamese.
var whyVi = map[string]string{
	"not registered":  "chưa vào sổ (chưa có 03)",
	"registered late": "vào sổ muộn",
	"sent late":       "gửi muộn",
}

// WhyVi is the Vietnamese of an overdue document's Why.
func WhyVi(why string) string { return whyVi[why] }

func withName(r localapi.TimelinessRow, name string) localapi.TimelinessRow {
	r.Name = name
	return r
}

// hours writes seconds as hours, empty when nothing was measured.
func hours(sec float64, n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f", (time.Duration(sec) * time.Second).Hours())
}
