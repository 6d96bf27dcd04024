package recipients

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/page"
)

// The reads below take a condition (Cond) and add the viewer's scope to it:
// removed people are out and the viewer's restriction applies, always.
// They are the only way other packages read recipients.

// querier runs a statement with numbered parameters: the pool
// (*sql.DB) or a transaction (*sql.Tx). Bun's own query methods would
// format the statement themselves and drop the $n parameters.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// visible is what the viewer may see: active people (removed ones too, for
// an administrator who asks) inside the viewer's restriction.
func (s *Service) visible(ctx context.Context, includeRemoved bool) (Cond, error) {
	scope, err := s.scope(ctx)
	if err != nil {
		return Cond{}, err
	}
	return scope.visible(includeRemoved)
}

// visible is what scope lets see.
func (scope *Scope) visible(includeRemoved bool) (Cond, error) {
	if includeRemoved && !scope.Admin {
		return Cond{}, apperr.Forbidden("removed recipients are for administrators")
	}
	var cs []Cond
	if !includeRemoved {
		cs = append(cs, fixed("r.removed_at IS NULL"))
	}
	if scope.Restriction != nil {
		cs = append(cs, Matching("restriction", scope.Restriction))
	}
	return And(cs...), nil
}

// where compiles c within the viewer's scope into p.
func (s *Service) where(ctx context.Context, c Cond, includeRemoved bool, p *Params) (string, error) {
	scope, err := s.visible(ctx, includeRemoved)
	if err != nil {
		return "", err
	}
	return And(c, scope).sql(p)
}

// Select returns a page of the people c selects that the viewer may see,
// in order o, with parts.
func (s *Service) Select(ctx context.Context, c Cond, o Order, parts Parts, req page.Request) (page.Page[Recipient], error) {
	p := &Params{}
	where, err := s.where(ctx, c, false, p)
	if err != nil {
		return page.Page[Recipient]{}, err
	}
	return selectPage(ctx, s.db, where, p, o, parts, req)
}

// CountOf counts the people c selects that the viewer may see.
func (s *Service) CountOf(ctx context.Context, c Cond) (int, error) {
	p := &Params{}
	where, err := s.where(ctx, c, false, p)
	if err != nil {
		return 0, err
	}
	return countWhere(ctx, s.db, where, p)
}

// CountEach counts, for each condition, the people it selects that the
// viewer may see, in one statement.
func (s *Service) CountEach(ctx context.Context, cs []Cond) ([]int, error) {
	scope, err := s.visible(ctx, false)
	if err != nil {
		return nil, err
	}
	return countEach(ctx, s.db.DB.DB, cs, scope)
}

// AdminCountEach counts, for each condition, everyone it selects (no
// restriction: an administrator's view) and how many of them split also
// selects, in one statement on q (a transaction, so that the counts and
// what the caller does next see the same rows).
func AdminCountEach(ctx context.Context, q querier, cs []Cond, split Cond) (all, also []int, err error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return nil, nil, err
	}
	p := &Params{}
	splitSQL, err := split.sql(p)
	if err != nil {
		return nil, nil, err
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		where, err := And(fixed("r.removed_at IS NULL"), c).sql(p)
		if err != nil {
			return nil, nil, err
		}
		parts[i] = "SELECT " + strconv.Itoa(i) + ", count(*), count(*) FILTER (WHERE " + splitSQL + ") FROM recipients AS r WHERE " + where
	}
	all, also = make([]int, len(cs)), make([]int, len(cs))
	if len(cs) == 0 {
		return all, also, nil
	}
	rows, err := q.QueryContext(ctx, strings.Join(parts, " UNION ALL "), p.QueryArgs()...)
	if err != nil {
		return nil, nil, fmt.Errorf("count recipients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i, n, m int
		if err := rows.Scan(&i, &n, &m); err != nil {
			return nil, nil, err
		}
		all[i], also[i] = n, m
	}
	return all, also, rows.Err()
}

