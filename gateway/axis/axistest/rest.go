package axistest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"lienthong/envelope"
	"lienthong/gateway/axis"
)

// RESTClient is a client of the REST dialect for c, closed when the test
// ends.
func RESTClient(t testing.TB, c axis.Config) *axis.RESTClient {
	t.Helper()
	cl, err := axis.NewREST(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func fetch(t *testing.T, c axis.Axis, id string) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	_, err := c.GetEdocTo(context.Background(), id, &buf)
	return buf.Bytes(), err
}

func wantCode(t *testing.T, what string, err error, c axis.Class, code string) {
	t.Helper()
	wantClass(t, what, err, c)
	var ae *axis.Error
	if code != "" && (!errors.As(err, &ae) || ae.Code != code) {
		t.Fatalf("%s: err = %v, want the dialect's code %s", what, err, code)
	}
}

// count is how many entries of items carry id.
func count(items []axis.ReceivedItem, id string) int {
	n := 0
	for _, it := range items {
		if it.DocID == id {
			n++
		}
	}
	return n
}

// runREST is the suite over the REST dialect: its list is a date window,
// so a package stays listed after it was taken, and a client must dedupe.
func runREST(t *testing.T, e Env) {
	ctx := context.Background()
	a, b := RESTClient(t, e.A), RESTClient(t, e.B)
	send := func(t *testing.T, c axis.Axis, pkg []byte) string {
		t.Helper()
		id, err := c.SendEdoc(ctx, axis.SendRequest{From: e.CodeA, MessageType: axis.MessageEdoc, Upload: axis.BytesUpload("doc.edxml", pkg)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	t.Run("document round trip", func(t *testing.T) {
		pkg := Document(t, e.CodeA, e.CodeB)
		id := send(t, a, pkg)
		list, err := b.GetReceivedEdocList(ctx, axis.MessageEdoc)
		if err != nil || count(list, id) != 1 {
			t.Fatalf("recipient's list holds %s %d times, want once: %v", id, count(list, id), err)
		}
		if got, err := fetch(t, b, id); err != nil || !bytes.Equal(got, pkg) {
			t.Fatalf("getEdoc: %v, same bytes %v", err, bytes.Equal(got, pkg))
		}
		if _, err := fetch(t, a, id); axis.ClassOf(err) != axis.Terminal {
			t.Fatalf("the sender fetched a package not addressed to it: %v", err)
		}
		if err := b.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
			t.Fatal(err)
		}
		if list, _ := b.GetReceivedEdocList(ctx, axis.MessageEdoc); has(list, id) {
			t.Fatal("listed again to the client that answered it done")
		}
		// The window keeps it: a client started again sees it once more,
		// and may answer it done again.
		again := RESTClient(t, e.B)
		if list, _ := again.GetReceivedEdocList(ctx, axis.MessageEdoc); count(list, id) != 1 {
			t.Fatalf("a new client's window holds %s %d times, want once (the window keeps taken packages)", id, count(list, id))
		}
		if err := again.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
			t.Fatalf("answering a package done again: %v", err)
		}
		if _, err := b.GetSentEdocList(ctx, axis.MessageEdoc, id); !errors.Is(err, axis.ErrNoSentList) {
			t.Fatalf("sent list: %v, want ErrNoSentList", err)
		}
	})

	t.Run("overlapping windows list each package once", func(t *testing.T) {
		var ids []string
		for range 3 {
			ids = append(ids, send(t, a, Document(t, e.CodeA, e.CodeB)))
		}
		for poll := range 3 {
			list, err := b.GetReceivedEdocList(ctx, axis.MessageEdoc)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if n := count(list, id); n != 1 {
					t.Fatalf("poll %d lists %s %d times, want once", poll+1, id, n)
				}
			}
		}
		for _, id := range ids {
			if err := b.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
				t.Fatal(err)
			}
		}
		list, _ := b.GetReceivedEdocList(ctx, axis.MessageEdoc)
		for _, id := range ids {
			if has(list, id) {
				t.Fatalf("%s listed after it was answered done", id)
			}
		}
	})

	t.Run("status routed to ResponseFor", func(t *testing.T) {
		pkg := Status(t, e.CodeB, e.CodeA, envelope.StatusArrived)
		id, err := b.SendEdoc(ctx, axis.SendRequest{From: e.CodeB, MessageType: axis.MessageStatus, Upload: axis.BytesUpload("status.edxml", pkg)})
		if err != nil {
			t.Fatal(err)
		}
		if list, err := a.GetReceivedEdocList(ctx, axis.MessageStatus); err != nil || !has(list, id) {
			t.Fatalf("status not in the sender's list: %v", err)
		}
		if docs, _ := a.GetReceivedEdocList(ctx, axis.MessageEdoc); has(docs, id) {
			t.Fatal("a status package is listed as edoc")
		}
		if err := a.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("fail keeps the item listed", func(t *testing.T) {
		id := send(t, a, Document(t, e.CodeA, e.CodeB))
		if err := b.UpdateStatusWith(ctx, id, axis.StatusFail, "chữ ký không hợp lệ"); err != nil {
			t.Fatal(err)
		}
		if list, _ := b.GetReceivedEdocList(ctx, axis.MessageEdoc); !has(list, id) {
			t.Fatal("gone after updateStatus fail")
		}
		if err := b.UpdateStatus(ctx, id, axis.StatusDone); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a refused token is renewed once", func(t *testing.T) {
		if e.Revoke == nil {
			t.Fatal("Env.Revoke is needed for the REST dialect")
		}
		c := RESTClient(t, e.B)
		if _, err := c.GetReceivedEdocList(ctx, axis.MessageEdoc); err != nil {
			t.Fatal(err)
		}
		e.Revoke()
		if _, err := c.GetReceivedEdocList(ctx, axis.MessageEdoc); err != nil {
			t.Fatalf("after the tokens were revoked: %v", err)
		}
		if n := c.Logins(); n != 2 {
			t.Fatalf("%d logins, want 2: one at first, one after the 401", n)
		}
		wrong := e.B
		wrong.Token.Password = "not the password"
		_, err := RESTClient(t, wrong).GetReceivedEdocList(ctx, axis.MessageEdoc)
		wantClass(t, "a wrong login", err, axis.Terminal)
	})

	t.Run("refusals carry the dialect's codes", func(t *testing.T) {
		wrong := e.A
		wrong.Secret = []byte("not the secret")
		_, err := RESTClient(t, wrong).SendEdoc(ctx, axis.SendRequest{Upload: axis.BytesUpload("d.edxml", Document(t, e.CodeA, e.CodeB))})
		wantCode(t, "wrong secret", err, axis.Terminal, "15")

		_, err = a.SendEdoc(ctx, axis.SendRequest{Upload: axis.BytesUpload("d.edxml", Document(t, e.CodeA, e.Unknown))})
		wantCode(t, "unknown recipient", err, axis.Terminal, "18")

		_, err = a.SendEdoc(ctx, axis.SendRequest{Upload: axis.BytesUpload("d.edxml", Document(t, e.CodeB, e.CodeA))})
		wantCode(t, "sending as another system's code", err, axis.Terminal, "19")

		_, err = a.SendEdoc(ctx, axis.SendRequest{Upload: axis.BytesUpload("d.edxml", []byte("not edXML"))})
		wantClass(t, "not a package", err, axis.Terminal)
	})
}
