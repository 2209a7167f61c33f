package gateway

import (
	"context"
	"strconv"
	"strings"
	"time"

	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// Every change of a document, a status or an inbox item is an event,
// stored in the commit that makes the change: the history an operator,
// a vendor or a leader reads of each record.

// Event kinds.
const (
	evAccepted    = "accepted"
	evSigned      = "signed"
	evSent        = "sent"
	evRetry       = "retry"
	evDead        = "dead"
	evResent      = "resent"
	evFetched     = "fetched"
	evDelivered   = "delivered"
	evDuplicate   = "duplicate"
	evQuarantined = "quarantined"
	evStatus      = "status"
	evRecall      = "recall"
	evDiscarded   = "discarded"
	evRetryNow    = "retry-now"
	evSuccessor   = "successor" // sent to the successor of a retired code
)

// Event attributes.
const (
	atCode        = "code"
	atDescription = "description"
	atStaff       = "staff"
	atStatusTime  = "statusTime"
	atDirection   = "direction"
	atAxisDocID   = "axisDocId"
	atError       = "error"
	atNextAttempt = "nextAttempt"
	atReason      = "reason"
	atLink        = "link"
	atClient      = "client"
	atDocumentID  = "documentId"
	atSHA256      = "sha256"
	atSize        = "size"
	atLate        = "late"        // sent after its dispatch deadline
	atRefused     = "refused"     // why a package was quarantined, as counted
	atAgency      = "agency"      // ours, where the record's recipient does not say
	atCounterpart = "counterpart" // the other agencies, comma-separated
)

// event makes an event of a record; attrs are key, value pairs, empty
// values left out.
func event(record, kind, recipient string, at time.Time, attrs ...string) queue.Event {
	ev := queue.Event{Record: record, Kind: kind, Recipient: recipient, At: at}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		if ev.Attrs == nil {
			ev.Attrs = map[string]string{}
		}
		ev.Attrs[attrs[i]] = attrs[i+1]
	}
	return ev
}

// eventView is an event as the API shows it.
func eventView(ev queue.Event) localapi.Event {
	a := ev.Attrs
	v := localapi.Event{
		Time: ev.At.UTC(), Kind: ev.Kind, Recipient: ev.Recipient, Direction: a[atDirection], Code: a[atCode],
		Description: a[atDescription], Staff: a[atStaff], AxisDocID: a[atAxisDocID], Error: a[atError],
		Reason: a[atReason], Link: a[atLink], Client: a[atClient], DocumentID: a[atDocumentID], SHA256: a[atSHA256],
	}
	v.Size, _ = strconv.ParseInt(a[atSize], 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, a[atStatusTime]); err == nil {
		v.StatusTime = &t
	}
	if t, err := time.Parse(time.RFC3339Nano, a[atNextAttempt]); err == nil {
		v.NextAttempt = &t
	}
	return v
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// observe counts what the events of one commit say happened: the metrics
// follow the stream, so no change is counted that did not commit, and no
// site that changes a record has to remember to count it.
func (m *metrics) observe(evs []queue.Event) {
	for _, ev := range evs {
		dir := "out"
		if strings.HasPrefix(ev.Record, string(queue.Inbound)+"-") {
			dir = "in"
		}
		code := ev.Attrs[atCode]
		switch ev.Kind {
		case evAccepted:
			if code == "" { // a document, not a status we answer with
				m.messages.WithLabelValues("out", "accepted").Inc()
			}
		case evSent:
			m.messages.WithLabelValues("out", "sent").Inc()
			if code != "" {
				m.statuses.WithLabelValues("out", code).Inc()
			}
			if ev.Attrs[atLate] != "" {
				m.deadlineMiss.Inc()
			}
		case evRetry:
			m.retries.WithLabelValues(dir).Inc()
		case evDead:
			m.messages.WithLabelValues(dir, "dead").Inc()
		case evFetched, evDelivered, evDuplicate:
			m.messages.WithLabelValues("in", ev.Kind).Inc()
		case evQuarantined:
			m.messages.WithLabelValues("in", "quarantined").Inc()
			m.refused.WithLabelValues(ev.Attrs[atRefused]).Inc()
		case evStatus:
			// Counted once, on the record of the package that carried it.
			if dir == "in" && ev.Attrs[atDirection] == "in" {
				m.statuses.WithLabelValues("in", code).Inc()
				m.messages.WithLabelValues("in", "status").Inc()
			}
		}
	}
}

// notifyDocuments tells the legacy system's webhook of every document the
// axis took and every status applied to one, as the events of a commit
// say, with the document as it now stands.
func notifyDocuments(s queue.Store, hook *webhook) func([]queue.Event) {
	return func(evs []queue.Event) {
		told := map[string]bool{}
		for _, ev := range evs {
			if told[ev.Record] || !strings.HasPrefix(ev.Record, string(queue.Outbound)+"-") {
				continue
			}
			switch {
			case ev.Kind == evSent && ev.Attrs[atCode] == "":
			case ev.Kind == evStatus && ev.Attrs[atDirection] == "in" && ev.Attrs[atReason] == "":
			default:
				continue
			}
			told[ev.Record] = true
			if r, err := queue.Get(context.Background(), s, ev.Record); err == nil {
				hook.documentChanged(documentView(r), ev.Kind)
			}
		}
	}
}
