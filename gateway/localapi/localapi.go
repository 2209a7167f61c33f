// Package localapi is the contract between lienthongd and the software
// beside it: the request and answer types of the local HTTP API and a
// typed Client, shared by the daemon, the lienthong CLI and tests, so the
// three cannot drift apart. docs/api.yaml describes the same API.
package localapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Accepted is the answer to a submitted document: the record's id for
// later questions and the edXML DocumentId the recipients will see.
type Accepted struct {
	ID         string `json:"id"`
	DocumentID string `json:"documentId"`
	// Existing is set when the same DocumentId had been submitted before;
	// nothing new was queued.
	Existing bool `json:"existing,omitempty"`
}

// Document is an outbound document's fate.
type Document struct {
	ID         string `json:"id"`
	DocumentID string `json:"documentId"`
	Kind       string `json:"kind"` // document or status
	Subject    string `json:"subject,omitempty"`
	Priority   int    `json:"priority"`
	State      string `json:"state"` // accepted, sending, retry, sent, dead, discarded
	// Discarded is why an operator gave the document up.
	Discarded  string      `json:"discarded,omitempty"`
	Attempts   int         `json:"attempts"`
	LastError  string      `json:"lastError,omitempty"`
	NextRetry  *time.Time  `json:"nextRetry,omitempty"`
	AxisDocID  string      `json:"axisDocId,omitempty"`
	Created    time.Time   `json:"created"`
	Updated    time.Time   `json:"updated"`
	SentAt     *time.Time  `json:"sentAt,omitempty"`
	Recipients []Recipient `json:"recipients"`
	Recalled   bool        `json:"recalled,omitempty"`
}

// Recipient is one recipient's business state for an outbound document.
type Recipient struct {
	OrganID     string     `json:"organId"`
	StatusCode  string     `json:"statusCode"` // "" until the axis took the document, then "sent", then 01…16
	Description string     `json:"description,omitempty"`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty"`
	// Codes is when each code (01–06, 13, 15, 16) first arrived from
	// this recipient, late ones included: how fast the document moved.
	Codes map[string]time.Time `json:"codes,omitempty"`
}

