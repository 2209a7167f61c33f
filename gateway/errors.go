package gateway

import "lienthong/gateway/localapi"

// Errors the engine returns besides envelope.Problems, as localapi names
// them, so edges test them without linking the engine.
var (
	ErrTooLarge    = localapi.ErrTooLarge
	ErrUnavailable = localapi.ErrUnavailable
	ErrNotFound    = localapi.ErrNotFound
	ErrConflict    = localapi.ErrConflict
	ErrForbidden   = localapi.ErrForbidden
)
