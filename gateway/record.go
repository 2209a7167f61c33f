package gateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"lienthong/envelope"
	"lienthong/queue"
)

// This file is the one place that knows how the engine's records are kept
// in the queue: their idempotency keys and their metadata keys. Everything
// else reads and writes the typed records below.

// kind tells a document record from a status record.
type kind string

const (
	kindDocument kind = "document"
	kindStatus   kind = "status"
)

// Metadata keys. Changing one orphans what earlier versions stored.
const (
	metaKind        = "kind"
	metaDocumentID  = "documentId"
	metaMessageType = "messageType"
	metaTo          = "to" // comma-separated recipient codes
	metaSubject     = "subject"
	metaNotation    = "notation" // number/notation, as the axis lists it
	metaTitle       = "title"    // the axis's title of the package
	metaDeadline    = "deadline"
	metaAxisDocID   = "axisDocId"
	metaAxis        = "axis" // the axis a package came on, other than the national one
	metaSentAt      = "sentAt"
	metaAmbiguous   = "ambiguous" // the last attempt may have reached the axis
	metaClient      = "client"
	metaRecalled    = "recalled"
	metaDiscarded   = "discarded" // why an operator gave the document up
	metaStatusCode  = "statusCode"
	metaInbox       = "inbox" // the inbox state, or "status" / "duplicate"
	metaReason      = "reason"
	metaFrom        = "from"
	metaDuplicateOf = "duplicateOf"
	metaPromulgated = "promulgated" // yyyy/MM/dd of a document we send
	metaBusiness    = "business"    // 1 revoke, 2 update, 3 replace; absent for a new document
	metaAxisTime    = "axisTime"    // when the axis says it received the package
	metaAbout       = "about"       // the record a status package concerns
	metaContent     = "content"     // what the document was submitted with, hashed (fingerprint)
	metaRefused     = "refused"     // the kind of reason a package was quarantined for
	metaAcked       = "acked"       // on a shared store: when a node last acknowledged the package
)

// Inbox dispositions of an inbound record besides the item states.
const (
	inboxStatus    = "status"    // a status package, applied
	inboxDuplicate = "duplicate" // a repeat of a delivered document
)

// outRecord is what the engine keeps about a package it sends.
type outRecord struct {
	From        string // the agency it is sent as; "" in records of one-agency versions
	Kind        kind
	DocumentID  string
	MessageType string
	To          []string // recipient codes
	Subject     string
	Notation    string // number/notation
	Title       string
	Deadline    time.Time // legal dispatch deadline; zero for statuses
	AxisDocID   string
	SentAt      time.Time
	Ambiguous   bool // the last attempt may have reached the axis
	Client      string
	Recalled    bool
	StatusCode  string // of a status package
	Promulgated envelope.Date
	Business    envelope.BusinessType
	About       string // of a status: the record it concerns, told when it is sent
	Content     string // of a document: its submission's fingerprint
}

func readOut(r *queue.Record) outRecord {
	m := r.Meta
	o := outRecord{
		From: m[metaFrom], Kind: kind(m[metaKind]), DocumentID: m[metaDocumentID], MessageType: m[metaMessageType],
		Subject: m[metaSubject], Notation: m[metaNotation], Title: m[metaTitle], AxisDocID: m[metaAxisDocID],
		Ambiguous: m[metaAmbiguous] != "", Client: m[metaClient], Recalled: m[metaRecalled] != "", StatusCode: m[metaStatusCode],
		About: m[metaAbout], Content: m[metaContent],
	}
	if t := m[metaTo]; t != "" {
		o.To = strings.Split(t, ",")
	}
	o.Deadline, _ = time.Parse(time.RFC3339, m[metaDeadline])
	o.SentAt, _ = time.Parse(time.RFC3339Nano, m[metaSentAt])
	o.Promulgated = parseDate(m[metaPromulgated])
	if o.Promulgated.IsZero() {
		// Earlier records: the date is the DocumentId's second part.
		if parts := strings.Split(o.DocumentID, ","); len(parts) >= 3 {
			o.Promulgated = parseDate(parts[1])
		}
	}
	if b, err := strconv.Atoi(m[metaBusiness]); err == nil {
		o.Business = envelope.BusinessType(b)
	}
	return o
}

