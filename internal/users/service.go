package users

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/notify"
	"github.com/rollcall/rollcall/internal/page"
)

// Service holds the rules about users and tokens.
type Service struct {
	db  *db.DB
	now func() time.Time
	hub *notify.Hub // optional: access change notifications (see WatchAccess)
}

// NewService returns a Service; now is the clock (time.Now in production).
func NewService(d *db.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: d, now: now}
}

// AuthenticateHeader authenticates an Authorization header value, which
// must be "Bearer <token>" (HTTP requests, and WebSocket connection_init
// payloads, carry the same).
func (s *Service) AuthenticateHeader(ctx context.Context, header string) (*authz.Viewer, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, apperr.Unauthenticated("the Authorization header must be 'Bearer <token>'")
	}
	return s.Authenticate(ctx, strings.TrimSpace(token))
}

// Authenticate resolves a bearer token to a Viewer. Revoked or expired
// tokens, and tokens of disabled users, fail at once: nothing is cached.
func (s *Service) Authenticate(ctx context.Context, clear string) (*authz.Viewer, error) {
	if !looksLikeToken(clear) {
		return nil, apperr.Unauthenticated("invalid token")
	}
	tok, user, err := GetTokenByHash(ctx, s.db, hashToken(clear))
	if err != nil {
		return nil, err
	}
	return s.admit(ctx, tok, user)
}

// Recheck re-reads the token v authenticated with, and its user, for a
// session that outlives a request (a WebSocket connection): it returns the
// viewer as of now (with the user's current role and restriction), or the
// error Authenticate would give for the same token now. It is not a way in:
// v comes from Authenticate.
func (s *Service) Recheck(ctx context.Context, v *authz.Viewer) (*authz.Viewer, error) {
	tok, user, err := GetTokenWithUser(ctx, s.db, v.TokenID)
	if err != nil {
		return nil, err
	}
	return s.admit(ctx, tok, user)
}

// admit applies the rules of authentication to a token and its user.
func (s *Service) admit(ctx context.Context, tok *APIToken, user *User) (*authz.Viewer, error) {
	now := s.now()
	switch {
	case tok.RevokedAt != nil:
		return nil, apperr.Unauthenticated("token has been revoked")
	case tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt):
		return nil, apperr.Unauthenticated("token expired at %s", tok.ExpiresAt.UTC().Format(time.RFC3339))
	case user.Disabled:
		return nil, apperr.Unauthenticated("user is disabled")
	}
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > time.Minute {
		if err := TouchToken(ctx, s.db, tok.ID, now); err != nil {
			return nil, err
		}
	}
	return viewerOf(user, tok), nil
}

// ExpiresIn returns how long v's token remains valid by the service's clock,
// and false if it does not expire.
func (s *Service) ExpiresIn(v *authz.Viewer) (time.Duration, bool) {
	if v.TokenExpiresAt == nil {
		return 0, false
	}
	return v.TokenExpiresAt.Sub(s.now()), true
}

// Get returns a user: any user for an admin, only themselves otherwise.
func (s *Service) Get(ctx context.Context, id int64) (*User, error) {
	if _, err := authz.RequireSelfOrAdmin(ctx, id, "see the accounts"); err != nil {
		return nil, err
	}
	return GetUser(ctx, s.db, id)
}

// GetMany returns users by id, for dataloaders. Users see other users (a
// list's owner, the people it is shared with) by id, name and address
// only; themselves and, for administrators, everyone in full.
func (s *Service) GetMany(ctx context.Context, ids []int64) ([]User, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	out, err := GetUsers(ctx, s.db, ids)
	if err != nil || v.IsAdmin() {
		return out, err
	}
	for i, u := range out {
		if u.ID != v.UserID {
			out[i] = User{ID: u.ID, Name: u.Name, Email: u.Email}
		}
	}
	return out, nil
}

// List returns a page of users (admins only).
func (s *Service) List(ctx context.Context, req page.Request, search string) (page.Page[User], error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return page.Page[User]{}, err
	}
	return ListUsers(ctx, s.db, req, strings.TrimSpace(search))
}

// Count counts users (admins only).
func (s *Service) Count(ctx context.Context, search string) (int, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return 0, err
	}
	return CountUsers(ctx, s.db, strings.TrimSpace(search))
}

// Create adds a user (admins only).
func (s *Service) Create(ctx context.Context, in CreateUserInput) (*User, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	email, err := NormalizeEmail("input.email", in.Email)
	if err != nil {
		return nil, err
	}
	name, err := apperr.Name("input.name", in.Name)
	if err != nil {
		return nil, err
	}
	role := in.Role
	if role == "" {
		role = RoleUser
	}
	if !role.IsValid() {
		return nil, apperr.Invalid("input.role", "unknown role %q", role)
	}
	u := &User{Email: email, Name: name, Role: role}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := InsertUser(ctx, tx, u); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.now(), audit.ActorOf(v), audit.UserCreated, u.auditTarget(),
			audit.Details{"email": u.Email, "name": u.Name, "role": u.Role})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Update changes a user's name, role or disabled flag (admins only). The last
