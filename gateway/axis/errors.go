package axis

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Class sorts failures by what the caller should do next.
type Class int

const (
	// Retryable failed before the adapter could act: try again later.
	Retryable Class = iota
	// Terminal will fail the same way again: fix the cause first.
	Terminal
	// Ambiguous may have taken effect: for a send, look in
	// getSentEdocList before sending again.
	Ambiguous
)

func (c Class) String() string {
	return [...]string{"retryable", "terminal", "ambiguous"}[c]
}

// Errors matched with errors.Is by class.
var (
	ErrRetryable = errors.New("axis: retryable failure")
	ErrTerminal  = errors.New("axis: terminal failure")
	ErrAmbiguous = errors.New("axis: ambiguous failure")
)

// Error is every failure of a call, classified.
type Error struct {
	Op         string
	Class      Class
	HTTPStatus int    // 0 when no answer came
	Code       string // the adapter's ErrorCode
	Desc       string // the adapter's ErrorDesc, or what went wrong
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "axis %s (%s)", e.Op, e.Class)
	if e.HTTPStatus != 0 && e.HTTPStatus != http.StatusOK {
		fmt.Fprintf(&b, ": HTTP %d", e.HTTPStatus)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": ErrorCode %s", e.Code)
	}
	if e.Desc != "" {
		b.WriteString(": " + e.Desc)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the class sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRetryable:
		return e.Class == Retryable
	case ErrTerminal:
		return e.Class == Terminal
	case ErrAmbiguous:
		return e.Class == Ambiguous
	}
	return false
}

// ClassOf returns the class of any error a call returned; errors from
// elsewhere count as retryable.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Retryable
}

// RetryableCodes are ErrorCodes of a FAIL answer that mean "not now"
// rather than "never".
var RetryableCodes = map[string]bool{"500": true, "503": true, "429": true}

func classifyCode(code string) Class {
	if RetryableCodes[code] {
		return Retryable
	}
	return Terminal
}

// RESTCode is what a code of the REST dialect means and what to do.
type RESTCode struct {
	Meaning string
	Class   Class
}

// RESTCodes are the REST dialect's error codes, from its connection
// guide's table: a system error is retried, a wrong system id or secret
// is the configuration's to fix, the others are final for the package.
var RESTCodes = map[string]RESTCode{
	"10": {"bad file", Terminal},
	"15": {"wrong SystemId or SecretKey: check this axis's credentials", Terminal},
	"18": {"recipient unknown", Terminal},
	"19": {"sender not registered", Terminal},
	"20": {"LGSP system error", Retryable},
	"21": {"file processing error", Terminal},
	"22": {"edXML not per QĐ 28", Terminal},
	"23": {"recipient locked", Terminal},
}

func classifyRESTCode(code string) Class {
	if c, ok := RESTCodes[code]; ok {
		return c.Class
	}
	return classifyCode(code) // HTTP-like codes, as the SDK wire's
}

func classifyHTTP(status int) Class {
	switch {
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return Retryable
	}
	return Terminal
}

// transportError classifies a failure with no answer: before the request
// was fully sent nothing happened; after, a mutating call may have landed.
func transportError(cl call, err error, sent bool) *Error {
	e := &Error{Op: cl.op, Class: Retryable, Err: err}
	var op *net.OpError
	dial := errors.As(err, &op) && op.Op == "dial"
	if sent && cl.mutating && !dial {
		e.Class = Ambiguous
		e.Desc = "no answer after the request was sent; it may have been accepted"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && e.Desc == "" {
		e.Desc = "timed out"
	}
	return e
}
