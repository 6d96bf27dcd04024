package lists

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// membership compiles "recipient r is a member of l, as the viewer sees it"
// into p: active, and matching the rule or added by hand, and not skipped,
// and inside the viewer's restriction.
func membership(l *List, scope *recipients.Scope, p *recipients.Params) (string, error) {
	f, err := l.DecodedFilter()
	if err != nil {
		return "", err
	}
	rule := "FALSE"
	if f != nil {
		if rule, err = recipients.CompileFilter("filter", f, p); err != nil {
			return "", err
		}
	}
	member := "(" + rule + ")"
	if l.HasAdditions {
		member = "(" + rule + " OR r.id IN (SELECT recipient_id FROM list_additions WHERE list_id = " + p.Add(l.ID) + "))"
	}
	conds := []string{"r.removed_at IS NULL", member}
	if l.HasExclusions {
		conds = append(conds, "r.id NOT IN (SELECT recipient_id FROM list_exclusions WHERE list_id = "+p.Add(l.ID)+")")
	}
	if scope.Restriction != nil {
		restriction, err := scope.Where(p)
		if err != nil {
			return "", err
		}
		conds = append(conds, "("+restriction+")")
	}
	return strings.Join(conds, " AND "), nil
}

// memberWhere is membership for the request's viewer.
func (s *Service) memberWhere(ctx context.Context, l *List, p *recipients.Params) (string, error) {
	scope, err := recipients.ScopeOf(users.ViewerFrom(ctx))
	if err != nil {
		return "", err
	}
	return membership(l, scope, p)
}

// Members returns a page of a list's members the viewer may see.
func (s *Service) Members(ctx context.Context, l *List, o recipients.Order, parts recipients.Parts, req page.Request) (page.Page[recipients.Recipient], error) {
	p := &recipients.Params{}
	where, err := s.memberWhere(ctx, l, p)
	if err != nil {
		return page.Page[recipients.Recipient]{}, err
	}
	return recipients.SelectPage(ctx, s.db, where, p, o, parts, req)
}

// MemberCount counts a list's members the viewer may see.
func (s *Service) MemberCount(ctx context.Context, l *List) (int, error) {
	counts, err := s.MemberCounts(ctx, []*List{l})
	if err != nil {
		return 0, err
	}
	return counts[l.ID], nil
}

