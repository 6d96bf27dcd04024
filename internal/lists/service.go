package lists

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// Service holds the rules about lists.
type Service struct {
	db *db.DB
	// recipients reads the people of lists, within each viewer's scope.
	recipients *recipients.Service
	now        func() time.Time
}

// NewService returns a Service.
func NewService(d *db.DB, r *recipients.Service, now func() time.Time) *Service {
	return &Service{db: d, recipients: r, now: now}
}

// maxHandPicked bounds one add or remove call.
const maxHandPicked = 10000

// access is what a viewer may do with a list.
type access int

const (
	accessNone  access = iota
	accessRead         // shared with the viewer
	accessWrite        // the owner, or an administrator
)

func (s *Service) accessTo(ctx context.Context, idb bun.IDB, v *authz.Viewer, l *List) (access, error) {
	if v.IsAdmin() || l.OwnerID == v.UserID {
		return accessWrite, nil
	}
	shared, err := idb.NewSelect().Table("list_shares").Where("list_id = ? AND user_id = ?", l.ID, v.UserID).Exists(ctx)
	if err != nil {
		return accessNone, fmt.Errorf("list access: %w", err)
	}
	if shared {
		return accessRead, nil
	}
	return accessNone, nil
}

// load returns list id if the viewer has at least `need` access to it. A
// list the viewer cannot see is NOT_FOUND.
func (s *Service) load(ctx context.Context, idb bun.IDB, id int64, need access) (*authz.Viewer, *List, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, nil, err
	}
	l := new(List)
	q := selectLists(idb.NewSelect().Model(l)).Where("l.id = ?", id)
	if need == accessWrite {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if db.IsNoRows(err) {
			return nil, nil, apperr.NotFound("list", id)
		}
		return nil, nil, fmt.Errorf("get list %d: %w", id, err)
	}
	a, err := s.accessTo(ctx, idb, v, l)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case a == accessNone:
		return nil, nil, apperr.NotFound("list", id)
	case a < need:
		return nil, nil, apperr.Forbidden("list %d is shared with you to read; only its owner can change it", id)
	}
	return v, l, nil
}

// selectLists reads lists with whether they have hand-made additions and
// skips (List.HasAdditions, HasExclusions).
func selectLists(q *bun.SelectQuery) *bun.SelectQuery {
	return q.ColumnExpr("l.*").
		ColumnExpr("EXISTS (SELECT 1 FROM list_additions AS a WHERE a.list_id = l.id) AS has_additions").
		ColumnExpr("EXISTS (SELECT 1 FROM list_exclusions AS x WHERE x.list_id = l.id) AS has_exclusions")
}

// Get returns a list the viewer owns, is shared or (admins) any.
func (s *Service) Get(ctx context.Context, id int64) (*List, error) {
	_, l, err := s.load(ctx, s.db, id, accessRead)
	return l, err
}

// listCursor orders lists by name, then id.
type listCursor struct {
	Name string `json:"n"`
	ID   int64  `json:"i"`
}

// Cursor is l's cursor in List.
func Cursor(l List) string {
	return page.EncodeCursor(listCursor{Name: strings.ToLower(l.Name), ID: l.ID})
}

func (s *Service) visible(ctx context.Context, v *authz.Viewer, q *bun.SelectQuery) *bun.SelectQuery {
	if v.IsAdmin() {
		return q
	}
	return q.Where("(l.owner_id = ? OR EXISTS (SELECT 1 FROM list_shares AS sh WHERE sh.list_id = l.id AND sh.user_id = ?))", v.UserID, v.UserID)
}

// List returns a page of the viewer's lists and those shared with them (all
// lists for an admin), by name.
func (s *Service) List(ctx context.Context, req page.Request) (page.Page[List], error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return page.Page[List]{}, err
	}
	var c listCursor
	if err := req.Cursor(&c); err != nil {
		return page.Page[List]{}, err
	}
	var out []List
	q := s.visible(ctx, v, selectLists(s.db.NewSelect().Model(&out))).OrderExpr("lower(l.name), l.id").Limit(req.Limit())
	if req.HasCursor() {
		q = q.Where("(lower(l.name), l.id) > (?, ?)", c.Name, c.ID)
	}
	if err := q.Scan(ctx); err != nil {
		return page.Page[List]{}, fmt.Errorf("list lists: %w", err)
	}
	return page.Trim(req, out), nil
}

// Count counts the lists List would show.
func (s *Service) Count(ctx context.Context) (int, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return 0, err
	}
	n, err := s.visible(ctx, v, s.db.NewSelect().Model((*List)(nil))).Count(ctx)
	return int(n), err
}

