package graph

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/rollcall/rollcall/graph/model"
	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/internal/metrics"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
)

// Options are what the GraphQL handler needs.
type Options struct {
	Config   config.Server
	Services *app.Services
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	// UploadLimit bounds a multipart request, framing included; the HTTP
	// layer cuts bodies off before it (see server.guardUploads).
	UploadLimit int64
	// Origins decides which pages may open a WebSocket (the HTTP layer
	// applies the same policy to CORS).
	Origins httpx.Origins
}

// NewHandler returns the GraphQL endpoint: the gqlgen server with its
// transports (HTTP, WebSocket), limits, policies, error handling and
// metrics, giving every request its own data loaders. The viewer is the
// request context's (the HTTP layer authenticates).
func NewHandler(o Options) http.Handler {
	return withLoaders(o.Services)(newGraphQLServer(o, &Resolver{svc: o.Services}))
}

// newGraphQLServer builds the gqlgen server with its transports, limits,
// error handling and metrics.
func newGraphQLServer(o Options, resolver *Resolver) *handler.Server {
	cfg, logger, m := o.Config, o.Logger, o.Metrics
	c := Config{Resolvers: resolver}
	c.Directives.HasRole = hasRole
	setComplexity(&c.Complexity)

	srv := handler.New(NewExecutableSchema(c))
	presenter := errorPresenter(logger)
	sessions := newWSSessions(resolver.svc, cfg.RequestTimeout, presenter, logger)
	srv.AddTransport(websocketTransport{sessions: sessions, origins: o.Origins, Websocket: transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second, // the legacy graphql-ws protocol's keep-alive
		// graphql-transport-ws: a connection must say who it is in time,
		// and answer pings (graphql-ws does by itself), or it is closed.
		InitTimeout:      cfg.WSInitTimeout,
		PingPongInterval: 20 * time.Second,
		InitFunc:         websocketAuth(resolver.svc.Users, logger),
	}})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	// The file itself is limited by the import service (to the byte); this
	// bounds the whole request, framing included.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: o.UploadLimit, MaxMemory: 32 << 20})
	srv.AddTransport(unsupportedRequest{}) // last: what no transport above takes
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))

	// Introspection is switched off per field by guardRootFields, so that
	// the refusal carries a code like every other error.
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(&costLimit{maxComplexity: cfg.MaxComplexity, maxRows: cfg.MaxRows})
	srv.Use(depthLimit{max: cfg.MaxDepth})
	srv.Use(newOperationMetrics(m))

	srv.SetErrorPresenter(presenter)
	srv.SetRecoverFunc(recoverFunc(logger))
	srv.AroundOperations(sessions.aroundOperation)
	srv.AroundRootFields(guardRootFields(cfg.Introspection))
	srv.AroundFields(enforcePolicies)
	return srv
}

// pageCost is what a connection field (or a list with a page size) costs:
// 1, plus its contents once per item of the page. The page size is its
// `first` argument, which holds the schema's default when the client gives
// none; a null `first` means page.DefaultFirst to the resolvers.
func pageCost(child int, first *int) int {
	n := page.DefaultFirst
	if first != nil {
		n = pageSizeOf(int64(*first))
	}
	return saturatingAdd(1, saturatingMul(n, child))
}

// setComplexity makes every paged field cost its page size times its
// contents. schema_cost_test.go fails for a paged field left out here.
func setComplexity(c *ComplexityRoot) {
	c.Query.Users = func(child int, first *int, _, _ *string) int { return pageCost(child, first) }
	c.Query.FindUsers = func(child int, _ string, first *int) int { return pageCost(child, first) }
	c.Query.Imports = func(child int, first *int, _ *string, _, _ *bool) int { return pageCost(child, first) }
	c.Query.Recipients = func(child int, _ *recipients.Filter, _ *int64, first *int, _ *string, _ *recipients.Order, _ *bool) int {
		return pageCost(child, first)
	}
	c.Query.Lists = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.PreviewList = func(child int, _ recipients.Filter, first *int, _ *recipients.Order) int {
		return pageCost(child, first)
	}
	c.Query.AuditLog = func(child int, first *int, _ *string, _ *int64, _ *model.AuditTargetInput, _ *audit.Action, _ *time.Time) int {
		return pageCost(child, first)
	}
	c.Import.Runs = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.ImportRun.Errors = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.List.Members = func(child int, first *int, _ *string, _ *recipients.Order) int { return pageCost(child, first) }
	c.List.Additions = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.List.Exclusions = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.List.ContactPoints = func(child int, _ recipients.ContactKind, first *int, _ *string) int { return pageCost(child, first) }
}

func init() {
	// An unknown persisted-query hash is a request error, like a parse
	// error: gqlgen then answers 422, which the HTTP layer turns into 200
	// for application/json and a 4xx without data for
	// application/graphql-response+json, as GraphQL over HTTP asks.
	errcode.RegisterErrorType(string(apperr.CodePersistedQueryNotFound), errcode.KindProtocol)
}

// unsupportedRequest answers a request that no GraphQL transport takes (a
// POST without Content-Type: application/json, a PUT, ...) with an error
// that has a code and says what to send; gqlgen's own answer is a bare
// "transport not supported".
type unsupportedRequest struct{}

func (unsupportedRequest) Supports(*http.Request) bool { return true }

func (unsupportedRequest) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		httpx.WriteError(w, r, apperr.Invalid("", "%s is not supported: send GraphQL requests with POST (or GET for queries)", r.Method))
		return
	}
	httpx.WriteError(w, r, apperr.Invalid("", "send the request with Content-Type: application/json (multipart/form-data for file uploads), not %q", r.Header.Get("Content-Type")))
}
