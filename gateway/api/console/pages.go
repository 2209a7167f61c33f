package console

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/gateway/timeliness"
)

// vietnam is the time zone every page shows.
var vietnam = envelope.Vietnam

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.In(vietnam).Format("02/01/2006 15:04")
		case *time.Time:
			if v == nil || v.IsZero() {
				return ""
			}
			return v.In(vietnam).Format("02/01/2006 15:04")
		}
		return ""
	},
	"span":   span,
	"at":     func(t time.Time) string { return t.In(vietnam).Format("02/01/2006 15:04:05") },
	"state":  func(s string) string { return stateVi[s] + " (" + s + ")" },
	"status": statusVi,
	"why":    timeliness.WhyVi,
	"kind":   func(s string) string { return cmp.Or(eventVi[s], s) },
	"codes":  codes,
	"list":   func(s ...string) []string { return s },
}

var stateVi = map[string]string{
	"accepted": "đã nhận, chờ gửi", "sending": "đang gửi", "retry": "chờ gửi lại", "sent": "đã lên trục",
	"dead": "gửi không được", "discarded": "đã hủy",
	"new": "mới", "answered": "đã trả lời", "recall": "bị thu hồi", "quarantined": "bị từ chối",
}

var eventVi = map[string]string{
	"accepted": "tiếp nhận", "signed": "ký số", "sent": "lên trục", "retry": "thử lại", "dead": "gửi không được",
	"resent": "gửi lại", "fetched": "tải về", "delivered": "chuyển vào hộp thư", "duplicate": "trùng lặp",
	"quarantined": "từ chối", "status": "trạng thái", "recall": "thu hồi", "revoked": "hủy", "replaced": "thay thế",
	"updated": "cập nhật", "released": "nhả", "lease-expired": "hết hạn giữ", "discarded": "hủy bỏ", "retry-now": "gửi lại ngay", "set-aside": "gác lại", "successor": "gửi đơn vị kế thừa",
}

// statusVi names an edXML status code.
func statusVi(code string) string {
	names := map[string]string{
		"01": "Đã đến", "02": "Từ chối", "03": "Đã vào sổ", "04": "Đã phân công", "05": "Đang xử lý", "06": "Hoàn thành",
		"13": "Lấy lại", "15": "Đồng ý", "16": "Không đồng ý", "sent": "Đã lên trục", "": "Chưa lên trục",
	}
	if n, ok := names[code]; ok {
		if code == "" || code == "sent" {
			return n
		}
		return code + " " + n
	}
	return code
}

// codes lists a recipient's codes with their times, oldest first.
func codes(m map[string]time.Time) []string {
	var out []string
	for _, c := range []string{"01", "02", "03", "04", "05", "06", "13", "15", "16"} {
		if t, ok := m[c]; ok {
			out = append(out, statusVi(c)+" "+t.In(vietnam).Format("02/01 15:04"))
		}
	}
	return out
}

// span is a duration in seconds for a person.
func span(sec float64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d ngày %d giờ", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%d giờ %02d phút", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%d phút", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d giây", int(d.Seconds()))
	}
}

// page is what every template gets.
type page struct {
	Title  string
	Nav    string
	Caller string
	Scoped bool
	CSRF   string
	Data   map[string]any
}