// MemberCounts counts the members of several lists in one statement (for a
// page of lists: one query, not one per list).
func (s *Service) MemberCounts(ctx context.Context, ls []*List) (map[int64]int, error) {
	scope, err := recipients.ScopeOf(users.ViewerFrom(ctx))
	if err != nil {
		return nil, err
	}
	p := &recipients.Params{}
	parts := make([]string, len(ls))
	for i, l := range ls {
		where, err := membership(l, scope, p)
		if err != nil {
			return nil, err
		}
		parts[i] = "SELECT " + p.Add(l.ID) + "::bigint, count(*) FROM recipients AS r WHERE " + where
	}
	rows, err := s.db.DB.DB.QueryContext(ctx, strings.Join(parts, " UNION ALL "), p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("count members: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]int, len(ls))
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// Preview is what a filter selects, before a list is saved.
type Preview struct {
	Count      int
	Recipients []recipients.Recipient
}

// Preview counts and returns the first page of what f selects for the
// viewer, without saving anything.
func (s *Service) Preview(ctx context.Context, f *recipients.Filter, o recipients.Order, parts recipients.Parts, first *int) (*Preview, error) {
	scope, err := recipients.ScopeOf(users.ViewerFrom(ctx))
	if err != nil {
		return nil, err
	}
	if err := recipients.ValidateFilter("filter", f); err != nil {
		return nil, err
	}
	req, err := page.New(first, nil)
	if err != nil {
		return nil, err
	}
	l := &List{}
	if l.Filter, err = recipients.EncodeFilter("filter", f); err != nil {
		return nil, err
	}
	p := &recipients.Params{}
	where, err := membership(l, scope, p)
	if err != nil {
		return nil, err
	}
	n, err := recipients.CountWhere(ctx, s.db, where, p)
	if err != nil {
		return nil, err
	}
	pg, err := recipients.SelectPage(ctx, s.db, where, p, o, parts, req)
	if err != nil {
		return nil, err
	}
	return &Preview{Count: n, Recipients: pg.Items}, nil
}

// ExportCSV streams a list's members as the viewer sees them, with their
// phones and emails, for reporting tools. Rows are written as they come
// from the database.
func (s *Service) ExportCSV(ctx context.Context, id int64, w io.Writer) error {
	_, l, err := s.load(ctx, s.db, id, accessRead)
	if err != nil {
		return err
	}
	p := &recipients.Params{}
	where, err := s.memberWhere(ctx, l, p)
	if err != nil {
		return err
	}
	rows, err := s.db.DB.DB.QueryContext(ctx, `SELECT r.id, r.external_id, r.type, r.first_name, r.last_name,
			coalesce(r.grade, ''), coalesce(r.school, ''), coalesce(r.language, ''),
			coalesce((SELECT string_agg(x->>'label' || ': ' || (x->>'number'), '; ') FROM jsonb_array_elements(r.phones) x), ''),
			coalesce((SELECT string_agg(x->>'label' || ': ' || (x->>'address'), '; ') FROM jsonb_array_elements(r.emails) x), ''),
			coalesce(i.name, '')
		FROM recipients AS r LEFT JOIN imports AS i ON i.id = r.import_id
		WHERE `+where+` ORDER BY r.last_name, r.first_name, r.id`, p.QueryArgs()...)
	if err != nil {
		return fmt.Errorf("export list %d: %w", l.ID, err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"id", "external_id", "type", "first_name", "last_name", "grade", "school", "language", "phones", "emails", "import"}); err != nil {
		return err
	}
	rec := make([]string, 11)
	var rid int64
	n := 0
	for rows.Next() {
		if err := rows.Scan(&rid, &rec[1], &rec[2], &rec[3], &rec[4], &rec[5], &rec[6], &rec[7], &rec[8], &rec[9], &rec[10]); err != nil {
			return err
		}
		rec[0] = strconv.FormatInt(rid, 10)
		if err := cw.Write(rec); err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// ContactPoints returns a page of the phone numbers or email addresses of a
// list's members (as the viewer sees them), each once, with the members it
// reaches: what a messaging system needs to send to the list.
func (s *Service) ContactPoints(ctx context.Context, l *List, kind ContactKind, req page.Request) (page.Page[ContactPoint], error) {
	col, key := "r.phones", "number"
	switch kind {
	case ContactPhone:
	case ContactEmail:
		col, key = "r.emails", "address"
	default:
		return page.Page[ContactPoint]{}, apperr.Invalid("kind", "kind must be PHONE or EMAIL")
	}
	var after string
	if err := req.Cursor(&after); err != nil {
		return page.Page[ContactPoint]{}, err
	}
	p := &recipients.Params{}
	where, err := s.memberWhere(ctx, l, p)
	if err != nil {
		return page.Page[ContactPoint]{}, err
	}
	cond := ""
	if req.HasCursor() {
		cond = " WHERE x->>'" + key + "' > " + p.Add(after)
	}
	sql := `SELECT x->>'` + key + `' AS value, array_agg(DISTINCT x->>'label' ORDER BY x->>'label'), array_agg(DISTINCT m.id ORDER BY m.id)
		FROM (SELECT r.id, ` + col + ` AS contacts FROM recipients AS r WHERE ` + where + `) AS m,
			jsonb_array_elements(m.contacts) AS x` + cond + `
		GROUP BY value ORDER BY value LIMIT ` + p.Add(req.Limit())
	rows, err := s.db.DB.DB.QueryContext(ctx, sql, p.QueryArgs()...)
	if err != nil {
		return page.Page[ContactPoint]{}, fmt.Errorf("contact points: %w", err)
	}
	defer rows.Close()
	var out []ContactPoint
	types := pgtype.NewMap() // not safe for concurrent use: one per call
	for rows.Next() {
		var cp ContactPoint
		if err := rows.Scan(&cp.Value, types.SQLScanner(&cp.Labels), types.SQLScanner(&cp.RecipientIDs)); err != nil {
			return page.Page[ContactPoint]{}, err
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return page.Page[ContactPoint]{}, err
	}
	return page.Trim(req, out), nil
}

// ContactPointCursor is cp's cursor.
func ContactPointCursor(cp ContactPoint) string { return page.EncodeCursor(cp.Value) }

// CountContactPoints counts a list's distinct phones or emails.
func (s *Service) CountContactPoints(ctx context.Context, l *List, kind ContactKind) (int, error) {
	col, key := "r.phones", "number"
	if kind == ContactEmail {
		col, key = "r.emails", "address"
	}
	p := &recipients.Params{}
	where, err := s.memberWhere(ctx, l, p)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.db.DB.DB.QueryRowContext(ctx, `SELECT count(DISTINCT x->>'`+key+`') FROM recipients AS r, jsonb_array_elements(`+col+`) AS x WHERE `+where, p.QueryArgs()...).Scan(&n)
	return n, err
}

// handPickedWhere compiles "r is one of l's hand-added (table
// list_additions) or skipped (list_exclusions) people, as the viewer sees
// them" into p: active, and inside the viewer's restriction, as members
// are. A removed recipient stays in these tables (a restoring run brings
// it back to the list) but is shown to no one here.
func (s *Service) handPickedWhere(ctx context.Context, l *List, table string, p *recipients.Params) (string, error) {
	scope, err := recipients.ScopeOf(users.ViewerFrom(ctx))
	if err != nil {
		return "", err
	}
	conds := []string{"r.removed_at IS NULL", "r.id IN (SELECT recipient_id FROM " + table + " WHERE list_id = " + p.Add(l.ID) + ")"}
	if scope.Restriction != nil {
		restriction, err := scope.Where(p)
		if err != nil {
			return "", err
		}
		conds = append(conds, "("+restriction+")")
	}
	return strings.Join(conds, " AND "), nil
}

func (s *Service) handPickedPage(ctx context.Context, l *List, table string, parts recipients.Parts, req page.Request) (page.Page[recipients.Recipient], error) {
	p := &recipients.Params{}
	where, err := s.handPickedWhere(ctx, l, table, p)
	if err != nil {
		return page.Page[recipients.Recipient]{}, err
	}
	return recipients.SelectPage(ctx, s.db, where, p, recipients.OrderLastName, parts, req)
}

func (s *Service) handPickedCount(ctx context.Context, l *List, table string) (int, error) {
	p := &recipients.Params{}
	where, err := s.handPickedWhere(ctx, l, table, p)
	if err != nil {
		return 0, err
	}
	return recipients.CountWhere(ctx, s.db, where, p)
}

// Additions returns a page of the people added to the list by hand.
func (s *Service) Additions(ctx context.Context, l *List, parts recipients.Parts, req page.Request) (page.Page[recipients.Recipient], error) {
	return s.handPickedPage(ctx, l, "list_additions", parts, req)
}

// CountAdditions counts what Additions pages through.
func (s *Service) CountAdditions(ctx context.Context, l *List) (int, error) {
	return s.handPickedCount(ctx, l, "list_additions")
}

// Exclusions returns a page of the people skipped by hand.
func (s *Service) Exclusions(ctx context.Context, l *List, parts recipients.Parts, req page.Request) (page.Page[recipients.Recipient], error) {
	return s.handPickedPage(ctx, l, "list_exclusions", parts, req)
}

// CountExclusions counts what Exclusions pages through.
func (s *Service) CountExclusions(ctx context.Context, l *List) (int, error) {
	return s.handPickedCount(ctx, l, "list_exclusions")
}

// CanEdit reports whether the viewer may change l.
func (s *Service) CanEdit(ctx context.Context, l *List) bool {
	v := users.ViewerFrom(ctx)
	return v != nil && (v.IsAdmin() || v.User.ID == l.OwnerID)
}

// Impact is how removing some recipients would change a list.
type Impact struct {
	List          *List
	MembersBefore int
	MembersAfter  int
}

// ImpactOfRemoving returns the lists whose membership would shrink if the
// active recipients of importID were removed, with their member counts
// before and after, as an administrator counts them (no restriction). One
// statement counts every list, in tx (the delete's own transaction, so the
// report and the removal see the same rows).
func ImpactOfRemoving(ctx context.Context, tx bun.Tx, importID int64) ([]Impact, error) {
	var all []List
	if err := selectLists(tx.NewSelect().Model(&all)).OrderExpr("l.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	if len(all) == 0 {
		return nil, nil
	}
	p := &recipients.Params{}
	parts := make([]string, len(all))
	for i := range all {
		where, err := membership(&all[i], &recipients.Scope{}, p)
		if err != nil {
			return nil, err
		}
		parts[i] = "SELECT " + p.Add(all[i].ID) + "::bigint, count(*), count(*) FILTER (WHERE r.import_id = " + p.Add(importID) +
			") FROM recipients AS r WHERE " + where
	}
	// Through database/sql directly: Bun would format the statement itself
	// and drop the $n parameters.
	rows, err := tx.Tx.QueryContext(ctx, strings.Join(parts, " UNION ALL "), p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("count list members: %w", err)
	}
	defer rows.Close()
	byID := make(map[int64]*List, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	var out []Impact
	for rows.Next() {
		var id int64
		var before, lost int
		if err := rows.Scan(&id, &before, &lost); err != nil {
			return nil, err
		}
		if lost > 0 {
			out = append(out, Impact{List: byID[id], MembersBefore: before, MembersAfter: before - lost})
		}
	}
	return out, rows.Err()
}