// Event is one change in a document's or inbox item's history, so that
// where a document is and how fast it moved can be shown to anyone.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is accepted, signed, sent, retry, dead, resent, successor,
	// fetched, delivered, duplicate, quarantined, status, recall, revoked,
	// replaced, updated, released or lease-expired.
	Kind      string `json:"kind"`
	Recipient string `json:"recipient,omitempty"` // the agency it concerns
	// Direction of a status: in (received) or out (sent or queued).
	Direction   string     `json:"direction,omitempty"`
	Code        string     `json:"code,omitempty"`
	Description string     `json:"description,omitempty"`
	Staff       string     `json:"staff,omitempty"`
	StatusTime  *time.Time `json:"statusTime,omitempty"` // the time the status package states
	AxisDocID   string     `json:"axisDocId,omitempty"`
	DocumentID  string     `json:"documentId,omitempty"`
	// SHA256 and Size are of the exact package bytes signed or fetched.
	SHA256      string     `json:"sha256,omitempty"`
	Size        int64      `json:"size,omitempty"`
	Error       string     `json:"error,omitempty"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	// Link is the record this event relates to: the status record that
	// carried a code, the revocation of a document, the original changed.
	Link   string `json:"link,omitempty"`
	Client string `json:"client,omitempty"`
}

// Page is one page of a list, newest first; Next is the cursor of the
// next page (the X-Next-Cursor header), empty on the last.
type Page[T any] struct {
	Items []T
	Next  string
}

// UnmarshalJSON reads the page's items: the body is their array.
func (p *Page[T]) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &p.Items) }

func (p *Page[T]) setNext(next string) { p.Next = next }

// Outbound document states.
const (
	StateAccepted = "accepted" // stored, waiting for a send slot
	StateSending  = "sending"
	StateRetry    = "retry" // an attempt failed; another is scheduled
	StateSent     = "sent"  // the axis took it
	StateDead     = "dead"  // given up; an operator may resend
	// StateDiscarded is a document an operator gave up for good.
	StateDiscarded = "discarded"
)

// InboxItem is an inbound package delivered to (or held back from) the
// legacy system.
type InboxItem struct {
	ID string `json:"id"`
	// Agency is which of the gateway's agencies it was delivered to, when
	// the gateway serves more than one; each answers its own item.
	Agency          string `json:"agency,omitempty"`
	State           string `json:"state"` // new, answered, recall, quarantined
	DocumentID      string `json:"documentId,omitempty"`
	From            string `json:"from,omitempty"`
	FromName        string `json:"fromName,omitempty"`
	CodeNumber      string `json:"codeNumber,omitempty"`
	CodeNotation    string `json:"codeNotation,omitempty"`
	Subject         string `json:"subject,omitempty"`
	Priority        int    `json:"priority"`
	BusinessDocType int    `json:"businessDocType"` // 0 new, 1 revoke, 2 update, 3 replace
	// TargetDocumentID is the document a revoke, update or replace is about.
	TargetDocumentID string `json:"targetDocumentId,omitempty"`
	// Targets are all the documents it is about (a replacement may name
	// several); TargetIDs the inbox items holding them; TargetUnknown is
	// set when none of them was ever delivered here.
	Targets       []string `json:"targets,omitempty"`
	TargetIDs     []string `json:"targetIds,omitempty"`
	TargetUnknown bool     `json:"targetUnknown,omitempty"`
	// ChangedBy lists the revocations, updates and replacements the sender
	// sent about this document, newest last; Change names the newest:
	// revoked, updated or replaced. Answer them 15 (agree) or 16 (refuse).
	ChangedBy   []InboxChange `json:"changedBy,omitempty"`
	Change      string        `json:"change,omitempty"`
	Promulgated string        `json:"promulgationDate,omitempty"` // YYYY-MM-DD, as submitted
	Received    time.Time     `json:"received"`
	Files       []File        `json:"files,omitempty"`
	StatusCode  string        `json:"statusCode,omitempty"` // the last status we answered
	// StatusID is the outbound record carrying that answer, to follow
	// with GET /v1/documents/{id} until the axis took it.
	StatusID string `json:"statusId,omitempty"`
	// Recall is set when the sender asked for the document back (status
	// 13); answer 15 to agree or 16 to refuse.
	Recall bool `json:"recall,omitempty"`
	// Reason says why a quarantined package was refused.
	Reason string `json:"reason,omitempty"`
	// SignatureWarning is set when policy let an unverified package through.
	SignatureWarning string `json:"signatureWarning,omitempty"`
	// SenderRetired is set when the sender's code was withdrawn by a
	// reorganisation (with its successor where known): the document is
	// delivered, and the answer may have to go to the new agency.
	SenderRetired string `json:"senderRetired,omitempty"`
	// SameDocumentIDAs names an earlier item delivered under the same
	// sender and DocumentId with other content: both are kept, check which
	// one stands.
	SameDocumentIDAs string `json:"sameDocumentIdAs,omitempty"`
}

// InboxChange is a later package about an inbox item: its own inbox item
// and what it does.
type InboxChange struct {
	ID     string `json:"id"`     // the inbox item of the revocation, update or replacement
	Change string `json:"change"` // revoked, updated or replaced
	Reason string `json:"reason,omitempty"`
}

// What a later package did to an inbox item (InboxItem.Change).
const (
	ChangeRevoked  = "revoked"
	ChangeUpdated  = "updated"
	ChangeReplaced = "replaced"
)

// ServedAgency is one agency the gateway serves, as GET /v1/agencies lists
// it: what per-agency metrics would be, kept off Prometheus labels so that
// thousands of agencies do not multiply the series.
type ServedAgency struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
	// Units: every unit under the code is served too.
	Units bool `json:"units,omitempty"`
	// Key is own (its key in signing.key_dir), shared (the main key) or
	// none (it cannot send).
	Key string `json:"key"`
	// NotAfter is when its signing certificate expires.
	NotAfter *time.Time `json:"notAfter,omitempty"`
	// Queued and Oldest count its documents not yet sent.
	Queued int        `json:"queued"`
	Oldest *time.Time `json:"oldest,omitempty"`
}

// Inbox states.
const (
	InboxNew         = "new"
	InboxAnswered    = "answered"
	InboxRecall      = "recall"
	InboxQuarantined = "quarantined"
)

// File is one attachment of an inbox item; N counts from 1.
type File struct {
	N int `json:"n"`
	// SenderName is the name as the sender wrote it, Go-quoted in ASCII,
	// when Name had to be cleaned of folders or control characters.
	SenderName  string `json:"senderName,omitempty"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// StatusRequest is the legacy system's business answer to an inbound
// document: 02 refuse, 03 registered, 04 assigned, 05 processing, 06 done,
// 15/16 to agree to or refuse a recall.
type StatusRequest struct {
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
	Staff       string `json:"staff,omitempty"`
	Department  string `json:"department,omitempty"`
}

