package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// The webhook follows the event stream: our side hears of the document
// when the axis took it and when the peer's statuses arrive; the peer's
// side hears of the item delivered to its inbox. Every call is signed.
func TestWebhookFollowsEvents(t *testing.T) {
	type heard struct {
		peer bool
		n    localapi.Notification
	}
	var mu sync.Mutex
	var got []heard
	secret := "bí mật webhook"
	hook := func(peer bool) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			sig := r.Header.Get(localapi.SignatureHeader)
			if err := localapi.VerifyNotification([]byte(secret), sig, body, time.Now(), 5*time.Minute); err != nil {
				t.Errorf("webhook call signed %q: %v", sig, err)
			}
			// Replayed an hour later, or with another body, it is refused.
			if localapi.VerifyNotification([]byte(secret), sig, body, time.Now().Add(time.Hour), 5*time.Minute) == nil ||
				localapi.VerifyNotification([]byte(secret), sig, append(body, ' '), time.Now(), 5*time.Minute) == nil {
				t.Error("a replayed or altered webhook call verified")
			}
			var n localapi.Notification
			if err := json.Unmarshal(body, &n); err != nil {
				t.Errorf("webhook body %s: %v", body, err)
			}
			mu.Lock()
			got = append(got, heard{peer, n})
			mu.Unlock()
		}))
	}
	ours, theirs := hook(false), hook(true)
	defer ours.Close()
	defer theirs.Close()
	secretFile := filepath.Join(t.TempDir(), "webhook-secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	s, clock := start(t, devstack.Options{Configure: func(peer bool, c *conf.Config) {
		c.API.Webhook, c.API.WebhookSecret = ours.URL, conf.Secret("file:"+secretFile)
		if peer {
			c.API.Webhook = theirs.URL
		}
	}})
	acc, err := s.Client.Submit(context.Background(), memo("V/v báo qua webhook", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func() (sent, registered, delivered bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range got {
			switch {
			case h.n.Event == "":
				t.Errorf("a webhook call names no event: %+v", h.n)
			case !h.peer && h.n.Type == "status" && h.n.Document != nil && h.n.Document.ID == acc.ID:
				sent = sent || h.n.Document.State == localapi.StateSent
				registered = registered || (len(h.n.Document.Recipients) == 1 && h.n.Document.Recipients[0].StatusCode == "03")
			case h.peer && h.n.Type == "inbox" && h.n.Inbox != nil && h.n.Inbox.DocumentID == acc.DocumentID:
				delivered = true
			}
		}
		return
	}
	eventually(t, clock, 100*time.Millisecond, "the webhooks told of the sending, the 03 and the delivery", func() bool {
		sent, registered, delivered := check()
		return sent && registered && delivered
	})
}