func (c *Console) render(w http.ResponseWriter, code int, name string, s *session, data map[string]any) {
	p := page{Title: titles[name], Nav: name, Data: data}
	if s != nil {
		p.Caller, p.Scoped, p.CSRF = s.caller.Name, s.caller.Allows != nil, s.csrf
	}
	var b bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

var titles = map[string]string{
	"overview": "Tổng quan", "documents": "Văn bản đi", "document": "Văn bản đi", "inbox": "Văn bản đến", "item": "Văn bản đến",
	"dead": "Gửi không được", "agencies": "Đơn vị", "reports": "Báo cáo đúng hạn", "expired": "Phiên làm việc", "error": "Lỗi",
}

// fail shows an engine error as a page with the status the API would give.
func (c *Console) fail(w http.ResponseWriter, s *session, err error) {
	code := http.StatusInternalServerError
	var ps envelope.Problems
	switch {
	case errors.Is(err, localapi.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, localapi.ErrForbidden):
		code = http.StatusForbidden
	case errors.Is(err, localapi.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, localapi.ErrUnavailable):
		code = http.StatusServiceUnavailable
	case errors.As(err, &ps):
		code = http.StatusUnprocessableEntity
	}
	c.render(w, code, "error", s, map[string]any{"Message": err.Error()})
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	data := map[string]any{}
	sum, err := c.g.Summary(r.Context(), s.caller)
	switch {
	case err == nil:
		data["Summary"] = sum
	case errors.Is(err, localapi.ErrForbidden):
		// A scoped session sees its agencies, not the whole gateway.
	default:
		c.fail(w, s, err)
		return
	}
	ags, err := c.g.Agencies(r.Context(), s.caller)
	if err != nil {
		c.fail(w, s, err)
		return
	}
	data["Agencies"] = ags
	c.render(w, http.StatusOK, "overview", s, data)
}

// documents lists outbound documents: by state, or those whose record id,
// DocumentId or subject holds the search.
func (c *Console) documents(w http.ResponseWriter, r *http.Request, s *session) {
	q, state := strings.TrimSpace(r.URL.Query().Get("q")), r.URL.Query().Get("state")
	if strings.HasPrefix(q, "out-") && !strings.Contains(q, " ") {
		http.Redirect(w, r, "/ui/documents/"+url.PathEscape(q), http.StatusSeeOther)
		return
	}
	dq := localapi.DocumentQuery{State: state, Kind: "document", Limit: 1000}
	docs, more, err := find(func(after string) ([]localapi.Document, string, error) {
		dq.After = after
		return c.g.Documents(r.Context(), s.caller, dq)
	}, func(d localapi.Document) bool { return holds(q, d.DocumentID, d.Subject) })
	if err != nil {
		c.fail(w, s, err)
		return
	}
	c.render(w, http.StatusOK, "documents", s, map[string]any{"Docs": docs, "Q": q, "State": state, "More": more})
}

// searched bounds how many records one search reads; shown bounds what
// a page lists.
const searched, shown = 5000, 100

// find reads pages, newest first, keeping what match accepts: at most
// shown, reading at most searched. more says some may be left.
func find[T any](page func(after string) ([]T, string, error), match func(T) bool) (out []T, more bool, err error) {
	after := ""
	for read := 0; read < searched; {
		items, next, err := page(after)
		if err != nil {
			return nil, false, err
		}
		read += len(items)
		for _, it := range items {
			if match(it) {
				out = append(out, it)
				if len(out) == shown {
					return out, true, nil
				}
			}
		}
		if next == "" {
			return out, false, nil
		}
		after = next
	}
	return out, true, nil
}

// holds reports whether a DocumentId or a subject holds a search, in any
// case; an empty search matches all.
func holds(q, documentID, subject string) bool {
	q = strings.ToLower(q)
	return q == "" || strings.Contains(strings.ToLower(documentID), q) || strings.Contains(strings.ToLower(subject), q)
}

func (c *Console) document(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	d, err := c.g.Document(r.Context(), s.caller, id)
	if err != nil {
		c.fail(w, s, err)
		return
	}
	evs, err := c.g.DocumentEvents(r.Context(), s.caller, id)
	if err != nil {
		c.fail(w, s, err)
		return
	}
	c.render(w, http.StatusOK, "document", s, map[string]any{"Doc": d, "Events": evs, "Done": r.URL.Query().Get("done")})
}

// act runs a dead letter's action from its page's form.
func (c *Console) act(w http.ResponseWriter, r *http.Request, s *session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var err error
	switch action {
	case "discard":
		reason, ok := c.reason(w, r, s, "Cần nêu lý do hủy văn bản.", "/ui/documents/"+id)
		if !ok {
			return
		}
		_, err = c.g.Discard(r.Context(), s.caller, id, reason)
	case "retry":
		_, err = c.g.RetryNow(r.Context(), s.caller, id)
	case "resend":
		_, err = c.g.Resend(r.Context(), s.caller, id)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, s, err)
		return
	}
	http.Redirect(w, r, "/ui/documents/"+url.PathEscape(id)+"?done="+action, http.StatusSeeOther)
}

func (c *Console) inbox(w http.ResponseWriter, r *http.Request, s *session) {
	q, state := strings.TrimSpace(r.URL.Query().Get("q")), r.URL.Query().Get("state")
	if strings.HasPrefix(q, "in-") && !strings.Contains(q, " ") {
		http.Redirect(w, r, "/ui/inbox/"+url.PathEscape(q), http.StatusSeeOther)
		return
	}
	iq := localapi.InboxQuery{State: state, Limit: 1000}
	items, more, err := find(func(after string) ([]localapi.InboxItem, string, error) {
		iq.After = after
		page, next, _, err := c.g.Inbox(s.caller, iq)
		return page, next, err
	}, func(it localapi.InboxItem) bool { return holds(q, it.DocumentID, it.Subject) })
	if err != nil {
		c.fail(w, s, err)
		return
	}
	c.render(w, http.StatusOK, "inbox", s, map[string]any{"Items": items, "Q": q, "State": state, "More": more})
}

