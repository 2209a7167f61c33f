package devstack_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// Lists are pages of the newest first, filtered in the store's query: a
// cursor walks every document once, a scoped token's page is full of its
// own agency's documents however many newer ones the department has, and
// a parameter the list does not know, or a bad value, is refused by name.
func TestListsByCursor(t *testing.T) {
	s, _ := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	unit := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}
	submit := func(c *localapi.Client, n int, from string) {
		t.Helper()
		m := memo(fmt.Sprintf("V/v danh sách %d", n), 0)
		m["codeNumber"] = fmt.Sprint(1000 + n)
		if from != "" {
			m["from"] = map[string]string{"organId": from}
		}
		if _, err := c.Submit(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	const units, department = 10, 120
	for i := range units {
		submit(unit, i, devstack.UnitCode)
	}
	for i := range department {
		submit(s.Client, units+i, "")
	}

	seen := map[string]bool{}
	var ids []string
	q := url.Values{"limit": {"50"}}
	for pages := 0; ; pages++ {
		p, err := s.Client.DocumentPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 50 && p.Next != "" {
			t.Errorf("page %d holds %d documents and says more follow", pages, len(p.Items))
		}
		for _, d := range p.Items {
			if seen[d.ID] {
				t.Errorf("%s listed twice", d.ID)
			}
			seen[d.ID] = true
			ids = append(ids, d.ID)
		}
		if p.Next == "" {
			break
		}
		q.Set("after", p.Next)
		if pages > 10 {
			t.Fatal("the cursor does not end")
		}
	}
	if len(ids) != units+department {
		t.Errorf("listed %d documents, want %d", len(ids), units+department)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] < ids[i] {
			t.Fatalf("%s listed before %s: not newest first", ids[i-1], ids[i])
		}
	}

	mine, err := unit.DocumentPage(ctx, url.Values{"limit": {"5"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine.Items) != 5 || mine.Next == "" {
		t.Errorf("scoped first page: %d documents, next %q; want 5 and more to come", len(mine.Items), mine.Next)
	}
	for _, d := range mine.Items {
		got, _ := s.Client.Document(ctx, d.ID)
		if got == nil || d.Subject == "" || !seen[d.ID] {
			t.Errorf("scoped page holds %+v", d)
		}
	}
	rest, err := unit.DocumentPage(ctx, url.Values{"limit": {"5"}, "after": {mine.Next}})
	if err != nil || len(rest.Items) != 5 || rest.Next != "" {
		t.Errorf("scoped second page: %v items, next %q, %v; want the last 5", len(rest.Items), rest.Next, err)
	}
	if p, err := s.Client.DocumentPage(ctx, url.Values{"agency": {devstack.UnitCode}, "limit": {"1000"}}); err != nil || len(p.Items) != units {
		t.Errorf("agency filter: %d documents, %v; want %d", len(p.Items), err, units)
	}

	for _, bad := range []url.Values{{"limit": {"abc"}}, {"colour": {"red"}}, {"limit": {"1001"}}, {"state": {"lost"}},
		{"since": {"hôm qua"}}, {"after": {"not-a-cursor"}}, {"agency": {"H26"}}} {
		_, err := s.Client.DocumentPage(ctx, bad)
		var e *localapi.Error
		if status(err) != 422 || !errors.As(err, &e) || len(e.Problems) == 0 {
			t.Errorf("GET /v1/documents?%s: %v, want 422 naming the parameter", bad.Encode(), err)
			continue
		}
		for k := range bad {
			if e.Problems[0].Field != k {
				t.Errorf("GET /v1/documents?%s names %q, want %q", bad.Encode(), e.Problems[0].Field, k)
			}
		}
	}
}

// The inbox pages by cursor in the order a clerk works through it, and
// refuses what it cannot read by name.
func TestInboxByCursor(t *testing.T) {
	s, clock := start(t, devstack.Options{ManualPeer: true})
	ctx := context.Background()
	for i := range 7 {
		m := memo(fmt.Sprintf("V/v hộp thư %d", i), i%2)
		m["codeNumber"] = fmt.Sprint(2000 + i)
		if _, err := s.Client.Submit(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	all := waitInbox(t, clock, s.PeerClient, localapi.InboxNew, 7, "seven items at the peer")
	var paged []localapi.InboxItem
	q := url.Values{"limit": {"3"}}
	for range 5 {
		p, err := s.PeerClient.InboxPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, p.Items...)
		if p.Next == "" {
			break
		}
		q.Set("after", p.Next)
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d items, want %d", len(paged), len(all))
	}
	for i := range paged {
		if paged[i].ID != all[i].ID {
			t.Fatalf("item %d paged %s, listed %s", i, paged[i].ID, all[i].ID)
		}
		if i > 0 && paged[i].Priority > paged[i-1].Priority {
			t.Errorf("%s (priority %d) after %s (priority %d)", paged[i].ID, paged[i].Priority, paged[i-1].ID, paged[i-1].Priority)
		}
	}
	for _, bad := range []url.Values{{"limit": {"abc"}}, {"colour": {"red"}}, {"from": {"G22"}}, {"after": {"???"}}} {
		if _, err := s.PeerClient.InboxPage(ctx, bad); status(err) != 422 {
			t.Errorf("GET /v1/inbox?%s: %v, want 422", bad.Encode(), err)
		}
	}
}
