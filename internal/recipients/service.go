package recipients

import (
	"context"
	"fmt"
	"strings"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/page"
)

// Service reads recipients within each viewer's restriction.
type Service struct {
	db *db.DB
}

// NewService returns a Service.
func NewService(d *db.DB) *Service { return &Service{db: d} }

// scope returns what the request's viewer may see.
func (s *Service) scope(ctx context.Context) (*Scope, error) {
	return scopeOf(authz.ViewerFrom(ctx))
}

// Get returns a recipient the viewer may see. One outside the viewer's
// restriction is NOT_FOUND, as if it did not exist; so is a removed one,
// except to an administrator.
func (s *Service) Get(ctx context.Context, id int64) (*Recipient, error) {
	scope, err := s.scope(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.byIDs(ctx, []int64{id}, scope.Admin)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, apperr.NotFound("recipient", id)
	}
	return &rows[0], nil
}

// GetMany returns the recipients with ids that the viewer may see (others
// are left out), for dataloaders.
func (s *Service) GetMany(ctx context.Context, ids []int64) ([]Recipient, error) {
	scope, err := s.scope(ctx)
	if err != nil {
		return nil, err
	}
	return s.byIDs(ctx, ids, scope.Admin)
}

func (s *Service) byIDs(ctx context.Context, ids []int64, includeRemoved bool) ([]Recipient, error) {
	p := &Params{}
	where, err := s.where(ctx, WithIDs(ids), includeRemoved, p)
	if err != nil {
		return nil, err
	}
	return scanRecipients(ctx, s.db, "SELECT "+columns+" FROM recipients AS r WHERE "+where, p, AllParts, len(ids))
}

// Query is a selection of recipients, as the API asks for it.
type Query struct {
	Filter   *Filter
	ImportID *int64
	// IncludeRemoved lists removed recipients too (admins, browsing an
	// import).
	IncludeRemoved bool
}

// cond is what q selects; browsing an import, and removed people, are for
// administrators.
func (q Query) cond(scope *Scope) (Cond, error) {
	if (q.ImportID != nil || q.IncludeRemoved) && !scope.Admin {
		return Cond{}, apperr.Forbidden("browsing an import's recipients requires the SYSTEM_ADMIN role; use a filter")
	}
	if q.Filter == nil && q.ImportID == nil {
		return Cond{}, apperr.Invalid("filter", "give a filter (to select everyone say {all: true})")
	}
	var cs []Cond
	if q.ImportID != nil {
		cs = append(cs, InImport(*q.ImportID))
	}
	if q.Filter != nil {
		cs = append(cs, Matching("filter", q.Filter))
	}
	return And(cs...), nil
}

// queryWhere compiles q within the viewer's scope into p.
func (s *Service) queryWhere(ctx context.Context, q Query, p *Params) (string, error) {
	scope, err := s.scope(ctx)
	if err != nil {
		return "", err
	}
	c, err := q.cond(scope)
	if err != nil {
		return "", err
	}
	return s.where(ctx, c, q.IncludeRemoved, p)
}

// Search returns a page of the recipients matching q that the viewer may
// see.
func (s *Service) Search(ctx context.Context, q Query, o Order, parts Parts, req page.Request) (page.Page[Recipient], error) {
	p := &Params{}
	where, err := s.queryWhere(ctx, q, p)
	if err != nil {
		return page.Page[Recipient]{}, err
	}
	return selectPage(ctx, s.db, where, p, o, parts, req)
}

// Count counts the recipients matching q that the viewer may see.
func (s *Service) Count(ctx context.Context, q Query) (int, error) {
	p := &Params{}
	where, err := s.queryWhere(ctx, q, p)
	if err != nil {
		return 0, err
	}
	return countWhere(ctx, s.db, where, p)
}

// GroupField is what recipient counts are grouped by.
type GroupField string

const (
	GroupSchool   GroupField = "SCHOOL"
	GroupGrade    GroupField = "GRADE"
	GroupLanguage GroupField = "LANGUAGE"
	GroupType     GroupField = "TYPE"
	GroupCustom   GroupField = "CUSTOM"
)

// GroupBy is one grouping: a field, or a custom field's key.
type GroupBy struct {
	Field GroupField
	Key   *string
}

// GroupCount is a group's values (in GroupBy order; null for none) and count.
type GroupCount struct {
	Values []*string
	Count  int
}

// maxGroups bounds an aggregate's rows.
const maxGroups = 10000

// Counts counts the recipients matching f that the viewer may see, by group.
func (s *Service) Counts(ctx context.Context, f *Filter, groupBy []GroupBy) ([]GroupCount, error) {
	if len(groupBy) == 0 || len(groupBy) > 4 {
		return nil, apperr.Invalid("groupBy", "group by one to four fields")
	}
	p := &Params{}
	where, err := s.where(ctx, Matching("filter", f), false, p)
	if err != nil {
		return nil, err
	}
	exprs := make([]string, len(groupBy))
	orderBy := make([]string, len(groupBy))
	for i, g := range groupBy {
		switch g.Field {
		case GroupSchool:
			exprs[i], orderBy[i] = "r.school", "min(r.school_key)"
		case GroupGrade:
			exprs[i], orderBy[i] = "r.grade", "min(r.grade_rank)"
		case GroupLanguage:
			exprs[i], orderBy[i] = "r.language", "min(r.language_key)"
		case GroupType:
			exprs[i], orderBy[i] = "r.type", "r.type"
		case GroupCustom:
			if g.Key == nil || strings.TrimSpace(*g.Key) == "" {
				return nil, apperr.Invalid(fmt.Sprintf("groupBy[%d].key", i), "a custom grouping needs the custom field's key")
			}
			exprs[i] = "(r.custom_fields ->> " + p.Add(strings.TrimSpace(*g.Key)) + ")"
			orderBy[i] = exprs[i]
		default:
			return nil, apperr.Invalid(fmt.Sprintf("groupBy[%d].field", i), "unknown grouping %q", g.Field)
		}
		if g.Field != GroupCustom && g.Key != nil {
			return nil, apperr.Invalid(fmt.Sprintf("groupBy[%d].key", i), "key goes with CUSTOM only")
		}
	}
	group := strings.Join(exprs, ", ")
	sql := "SELECT " + group + ", count(*) FROM recipients AS r WHERE " + where +
		" GROUP BY " + group + " ORDER BY " + strings.Join(orderBy, ", ") + " NULLS LAST LIMIT " + p.Add(maxGroups)
	rows, err := s.db.DB.DB.QueryContext(ctx, sql, p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("count recipients by group: %w", err)
	}
	defer rows.Close()
	var out []GroupCount
	for rows.Next() {
		gc := GroupCount{Values: make([]*string, len(groupBy))}
		dest := make([]any, 0, len(groupBy)+1)
		for i := range gc.Values {
			dest = append(dest, &gc.Values[i])
		}
		dest = append(dest, &gc.Count)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("count recipients by group: %w", err)
		}
		out = append(out, gc)
	}
	return out, rows.Err()
}