// meta is the whole record as stored when it is put.
func (o outRecord) meta() map[string]string {
	m := map[string]string{
		metaKind: string(o.Kind), metaDocumentID: o.DocumentID, metaMessageType: o.MessageType,
		metaTo: strings.Join(o.To, ","), metaNotation: o.Notation, metaTitle: o.Title,
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set(metaFrom, o.From)
	set(metaSubject, o.Subject)
	set(metaClient, o.Client)
	set(metaStatusCode, o.StatusCode)
	set(metaAbout, o.About)
	set(metaContent, o.Content)
	if !o.Deadline.IsZero() {
		m[metaDeadline] = o.Deadline.Format(time.RFC3339)
	}
	set(metaPromulgated, o.Promulgated.String())
	if o.Business != envelope.BusinessNew {
		m[metaBusiness] = strconv.Itoa(int(o.Business))
	}
	return m
}

func parseDate(s string) envelope.Date {
	t, err := time.Parse("2006/01/02", s)
	if err != nil {
		return envelope.Date{}
	}
	return envelope.DateOf(t)
}

// sentTo reports whether code is among the record's recipients.
func (o outRecord) sentTo(code string) bool { return slices.Contains(o.To, code) }

// Partial updates of an outbound record.
var (
	markAmbiguous = map[string]string{metaAmbiguous: "1"}
	markRecalled  = map[string]string{metaRecalled: "1"}
)

func markSent(axisDocID string, at time.Time) map[string]string {
	return map[string]string{metaAxisDocID: axisDocID, metaSentAt: at.Format(time.RFC3339Nano), metaAmbiguous: ""}
}

// recipient is the business state one recipient reported for a document
// we sent, kept in the record's engine data.
type recipient struct {
	OrganID     string    `json:"organId"`
	Status      string    `json:"status"` // edXML status code, e.g. "03"
	Description string    `json:"description,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// Times is when each code first arrived, late ones included.
	Times map[string]time.Time `json:"times,omitempty"`
}

// outData is the engine data of an outbound record.
type outData struct {
	Recipients []recipient `json:"recipients,omitempty"`
}

// recipientsOf reads a record's recipients; a record without any reads
// as none.
func recipientsOf(r *queue.Record) []recipient {
	var d outData
	if len(r.Data) > 0 {
		_ = json.Unmarshal(r.Data, &d) // written only by setRecipients
	}
	return d.Recipients
}

// setRecipients writes a record's recipients into its engine data.
func setRecipients(r *queue.Record, rs []recipient) error {
	b, err := json.Marshal(outData{Recipients: rs})
	if err != nil {
		return err
	}
	r.Data = b
	return nil
}

// inRecord is what the engine keeps about a package it received.
type inRecord struct {
	AxisDocID   string
	Axis        string // "" for the national axis
	MessageType string
	AxisTime    string // the axis's created_time of the package, as listed
	From        string // the sender's code: the axis's word until verified
	Inbox       string // item state, inboxStatus or inboxDuplicate; "" while processing
	Kind        kind
	DocumentID  string
	StatusCode  string
	Reason      string // why it was quarantined
	Refused     string // the kind of that reason, as the metrics count it
	DuplicateOf string
	// Items are the inbox items delivered of the package, stored with
	// the record when it is closed (their own meta, not read back here).
	Items []string
}

func readIn(r *queue.Record) inRecord {
	m := r.Meta
	return inRecord{
		AxisDocID: m[metaAxisDocID], Axis: m[metaAxis], MessageType: m[metaMessageType], AxisTime: m[metaAxisTime], From: m[metaFrom], Inbox: m[metaInbox],
		Kind: kind(m[metaKind]), DocumentID: m[metaDocumentID], StatusCode: m[metaStatusCode],
		Reason: m[metaReason], Refused: m[metaRefused], DuplicateOf: m[metaDuplicateOf],
	}
}

// meta is the record's non-empty fields, for a put or a closing update.
func (i inRecord) meta() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		metaAxisDocID: i.AxisDocID, metaAxis: i.Axis, metaMessageType: i.MessageType, metaAxisTime: i.AxisTime, metaFrom: i.From, metaInbox: i.Inbox,
		metaKind: string(i.Kind), metaDocumentID: i.DocumentID, metaStatusCode: i.StatusCode,
		metaReason: i.Reason, metaRefused: i.Refused, metaDuplicateOf: i.DuplicateOf,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// answerMeta records, on a received record, the last answer one of its
// inbox items got: "CODE|STATUS-RECORD-ID" under "answer|ITEM-ID", and
// when each code was given under "answered|ITEM-ID|CODE" for the reports.
// It is written in the commit that stores the status, so the inbox's state
// needs no file of its own made durable.
func answerMeta(itemID, code string, at time.Time) *about {
	return &about{id: recordOf(itemID), meta: func(statusID string) map[string]string {
		return map[string]string{"answer|" + itemID: code + "|" + statusID, answeredKey(itemID, code): at.UTC().Format(time.RFC3339)}
	}}
}

// answeredPrefix starts the keys of the times answers were first given.
const answeredPrefix = "answered|"

func answeredKey(itemID, code string) string { return answeredPrefix + itemID + "|" + code }

// answeredAt is when an item was answered a code, zero if never.
func answeredAt(r *queue.Record, itemID, code string) time.Time {
	t, _ := time.Parse(time.RFC3339, r.Meta[answeredKey(itemID, code)])
	return t
}

// answerOf reads answerMeta back: the code and status record an item was
// last answered with, if any.
func answerOf(r *queue.Record, itemID string) (code, statusID string, ok bool) {
	code, statusID, ok = strings.Cut(r.Meta["answer|"+itemID], "|")
	return code, statusID, ok
}

// Idempotency keys: one record per document we send, per status we send,
// per axis package we fetch, and per document we deliver.
func outDocumentKey(documentID string) string { return "doc:" + documentID }

func outStatusKey(to, documentID, code string) string {
	return "status:" + to + "|" + documentID + "|" + code
}

func fetchedKey(axisDocID string) string { return "axis:" + axisDocID }

func deliveredKey(from, documentID string) string { return "doc:" + from + "|" + documentID }

// changeKey is a revocation, update or replacement's own slot: a message
// about a document, told from a repeat of the same package by its type
// and content, whether or not it reuses the original's DocumentId.
func changeKey(from, documentID string, bt int, payloadSHA256 string) string {
	return fmt.Sprintf("change:%s|%s|%d|%s", from, documentID, bt, payloadSHA256)
}

// unverifiedKey is where a package delivered without established
// authenticity (policy warn) is claimed: never the slot a genuine package
// of that sender and DocumentId would take.
func unverifiedKey(from, documentID, payloadSHA256 string) string {
	return "unverified:" + from + "|" + documentID + "|" + payloadSHA256
}
