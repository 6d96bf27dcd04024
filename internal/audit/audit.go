// Package audit records who did what: every administrative action writes an
// entry in the transaction of the action itself, so an action and its entry
// commit or roll back together. The table is append-only (the database
// refuses updates and deletes), and entries never hold a secret.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/page"
)

// Action is what was done.
type Action string

const (
	ImportCreated      Action = "IMPORT_CREATED"
	ImportUpdated      Action = "IMPORT_UPDATED"
	ImportDeleted      Action = "IMPORT_DELETED"
	ImportRestored     Action = "IMPORT_RESTORED"
	ImportPurged       Action = "IMPORT_PURGED"
	FileUploaded       Action = "FILE_UPLOADED"
	RunRequested       Action = "RUN_REQUESTED"
	RunApproved        Action = "RUN_APPROVED"
	RunCanceled        Action = "RUN_CANCELED"
	RunReverted        Action = "RUN_REVERTED"
	UserCreated        Action = "USER_CREATED"
	UserUpdated        Action = "USER_UPDATED"
	UserDisabled       Action = "USER_DISABLED"
	UserEnabled        Action = "USER_ENABLED"
	UserRestricted     Action = "USER_RESTRICTED"
	UserUnrestricted   Action = "USER_UNRESTRICTED"
	TokenCreated       Action = "TOKEN_CREATED"
	TokenRevoked       Action = "TOKEN_REVOKED"
	ListCreated        Action = "LIST_CREATED"
	ListUpdated        Action = "LIST_UPDATED"
	ListMembersAdded   Action = "LIST_MEMBERS_ADDED"
	ListMembersRemoved Action = "LIST_MEMBERS_REMOVED"
	ListShared         Action = "LIST_SHARED"
	ListDeleted        Action = "LIST_DELETED"
)

// TargetType is the kind of thing acted on.
type TargetType string

const (
	TargetImport    TargetType = "IMPORT"
	TargetImportRun TargetType = "IMPORT_RUN"
	TargetFile      TargetType = "IMPORT_FILE"
	TargetUser      TargetType = "USER"
	TargetToken     TargetType = "API_TOKEN"
	TargetList      TargetType = "LIST"
)

// Actor is who acted; the zero Actor is the system itself.
type Actor struct {
	ID    int64
	Email string
}

// ActorOf is viewer v as the log names it (nil: the system).
func ActorOf(v *authz.Viewer) Actor {
	if v == nil {
		return Actor{}
	}
	return Actor{ID: v.UserID, Email: v.Email}
}

// Target is what was acted on; Name is kept as it was at the time.
type Target struct {
	Type TargetType
	ID   int64
	Name string
}

// Details are what matters about an action: for changes, each field's old
// and new value (see Change).
type Details map[string]any

// Change records field's old → new value in d when they differ, and reports
// whether they did.
func (d Details) Change(field string, old, cur any) bool {
	if reflect.DeepEqual(old, cur) {
		return false
	}
	d[field] = map[string]any{"old": old, "new": cur}
	return true
}

// Entry is one recorded action.
type Entry struct {
	bun.BaseModel `bun:"table:audit_log,alias:a"`

	ID         int64           `bun:",pk,autoincrement"`
	At         time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	ActorID    *int64          ``
	ActorEmail *string         ``
	Action     Action          `bun:",notnull"`
	TargetType TargetType      `bun:",notnull"`
	TargetID   *int64          ``
	TargetName *string         ``
	Details    json.RawMessage `bun:",type:jsonb,notnull"`
}

// Record writes an entry in idb, which must be the transaction of the
// action: if the action rolls back, so does its entry.
func Record(ctx context.Context, idb bun.IDB, at time.Time, actor Actor, action Action, target Target, details Details) error {
	e := &Entry{At: at, Action: action, TargetType: target.Type}
	if actor.ID != 0 {
		e.ActorID, e.ActorEmail = &actor.ID, &actor.Email
	}
	if target.ID != 0 {
		e.TargetID = &target.ID
	}
	if target.Name != "" {
		e.TargetName = &target.Name
	}
	if details == nil {
		details = Details{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	e.Details = raw
	if _, err := idb.NewInsert().Model(e).Exec(ctx); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Query selects entries; zero fields do not restrict.
type Query struct {
	ActorID    *int64
	TargetType *TargetType
	TargetID   *int64
	Action     *Action
	Since      *time.Time
}

// Cursor is the cursor of e in List (newest first, by id).
func Cursor(e Entry) string { return page.EncodeCursor(e.ID) }

func (q Query) apply(s *bun.SelectQuery) *bun.SelectQuery {
	if q.ActorID != nil {
		s = s.Where("actor_id = ?", *q.ActorID)
	}
	if q.TargetType != nil {
		s = s.Where("target_type = ?", *q.TargetType)
	}
	if q.TargetID != nil {
		s = s.Where("target_id = ?", *q.TargetID)
	}
	if q.Action != nil {
		s = s.Where("action = ?", *q.Action)
	}
	if q.Since != nil {
		s = s.Where("at >= ?", *q.Since)
	}
	return s
}

// List returns a page of entries matching q, newest first. The caller
// checks that the viewer may read the log.
func List(ctx context.Context, idb bun.IDB, q Query, req page.Request) (page.Page[Entry], error) {
	var after int64
	if err := req.Cursor(&after); err != nil {
		return page.Page[Entry]{}, err
	}
	if q.TargetID != nil && q.TargetType == nil {
		return page.Page[Entry]{}, apperr.Invalid("target.type", "give the target's type with its id")
	}
	var out []Entry
	s := q.apply(idb.NewSelect().Model(&out)).OrderExpr("id DESC").Limit(req.Limit())
	if req.HasCursor() {
		s = s.Where("id < ?", after)
	}
	if err := s.Scan(ctx); err != nil {
		return page.Page[Entry]{}, fmt.Errorf("audit log: %w", err)
	}
	return page.Trim(req, out), nil
}

// Count counts entries matching q.
func Count(ctx context.Context, idb bun.IDB, q Query) (int, error) {
	n, err := q.apply(idb.NewSelect().Model((*Entry)(nil))).Count(ctx)
	return int(n), err
}

// Service reads the log, for system administrators.
type Service struct{ db bun.IDB }

// NewService returns a Service reading from d.
func NewService(d bun.IDB) *Service { return &Service{db: d} }

// List returns a page of entries matching q, newest first.
func (s *Service) List(ctx context.Context, q Query, req page.Request) (page.Page[Entry], error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return page.Page[Entry]{}, err
	}
	return List(ctx, s.db, q, req)
}

// Count counts entries matching q.
func (s *Service) Count(ctx context.Context, q Query) (int, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return 0, err
	}
	return Count(ctx, s.db, q)
}
