package gateway

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"lienthong/gateway/localapi"
	"lienthong/gateway/timeliness"
	"lienthong/queue"
)

var reportRecords = flag.Int("report.records", 1_000_000, "documents in BenchmarkTimelinessReport")

// BenchmarkTimelinessReport answers a month's report over a store holding
// a million documents' rows: a city's year, every document to two
// recipients, most registered, some late, refused or recalled. The rows
// are those reportRow makes of real records.
func BenchmarkTimelinessReport(b *testing.B) {
	s, err := queue.Open(filepath.Join(b.TempDir(), "queue.db"), queue.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	n := *reportRecords
	rows := make([][]byte, 1000)
	for i := range rows {
		rows[i] = sampleRow(i, start)
	}
	next := 0
	s.ReportRows(func(*queue.Record) []byte { next++; return rows[next%len(rows)] })
	for i := 0; i < n; i += 10000 {
		err := s.Update(context.Background(), func(tx queue.Tx) error {
			for j := i; j < min(i+10000, n); j++ {
				if _, _, err := tx.Put(queue.Item{Dir: queue.Outbound, Key: fmt.Sprint(j), Payload: []byte("x")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	cal := timeliness.NewCalendar(nil)
	var rep *localapi.TimelinessReport
	for b.Loop() {
		rep, err = timelinessReport(context.Background(), s, cal, time.Now(), timeliness.ByCounterpart,
			localapi.ReportQuery{Since: start.Add(-time.Hour), Until: time.Now().Add(time.Hour)}, nil, func(string) string { return "" })
		if err != nil {
			b.Fatal(err)
		}
	}
	if rep.Total.Sent.Documents != 2*n {
		b.Fatalf("%d documents counted, want %d", rep.Total.Sent.Documents, 2*n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()*float64(b.N), "rows/s")
}

// BenchmarkReportRow is the row every commit makes of each record it
// writes: of a document sent (decoded meta and recipients, encoded row),
// and of a status package, which has none.
func BenchmarkReportRow(b *testing.B) {
	row := reportRow("000.00.07.H26", true)
	doc := sampleRecord(7, time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC))
	status := &queue.Record{ID: "out-0000000001", Dir: queue.Outbound, Meta: outRecord{Kind: kindStatus, StatusCode: "03", To: []string{"000.00.00.G22"}}.meta()}
	for _, c := range []struct {
		name string
		r    *queue.Record
	}{{"document", doc}, {"status", status}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				row(c.r)
			}
		})
	}
}

// sampleRow is the row of a real record.
func sampleRow(i int, day time.Time) []byte { return sentRow(sampleRecord(i, day), "000.00.07.H26") }

// sampleRecord is a document sent to two of forty counterparts, as the
// engine keeps it.
func sampleRecord(i int, day time.Time) *queue.Record {
	sent := day.Add(time.Duration(i%480) * time.Minute)
	o := outRecord{
		From: "000.00.07.H26", Kind: kindDocument, DocumentID: fmt.Sprintf("000.00.07.H26,2026/01/01,%d/SVD-VP", i),
		To: []string{fmt.Sprintf("000.00.%02d.H26", i%40), "000.00.00.G22"}, Subject: "V/v báo cáo tình hình thực hiện nhiệm vụ tháng của các đơn vị trực thuộc",
		Deadline: sent.Add(20 * time.Hour), SentAt: sent, AxisDocID: "001a2419378533ac61f6b2655", Recalled: i%97 == 0,
	}
	r := &queue.Record{ID: fmt.Sprintf("out-%010d", i), Dir: queue.Outbound, State: queue.Done, Meta: o.meta()}
	r.Meta[metaSentAt], r.Meta[metaAxisDocID] = sent.Format(time.RFC3339Nano), o.AxisDocID
	var rs []recipient
	for k, code := range o.To {
		rc := recipient{OrganID: code, Times: map[string]time.Time{"01": sent.Add(time.Minute)}}
		switch {
		case (i+k)%50 == 0:
			rc.Times["02"], rc.Status, rc.Description = sent.Add(time.Hour), "02", "Không đúng thẩm quyền"
		case (i+k)%10 != 0:
			rc.Times["03"], rc.Status = sent.Add(time.Duration(1+(i+k)%60)*time.Hour), "03"
		}
		rs = append(rs, rc)
	}
	if err := setRecipients(r, rs); err != nil {
		panic(err)
	}
	return r
}
