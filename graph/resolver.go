// Package graph is Rollcall's GraphQL API: thin resolvers that turn
// arguments into service calls, the error presenter, the limits on what one
// request may cost, and the HTTP routes that serve it all.
package graph

import (
	"github.com/rollcall/rollcall/internal/app"
)

// Resolver is the root of the resolvers. Services sit in a field of their
// own because resolver methods such as Query.Users share the services' names.
type Resolver struct {
	svc *app.Services
}