func (c *Console) inboxItem(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	it, err := c.g.InboxItem(s.caller, id)
	if err != nil {
		c.fail(w, s, err)
		return
	}
	evs, err := c.g.InboxEvents(r.Context(), s.caller, id)
	if err != nil {
		c.fail(w, s, err)
		return
	}
	c.render(w, http.StatusOK, "item", s, map[string]any{"Item": it, "Events": evs})
}

// dead lists the documents given up and those waiting to be retried.
func (c *Console) dead(w http.ResponseWriter, r *http.Request, s *session) {
	data := map[string]any{}
	for key, state := range map[string]string{"Dead": localapi.StateDead, "Retry": localapi.StateRetry} {
		docs, _, err := c.g.Documents(r.Context(), s.caller, localapi.DocumentQuery{State: state, Limit: 200})
		if err != nil {
			c.fail(w, s, err)
			return
		}
		data[key] = docs
	}
	if s.caller.Allows == nil { // the whole gateway's: not a scoped session's
		ps, err := c.g.InboundProblems(r.Context(), s.caller)
		if err != nil {
			c.fail(w, s, err)
			return
		}
		data["Inbound"] = ps
	}
	data["Done"] = r.URL.Query().Get("done")
	c.render(w, http.StatusOK, "dead", s, data)
}

// resendAll sends again every dead document of an agency, or of a period
// of days, after an outage: one form instead of one per document.
func (c *Console) resendAll(w http.ResponseWriter, r *http.Request, s *session) {
	var q localapi.ResendQuery
	q.Agency = strings.TrimSpace(r.PostForm.Get("agency"))
	for _, f := range []struct {
		name string
		t    *time.Time
		days int
	}{{"since", &q.Since, 0}, {"until", &q.Until, 1}} {
		v := r.PostForm.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, v, vietnam)
		if err != nil {
			c.render(w, http.StatusUnprocessableEntity, "error", s, map[string]any{"Message": "Ngày phải có dạng YYYY-MM-DD: " + v, "Back": "/ui/dead"})
			return
		}
		*f.t = t.AddDate(0, 0, f.days) // until: the whole of that day
	}
	res, err := c.g.ResendAll(r.Context(), s.caller, q)
	if err != nil {
		c.fail(w, s, err)
		return
	}
	done := fmt.Sprintf("gửi lại %d văn bản", res.Resent)
	if res.More {
		done += " (còn nữa: gửi lại lần nữa)"
	}
	http.Redirect(w, r, "/ui/dead?done="+url.QueryEscape(done), http.StatusSeeOther)
}

// reason is a form's reason for an action that needs one; without it,
// the page says what is missing, and ok is false.
func (c *Console) reason(w http.ResponseWriter, r *http.Request, s *session, missing, back string) (reason string, ok bool) {
	reason = strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" {
		c.render(w, http.StatusUnprocessableEntity, "error", s, map[string]any{"Message": missing, "Back": back})
	}
	return reason, reason != ""
}

// actInbound runs an inbound problem's action from the dead letters page.
func (c *Console) actInbound(w http.ResponseWriter, r *http.Request, s *session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var err error
	switch action {
	case "refetch":
		_, err = c.g.Refetch(r.Context(), s.caller, id)
	case "set-aside":
		reason, ok := c.reason(w, r, s, "Cần nêu đã xử lý gói tin thế nào.", "/ui/dead")
		if !ok {
			return
		}
		_, err = c.g.SetAside(r.Context(), s.caller, id, reason)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, s, err)
		return
	}
	http.Redirect(w, r, "/ui/dead?done="+url.QueryEscape(action+" "+id), http.StatusSeeOther)
}

func (c *Console) agencies(w http.ResponseWriter, r *http.Request, s *session) {
	ags, err := c.g.Agencies(r.Context(), s.caller)
	if err != nil {
		c.fail(w, s, err)
		return
	}
	now := c.now()
	type row struct {
		localapi.ServedAgency
		DaysLeft int
		Warn     bool
	}
	var rows []row
	for _, a := range ags {
		rw := row{ServedAgency: a, DaysLeft: -1}
		if a.NotAfter != nil {
			rw.DaysLeft = int(a.NotAfter.Sub(now).Hours() / 24)
			rw.Warn = rw.DaysLeft < 30
		}
		rows = append(rows, rw)
	}
	rep, err := c.g.Timeliness(r.Context(), s.caller, localapi.ReportQuery{By: "agency"})
	if err != nil {
		c.fail(w, s, err)
		return
	}
	c.render(w, http.StatusOK, "agencies", s, map[string]any{"Agencies": rows, "Report": rep})
}
