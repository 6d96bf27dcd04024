package recipients

import (
	"errors"
	"strings"
)

// Cond is a condition over recipients: which people a read selects. It is
// a value built only by the constructors below (a filter, a list's hand
// picks, ids…) and compiled to SQL only by this package, when a read runs.
// Other packages say what they want; they never write SQL over recipients,
// so none can forget the viewer's restriction or that removed people are
// out: every read adds both itself (see Service.scope).
type Cond struct {
	compile func(p *Params) (string, error)
}

// sql compiles c into p as one parenthesised unit.
func (c Cond) sql(p *Params) (string, error) {
	if c.compile == nil {
		return "", errors.New("recipients: empty condition")
	}
	s, err := c.compile(p)
	if err != nil {
		return "", err
	}
	return "(" + s + ")", nil
}

func fixed(sql string) Cond {
	return Cond{func(*Params) (string, error) { return sql, nil }}
}

// Matching is the people filter f selects; field names f in errors.
func Matching(field string, f *Filter) Cond {
	return Cond{func(p *Params) (string, error) { return compileFilter(field, f, p) }}
}

// Everyone selects everyone (the scope still applies).
func Everyone() Cond { return fixed("TRUE") }

// Nobody selects no one.
func Nobody() Cond { return fixed("FALSE") }

// InImport is the people of import id.
func InImport(id int64) Cond {
	return Cond{func(p *Params) (string, error) { return "r.import_id = " + p.Add(id), nil }}
}

// WithIDs is the people with these ids.
func WithIDs(ids []int64) Cond {
	return Cond{func(p *Params) (string, error) { return "r.id = ANY(" + p.Add(ids) + ")", nil }}
}

// AddedTo is the people added to list listID by hand.
func AddedTo(listID int64) Cond {
	return Cond{func(p *Params) (string, error) {
		return "r.id IN (SELECT recipient_id FROM list_additions WHERE list_id = " + p.Add(listID) + ")", nil
	}}
}

// SkippedFrom is the people taken off list listID by hand.
func SkippedFrom(listID int64) Cond {
	return Cond{func(p *Params) (string, error) {
		return "r.id IN (SELECT recipient_id FROM list_exclusions WHERE list_id = " + p.Add(listID) + ")", nil
	}}
}

// And is every one of cs (everyone when cs is empty).
func And(cs ...Cond) Cond { return join(cs, " AND ", "TRUE") }

// Or is any one of cs (no one when cs is empty).
func Or(cs ...Cond) Cond { return join(cs, " OR ", "FALSE") }

// Not is everyone c does not select, those for whom c is unknown included
// (IS NOT TRUE, as a filter's not).
func Not(c Cond) Cond {
	return Cond{func(p *Params) (string, error) {
		s, err := c.sql(p)
		return s + " IS NOT TRUE", err
	}}
}

func join(cs []Cond, op, empty string) Cond {
	return Cond{func(p *Params) (string, error) {
		if len(cs) == 0 {
			return empty, nil
		}
		parts := make([]string, len(cs))
		for i, c := range cs {
			s, err := c.sql(p)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, op), nil
	}}
}