// Agency is a directory entry.
type Agency struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Parent  string `json:"parent,omitempty"`
	Mail    string `json:"mail,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	// Ours: this gateway serves the agency.
	Ours bool `json:"ours,omitempty"`
}

// Notification is what the webhook posts: a new inbox item or a status
// change of an outbound document.
type Notification struct {
	// Type is inbox (an item arrived or changed: Inbox is set) or status
	// (a document was sent or a recipient's status arrived: Document is
	// set).
	Type     string     `json:"type"`
	Inbox    *InboxItem `json:"inbox,omitempty"`
	Document *Document  `json:"document,omitempty"`
	// Event is the change that caused the call, as the history names it
	// (sent, status, delivered, quarantined, recall…), where one did.
	Event string `json:"event,omitempty"`
}

// Problem is one broken rule of a request, named by its JSON field.
type Problem struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
	Value string `json:"value"`
}

// Error is every error answer's body.
type Error struct {
	Status int `json:"-"`
	// RetryAfter is the answer's Retry-After: a 503 that will pass later.
	RetryAfter time.Duration `json:"-"`
	Message    string        `json:"error"`
	Problems   []Problem     `json:"problems,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d: %s", e.Status, e.Message)
	if len(e.Problems) > 0 {
		var b strings.Builder
		for _, p := range e.Problems {
			fmt.Fprintf(&b, "; %s %s", p.Field, p.Rule)
			if p.Value != "" {
				fmt.Fprintf(&b, " (%q)", p.Value)
			}
		}
		s += b.String()
	}
	return s
}

// Health is /healthz and /readyz's answer.
type Health struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"` // ok or why not
}

// EvidenceCheckpoint is a signed checkpoint of the evidence log, with the
// key that checks it.
type EvidenceCheckpoint struct {
	Size int64     `json:"size"`
	At   time.Time `json:"at"`
	// Checkpoint is the signed note, in the C2SP tlog-checkpoint form.
	Checkpoint  string `json:"checkpoint"`
	VerifierKey string `json:"verifierKey"`
	// Timestamp is the RFC 3161 token of a time-stamping authority.
	Timestamp []byte `json:"timestamp,omitempty"`
}

// EvidenceReport is what a check of the whole evidence log found.
type EvidenceReport struct {
	OK          bool   `json:"ok"`
	Entries     int64  `json:"entries"`
	Pending     int64  `json:"pending"`
	Checkpoints int    `json:"checkpoints"`
	Packages    int    `json:"packages"`
	Purged      int    `json:"purged"`
	Timestamps  int    `json:"timestamps"`
	Latest      string `json:"latestCheckpoint,omitempty"`
	// Problems name the entry, hash or checkpoint that does not hold.
	Problems []string `json:"problems,omitempty"`
}

// Summary is what an operator needs to know first: whether the axis is
// reached, what is queued, stuck or late, and what needs action.
type Summary struct {
	Time time.Time `json:"time"`
	Axis AxisState `json:"axis"` // the worst of Axes
	// Axes is each axis the gateway exchanges on, by name.
	Axes      []AxisState      `json:"axes,omitempty"`
	Outbound  OutboundSummary  `json:"outbound"`
	Inbound   InboundSummary   `json:"inbound"`
	Directory DirectorySummary `json:"directory"`
	Agencies  []ServedAgency   `json:"agencies"`
	Evidence  *EvidenceSummary `json:"evidence,omitempty"`
	// Problems are what needs action now, each a sentence that says
	// what to do; none when all is well.
	Problems []string `json:"problems"`
}

// AxisState is the axis as this node last reached it.
type AxisState struct {
	Name         string     `json:"name,omitempty"` // in Axes
	State        string     `json:"state"`          // ok, unreachable, not reached yet
	LastSuccess  *time.Time `json:"lastSuccess,omitempty"`
	FailingSince *time.Time `json:"failingSince,omitempty"`
	LastError    string     `json:"lastError,omitempty"`
	Breaker      string     `json:"breaker"` // closed, open, half-open
}

// Count is how many records are in a state, and since when the oldest.
type Count struct {
	Count  int        `json:"count"`
	Oldest *time.Time `json:"oldest,omitempty"`
}

// OutboundSummary counts documents and statuses on their way out.
type OutboundSummary struct {
	Queued  Count `json:"queued"`  // waiting to be sent, retries included
	Retry   Count `json:"retry"`   // of those, after a failed attempt
	Sending Count `json:"sending"` // with a worker now
	Dead    Count `json:"dead"`    // given up: resend or discard
}

// InboundSummary counts packages on their way in and the inbox.
type InboundSummary struct {
	Processing  Count `json:"processing"`  // fetched, not delivered yet
	Dead        Count `json:"dead"`        // could not be processed
	Unfetchable Count `json:"unfetchable"` // listed by the axis, set aside: they could not be fetched
	Quarantined Count `json:"quarantined"` // refused, with a reason
	Unanswered  Count `json:"unanswered"`  // delivered, no status from the document system
	// Overdue are unanswered past the registration deadline: the end of
	// the working day after they arrived.
	Overdue Count `json:"overdue"`
}

