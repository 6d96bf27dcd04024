package httpx

import (
	"encoding/json"
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
