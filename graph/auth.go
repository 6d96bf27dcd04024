package graph

import (
	"context"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/users"
)

// guardRootFields makes every root field except introspection need an
// authenticated viewer, so that a new field cannot be exposed by forgetting
// a check (services check again, and @hasRole guards admin fields), and
// answers introspection only when it is enabled.
func guardRootFields(introspection bool) func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	return func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		fc := graphql.GetRootFieldContext(ctx)
		if fc == nil {
			return next(ctx)
		}
		var err *apperr.Error
		switch {
		case strings.HasPrefix(fc.Field.Name, "__"):
			if introspection {
				return next(ctx)
			}
			err = &apperr.Error{Code: apperr.CodeIntrospectionDisabled, Message: "introspection is disabled on this server"}
		case authz.ViewerFrom(ctx) != nil:
			return next(ctx)
		default:
			err = apperr.TokenRequired()
		}
		graphql.AddError(ctx, &gqlerror.Error{
			Err:       err,
			Message:   err.Message,
			Path:      ast.Path{ast.PathName(fc.Field.Alias)},
			Locations: []gqlerror.Location{{Line: fc.Field.Position.Line, Column: fc.Field.Position.Column}},
		})
		return graphql.Null
	}
}

// hasRole implements the @hasRole directive.
func hasRole(ctx context.Context, _ any, next graphql.Resolver, role users.Role) (any, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	if role == users.RoleSystemAdmin && !v.IsAdmin() {
		return nil, apperr.Forbidden("this requires the SYSTEM_ADMIN role")
	}
	return next(ctx)
}

// websocketAuth authenticates a WebSocket connection by the Authorization
// entry of connection_init's payload (browsers cannot set headers on a
// WebSocket); a connection upgraded with an Authorization header was
// authenticated by the HTTP middleware already. Bad or missing credentials
// close the connection with 4403. The connection then becomes a session (see
// websocket.go) that re-checks its access for every operation.
func websocketAuth(svc *users.Service, logger *slog.Logger) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		viewer := authz.ViewerFrom(ctx)
		if header := payload.Authorization(); header != "" {
			v, err := svc.AuthenticateHeader(ctx, header)
			if err != nil {
				return refuseConnection(ctx, logger, err)
			}
			viewer = v
			ctx = authz.WithViewer(ctx, viewer)
		}
		if viewer == nil {
			// Over HTTP an anonymous request may introspect; a socket
			// exists for subscriptions, which need a viewer, so one
			// without credentials is refused at once rather than left
			// open to fail each operation.
			return refuseConnection(ctx, logger, apperr.Unauthenticated(`missing token: put "Authorization": "Bearer <token>" in connection_init's payload`))
		}
		if s := sessionFrom(ctx); s != nil {
			ctx = s.begin(ctx, viewer)
		}
		return ctx, &payload, nil
	}
}
