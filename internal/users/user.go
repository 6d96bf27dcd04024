// Package users owns the people who use Rollcall, their roles and the API
// tokens they authenticate with.
package users

import (
	"encoding/json"
	"net/mail"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
)

// Role is what a user may do: system administrators manage imports, users
// and restrictions; users work with lists.
type Role string

const (
	RoleSystemAdmin Role = authz.RoleSystemAdmin
	RoleUser        Role = "USER"
)

// IsValid reports whether r is a known role.
func (r Role) IsValid() bool { return r == RoleSystemAdmin || r == RoleUser }

// User is a person with access to Rollcall.
type User struct {
	bun.BaseModel `bun:"table:users"`

	ID        int64     `bun:",pk,autoincrement"`
	Email     string    `bun:",notnull"`
	Name      string    `bun:",notnull"`
	Role      Role      `bun:",notnull"`
	Disabled  bool      `bun:",notnull"`
	CreatedAt time.Time `bun:",nullzero,notnull,default:current_timestamp"`
	UpdatedAt time.Time `bun:",nullzero,notnull,default:current_timestamp"`
	// Restriction is the recipient filter (stored form, see
	// recipients.EncodeFilter) the user's view of recipients is limited
	// to; nil for none. System administrators are never restricted.
	Restriction json.RawMessage `bun:",type:jsonb,nullzero"`
	// RestrictionFromImport: the restriction is the one the managing
	// import generates (a OneRoster import's teacher accounts), which it
	// keeps up to date; false once an administrator sets or clears it.
	RestrictionFromImport bool `bun:",notnull"`
	// DisabledByImport: the managing import disabled the account (absent
	// from a USER import's file, a teacher gone from a OneRoster export, or
	// the import deleted), not an administrator; only such an account does
	// the import enable again.
	DisabledByImport bool `bun:",notnull"`
	// ImportID is the USER import that manages the account, if any.
	ImportID *int64 ``
	RowHash  *int64 ``
}

// IsAdmin reports whether u is an enabled system administrator.
func (u *User) IsAdmin() bool { return u.Role == RoleSystemAdmin && !u.Disabled }

// CreateUserInput is what an administrator gives to add a user.
type CreateUserInput struct {
	Email string
	Name  string
	Role  Role
}

// UpdateUserInput changes a user; nil fields stay as they are.
type UpdateUserInput struct {
	Name     *string
	Role     *Role
	Disabled *bool
}

// NormalizeEmail validates an address and returns it in the stored form
// (trimmed, lower case). field names the input field in errors.
func NormalizeEmail(field, email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", apperr.Invalid(field, "email is required")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || !strings.Contains(e[strings.IndexByte(e, '@')+1:], ".") && !strings.HasSuffix(e, "@localhost") {
		return "", apperr.Invalid(field, "%q is not a valid email address", email)
	}
	return e, nil
}

// nameFromEmail makes a display name when none is given (bootstrap).
func nameFromEmail(email string) string {
	local, _, _ := strings.Cut(email, "@")
	return local
}
