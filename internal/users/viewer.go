package users

import (
	"context"
	"time"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
)

// Viewer is who a request acts for: the authenticated user and the token used.
type Viewer struct {
	User    User
	TokenID int64
	// TokenExpiresAt is when the token stops working; nil if never.
	TokenExpiresAt *time.Time
}

// IsAdmin reports whether the viewer is a system administrator.
func (v *Viewer) IsAdmin() bool { return v != nil && v.User.IsAdmin() }

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
		return nil, apperr.Unauthenticated("authentication required: send Authorization: Bearer <token>")
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

// Actor is the viewer as the audit log names it.
func (v *Viewer) Actor() audit.Actor {
	if v == nil {
		return audit.Actor{}
	}
	return audit.Actor{ID: v.User.ID, Email: v.User.Email}
}

func (u *User) auditTarget() audit.Target {
	return audit.Target{Type: audit.TargetUser, ID: u.ID, Name: u.Email}
}

func (t *APIToken) auditTarget() audit.Target {
	return audit.Target{Type: audit.TargetToken, ID: t.ID, Name: t.Name}
}
