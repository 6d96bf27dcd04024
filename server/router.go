// Package server is Rollcall's HTTP surface: the router, its middleware
// (request ids, access log, CSRF guard, authentication, timeouts, body and
// upload limits), the GraphQL endpoint (from package graph), GraphiQL,
// health, readiness, metrics, and the REST handlers for file uploads and
// list exports.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rollcall/rollcall/graph"
	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/graphiql"
	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/internal/metrics"
)

// Deps is what the HTTP surface needs.
type Deps struct {
	Config   config.Server
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	DB       *db.DB
	Services *app.Services
	// GraphiQLHeaders, when set, pre-fills GraphiQL's Headers tab (JSON,
	// e.g. {"Authorization": "Bearer rc_..."}). Only `rollcall dev` sets
	// it, with its demo administrator's token: it puts a credential in
	// the page. Empty, GraphiQL sends no headers until the user gives some.
	GraphiQLHeaders string
}

// exampleQuery is what GraphiQL shows first.
const exampleQuery = `# Welcome to Rollcall. The Documentation Explorer (the book on the left)
# shows the schema without a token. To run operations, put your API token
# into the Headers tab below:
#   {"Authorization": "Bearer rc_..."}
# (under make run it is there already), then run this query with the play
# button. Subscriptions, such as importRunUpdated, stream their updates.
{
  me {
    email
    name
    role
  }
}
`

// NewRouter returns the whole HTTP surface: GraphQL, GraphiQL, health,
// readiness and metrics.
func NewRouter(d Deps) http.Handler {
	// gqlgen's own limit on a multipart body is above the one guardUploads
	// cuts bodies off at, so that it is always this layer that says 413.
	origins, err := httpx.NewOrigins(d.Config.CORSOrigins)
	if err != nil {
		panic("server: " + err.Error() + " (config.Server.Validate checks it at start)")
	}
	gql := graph.NewHandler(graph.Options{Config: d.Config, Services: d.Services, Logger: d.Logger, Metrics: d.Metrics,
		UploadLimit: d.Config.MaxUploadBytes + 2*multipartOverhead, Origins: origins})

	r := chi.NewRouter()
	r.Use(httpx.RequestIDMiddleware, httpx.AccessLog(d.Logger, d.Metrics), recoverHTTP(d.Logger), origins.CORS())

	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", readiness(d.DB))
	r.Handle("/metrics", promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{}))

	r.Group(func(r chi.Router) {
		r.Use(preventCSRF, authenticate(d.Services.Users, d.Logger))
		r.With(guardUploads(d.Config.MaxUploadBytes, isMultipart), timeout(d.Config.RequestTimeout, d.Config.UploadTimeout), limitBody(d.Config.MaxBodyBytes), graphqlOverHTTP).
			Handle("/graphql", gql)
		r.With(guardUploads(d.Config.MaxUploadBytes, everyRequest), timeout(d.Config.UploadTimeout, d.Config.UploadTimeout)).
			Post("/imports/{id}/file", uploadFile(d.Services, d.Config.MaxUploadBytes, d.Logger))
		r.With(timeout(d.Config.UploadTimeout, d.Config.UploadTimeout)).
			Get("/lists/{id}/members.csv", exportMembers(d.Services, d.Logger))
	})

	// No placeholder in the Headers tab: GraphiQL would send it, and the
	// server refuses a bad token even for introspection. exampleQuery says
	// what to type instead.
	ui := graphiql.Handler(graphiql.Options{
		Endpoint:             "/graphql",
		SubscriptionEndpoint: "/graphql",
		DefaultQuery:         exampleQuery,
		DefaultHeaders:       d.GraphiQLHeaders,
	})
	r.Handle("/", ui)
	r.Handle("/graphiql/*", ui)
	return r
}

// timeout bounds a request's work through its context: queries get the
// request timeout, file uploads (multipart) the longer upload timeout.
// WebSocket connections are long-lived and are not bounded here.
func timeout(request, upload time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			limit := request
			if isMultipart(r) {
				limit = upload
			}
			if r.Header.Get("Upgrade") != "" || limit <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), limit)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// readiness answers 200 when the database is reachable and every migration
// is applied; a load balancer sends traffic only then.
func readiness(d *db.DB) http.HandlerFunc {
	var migrated atomic.Bool // once applied, migrations stay applied for this binary
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := d.Pool.Ping(ctx); err != nil {
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable", "error": err.Error()})
			return
		}
		if !migrated.Load() {
			pending, err := db.PendingMigrations(ctx, d.DB)
			if err != nil {
				httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "migrations not applied", "error": err.Error()})
				return
			}
			if len(pending) > 0 {
				httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "migrations pending", "pending": pending})
				return
			}
			migrated.Store(true)
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// recoverHTTP turns a panic outside GraphQL into a logged 500.
func recoverHTTP(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					logger.ErrorContext(r.Context(), "http panic", slog.String("request_id", httpx.RequestID(r.Context())), slog.Any("panic", p))
					httpx.WriteError(w, r, &apperr.Error{Code: apperr.CodeInternal, Message: "internal error (request id " + httpx.RequestID(r.Context()) + ")"})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}