// enabled system administrator cannot be disabled or demoted: that would lock
// everyone out of administration.
func (s *Service) Update(ctx context.Context, id int64, in UpdateUserInput) (*User, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var u *User
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		admins, err := LockActiveAdmins(ctx, tx)
		if err != nil {
			return err
		}
		u, err = GetUser(ctx, tx, id)
		if err != nil {
			return err
		}
		wasAdmin, before := u.IsAdmin(), *u
		if in.Name != nil {
			if u.Name, err = apperr.Name("input.name", *in.Name); err != nil {
				return err
			}
		}
		if in.Role != nil {
			if !in.Role.IsValid() {
				return apperr.Invalid("input.role", "unknown role %q", *in.Role)
			}
			u.Role = *in.Role
		}
		if in.Disabled != nil {
			// An administrator's say: the managing import never undoes it.
			u.Disabled, u.DisabledByImport = *in.Disabled, false
		}
		if wasAdmin && !u.IsAdmin() && len(admins) <= 1 {
			return apperr.Conflict("%s is the last enabled system administrator; make another user SYSTEM_ADMIN first", u.Email)
		}
		u.UpdatedAt = s.now()
		if err := UpdateUserRow(ctx, tx, u); err != nil {
			return err
		}
		return s.auditUpdate(ctx, tx, v, &before, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// auditUpdate records a change of a user's name, role or disabled flag:
// disabling and enabling are actions of their own.
func (s *Service) auditUpdate(ctx context.Context, tx bun.Tx, v *authz.Viewer, before, after *User) error {
	d := audit.Details{}
	d.Change("name", before.Name, after.Name)
	d.Change("role", before.Role, after.Role)
	action := audit.UserUpdated
	if d.Change("disabled", before.Disabled, after.Disabled) {
		action = audit.UserEnabled
		if after.Disabled {
			action = audit.UserDisabled
		}
	}
	if len(d) == 0 {
		return nil
	}
	return audit.Record(ctx, tx, s.now(), audit.ActorOf(v), action, after.auditTarget(), d)
}

// CreateTokenResult carries the clear token, shown only this once.
type CreateTokenResult struct {
	Token    string
	APIToken *APIToken
}

// CreateToken makes a token for userID (nil: the viewer). Users may create
// tokens for themselves; admins for anyone.
func (s *Service) CreateToken(ctx context.Context, userID *int64, name string, expiresAt *time.Time) (*CreateTokenResult, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	target := v.UserID
	if userID != nil {
		target = *userID
	}
	if target != v.UserID && !v.IsAdmin() {
		return nil, apperr.Forbidden("only system administrators can create tokens for other users")
	}
	name, err = apperr.Name("name", name)
	if err != nil {
		return nil, err
	}
	if expiresAt != nil && !expiresAt.After(s.now()) {
		return nil, apperr.Invalid("expiresAt", "expiresAt must be in the future")
	}
	u, err := GetUser(ctx, s.db, target)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, apperr.Conflict("user %s is disabled", u.Email)
	}
	var res *CreateTokenResult
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if res, err = s.insertToken(ctx, tx, u.ID, name, expiresAt); err != nil {
			return err
		}
		// The token itself is never logged; its name and owner are.
		return audit.Record(ctx, tx, s.now(), audit.ActorOf(v), audit.TokenCreated, res.APIToken.auditTarget(),
			audit.Details{"user": u.Email, "userId": u.ID, "expiresAt": expiresAt})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Service) insertToken(ctx context.Context, idb bun.IDB, userID int64, name string, expiresAt *time.Time) (*CreateTokenResult, error) {
	clear, hash := newToken()
	t := &APIToken{UserID: userID, Name: name, TokenHash: hash, Prefix: displayPrefix(clear), ExpiresAt: expiresAt, CreatedAt: s.now()}
	if err := InsertToken(ctx, idb, t); err != nil {
		return nil, err
	}
	return &CreateTokenResult{Token: clear, APIToken: t}, nil
}

// RevokeToken revokes a token: the viewer's own, or any as an admin.
func (s *Service) RevokeToken(ctx context.Context, id int64) (*APIToken, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	t, err := GetToken(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if t.UserID != v.UserID && !v.IsAdmin() {
		// Other people's tokens are not visible to users at all.
		return nil, apperr.NotFound("API token", id)
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := RevokeTokenRow(ctx, tx, t, s.now()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.now(), audit.ActorOf(v), audit.TokenRevoked, t.auditTarget(), audit.Details{"userId": t.UserID})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Tokens lists a user's tokens: the viewer's own, or anyone's as an admin.
func (s *Service) Tokens(ctx context.Context, userID int64) ([]APIToken, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	if userID != v.UserID && !v.IsAdmin() {
		return nil, apperr.Forbidden("only system administrators can see other users' tokens")
	}
	return ListTokens(ctx, s.db, userID)
}

// EnsureAdmin creates the system administrator with email, or re-enables and
// promotes an existing user. It is for bootstrap and seeding, run by an
// operator on the server, so it needs no viewer.
func (s *Service) EnsureAdmin(ctx context.Context, email, name string) (*User, error) {
	var u *User
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		u, err = s.upsertAdmin(ctx, tx, email, name)
		return err
	})
	return u, err
}

// BootstrapAdmin is EnsureAdmin plus a new token for the administrator, in
// one transaction (`rollcall admin create`).
func (s *Service) BootstrapAdmin(ctx context.Context, email, name, tokenName string) (*User, string, error) {
	var u *User
	var clear string
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if u, err = s.upsertAdmin(ctx, tx, email, name); err != nil {
			return err
		}
		res, err := s.insertToken(ctx, tx, u.ID, tokenName, nil)
		if err != nil {
			return err
		}
		clear = res.Token
		return audit.Record(ctx, tx, s.now(), audit.Actor{}, audit.TokenCreated, res.APIToken.auditTarget(),
			audit.Details{"user": u.Email, "userId": u.ID, "via": "command line"})
	})
	if err != nil {
		return nil, "", err
	}
	return u, clear, nil
}

