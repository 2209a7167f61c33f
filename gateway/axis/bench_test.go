package axis_test

import (
	"context"
	"crypto/rand"
	"testing"

	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/axis/axistest"
)

// BenchmarkSendEdoc measures sendEdoc round trips on loopback against the
// reference hub, which parses, routes and fsyncs each package.
func BenchmarkSendEdoc(b *testing.B) {
	_, url := startHub(b, b.TempDir(), axishub.Faults{})
	c := axistest.Client(b, config(url, 0))
	memo := func() []byte {
		data := make([]byte, 200<<10)
		rand.Read(data)
		h := envelope.MessageHeader{
			From: envelope.Organization{OrganID: codeA}, To: []envelope.Organization{{OrganID: codeB}},
			Code:             envelope.Code{CodeNumber: "1", CodeNotation: "KT"},
			PromulgationInfo: envelope.PromulgationInfo{Place: "Hà Nội", PromulgationDate: envelope.Date{Year: 2025, Month: 3, Day: 14}},
			DocumentType:     envelope.DocumentType{Type: 1, TypeName: "Công văn"}, Subject: "V/v đo",
		}
		h.DocumentID = h.DefaultDocumentID()
		p, err := envelope.BuildBytes(&envelope.Package{Kind: envelope.KindDocument, Document: &envelope.Document{
			Header: h, Attachments: []envelope.Attachment{{ContentID: "a", Name: "memo.pdf", ContentType: "application/pdf", Data: data}}}}, envelope.BuildOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}()
	for _, c2 := range []struct {
		name string
		mt   string
		pkg  []byte
	}{
		{"status", axis.MessageStatus, axistest.Status(b, codeA, codeB, envelope.StatusArrived)},
		{"memo-200KiB", axis.MessageEdoc, memo},
	} {
		b.Run(c2.name, func(b *testing.B) {
			up := axis.BytesUpload("p.edxml", c2.pkg)
			b.SetBytes(int64(len(c2.pkg)))
			for b.Loop() {
				if _, err := c.SendEdoc(context.Background(), axis.SendRequest{From: codeA, MessageType: c2.mt, Upload: up}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
