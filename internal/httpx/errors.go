package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/rollcall/rollcall/internal/apperr"
)

// StatusFor maps an error code to an HTTP status, for routes outside GraphQL
// and for errors that end a GraphQL request before execution.
func StatusFor(code apperr.Code) int {
	switch code {
	case apperr.CodeUnauthenticated:
		return http.StatusUnauthorized
	case apperr.CodeForbidden:
		return http.StatusForbidden
	case apperr.CodeNotFound:
		return http.StatusNotFound
	case apperr.CodeBadUserInput:
		return http.StatusBadRequest
	case apperr.CodeConflict:
		return http.StatusConflict
	case apperr.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.CodeTimeout:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// WriteError answers with a GraphQL-shaped error body, so that clients parse
// errors from every route the same way: {"errors":[{"message", "extensions":{"code"}}]}.
// Internal errors must be scrubbed by the caller before they get here.
func WriteError(w http.ResponseWriter, r *http.Request, e *apperr.Error) {
	ext := map[string]any{"code": e.Code}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	for k, v := range e.Extra {
		ext[k] = v
	}
	if id := RequestID(r.Context()); id != "" {
		ext["requestId"] = id
	}
	body := map[string]any{"errors": []map[string]any{{"message": e.Message, "extensions": ext}}}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if e.Code == apperr.CodeUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rollcall"`)
	}
	w.WriteHeader(StatusFor(e.Code))
	_ = json.NewEncoder(w).Encode(body)
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Scrub is the one exit for errors on their way to a client, from every
// route and from the GraphQL error presenter: an application error (and a
// request that ran out of time or was canceled) is shown as it is;
// anything else is logged in full, with the request id and what was being
// done, and shown only as INTERNAL naming that request id, so that no SQL,
// driver or stack detail reaches a client.
func Scrub(ctx context.Context, logger *slog.Logger, doing string, err error) *apperr.Error {
	if ae, ok := apperr.As(err); ok {
		return ae
	}
	requestID := RequestID(ctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apperr.Error{Code: apperr.CodeTimeout, Message: "the request took too long and was stopped", Err: err}
	case errors.Is(err, context.Canceled):
		return &apperr.Error{Code: apperr.CodeTimeout, Message: "the request was canceled", Err: err}
	}
	logger.ErrorContext(ctx, doing, slog.String("request_id", requestID), slog.String("error", err.Error()))
	return &apperr.Error{Code: apperr.CodeInternal, Message: "internal error (request id " + requestID + ")", Err: err}
}
