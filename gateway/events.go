package gateway

import (
	"strconv"
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
		Reason: a[atReason], Link: a[atLink], Client: a[atClient],
	}
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
