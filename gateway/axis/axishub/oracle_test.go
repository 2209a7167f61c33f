package axishub

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axistest"
)

// The hub tells a client nothing about others: an unknown system and a
// wrong secret get one answer, and so do a DocId that does not exist and
// one addressed to another system.
func TestHubNoOracle(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	h, err := Open(Options{
		Dir: t.TempDir(), Seed: 1, Now: func() time.Time { return now },
		Systems: []System{
			{SystemID: "sys-a", Secret: "secret-a", Codes: []string{"000.00.07.H26"}},
			{SystemID: "sys-b", Secret: "secret-b", Codes: []string{"000.00.00.G22"}},
			{SystemID: "sys-c", Secret: "secret-c", Codes: []string{"000.00.00.H29"}},
		},
		Agencies: []axis.Agency{{Code: "000.00.07.H26", Name: "A"}, {Code: "000.00.00.G22", Name: "B"}, {Code: "000.00.00.H29", Name: "C"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := func(id, secret string) *axis.Client {
		c, err := axis.New(axis.Config{Endpoint: srv.URL, SystemID: id, Secret: []byte(secret), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	ctx := context.Background()
	answer := func(err error) string {
		var ae *axis.Error
		if !errors.As(err, &ae) {
			t.Fatalf("%v is not an axis answer", err)
		}
		return ae.Code + " " + strings.NewReplacer("sys-a", "X", "sys-z", "X", "sys-c", "X").Replace(ae.Desc)
	}
	_, errUnknown := client("sys-z", "secret-a").GetReceivedEdocList(ctx, axis.MessageEdoc)
	_, errSecret := client("sys-a", "wrong").GetReceivedEdocList(ctx, axis.MessageEdoc)
	if a, b := answer(errUnknown), answer(errSecret); a != b {
		t.Errorf("unknown system answered %q, wrong secret %q: the answers tell them apart", a, b)
	}

	a, c := client("sys-a", "secret-a"), client("sys-c", "secret-c")
	docID, err := a.SendEdoc(ctx, axis.SendRequest{From: "000.00.07.H26", MessageType: axis.MessageEdoc,
		Upload: axis.BytesUpload("d.edxml", axistest.Document(t, "000.00.07.H26", "000.00.00.G22"))})
	if err != nil {
		t.Fatal(err)
	}
	var sink strings.Builder
	_, errOthers := c.GetEdocTo(ctx, docID, &sink)
	_, errMissing := c.GetEdocTo(ctx, "0000000000000000000000000", &sink)
	if x, y := answer(errOthers), strings.ReplaceAll(answer(errMissing), "0000000000000000000000000", docID); x != y {
		t.Errorf("another system's DocId answered %q, a missing one %q: the answers tell them apart", x, y)
	}
	if err := c.UpdateStatus(ctx, docID, axis.StatusDone); err == nil || !strings.HasPrefix(answer(err), "404") {
		t.Errorf("acknowledging another system's DocId: %v, want the 404 a missing one gets", err)
	}
}
