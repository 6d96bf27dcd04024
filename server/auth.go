package server

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rollcall/rollcall/graph/scalar"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/internal/users"
)

// authenticate resolves `Authorization: Bearer <token>` to a viewer in the
// request context. A request without the header goes on anonymous (it may
// only introspect); a request with a bad, revoked or expired token, or the
// token of a disabled user, is refused with 401 before anything runs.
func authenticate(svc *users.Service, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			header := r.Header.Get("Authorization")
			if header == "" {
				next.ServeHTTP(w, r)
				return
			}
			viewer, err := svc.AuthenticateHeader(r.Context(), header)
			if err != nil {
				httpx.WriteError(w, r, httpx.Scrub(r.Context(), logger, "authenticate", err))
				return
			}
			next.ServeHTTP(w, r.WithContext(authz.WithViewer(r.Context(), viewer)))
		})
	}
}

// pathID reads a route's {id} as the GraphQL ID scalar reads an ID, so that
// /imports/abc/file and import(id: "abc") answer alike (BAD_USER_INPUT).
func pathID(r *http.Request) (int64, error) {
	id, err := scalar.UnmarshalInt64ID(chi.URLParam(r, "id"))
	if ae, ok := apperr.As(err); ok {
		ae.Field = "id"
	}
	return id, err
}
