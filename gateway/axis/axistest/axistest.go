// Package axistest is the conformance suite for the axis wire protocol: a
// client and an adapter that pass it agree on every operation the gateway
// uses. It runs over real HTTP against whatever adapter Env points at.
package axistest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/axis"
)

// Env is the adapter under test and two systems registered with it.
type Env struct {
	Endpoint string
	// A sends as CodeA, B as CodeB; both codes are in the adapter's
	// directory, Unknown is not.
	A, B         axis.Config
	CodeA, CodeB string
	Unknown      string
	// ReplayWindow is the adapter's timestamp window; zero when it takes
	// timestamps of any age, as SDK clients need.
	ReplayWindow time.Duration
	// Revoke, for the REST dialect, makes the adapter forget the tokens it
	// issued, as a provider does when it restarts.
	Revoke func()
}

// Client is a client for c, closed when the test ends.
func Client(t testing.TB, c axis.Config) *axis.Client {
	t.Helper()
	cl, err := axis.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Document builds a small document package from one code to others.
func Document(t testing.TB, from string, to ...string) []byte {
	t.Helper()
	h := envelope.MessageHeader{
		From:             envelope.Organization{OrganID: from, OrganName: "Cơ quan gửi"},
		Code:             envelope.Code{CodeNumber: "7", CodeNotation: "KT"},
		PromulgationInfo: envelope.PromulgationInfo{Place: "Hà Nội", PromulgationDate: envelope.Date{Year: 2025, Month: 3, Day: 14}},
		DocumentType:     envelope.DocumentType{Type: 1, TypeName: "Công văn"},
		Subject:          "V/v kiểm thử liên thông",
	}
	for _, c := range to {
		h.To = append(h.To, envelope.Organization{OrganID: c})
	}
	h.DocumentID = h.DefaultDocumentID()
	b, err := envelope.BuildBytes(&envelope.Package{Kind: envelope.KindDocument, Document: &envelope.Document{
		Header: h, Attachments: []envelope.Attachment{{ContentID: "a1", Name: "a.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 test")}},
	}}, envelope.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Status builds a status package answering a document of responseTo.
func Status(t testing.TB, from, responseTo string, code envelope.StatusCode) []byte {
	t.Helper()
	b, err := envelope.BuildBytes(&envelope.Package{Kind: envelope.KindStatus, Status: &envelope.Status{
		From:        envelope.Organization{OrganID: from},
		ResponseFor: envelope.ResponseFor{OrganID: responseTo, Code: "7/KT", PromulgationDate: envelope.Date{Year: 2025, Month: 3, Day: 14}, DocumentID: responseTo + ",2025/03/14,7/KT"},
		StatusCode:  code,
		Timestamp:   time.Date(2025, 3, 14, 10, 0, 0, 0, envelope.Vietnam),
	}}, envelope.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantClass(t *testing.T, what string, err error, c axis.Class) {
	t.Helper()
	if err == nil || axis.ClassOf(err) != c {
		t.Fatalf("%s: err = %v, want a %s failure", what, err, c)
	}
}

func has(items []axis.ReceivedItem, id string) bool {
	return slices.ContainsFunc(items, func(i axis.ReceivedItem) bool { return i.DocID == id })
}

// Run runs the suite for A's dialect.
func Run(t *testing.T, e Env) {
	if e.A.Dialect == axis.DialectREST {
		runREST(t, e)
		return
	}
	ctx := context.Background()
	a, b := Client(t, e.A), Client(t, e.B)

	t.Run("document round trip", func(t *testing.T) {
		pkg := Document(t, e.CodeA, e.CodeB)
		id, err := a.SendEdoc(ctx, axis.SendRequest{From: e.CodeA, MessageType: axis.MessageEdoc, Upload: axis.BytesUpload("doc.edxml", pkg)})
		if err != nil {
			t.Fatal(err)
		}
		list, err := b.GetReceivedEdocList(ctx, axis.MessageEdoc)
		if err != nil || !has(list, id) {
			t.Fatalf("recipient's list lacks %s: %v %+v", id, err, list)
		}
		if n, err := b.CountReceiveEdoc(ctx); err != nil || n < 1 {
			t.Fatalf("countReceiveEdoc = %d, %v", n, err)
		}
		got, err := b.GetEdoc(ctx, id)
		if err != nil || !bytes.Equal(got, pkg) {
			t.Fatalf("getEdoc: %v, same bytes %v", err, bytes.Equal(got, pkg))
		}
		var buf bytes.Buffer
		if _, err := b.DownloadEdoc(ctx, id, &buf); err != nil || !bytes.Equal(buf.Bytes(), pkg) {
			t.Fatalf("downloadEdoc: %v, same bytes %v", err, bytes.Equal(buf.Bytes(), pkg))
		}
		if _, err := a.GetEdoc(ctx, id); axis.ClassOf(err) != axis.Terminal {
			t.Fatalf("the sender fetched a package not addressed to it: %v", err)
		}
		if err := b.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
			t.Fatal(err)
		}
		if list, _ := b.GetReceivedEdocList(ctx, axis.MessageEdoc); has(list, id) {
			t.Fatal("still pending after updateStatus done")
		}
		sent, err := a.GetSentEdocList(ctx, axis.MessageEdoc, id)
		if err != nil || len(sent) != 1 || sent[0].ToCode != e.CodeB || sent[0].ReceiveStatus != axis.StatusDone {
			t.Fatalf("sent list: %v %+v", err, sent)
		}
	})

	t.Run("status routed to ResponseFor", func(t *testing.T) {
		pkg := Status(t, e.CodeB, e.CodeA, envelope.StatusArrived)
		id, err := b.SendEdoc(ctx, axis.SendRequest{From: e.CodeB, MessageType: axis.MessageStatus, Upload: axis.BytesUpload("status.edxml", pkg)})
		if err != nil {
			t.Fatal(err)
		}
		list, err := a.GetReceivedEdocList(ctx, axis.MessageStatus)
		if err != nil || !has(list, id) {
			t.Fatalf("status not in the sender's list: %v", err)
		}
		if docs, _ := a.GetReceivedEdocList(ctx, axis.MessageEdoc); has(docs, id) {
			t.Fatal("a status package is listed as edoc")
		}
		if n, err := a.CountReceiveStatus(ctx); err != nil || n < 1 {
			t.Fatalf("countReceiveStatus = %d, %v", n, err)
		}
		if err := a.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("fail keeps the item pending", func(t *testing.T) {
		id, err := a.SendEdoc(ctx, axis.SendRequest{From: e.CodeA, MessageType: axis.MessageEdoc, To: []string{e.CodeB}, Upload: axis.BytesUpload("d.edxml", Document(t, e.CodeA, e.CodeB))})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.UpdateStatus(ctx, id, axis.StatusFail); err != nil {
			t.Fatal(err)
		}
		if list, _ := b.GetReceivedEdocList(ctx, axis.MessageEdoc); !has(list, id) {
			t.Fatal("gone after updateStatus fail")
		}
		if err := b.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("padded hash-file", func(t *testing.T) {
		cfg := e.A
		cfg.PaddedHashFile = true
		if _, err := Client(t, cfg).SendEdoc(ctx, axis.SendRequest{From: e.CodeA, MessageType: axis.MessageEdoc, Upload: axis.BytesUpload("d.edxml", Document(t, e.CodeA, e.CodeB))}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		doc := axis.BytesUpload("d.edxml", Document(t, e.CodeA, e.CodeB))
		wrong := e.A
		wrong.Secret = []byte("not the secret")
		_, err := Client(t, wrong).SendEdoc(ctx, axis.SendRequest{From: e.CodeA, MessageType: axis.MessageEdoc, Upload: doc})
		wantClass(t, "wrong secret", err, axis.Terminal)

		_, err = a.SendEdoc(ctx, axis.SendRequest{From: e.CodeB, MessageType: axis.MessageEdoc, Upload: doc})
		wantClass(t, "sending as another system's code", err, axis.Terminal)

		_, err = a.SendEdoc(ctx, axis.SendRequest{From: e.CodeA, MessageType: axis.MessageEdoc, Upload: axis.BytesUpload("d.edxml", Document(t, e.CodeA, e.Unknown))})
		wantClass(t, "unknown recipient", err, axis.Terminal)

		late := e.A
		late.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		_, err = Client(t, late).GetReceivedEdocList(ctx, axis.MessageEdoc)
		if e.ReplayWindow > 0 {
			wantClass(t, "timestamp an hour old", err, axis.Terminal)
		} else if err != nil {
			// The SDK stamps a service object once and integrators keep it.
			t.Errorf("timestamp an hour old, as a kept SDK service object sends it: %v", err)
		}

		bad := doc
		bad.SHA256[0] ^= 0xff
		_, err = a.SendEdoc(ctx, axis.SendRequest{From: e.CodeA, MessageType: axis.MessageEdoc, Upload: bad})
		wantClass(t, "hash-file of other bytes", err, axis.Terminal)

		var ae *axis.Error
		if !errors.As(err, &ae) || ae.Desc == "" {
			t.Errorf("a refusal should carry the adapter's ErrorDesc: %v", err)
		}
	})

	t.Run("directory", func(t *testing.T) {
		list, err := a.GetAgenciesList(ctx)
		if err != nil || !slices.ContainsFunc(list, func(x axis.Agency) bool { return x.Code == e.CodeB }) {
			t.Fatalf("getAgenciesList lacks %s: %v", e.CodeB, err)
		}
		reg := axis.Registration{Code: e.CodeA[:4] + "99" + e.CodeA[6:], Parent: e.CodeA, Name: "Phòng thử nghiệm", Mail: "thu@example.vn"}
		if err := a.RegisterAgency(ctx, reg); err != nil {
			t.Fatal(err)
		}
		sync, err := a.GetSynchronizeUnit(ctx)
		i := slices.IndexFunc(sync, func(x axis.Agency) bool { return x.Code == reg.Code })
		if err != nil || i < 0 || sync[i].Version < 1 || sync[i].Deleted {
			t.Fatalf("getSynchronizeUnit after register: %v %+v", err, sync)
		}
		if err := a.DeleteAgency(ctx, reg.Code); err != nil {
			t.Fatal(err)
		}
		list, _ = a.GetAgenciesList(ctx)
		if slices.ContainsFunc(list, func(x axis.Agency) bool { return x.Code == reg.Code }) {
			t.Fatal("deleted agency still listed")
		}
		sync, _ = a.GetSynchronizeUnit(ctx)
		if i := slices.IndexFunc(sync, func(x axis.Agency) bool { return x.Code == reg.Code }); i < 0 || !sync[i].Deleted {
			t.Fatal("getSynchronizeUnit does not report the deletion")
		}
		err = a.RegisterAgency(ctx, axis.Registration{Code: "not-a-code", Name: "x", Mail: "x@example.vn"})
		wantClass(t, "registering a malformed code", err, axis.Terminal)
	})
}