func countEach(ctx context.Context, q querier, cs []Cond, scope Cond) ([]int, error) {
	out := make([]int, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	p := &Params{}
	parts := make([]string, len(cs))
	for i, c := range cs {
		where, err := And(c, scope).sql(p)
		if err != nil {
			return nil, err
		}
		parts[i] = "SELECT " + strconv.Itoa(i) + ", count(*) FROM recipients AS r WHERE " + where
	}
	rows, err := q.QueryContext(ctx, strings.Join(parts, " UNION ALL "), p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("count recipients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i, n int
		if err := rows.Scan(&i, &n); err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, rows.Err()
}

// VisibleAmong returns which of ids are people the viewer may see (active,
// inside the restriction), reading in q (the caller's transaction).
func (s *Service) VisibleAmong(ctx context.Context, q querier, ids []int64) (map[int64]bool, error) {
	return s.idsAmong(ctx, q, ids, Everyone())
}

// MatchingAmong returns which of ids are people c selects that the viewer
// may see, reading in q.
func (s *Service) MatchingAmong(ctx context.Context, q querier, ids []int64, c Cond) (map[int64]bool, error) {
	return s.idsAmong(ctx, q, ids, c)
}

func (s *Service) idsAmong(ctx context.Context, q querier, ids []int64, c Cond) (map[int64]bool, error) {
	p := &Params{}
	where, err := s.where(ctx, And(WithIDs(ids), c), false, p)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT r.id FROM recipients AS r WHERE "+where, p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("check recipients: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]bool, len(ids))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// ContactKind is what contact points are listed.
type ContactKind string

const (
	ContactPhone ContactKind = "PHONE"
	ContactEmail ContactKind = "EMAIL"
)

// column returns the recipients column of kind and its JSON key.
func (k ContactKind) column() (col, key string, err error) {
	switch k {
	case ContactPhone:
		return "r.phones", "number", nil
	case ContactEmail:
		return "r.emails", "address", nil
	}
	return "", "", apperr.Invalid("kind", "kind must be PHONE or EMAIL")
}

// ContactPoint is a phone number or email address, de-duplicated across
// the people of a selection, with the people it reaches.
type ContactPoint struct {
	Value        string
	Labels       []string
	RecipientIDs []int64
}

// ContactPointCursor is cp's cursor.
func ContactPointCursor(cp ContactPoint) string { return page.EncodeCursor(cp.Value) }

// ContactPoints returns a page of the distinct phone numbers or email
// addresses of the people c selects that the viewer may see, each with the
// people it reaches: what a messaging system needs to send to them.
func (s *Service) ContactPoints(ctx context.Context, c Cond, kind ContactKind, req page.Request) (page.Page[ContactPoint], error) {
	col, key, err := kind.column()
	if err != nil {
		return page.Page[ContactPoint]{}, err
	}
	var after string
	if err := req.Cursor(&after); err != nil {
		return page.Page[ContactPoint]{}, err
	}
	p := &Params{}
	where, err := s.where(ctx, c, false, p)
	if err != nil {
		return page.Page[ContactPoint]{}, err
	}
	cond := ""
	if req.HasCursor() {
		cond = " WHERE x->>'" + key + "' > " + p.Add(after)
	}
	query := `SELECT x->>'` + key + `' AS value, array_agg(DISTINCT x->>'label' ORDER BY x->>'label'), array_agg(DISTINCT m.id ORDER BY m.id)
		FROM (SELECT r.id, ` + col + ` AS contacts FROM recipients AS r WHERE ` + where + `) AS m,
			jsonb_array_elements(m.contacts) AS x` + cond + `
		GROUP BY value ORDER BY value LIMIT ` + p.Add(req.Limit())
	rows, err := s.db.DB.DB.QueryContext(ctx, query, p.QueryArgs()...)
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

// CountContactPoints counts the distinct phones or emails of the people c
// selects that the viewer may see.
func (s *Service) CountContactPoints(ctx context.Context, c Cond, kind ContactKind) (int, error) {
	col, key, err := kind.column()
	if err != nil {
		return 0, err
	}
	p := &Params{}
	where, err := s.where(ctx, c, false, p)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.db.DB.DB.QueryRowContext(ctx, `SELECT count(DISTINCT x->>'`+key+`') FROM recipients AS r, jsonb_array_elements(`+col+`) AS x WHERE `+where, p.QueryArgs()...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count contact points: %w", err)
	}
	return n, nil
}

// ExportCSV writes the recipients matching c, as the viewer sees them, as
// CSV: the fixed columns (id, external_id, type, names, grade, school,
// language, phones and emails as "Label: value; ...", the import's name),
// then one "custom:<key>" column per custom-field key present among them,
// in key order. A person in two imports is two recipients, so two rows, each
// naming its import.
//
// The keys are read first (one pass over the matching rows' keys), so the
// header is complete before the rows stream.
func (s *Service) ExportCSV(ctx context.Context, c Cond, w io.Writer) error {
	p := &Params{}
	where, err := s.where(ctx, c, false, p)
	if err != nil {
		return err
	}
	keys, err := s.customKeys(ctx, where, p)
	if err != nil {
		return fmt.Errorf("export recipients: custom field keys: %w", err)
	}
	rows, err := s.db.DB.DB.QueryContext(ctx, `SELECT r.id, r.external_id, r.type, r.first_name, r.last_name,
			coalesce(r.grade, ''), coalesce(r.school, ''), coalesce(r.language, ''),
			coalesce((SELECT string_agg(x->>'label' || ': ' || (x->>'number'), '; ') FROM jsonb_array_elements(r.phones) x), ''),
			coalesce((SELECT string_agg(x->>'label' || ': ' || (x->>'address'), '; ') FROM jsonb_array_elements(r.emails) x), ''),
			coalesce(i.name, ''), r.custom_fields
		FROM recipients AS r LEFT JOIN imports AS i ON i.id = r.import_id
		WHERE `+where+` ORDER BY r.last_name, r.first_name, r.id`, p.QueryArgs()...)
	if err != nil {
		return fmt.Errorf("export recipients: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	header := []string{"id", "external_id", "type", "first_name", "last_name", "grade", "school", "language", "phones", "emails", "import"}
	fixed := len(header)
	for _, k := range keys {
		header = append(header, "custom:"+k)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, len(header))
	var rid int64
	var custom []byte
	n := 0
	for rows.Next() {
		if err := rows.Scan(&rid, &rec[1], &rec[2], &rec[3], &rec[4], &rec[5], &rec[6], &rec[7], &rec[8], &rec[9], &rec[10], &custom); err != nil {
			return err
		}
		rec[0] = strconv.FormatInt(rid, 10)
		var fields map[string]string
		if err := json.Unmarshal(custom, &fields); err != nil {
			return fmt.Errorf("export recipients: custom fields of %d: %w", rid, err)
		}
		for i, k := range keys {
			rec[fixed+i] = fields[k]
		}
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

// customKeys returns the custom-field keys present among the recipients
// where selects, in byte order.
func (s *Service) customKeys(ctx context.Context, where string, p *Params) ([]string, error) {
	rows, err := s.db.DB.DB.QueryContext(ctx, `SELECT DISTINCT k COLLATE "C" FROM recipients AS r, jsonb_object_keys(r.custom_fields) AS k
		WHERE `+where+` ORDER BY 1`, p.QueryArgs()...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// Probe is what one person is, for explaining a list: whether and by what
// they were removed, and which of the conditions asked about they meet.
type Probe struct {
	RemovedAt *time.Time
	RemovedBy *int64
	Matches   []bool
}

// ProbeOne evaluates conds for person id, who may be removed (the answer
// says so) but must be inside the viewer's restriction: nil when the
// viewer may not see them or they do not exist, one answer for both.
func (s *Service) ProbeOne(ctx context.Context, id int64, conds []Cond) (*Probe, error) {
	p := &Params{}
	scope, err := s.scope(ctx)
	if err != nil {
		return nil, err
	}
	restriction := Everyone()
	if scope.Restriction != nil {
		restriction = Matching("restriction", scope.Restriction)
	}
	where, err := And(WithIDs([]int64{id}), restriction).sql(p)
	if err != nil {
		return nil, err
	}
	cols := []string{"r.removed_at", "r.removed_by_run_id"}
	for _, c := range conds {
		s, err := c.sql(p)
		if err != nil {
			return nil, err
		}
		cols = append(cols, "coalesce("+s+", false)")
	}
	pr := &Probe{Matches: make([]bool, len(conds))}
	dest := []any{&pr.RemovedAt, &pr.RemovedBy}
	for i := range pr.Matches {
		dest = append(dest, &pr.Matches[i])
	}
	err = s.db.DB.DB.QueryRowContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM recipients AS r WHERE "+where, p.QueryArgs()...).Scan(dest...)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("probe recipient %d: %w", id, err)
	}
	return pr, nil
}