// upsertAdmin inserts or promotes and re-enables the user with email. An
// upsert, so that two concurrent bootstraps of one email agree.
func (s *Service) upsertAdmin(ctx context.Context, idb bun.IDB, email, name string) (*User, error) {
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(name) == "" {
		name = nameFromEmail(email)
	}
	if name, err = apperr.Name("name", name); err != nil {
		return nil, err
	}
	now := s.now()
	u := &User{Email: email, Name: name, Role: RoleSystemAdmin, CreatedAt: now, UpdatedAt: now}
	_, err = idb.NewInsert().Model(u).
		On("CONFLICT (email) DO UPDATE").
		Set("role = EXCLUDED.role, disabled = false, disabled_by_import = false, updated_at = EXCLUDED.updated_at").
		Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("upsert admin %s: %w", email, err)
	}
	// An operator's action on the server, not a user's: no actor. A new
	// row has created_at = updated_at; a promoted one keeps its created_at.
	action, d := audit.UserCreated, audit.Details{"email": u.Email, "role": u.Role, "via": "command line"}
	if !u.CreatedAt.Equal(u.UpdatedAt) {
		action = audit.UserUpdated
		d = audit.Details{"role": u.Role, "disabled": false, "via": "command line"}
	}
	if err := audit.Record(ctx, idb, now, audit.Actor{}, action, u.auditTarget(), d); err != nil {
		return nil, err
	}
	return u, nil
}

// SetRestriction limits what a user may see to recipients matching the
// filter in restriction (stored form; nil clears it). Admins only. System
// administrators see everything whatever is set; the restriction applies if
// they become users.
func (s *Service) SetRestriction(ctx context.Context, userID int64, restriction json.RawMessage) (*User, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var u *User
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if u, err = GetUser(ctx, tx, userID); err != nil {
			return err
		}
		old := u.Restriction
		// An administrator's restriction (or none) is theirs: the import
		// that generated the former one never overwrites it.
		u.Restriction, u.RestrictionFromImport, u.UpdatedAt = restriction, false, s.now()
		if _, err := tx.NewUpdate().Model(u).Column("restriction", "restriction_from_import", "updated_at").WherePK().Returning("*").Exec(ctx); err != nil {
			return fmt.Errorf("set restriction of user %d: %w", userID, err)
		}
		action := audit.UserRestricted
		if restriction == nil {
			action = audit.UserUnrestricted
		}
		return audit.Record(ctx, tx, s.now(), audit.ActorOf(v), action, u.auditTarget(),
			audit.Details{"restriction": map[string]any{"old": old, "new": restriction}})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Find returns enabled users whose name or email contains search, for any
// user (to share lists with).
func (s *Service) Find(ctx context.Context, search string, first int) ([]User, error) {
	if _, err := authz.RequireViewer(ctx); err != nil {
		return nil, err
	}
	search = strings.TrimSpace(search)
	if len([]rune(search)) < 2 {
		return nil, apperr.Invalid("search", "search needs at least 2 characters")
	}
	if first < 1 || first > 100 {
		return nil, apperr.Invalid("first", "first must be between 1 and 100")
	}
	var out []User
	pattern := "%" + db.EscapeLike(search) + "%"
	err := s.db.NewSelect().Model(&out).Where("NOT disabled").Where("(email ILIKE ? OR name ILIKE ?)", pattern, pattern).
		OrderExpr("name, id").Limit(int64(first)).Scan(ctx)
	return out, err
}