// DirectorySummary is the agency directory as synced.
type DirectorySummary struct {
	Agencies int        `json:"agencies"`
	Synced   *time.Time `json:"synced,omitempty"`
	Stale    bool       `json:"stale"`
	Held     int        `json:"held"` // changes waiting for an operator
}

// EvidenceSummary is the evidence log's state.
type EvidenceSummary struct {
	LatestCheckpoint *time.Time `json:"latestCheckpoint,omitempty"`
	Unsigned         int64      `json:"unsigned"` // entries no checkpoint covers yet
}

// Resent is what a resend of every dead document of a period or agency
// did.
type Resent struct {
	Resent int      `json:"resent"`
	IDs    []string `json:"ids"`
	// More is set when more dead documents matched than one call resends
	// (10,000): call again.
	More bool `json:"more,omitempty"`
}

// ResendQuery picks the dead documents to resend: created in [Since,
// Until), of Agency; each empty means any.
type ResendQuery struct {
	Since  time.Time `json:"since,omitzero"`
	Until  time.Time `json:"until,omitzero"`
	Agency string    `json:"agency,omitempty"`
}

// TimelinessReport says how fast documents crossed and were registered in
// a period, by the rules of QĐ 28/2018: sent the day they are signed or
// the next working morning, registered by the recipient the same or the
// next working day. Periods count documents by when they were put.
type TimelinessReport struct {
	Since time.Time       `json:"since"`
	Until time.Time       `json:"until"`
	Time  time.Time       `json:"time"` // when the report was made: "overdue" is as of then
	By    string          `json:"by"`   // agency or counterpart
	Rows  []TimelinessRow `json:"rows"`
	Total TimelinessRow   `json:"total"`
	// Overdue lists the documents late in the period, oldest first, at
	// most OverdueShown of OverdueCount.
	Overdue      []OverdueDocument `json:"overdue"`
	OverdueCount int               `json:"overdueCount"`
}

// TimelinessRow is one agency's or counterpart's figures.
type TimelinessRow struct {
	Code     string         `json:"code"`
	Name     string         `json:"name,omitempty"`
	Sent     TimelinessSide `json:"sent"`     // documents we sent, as their recipients handled them
	Received TimelinessSide `json:"received"` // documents we received, as we handled them
}

// TimelinessSide is one direction's figures: each document counted once
// per recipient.
type TimelinessSide struct {
	Documents int `json:"documents"`
	// ToArrived and ToRegistered run from the upload to the axis to the
	// recipient's 01 and 03.
	ToArrived    Durations `json:"toArrived"`
	ToRegistered Durations `json:"toRegistered"`
	// Overdue: no 03 by the registration deadline, or sent after the
	// dispatch deadline (LateDispatch counts those).
	Overdue      int             `json:"overdue"`
	LateDispatch int             `json:"lateDispatch"`
	Refused      int             `json:"refused"` // answered 02
	Reasons      []RefusalReason `json:"reasons,omitempty"`
	Recalled     int             `json:"recalled"`
}

// Durations summarises times, in seconds.
type Durations struct {
	Count  int     `json:"count"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
}

// RefusalReason is a reason given with 02 and how often.
type RefusalReason struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// OverdueDocument is one document late for one recipient.
type OverdueDocument struct {
	Record      string    `json:"record"`
	DocumentID  string    `json:"documentId"`
	Subject     string    `json:"subject,omitempty"`
	Direction   string    `json:"direction"` // sent or received
	Agency      string    `json:"agency"`
	Counterpart string    `json:"counterpart"`
	Uploaded    time.Time `json:"uploaded,omitzero"`
	Deadline    time.Time `json:"deadline"`
	// Why is "not registered", "registered late" or "sent late".
	Why string `json:"why"`
}

// ConsoleLink opens the web console once: a browser that opens URL
// before Expires gets a session with the rights of the token that asked.
type ConsoleLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// InboundProblem is a package received that could not be handled: a
// record whose processing was given up (dead), or a package the axis
// lists that could not be fetched (unfetchable). Re-fetch one once the
// cause is fixed; set a dead one aside once it was dealt with by hand.
type InboundProblem struct {
	// ID is the record (in-…) of a dead package, the axis DocId of an
	// unfetchable one: what refetch and set-aside take.
	ID          string    `json:"id"`
	State       string    `json:"state"` // dead or unfetchable
	AxisDocID   string    `json:"axisDocId,omitempty"`
	From        string    `json:"from,omitempty"`
	MessageType string    `json:"messageType,omitempty"`
	Since       time.Time `json:"since"`
	Failures    int       `json:"failures"`
	LastError   string    `json:"lastError,omitempty"`
	// SetAside is set on an unfetchable package no longer tried until it
	// is re-fetched or the daemon starts again.
	SetAside bool `json:"setAside,omitempty"`
}
