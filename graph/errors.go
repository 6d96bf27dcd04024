package graph

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/httpx"
)

// errorPresenter gives every error an extensions.code. gqlgen's parse and
// validation errors keep their codes; everything else goes through
// httpx.Scrub, the one exit for errors: application errors keep their
// message, anything else is logged in full and shown only as INTERNAL with
// the request id, so that no SQL or stack detail reaches a client.
func errorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if _, ok := apperr.As(err); !ok && gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			return gerr
		}
		if ge, ok := err.(*gqlerror.Error); ok && ge.Err == nil && len(ge.Path) == 0 {
			// A request error gqlgen made itself, wrapping nothing (a bad
			// persisted-query extension, say): its message is written for
			// the client, but it has no code.
			gerr.Extensions = map[string]any{"code": string(apperr.CodeBadUserInput)}
			return gerr
		}
		ae := httpx.Scrub(ctx, logger, "graphql: "+gerr.Path.String(), err)
		gerr.Message = ae.Message
		gerr.Extensions = appErrorExtensions(ae, gerr.Path)
		if ae.Code == apperr.CodeInternal || ae.Code == apperr.CodeTimeout {
			gerr.Extensions["requestId"] = httpx.RequestID(ctx)
		}
		return gerr
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
