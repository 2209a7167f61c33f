package gateway

import "errors"

// Errors the engine returns besides envelope.Problems; the local API and
// the spool map each to its answer in one place (http.go fail).
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
