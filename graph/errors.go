package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/httpx"
)

// codeTimeout marks a request that ran out of time.
const codeTimeout = "TIMEOUT"

// errorPresenter gives every error an extensions.code. Application errors
// keep their message; gqlgen's parse and validation errors keep their codes;
// anything else is logged in full and shown only as INTERNAL with the request
// id, so that no SQL or stack detail reaches a client.
func errorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if ae, ok := apperr.As(err); ok {
			gerr.Message = ae.Message
			gerr.Extensions = appErrorExtensions(ae, gerr.Path)
			return gerr
		}
		if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			return gerr
		}
		requestID := httpx.RequestID(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return &gqlerror.Error{
				Message:    "the request took too long and was stopped",
				Path:       gerr.Path,
				Locations:  gerr.Locations,
				Extensions: map[string]any{"code": codeTimeout, "requestId": requestID},
			}
		}
		if errors.Is(err, context.Canceled) {
			return &gqlerror.Error{Message: "the request was canceled", Path: gerr.Path,
				Extensions: map[string]any{"code": codeTimeout, "requestId": requestID}}
		}
		logger.ErrorContext(ctx, "graphql internal error",
			slog.String("request_id", requestID),
			slog.String("path", gerr.Path.String()),
			slog.String("error", err.Error()),
		)
		return &gqlerror.Error{
			Message:    fmt.Sprintf("internal error (request id %s)", requestID),
			Path:       gerr.Path,
			Locations:  gerr.Locations,
			Extensions: map[string]any{"code": apperr.CodeInternal, "requestId": requestID},
		}
	}
}

// appErrorExtensions builds extensions for an application error. A
// BAD_USER_INPUT without a field (a scalar that failed to parse) takes the
// argument path after the root field, e.g. "input.email".
func appErrorExtensions(ae *apperr.Error, path ast.Path) map[string]any {
	ext := map[string]any{"code": string(ae.Code)}
	field := ae.Field
	if field == "" && ae.Code == apperr.CodeBadUserInput && len(path) > 1 {
		parts := make([]string, 0, len(path)-1)
		for _, p := range path[1:] {
			parts = append(parts, fmt.Sprint(p))
		}
		field = strings.Join(parts, ".")
	}
	if field != "" {
		ext["field"] = field
	}
	for k, v := range ae.Extra {
		ext[k] = v
	}
	return ext
}

// recoverFunc turns a resolver panic into an internal error and logs it.
func recoverFunc(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "graphql panic",
			slog.String("request_id", httpx.RequestID(ctx)),
			slog.Any("panic", p),
		)
		return fmt.Errorf("panic: %v", p)
	}
}
