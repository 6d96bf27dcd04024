package users

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/page"
)

// GetUser returns the user with id.
func GetUser(ctx context.Context, idb bun.IDB, id int64) (*User, error) {
	u := new(User)
	err := idb.NewSelect().Model(u).Where("id = ?", id).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("user", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// GetUsers returns the users with the given ids, in no particular order;
// missing ids are skipped.
func GetUsers(ctx context.Context, idb bun.IDB, ids []int64) ([]User, error) {
	var us []User
	if err := idb.NewSelect().Model(&us).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get users: %w", err)
	}
	return us, nil
}

// GetUserByEmailForUpdate returns the user with email (already normalized),
// locking the row.
func GetUserByEmailForUpdate(ctx context.Context, idb bun.IDB, email string) (*User, error) {
	u := new(User)
	err := idb.NewSelect().Model(u).Where("email = ?", email).For("UPDATE").Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("user", email)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", email, err)
	}
	return u, nil
}

// InsertUser stores a new user.
func InsertUser(ctx context.Context, idb bun.IDB, u *User) error {
	_, err := idb.NewInsert().Model(u).Returning("*").Exec(ctx)
	if db.IsUniqueViolation(err, "users_email_key") {
		return apperr.Conflict("a user with email %s already exists", u.Email).With("field", "input.email")
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UpdateUserRow writes u's mutable columns.
func UpdateUserRow(ctx context.Context, idb bun.IDB, u *User) error {
	_, err := idb.NewUpdate().Model(u).Column("name", "role", "disabled", "disabled_by_import", "updated_at").WherePK().Returning("*").Exec(ctx)
	if err != nil {
		return fmt.Errorf("update user %d: %w", u.ID, err)
	}
	return nil
}

// ListUsers returns a page of users ordered by id, optionally only those whose
// name or email contains search.
func ListUsers(ctx context.Context, idb bun.IDB, req page.Request, search string) (page.Page[User], error) {
	var after int64
	if err := req.Cursor(&after); err != nil {
		return page.Page[User]{}, err
	}
	var us []User
	q := idb.NewSelect().Model(&us).Where("id > ?", after).OrderExpr("id").Limit(req.Limit())
	if search != "" {
		pattern := "%" + db.EscapeLike(search) + "%"
		q = q.Where("(email ILIKE ? OR name ILIKE ?)", pattern, pattern)
	}
	if err := q.Scan(ctx); err != nil {
		return page.Page[User]{}, fmt.Errorf("list users: %w", err)
	}
	return page.Trim(req, us), nil
}

// CountUsers counts users, optionally matching search.
func CountUsers(ctx context.Context, idb bun.IDB, search string) (int, error) {
	q := idb.NewSelect().Model((*User)(nil))
	if search != "" {
		pattern := "%" + db.EscapeLike(search) + "%"
		q = q.Where("(email ILIKE ? OR name ILIKE ?)", pattern, pattern)
	}
	n, err := q.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return int(n), nil
}

// LockActiveAdmins locks and returns the ids of enabled system administrators,
// so that two requests cannot together remove the last one.
func LockActiveAdmins(ctx context.Context, idb bun.IDB) ([]int64, error) {
	var ids []int64
	err := idb.NewSelect().Model((*User)(nil)).Column("id").
		Where("role = ?", RoleSystemAdmin).Where("NOT disabled").
		OrderExpr("id").For("UPDATE").Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("lock admins: %w", err)
	}
	return ids, nil
}

// InsertToken stores a new token.
func InsertToken(ctx context.Context, idb bun.IDB, t *APIToken) error {
	if _, err := idb.NewInsert().Model(t).Returning("*").Exec(ctx); err != nil {
		return fmt.Errorf("insert token: %w", err)
	}
	return nil
}

// GetToken returns the token with id.
func GetToken(ctx context.Context, idb bun.IDB, id int64) (*APIToken, error) {
	t := new(APIToken)
	err := idb.NewSelect().Model(t).Where("id = ?", id).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("API token", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get token %d: %w", id, err)
	}
	return t, nil
}

// ListTokens returns a user's tokens, newest first.
func ListTokens(ctx context.Context, idb bun.IDB, userID int64) ([]APIToken, error) {
	var ts []APIToken
	err := idb.NewSelect().Model(&ts).Where("user_id = ?", userID).OrderExpr("id DESC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	return ts, nil
}

// RevokeTokenRow marks a token revoked at now (keeping an earlier revocation).
func RevokeTokenRow(ctx context.Context, idb bun.IDB, t *APIToken, now time.Time) error {
	_, err := idb.NewUpdate().Model(t).
		Set("revoked_at = COALESCE(revoked_at, ?)", now).
		WherePK().Returning("*").Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", t.ID, err)
	}
	return nil
}

// tokenWithUser is a token joined with its owner, for authentication.
type tokenWithUser struct {
	APIToken `bun:",extend"`
	User     *User `bun:"rel:belongs-to,join:user_id=id"`
}

// GetTokenByHash returns the token with the given hash and its user.
func GetTokenByHash(ctx context.Context, idb bun.IDB, hash []byte) (*APIToken, *User, error) {
	t := new(tokenWithUser)
	err := idb.NewSelect().Model(t).Relation("User").Where("api_token.token_hash = ?", hash).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, nil, apperr.Unauthenticated("invalid token")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up token: %w", err)
	}
	return &t.APIToken, t.User, nil
}

