package localapi

import (
	"errors"
	"time"
)

// What the engine is asked, by any edge, and what it answers besides the
// API's types: shared here so the HTTP edge needs the engine only through
// an interface, and links nothing of the store.

// Errors the engine returns besides field problems; the HTTP edge and the
// spool map each to its answer in one place.
var (
	// ErrTooLarge: the document is over outbound.max_document.
	ErrTooLarge = errors.New("document over the size limit")
	// ErrUnavailable: the store cannot take writes (disk full) or the key
	// cannot sign now; nothing was accepted.
	ErrUnavailable = errors.New("cannot store documents now")
	// ErrNotFound: no record or inbox item by that id.
	ErrNotFound = errors.New("no such record")
	// ErrConflict: the record's state does not allow the request.
	ErrConflict = errors.New("not possible in the record's state")
	// ErrForbidden: the client's token does not cover that agency.
	ErrForbidden = errors.New("outside this client's agencies")
)

// Caller is who asks: a client of the local API, or the spool.
type Caller struct {
	// Name identifies the client in logs and errors.
	Name string
	// Allows says whether the caller may act for an agency; nil allows all.
	Allows func(code string) bool
}

// DocumentQuery selects outbound documents; the zero value is every one.
type DocumentQuery struct {
	// State is accepted, sending, retry, sent or dead; "" for all.
	State string
	// Kind is document or status; "" for both.
	Kind string
	// Agency is the code sent as; To a recipient's code.
	Agency, To string
	// Since and Until bound the creation time: [Since, Until).
	Since, Until time.Time
	// Limit is the page size, 100 when zero.
	Limit int
	// After is the cursor a previous page returned.
	After string
}

// InboxQuery selects inbox items; the zero value is every one.
type InboxQuery struct {
	// State is new, answered, recall or quarantined; "" for all.
	State string
	// Agency is the code delivered to; From the sender's code.
	Agency, From string
	// Since and Until bound the receipt time: [Since, Until).
	Since, Until time.Time
	// Limit is the page size, 100 when zero.
	Limit int
	// After is the cursor a previous page returned.
	After string
}

// ReportQuery selects a timeliness report: the documents put in
// [Since, Until) (by default the current month, in Vietnam's time), by
// agency or counterpart (the default).
type ReportQuery struct {
	Since, Until time.Time
	By           string
}
