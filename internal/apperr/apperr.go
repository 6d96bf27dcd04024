// Package apperr defines the errors the domain returns to its callers. Each
// carries a Code that the GraphQL error presenter and the HTTP handlers turn
// into extensions.code and a status, so the domain never speaks HTTP and the
// API never guesses what went wrong.
package apperr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Code classifies an error for API clients.
type Code string

const (
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeBadUserInput    Code = "BAD_USER_INPUT"
	CodeConflict        Code = "CONFLICT"
	CodeTooLarge        Code = "PAYLOAD_TOO_LARGE"
	CodeInternal        Code = "INTERNAL"
	// CodeTimeout: the request ran out of time (or was canceled).
	CodeTimeout Code = "TIMEOUT"
	// CodeQueryTooDeep: the operation nests deeper than allowed.
	CodeQueryTooDeep Code = "QUERY_TOO_DEEP"
	// CodeComplexityLimit: the operation would cost, or read, more than
	// allowed (the extensions name the limit).
	CodeComplexityLimit Code = "COMPLEXITY_LIMIT_EXCEEDED"
	// CodeIntrospectionDisabled: introspection is switched off.
	CodeIntrospectionDisabled Code = "INTROSPECTION_DISABLED"
	// CodeAccessChanged ends a subscription started under a role or
	// restriction the user no longer has.
	CodeAccessChanged Code = "ACCESS_CHANGED"

	// Codes that gqlgen sets itself, listed here so that every code a
	// client can see is defined in one place (graph's tests check that
	// they match gqlgen's).

	// CodeParseFailed: the document is not valid GraphQL syntax.
	CodeParseFailed Code = "GRAPHQL_PARSE_FAILED"
	// CodeValidationFailed: the document does not fit the schema (unknown
	// field, wrong argument type, missing variable, ...).
	CodeValidationFailed Code = "GRAPHQL_VALIDATION_FAILED"
	// CodePersistedQueryNotFound: an automatic persisted query's hash is
	// not (or no longer) known; send the document with the hash again.
	CodePersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
)

// Codes are every code a client can see in extensions.code, in the order
// the documentation lists them (the schema's description and the README,
// whose tests compare their lists with this one; apperr's own test checks
// that every Code constant is here).
var Codes = []Code{
	CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeBadUserInput, CodeConflict, CodeTooLarge,
	CodeTimeout, CodeQueryTooDeep, CodeComplexityLimit, CodeIntrospectionDisabled, CodeAccessChanged,
	CodeParseFailed, CodeValidationFailed, CodePersistedQueryNotFound, CodeInternal,
}

// Error is an error meant to be shown to the API client. Message is safe to
// show; Err (optional) is the cause, kept for logs and errors.Is.
type Error struct {
	Code    Code
	Message string
	// Field names the offending input field (for BAD_USER_INPUT), using the
	// API's names, e.g. "input.email".
	Field string
	// Extra carries structured details for the client (for example the id of
	// the run a CONFLICT is about). Values must be JSON-encodable.
	Extra map[string]any
	Err   error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, apperr.ErrNotFound) match any error of that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is comparisons by code.
var (
	ErrNotFound        = &Error{Code: CodeNotFound}
	ErrForbidden       = &Error{Code: CodeForbidden}
	ErrUnauthenticated = &Error{Code: CodeUnauthenticated}
	ErrConflict        = &Error{Code: CodeConflict}
	ErrBadUserInput    = &Error{Code: CodeBadUserInput}
)

// NotFound reports that the thing of the given kind and id does not exist (or
// is not visible to the viewer, which must look the same).
func NotFound(kind string, id any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s %v not found", kind, id)}
}

// Forbidden reports an authenticated viewer lacking a permission.
func Forbidden(format string, args ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// Unauthenticated reports a missing or unusable credential.
func Unauthenticated(format string, args ...any) *Error {
	return &Error{Code: CodeUnauthenticated, Message: fmt.Sprintf(format, args...)}
}

// TokenRequired is the error of a request that needs a viewer and has none.
func TokenRequired() *Error {
	return Unauthenticated("authentication required: send Authorization: Bearer <token>")
}

// Conflict reports a request that contradicts the current state.
func Conflict(format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in the named field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeBadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// TooLarge reports a body or file over a configured limit.
func TooLarge(format string, args ...any) *Error {
	return &Error{Code: CodeTooLarge, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e carrying an extra detail.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extra = make(map[string]any, len(e.Extra)+1)
	for k, v := range e.Extra {
		c.Extra[k] = v
	}
	c.Extra[key] = value
	return &c
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns the code of err, or CodeInternal when err is not an *Error.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return CodeInternal
}

// FieldOf returns the input field err names, "" if none.
func FieldOf(err error) string {
	if e, ok := As(err); ok {
		return e.Field
	}
	return ""
}

// MaxNameLength bounds a display name (of a user, list or import).
const MaxNameLength = 200

// Name returns name trimmed, or an error naming field when it is empty or
// longer than MaxNameLength characters: the rule every display name
// follows.
func Name(field, name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", Invalid(field, "name is required")
	}
	if utf8.RuneCountInString(n) > MaxNameLength {
		return "", Invalid(field, "name is longer than %d characters", MaxNameLength)
	}
	return n, nil
}