// Create makes a list owned by the viewer.
func (s *Service) Create(ctx context.Context, in CreateListInput) (*List, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	l := &List{OwnerID: v.UserID, CreatedAt: s.now(), UpdatedAt: s.now()}
	if l.Name, err = apperr.Name("input.name", in.Name); err != nil {
		return nil, err
	}
	if in.Description != nil {
		l.Description = strings.TrimSpace(*in.Description)
	}
	if in.Filter != nil {
		if l.Filter, err = recipients.EncodeFilter("input.filter", in.Filter); err != nil {
			return nil, err
		}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(l).Returning("*").Exec(ctx); err != nil {
			return fmt.Errorf("create list: %w", err)
		}
		if len(in.RecipientIDs) > 0 {
			if err := s.add(ctx, tx, v, l, "input.recipientIds", in.RecipientIDs); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, v, audit.ListCreated, l, audit.Details{
			"name": l.Name, "filter": l.Filter, "recipientIds": in.RecipientIDs})
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Update changes a list's name, description or rule (owner or admin).
func (s *Service) Update(ctx context.Context, id int64, in UpdateListInput) (*List, error) {
	return s.change(ctx, id, func(ctx context.Context, tx bun.Tx, v *authz.Viewer, l *List) error {
		before := *l
		var err error
		if in.Name != nil {
			if l.Name, err = apperr.Name("input.name", *in.Name); err != nil {
				return err
			}
		}
		if in.Description != nil {
			l.Description = strings.TrimSpace(*in.Description)
		}
		clear := in.ClearFilter != nil && *in.ClearFilter
		switch {
		case clear && in.Filter != nil:
			return apperr.Invalid("input.clearFilter", "give either filter or clearFilter, not both")
		case clear:
			l.Filter = nil
		case in.Filter != nil:
			if l.Filter, err = recipients.EncodeFilter("input.filter", in.Filter); err != nil {
				return err
			}
		}
		l.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(l).Column("name", "description", "filter", "updated_at").WherePK().Returning("*").Exec(ctx); err != nil {
			return fmt.Errorf("update list %d: %w", l.ID, err)
		}
		d := audit.Details{}
		d.Change("name", before.Name, l.Name)
		d.Change("description", before.Description, l.Description)
		d.Change("filter", before.Filter, l.Filter)
		if len(d) == 0 {
			return nil
		}
		return s.record(ctx, tx, v, audit.ListUpdated, l, d)
	})
}

// Delete deletes a list (owner or admin); its hand-made additions, skips and
// shares go with it. The recipients are not touched.
func (s *Service) Delete(ctx context.Context, id int64) (*List, error) {
	return s.change(ctx, id, func(ctx context.Context, tx bun.Tx, v *authz.Viewer, l *List) error {
		if _, err := tx.NewDelete().Model(l).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("delete list %d: %w", l.ID, err)
		}
		return s.record(ctx, tx, v, audit.ListDeleted, l, audit.Details{"owner": l.OwnerID, "filter": l.Filter})
	})
}

// Share shares the list with exactly these users (owner or admin): others
// it was shared with lose access.
func (s *Service) Share(ctx context.Context, id int64, userIDs []int64) (*List, error) {
	return s.change(ctx, id, func(ctx context.Context, tx bun.Tx, v *authz.Viewer, l *List) error {
		want := map[int64]bool{}
		for _, u := range userIDs {
			if u != l.OwnerID {
				want[u] = true
			}
		}
		ids := make([]int64, 0, len(want))
		for u := range want {
			ids = append(ids, u)
		}
		if len(ids) > 0 {
			found, err := users.GetUsers(ctx, tx, ids)
			if err != nil {
				return err
			}
			if len(found) != len(ids) {
				have := map[int64]bool{}
				for _, u := range found {
					have[u.ID] = true
				}
				for i, u := range userIDs {
					if want[u] && !have[u] {
						return apperr.Invalid(fmt.Sprintf("userIds[%d]", i), "user %d not found", u)
					}
				}
			}
		}
		if _, err := tx.NewDelete().Table("list_shares").Where("list_id = ?", l.ID).Where("user_id NOT IN (?)", bun.List(append(ids, 0))).Exec(ctx); err != nil {
			return fmt.Errorf("unshare list: %w", err)
		}
		for _, u := range ids {
			if _, err := tx.NewRaw(`INSERT INTO list_shares (list_id, user_id, shared_by, shared_at) VALUES (?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, l.ID, u, v.UserID, s.now()).Exec(ctx); err != nil {
				return fmt.Errorf("share list: %w", err)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		return s.record(ctx, tx, v, audit.ListShared, l, audit.Details{"userIds": ids})
	})
}

// SharedWith returns the users a list is shared with.
func (s *Service) SharedWith(ctx context.Context, l *List) ([]users.User, error) {
	var out []users.User
	err := s.db.NewSelect().Model(&out).
		Where("id IN (SELECT user_id FROM list_shares WHERE list_id = ?)", l.ID).OrderExpr("id").Scan(ctx)
	return out, err
}

// change runs fn on list id, which the viewer must be able to change (its
// owner or an administrator), in one transaction, and returns the list as
// fn left it.
func (s *Service) change(ctx context.Context, id int64, fn func(ctx context.Context, tx bun.Tx, v *authz.Viewer, l *List) error) (*List, error) {
	var l *List
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		v, list, err := s.load(ctx, tx, id, accessWrite)
		if err != nil {
			return err
		}
		l = list
		return fn(ctx, tx, v, l)
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// requireVisible fails (NOT_FOUND, naming the position) for recipients the
// viewer may not see or that are removed: a list cannot hold them.
func (s *Service) requireVisible(ctx context.Context, tx bun.Tx, field string, ids []int64) error {
	seen, err := s.recipients.VisibleAmong(ctx, tx.Tx, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if !seen[id] {
			return &apperr.Error{Code: apperr.CodeNotFound, Field: fmt.Sprintf("%s[%d]", field, i), Message: fmt.Sprintf("recipient %d not found", id)}
		}
	}
	return nil
}

// add adds recipients by hand (and lifts their skips).
func (s *Service) add(ctx context.Context, tx bun.Tx, v *authz.Viewer, l *List, field string, ids []int64) error {
	if len(ids) > maxHandPicked {
		return apperr.Invalid(field, "at most %d recipients at a time", maxHandPicked)
	}
	if err := s.requireVisible(ctx, tx, field, ids); err != nil {
		return err
	}
	if _, err := tx.NewDelete().Table("list_exclusions").Where("list_id = ? AND recipient_id IN (?)", l.ID, bun.List(ids)).Exec(ctx); err != nil {
		return fmt.Errorf("lift skips: %w", err)
	}
	if _, err := s.insertEntries(ctx, tx, "list_additions (list_id, recipient_id, recipient_segment_id, added_by, added_at)", l.ID, ids, v); err != nil {
		return fmt.Errorf("add members: %w", err)
	}
	l.HasAdditions = l.HasAdditions || len(ids) > 0
	return nil
}

// AddMembers adds recipients to a list by hand (owner or admin).
func (s *Service) AddMembers(ctx context.Context, id int64, recipientIDs []int64) (*List, error) {
	return s.change(ctx, id, func(ctx context.Context, tx bun.Tx, v *authz.Viewer, l *List) error {
		if err := s.add(ctx, tx, v, l, "recipientIds", recipientIDs); err != nil {
			return err
		}
		return s.record(ctx, tx, v, audit.ListMembersAdded, l, audit.Details{"recipientIds": recipientIDs})
	})
}

// RemoveMembers takes recipients off a list (owner or admin): a hand-made
// addition is dropped, and a person the rule matches is kept out as a skip
// (a skipped person who stops matching is simply out).
func (s *Service) RemoveMembers(ctx context.Context, id int64, recipientIDs []int64) (*List, error) {
	if len(recipientIDs) > maxHandPicked {
		return nil, apperr.Invalid("recipientIds", "at most %d recipients at a time", maxHandPicked)
	}
	return s.change(ctx, id, func(ctx context.Context, tx bun.Tx, v *authz.Viewer, l *List) error {
		if err := s.requireVisible(ctx, tx, "recipientIds", recipientIDs); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Table("list_additions").Where("list_id = ? AND recipient_id IN (?)", l.ID, bun.List(recipientIDs)).Exec(ctx); err != nil {
			return fmt.Errorf("remove additions: %w", err)
		}
		if err := s.record(ctx, tx, v, audit.ListMembersRemoved, l, audit.Details{"recipientIds": recipientIDs}); err != nil {
			return err
		}
		f, err := l.DecodedFilter()
		if err != nil || f == nil {
			return err
		}
		// Skip those the rule matches now.
		matching, err := s.recipients.MatchingAmong(ctx, tx.Tx, recipientIDs, recipients.Matching("filter", f))
		if err != nil {
			return err
		}
		skip := make([]int64, 0, len(matching))
		for _, id := range recipientIDs {
			if matching[id] {
				skip = append(skip, id)
			}
		}
		n, err := s.insertEntries(ctx, tx, "list_exclusions (list_id, recipient_id, recipient_segment_id, excluded_by, excluded_at)", l.ID, skip, v)
		if err != nil {
			return fmt.Errorf("skip members: %w", err)
		}
		if n > 0 {
			l.HasExclusions = true
		}
		return nil
	})
}

// insertEntries records hand-made entries (additions or skips, into, which
// names the table and its columns) of recipients ids on list listID, and
// returns how many were new. An entry names its recipient's segment too:
// the foreign key to recipients includes it.
func (s *Service) insertEntries(ctx context.Context, tx bun.Tx, into string, listID int64, ids []int64, v *authz.Viewer) (int64, error) {
	res, err := tx.NewRaw(`INSERT INTO `+into+`
		SELECT ?, r.id, r.segment_id, ?, ? FROM recipients AS r WHERE r.id = ANY(?::bigint[])
		ON CONFLICT DO NOTHING`, listID, v.UserID, s.now(), pgdialect.Array(ids)).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// record writes the audit entry of an action on l, in its transaction.
func (s *Service) record(ctx context.Context, tx bun.Tx, v *authz.Viewer, action audit.Action, l *List, d audit.Details) error {
	return audit.Record(ctx, tx, s.now(), audit.ActorOf(v), action, audit.Target{Type: audit.TargetList, ID: l.ID, Name: l.Name}, d)
}
