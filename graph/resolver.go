// Package graph is Rollcall's GraphQL API: thin resolvers that turn
// arguments into service calls, the error presenter, the limits on what one
// request may cost, and the HTTP routes that serve it all.
package graph

import (
	"context"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/users"
)

// Resolver is the root of the resolvers. Services sit in a field of their
// own because resolver methods such as Query.Users share the services' names.
type Resolver struct {
	svc *app.Services
}

// canSeeUser allows a user's private fields to that user and to
// administrators.
func (r *Resolver) canSeeUser(ctx context.Context, u *users.User) error {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return err
	}
	if v.UserID != u.ID && !v.IsAdmin() {
		return apperr.Forbidden("only the user and system administrators see a user's restriction")
	}
	return nil
}
