// Package authz is Rollcall's one authorization layer, below every domain
// package: who a request acts for (the Viewer, put in the context by
// authentication), the role checks every service makes (RequireViewer,
// RequireAdmin, RequireSelfOrAdmin), and the viewer's restriction (Scope),
// which the recipients package alone turns into SQL and adds to every read
// of recipients. The GraphQL layer adds a policy per field on top
// (graph/policy.go); services check here again, so that no path to data
// (resolver, loader, REST handler, WebSocket operation, export, job) can
// skip a check by being new.
package authz

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rollcall/rollcall/internal/apperr"
)

// RoleSystemAdmin is the role of system administrators; every other user
// has role USER.
const RoleSystemAdmin = "SYSTEM_ADMIN"

// Viewer is who a request acts for: a user as authenticated by one of
// their tokens, as the user was at that moment.
type Viewer struct {
	UserID   int64
	Email    string
	Role     string
	Disabled bool
	// Restriction is the recipient filter (stored form, see
	// recipients.DecodeFilter) the user's view of recipients is limited
	// to; nil for none.
	Restriction json.RawMessage
	TokenID     int64
	// TokenExpiresAt is when the token stops working; nil if never.
	TokenExpiresAt *time.Time
}

// IsAdmin reports whether the viewer is an enabled system administrator.
func (v *Viewer) IsAdmin() bool { return v != nil && v.Role == RoleSystemAdmin && !v.Disabled }

// SameAccess reports whether v and w may do the same things: the same
// role, disabled flag and restriction (system administrators are never
// restricted, so theirs does not count).
func (v *Viewer) SameAccess(w *Viewer) bool {
	if v == nil || w == nil {
		return v == w
	}
	if v.IsAdmin() || w.IsAdmin() {
		return v.IsAdmin() && w.IsAdmin()
	}
	return v.Role == w.Role && v.Disabled == w.Disabled && string(v.Restriction) == string(w.Restriction)
}

// Scope is what of the recipients a viewer may see: everyone for an
// administrator (who may also ask for removed people); for others, active
// people within Restriction (none: all of them).
type Scope struct {
	Admin       bool
	Restriction json.RawMessage
}

// Scope returns v's scope. Administrators are never restricted.
func (v *Viewer) Scope() Scope {
	if v.IsAdmin() {
		return Scope{Admin: true}
	}
	return Scope{Restriction: v.Restriction}
}

type viewerKey struct{}

// WithViewer returns ctx carrying v.
func WithViewer(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom returns the request's viewer, or nil when unauthenticated.
func ViewerFrom(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// RequireViewer returns the viewer or an UNAUTHENTICATED error.
func RequireViewer(ctx context.Context) (*Viewer, error) {
	v := ViewerFrom(ctx)
	if v == nil {
		return nil, apperr.TokenRequired()
	}
	return v, nil
}

// RequireAdmin returns the viewer if it is a system administrator.
func RequireAdmin(ctx context.Context) (*Viewer, error) {
	v, err := RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	if !v.IsAdmin() {
		return nil, apperr.Forbidden("this requires the SYSTEM_ADMIN role")
	}
	return v, nil
}

// RequireSelfOrAdmin returns the viewer if it is user userID or a system
// administrator; what is asked is named in the refusal.
func RequireSelfOrAdmin(ctx context.Context, userID int64, what string) (*Viewer, error) {
	v, err := RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	if v.UserID != userID && !v.IsAdmin() {
		return nil, apperr.Forbidden("only system administrators can %s of other users", what)
	}
	return v, nil
}
