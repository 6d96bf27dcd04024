package graph

import (
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/metrics"
)

// newGraphQLServer builds the gqlgen server with its transports, limits,
// error handling and metrics.
func newGraphQLServer(cfg config.Server, resolver *Resolver, logger *slog.Logger, m *metrics.Metrics) *handler.Server {
	c := Config{Resolvers: resolver}
	c.Directives.HasRole = hasRole
	setComplexity(&c.Complexity)

	srv := handler.New(NewExecutableSchema(c))
	presenter := errorPresenter(logger)
	sessions := newWSSessions(resolver.svc, cfg.RequestTimeout, presenter, logger)
	srv.AddTransport(websocketTransport{sessions: sessions, Websocket: transport.Websocket{
		Implementation:        sessions, // closes forbidden sessions with 4403
		KeepAlivePingInterval: 15 * time.Second,
		InitFunc:              websocketAuth(resolver.svc.Users, logger),
	}})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	// The file itself is limited by the import service (to the byte); this
	// bounds the whole request, framing included.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: cfg.MaxUploadBytes + multipartOverhead, MaxMemory: 32 << 20})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))

	// Introspection is switched off per field by guardRootFields, so that
	// the refusal carries a code like every other error.
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(extension.FixedComplexityLimit(cfg.MaxComplexity))
	srv.Use(depthLimit{max: cfg.MaxDepth})
	srv.Use(newOperationMetrics(m))

	srv.SetErrorPresenter(presenter)
	srv.SetRecoverFunc(recoverFunc(logger))
	srv.AroundOperations(sessions.aroundOperation)
	srv.AroundRootFields(guardRootFields(cfg.Introspection))
	return srv
}

// pageSize is the number of items a connection field may return, for
// complexity: its `first` argument, or the default page size.
func pageSize(first *int) int {
	if first == nil || *first < 1 {
		return 50
	}
	return *first
}

// setComplexity makes list fields cost their page size times their contents.
func setComplexity(c *ComplexityRoot) {
	c.Query.Users = func(child int, first *int, _ *string, _ *string) int { return 1 + pageSize(first)*child }
}
