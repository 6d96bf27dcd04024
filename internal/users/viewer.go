package users

import (
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
)

// viewerOf is user u as authenticated by token t.
func viewerOf(u *User, t *APIToken) *authz.Viewer {
	return &authz.Viewer{UserID: u.ID, Email: u.Email, Role: string(u.Role), Disabled: u.Disabled,
		Restriction: u.Restriction, TokenID: t.ID, TokenExpiresAt: t.ExpiresAt}
}

func (u *User) auditTarget() audit.Target {
	return audit.Target{Type: audit.TargetUser, ID: u.ID, Name: u.Email}
}

func (t *APIToken) auditTarget() audit.Target {
	return audit.Target{Type: audit.TargetToken, ID: t.ID, Name: t.Name}
}

// AsViewer is user u acting without a token: the command line and the demo
// seeding act as an administrator this way.
func AsViewer(u *User) *authz.Viewer {
	return viewerOf(u, &APIToken{})
}