// GetTokenWithUser returns the token with id and its user, in one query by
// primary key (sessions re-check their token with it on every operation).
func GetTokenWithUser(ctx context.Context, idb bun.IDB, id int64) (*APIToken, *User, error) {
	t := new(tokenWithUser)
	err := idb.NewSelect().Model(t).Relation("User").Where("api_token.id = ?", id).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, nil, apperr.Unauthenticated("invalid token")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up token %d: %w", id, err)
	}
	return &t.APIToken, t.User, nil
}

// TouchToken records use of a token, at most once a minute so that reads do
// not turn into a write per request.
func TouchToken(ctx context.Context, idb bun.IDB, id int64, now time.Time) error {
	_, err := idb.NewUpdate().Model((*APIToken)(nil)).
		Set("last_used_at = ?", now).
		Where("id = ?", id).
		Where("last_used_at IS NULL OR last_used_at < ?", now.Add(-time.Minute)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("touch token %d: %w", id, err)
	}
	return nil
}

// CountManaged counts the enabled accounts import importID manages;
// without withAdmins, system administrators are left out (a delete of the
// import never disables them).
func CountManaged(ctx context.Context, idb bun.IDB, importID int64, withAdmins bool) (int, error) {
	q := idb.NewSelect().Model((*User)(nil)).Where("import_id = ? AND NOT disabled", importID)
	if !withAdmins {
		q = q.Where("role <> ?", RoleSystemAdmin)
	}
	n, err := q.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count users of import %d: %w", importID, err)
	}
	return int(n), nil
}

// DisableManaged disables the enabled accounts import importID manages,
// system administrators excepted, and returns their ids.
func DisableManaged(ctx context.Context, idb bun.IDB, importID int64, now time.Time) ([]int64, error) {
	var ids []int64
	err := idb.NewUpdate().Model((*User)(nil)).Set("disabled = true, disabled_by_import = true").Set("updated_at = ?", now).
		Where("import_id = ? AND NOT disabled AND role <> ?", importID, RoleSystemAdmin).Returning("id").Scan(ctx, &ids)
	if err != nil && !db.IsNoRows(err) {
		return nil, fmt.Errorf("disable users of import %d: %w", importID, err)
	}
	return ids, nil
}

// EnableManaged enables again the accounts ids that import importID still
// manages and that are disabled.
func EnableManaged(ctx context.Context, idb bun.IDB, importID int64, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := idb.NewUpdate().Model((*User)(nil)).Set("disabled = false, disabled_by_import = false").Set("updated_at = ?", now).
		Where("id IN (?) AND import_id = ? AND disabled", bun.List(ids), importID).Exec(ctx); err != nil {
		return fmt.Errorf("enable users of import %d: %w", importID, err)
	}
	return nil
}
