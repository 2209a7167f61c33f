package devstack_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lienthong/conf"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// browser starts a headless Debian chromium for the test; without one,
// the test is skipped on a workstation and fails in CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium in CI: .ci/run installs it")
		}
		t.Skip("no chromium: apt-get install chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1366, 768))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // root has no user namespace sandbox
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 5*time.Minute) // a guard against a hang
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// An operator opens the link lienthong console prints in a real browser:
// the overview shows our agencies, the axis and the queues; a document's
// page its timeline with the peer's 01 and 03; the reports the time to 03
// for the peer; a dead letter is discarded with a reason from its page,
// which its history names. The link works once; a form from elsewhere is
// refused; the pages fit a phone's width.
func TestConsoleInABrowser(t *testing.T) {
	b := browser(t)
	s, clock := start(t, devstack.Options{Configure: func(peer bool, c *conf.Config) {
		if !peer {
			c.Outbound.MaxAttempts = 1
		}
	}})
	ctx := context.Background()
	acc, err := s.Client.Submit(ctx, memo("V/v thử trang quản trị", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 500*time.Millisecond, "03 from the peer", func() bool { return recipientStatus(t, s.Client, acc.ID) == "03" })
	s.Hub.SetFaults(axishub.Faults{ErrorRate: 1})
	m := memo("V/v gửi nhầm", 0)
	m["codeNumber"] = "153"
	dead, err := s.Client.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	m["codeNumber"] = "154"
	later, err := s.Client.Submit(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, time.Minute, "two dead letters", func() bool {
		d, err := s.Client.Documents(ctx, localapi.StateDead, 0)
		return err == nil && len(d) == 2
	})
	s.Hub.SetFaults(axishub.Faults{})
	eventually(t, clock, time.Second, "the axis answering again", func() bool {
		sum, err := s.Client.Summary(ctx)
		return err == nil && sum.Axis.State == "ok"
	})

	link, err := s.Client.ConsoleLink(ctx, "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	do(t, b, chromedp.Navigate(link.URL), chromedp.WaitVisible(`#axis`))
	axisText, agencies, outbound := text(t, b, `#axis`), text(t, b, `#agencies`), text(t, b, `#outbound`)
	if !strings.Contains(axisText, "Kết nối tốt") || !strings.Contains(agencies, devstack.AgencyCode) || !strings.Contains(outbound, "Gửi không được") {
		t.Errorf("overview: axis %q, agencies %q, outbound %q", axisText, agencies, outbound)
	}
	fits(t, b)

	do(t, b, chromedp.Navigate(s.Client.Base+"/ui/documents/"+acc.ID), chromedp.WaitVisible(`#timeline`))
	timeline, recipients := text(t, b, `#timeline`), text(t, b, `#recipients`)
	if !strings.Contains(timeline, "01 Đã đến") || !strings.Contains(timeline, "03 Đã vào sổ") || !strings.Contains(recipients, devstack.PeerCode) {
		t.Errorf("document page: timeline %q, recipients %q", timeline, recipients)
	}

	do(t, b, chromedp.Navigate(s.Client.Base+"/ui/reports?month=2026-03"), chromedp.WaitVisible(`#timeliness`))
	report := text(t, b, `#timeliness`)
	if !strings.Contains(report, devstack.PeerCode) || !(strings.Contains(report, "giây") || strings.Contains(report, "phút")) {
		t.Errorf("reports page: %q", report)
	}

	// The dead letter, discarded from its page with a reason.
	do(t, b, chromedp.Navigate(s.Client.Base+"/ui/dead"), chromedp.Click(`a[href="/ui/documents/`+dead.ID+`"]`), chromedp.WaitVisible(`#discard`))
	do(t, b, chromedp.SendKeys(`#reason`, "Gửi nhầm nơi nhận"), chromedp.Click(`#discard`), chromedp.WaitVisible(`p.ok`))
	state := text(t, b, `#state`)
	d, err := s.Client.Document(ctx, dead.ID)
	if err != nil || d.State != localapi.StateDiscarded || !strings.Contains(state, "đã hủy") {
		t.Fatalf("after the discard: page %q, document %+v, %v", state, d, err)
	}
	evs, err := s.Client.DocumentEvents(ctx, dead.ID)
	if last := evs[len(evs)-1]; err != nil || last.Kind != "discarded" || last.Reason != "Gửi nhầm nơi nhận" || last.Client != "dev-legacy" {
		t.Errorf("the discard's event: %+v, %v", last, err)
	}
	// The other, with every dead letter of our agency, in one form.
	do(t, b, chromedp.Navigate(s.Client.Base+"/ui/dead"), chromedp.SendKeys(`#resend-all input[name=agency]`, devstack.AgencyCode),
		chromedp.Click(`#resend-all button`), chromedp.WaitVisible(`p.ok`))
	if done := text(t, b, `p.ok`); !strings.Contains(done, "gửi lại 1 văn bản") {
		t.Errorf("after resending every dead letter: %q", done)
	}
	eventually(t, clock, time.Second, "the resent letter on the axis", func() bool {
		d, err := s.Client.Document(ctx, later.ID)
		return err == nil && d.State == localapi.StateSent
	})

	// A package from the peer the axis will not let us download: set
	// aside, shown with its re-fetch, which brings it in once fixed.
	s.Hub.SetFaults(axishub.Faults{FetchFails: true})
	in := memo("V/v không tải được", 0)
	in["to"], in["codeNumber"] = []string{devstack.AgencyCode}, "93"
	if _, err := s.PeerClient.Submit(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, time.Minute, "the package set aside as unfetchable", func() bool {
		sum, err := s.Client.Summary(ctx)
		return err == nil && sum.Inbound.Unfetchable.Count == 1
	})
	s.Hub.SetFaults(axishub.Faults{})
	do(t, b, chromedp.Navigate(s.Client.Base+"/ui/dead"), chromedp.WaitVisible(`#inbound`))
	if got := text(t, b, `#inbound`); !strings.Contains(got, "đã gác lại") || !strings.Contains(got, devstack.PeerCode) {
		t.Errorf("the unfetchable package on the page: %q", got)
	}
	do(t, b, chromedp.Click(`#inbound button`), chromedp.WaitVisible(`p.ok`))
	waitInbox(t, clock, s.Client, localapi.InboxNew, 1, "the package fetched after the re-fetch")

	// On a phone.
	do(t, b, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.Client.Base+"/ui/documents/"+acc.ID), chromedp.WaitVisible(`#timeline`))
	fits(t, b)

	// The link is spent; a form posted without the session's token is
	// refused; no session, no page.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if code := get(t, hc, link.URL); code != http.StatusForbidden {
		t.Errorf("the link opened twice: %d, want 403", code)
	}
	if code := get(t, hc, s.Client.Base+"/ui/"); code != http.StatusUnauthorized {
		t.Errorf("the overview without a session: %d, want 401", code)
	}
	fresh, err := s.Client.ConsoleLink(ctx, "/ui/dead")
	if err != nil {
		t.Fatal(err)
	}
	if code := get(t, hc, fresh.URL); code != http.StatusOK {
		t.Fatalf("a fresh link: %d", code)
	}
	resp, err := hc.PostForm(s.Client.Base+"/ui/documents/"+acc.ID+"/discard", url.Values{"reason": {"từ nơi khác"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form without the session's token: %d, want 403", resp.StatusCode)
	}
	for _, off := range []string{"https://elsewhere.example/ui/", "/ui/../v1/documents", "//elsewhere.example/ui/"} {
		if _, err := s.Client.ConsoleLink(ctx, off); status(err) != 422 {
			t.Errorf("a link to %s: %v, want 422", off, err)
		}
	}
	// A scoped token's console shows its own agency only.
	scoped := &localapi.Client{Base: s.Client.Base, Token: s.ScopedToken}
	sl, err := scoped.ConsoleLink(ctx, "/ui/documents/"+acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if code := get(t, &http.Client{Jar: mustJar()}, sl.URL); code != http.StatusForbidden {
		t.Errorf("a scoped session opening another agency's document: %d, want 403", code)
	}
}

func mustJar() *cookiejar.Jar {
	j, _ := cookiejar.New(nil)
	return j
}

func get(t *testing.T, hc *http.Client, u string) int {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fits checks the page needs no sideways scrolling at the window's width.
func fits(t *testing.T, b context.Context) {
	t.Helper()
	over, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if over {
		w, _ := chromedp.Run(b, chromedp.Evaluate[int](`window.innerWidth`))
		t.Errorf("the page is wider than the window (%dpx)", w)
	}
}

// do runs steps, and on failure says what page the browser was showing.
func do(t *testing.T, b context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b, time.Minute) // a guard against a hang
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		page, _ := chromedp.Run(b, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%v; the browser shows %s", err, page)
	}
}

// text is the visible text of the element sel selects.
func text(t *testing.T, b context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}
