package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"lienthong/conf"
	"lienthong/gateway/localapi"
)

// SignatureHeader carries a webhook call's signature over its time and
// body (localapi.SignNotification), so the legacy system can trust what it
// is told, and when.
const SignatureHeader = localapi.SignatureHeader

// webhook tells the legacy system of changes. It is a courtesy: the inbox
// and document endpoints stay the record, so a lost call loses nothing.
type webhook struct {
	url    string
	secret []byte
	log    zerolog.Logger
	client *http.Client
	failed func()
	wg     sync.WaitGroup
	slots  chan struct{}
	// stop ends pending deliveries at shutdown.
	stop   context.Context
	cancel context.CancelFunc
}

func newWebhook(c conf.API, log zerolog.Logger) (*webhook, error) {
	if c.Webhook == "" {
		return nil, nil
	}
	s, err := c.WebhookSecret.Read()
	if err != nil {
		return nil, fmt.Errorf("api.webhook_secret: %w", err)
	}
	h := &webhook{url: c.Webhook, secret: []byte(s), log: log.With().Str("component", "webhook").Logger(),
		client: &http.Client{Timeout: 10 * time.Second}, slots: make(chan struct{}, 8)}
	h.stop, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// inboxChanged tells of an inbox item after the event of the history
// that changed it.
func (h *webhook) inboxChanged(it *localapi.InboxItem, event string) {
	if h != nil {
		h.post(localapi.Notification{Type: "inbox", Inbox: it, Event: event})
	}
}

// documentChanged tells of an outbound document after an event.
func (h *webhook) documentChanged(d *localapi.Document, event string) {
	if h != nil {
		h.post(localapi.Notification{Type: "status", Document: d, Event: event})
	}
}

// post delivers an event in the background, retrying five times with
// doubling waits until shutdown; at most eight deliveries are out at once,
// beyond which events are dropped with a log line.
func (h *webhook) post(ev localapi.Notification) {
	body, err := json.Marshal(ev)
	if err != nil {
		return
	}
	select {
	case h.slots <- struct{}{}:
	default:
		h.log.Warn().Str("type", ev.Type).Msg("webhook backlog full: event not sent; the API still has it")
		return
	}
	h.wg.Go(func() {
		defer func() { <-h.slots }()
		wait := time.Second
		for attempt := 1; attempt <= 5; attempt++ {
			err := h.send(body)
			switch {
			case err == nil || h.stop.Err() != nil:
				return
			case attempt == 5:
				if h.failed != nil {
					h.failed()
				}
				h.log.Warn().Err(err).Str("type", ev.Type).Msg("webhook not taken after 5 attempts")
				return
			}
			select {
			case <-h.stop.Done():
				return
			case <-time.After(wait):
			}
			wait *= 2
		}
	})
}

func (h *webhook) send(body []byte) error {
	ctx, cancel := context.WithTimeout(h.stop, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	// Signed at each attempt, so a retry carries a fresh time.
	req.Header.Set(SignatureHeader, localapi.SignNotification(h.secret, body, time.Now()))
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// close gives up pending deliveries and waits for their goroutines.
func (h *webhook) close() {
	if h != nil {
		h.cancel()
		h.wg.Wait()
	}
}
