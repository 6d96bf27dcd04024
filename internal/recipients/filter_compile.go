package recipients

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/fold"
)

// Where is compiled SQL: a boolean expression over the recipients table
// (alias r) with numbered parameters. Values are only ever parameters, never
// SQL text; fields and operators come from a fixed list.
type Where struct {
	SQL  string
	Args []any
}

// Params numbers a query's parameters as conditions are compiled into it,
// so that several filters (a list's, the viewer's restriction) can share
// one statement.
type Params struct{ Args []any }

// QueryArgs are the arguments to run the statement with. They start with
// pgx's QueryExecModeCacheDescribe, which pgx reads as an option (through
// database/sql too): the statement is planned with its values every time,
// rather than prepared once and later run on a generic plan blind to
// them. One filter's SQL serves a school of 40 people and one of 4,000,
// whose best plans differ (a walk in name order versus an index range).
func (p *Params) QueryArgs() []any {
	return append([]any{pgx.QueryExecModeCacheDescribe}, p.Args...)
}

// Add appends v and returns its placeholder.
func (p *Params) Add(v any) string {
	p.Args = append(p.Args, v)
	return "$" + strconv.Itoa(len(p.Args))
}

// compileFilter turns f into SQL with its values as parameters of p. field
// names the input in errors.
func compileFilter(field string, f *Filter, p *Params) (string, error) {
	if f == nil {
		return "", invalid(field, "a filter is required; to select everyone say {all: true}")
	}
	c := &compiler{p: p}
	return c.filter(field, f, 0)
}

type compiler struct {
	p            *Params
	validateOnly bool
	conditions   int
}

func (c *compiler) arg(v any) string {
	if c.validateOnly {
		return "$0"
	}
	return c.p.Add(v)
}

func (c *compiler) count(field string) error {
	c.conditions++
	if c.conditions > MaxFilterConditions {
		return invalid(field, "the filter has more than %d conditions", MaxFilterConditions)
	}
	return nil
}

func (c *compiler) filter(field string, f *Filter, depth int) (string, error) {
	if depth > MaxFilterDepth {
		return "", invalid(field, "the filter nests more than %d levels", MaxFilterDepth)
	}
	var parts []string
	add := func(s string, err error) error {
		if err != nil {
			return err
		}
		parts = append(parts, s)
		return nil
	}
	if f.All != nil {
		if !*f.All {
			return "", invalid(field+".all", "all can only be true (it selects everyone)")
		}
		if err := add("TRUE", c.count(field+".all")); err != nil {
			return "", err
		}
	}
	for _, group := range []struct {
		name string
		list []Filter
	}{{"and", f.And}, {"or", f.Or}} {
		name, list := group.name, group.list
		if list == nil {
			continue
		}
		if len(list) == 0 {
			return "", invalid(field+"."+name, "%s needs at least one filter", name)
		}
		subs := make([]string, len(list))
		for i := range list {
			s, err := c.filter(fmt.Sprintf("%s.%s[%d]", field, name, i), &list[i], depth+1)
			if err != nil {
				return "", err
			}
			subs[i] = "(" + s + ")"
		}
		join := " AND "
		if name == "or" {
			join = " OR "
		}
		parts = append(parts, unit(subs, join))
	}
	if f.Not != nil {
		s, err := c.filter(field+".not", f.Not, depth+1)
		if err != nil {
			return "", err
		}
		// IS NOT TRUE, not NOT: a condition on a missing value (no school)
		// is unknown in SQL, and "not school = X" must include them.
		parts = append(parts, "("+s+") IS NOT TRUE")
	}
	text := []struct {
		name string
		f    *StringFilter
		col  string
		// key is the column's folded form (fold.Key, stored by imports),
		// compared with folded values: "" when matching is exact.
		key string
	}{
		{"externalId", f.ExternalID, "r.external_id", ""},
		{"firstName", f.FirstName, "r.first_name", "r.first_name_key"},
		{"lastName", f.LastName, "r.last_name", "r.last_name_key"},
		{"school", f.School, "r.school", "r.school_key"},
		{"language", f.Language, "r.language", "r.language_key"},
	}
	for _, t := range text {
		if t.f != nil {
			if err := add(c.column(field+"."+t.name, t.f, t.col, t.key)); err != nil {
				return "", err
			}
		}
	}
	if f.Type != nil {
		if err := add(c.typeFilter(field+".type", f.Type)); err != nil {
			return "", err
		}
	}
	if f.Grade != nil {
		if err := add(c.grade(field+".grade", f.Grade)); err != nil {
			return "", err
		}
	}
	if f.ImportID != nil {
		if err := add(c.importID(field+".importId", f.ImportID)); err != nil {
			return "", err
		}
	}
	if f.Email != nil {
		if err := add(c.contacts(field+".email", f.Email, "r.emails", "address", normalizeEmailFilter)); err != nil {
			return "", err
		}
	}
	if f.Phone != nil {
		if err := add(c.contacts(field+".phone", f.Phone, "r.phones", "number", normalizePhoneFilter)); err != nil {
			return "", err
		}
	}
	if f.Class != nil {
		if err := add(c.class(field+".class", f.Class)); err != nil {
			return "", err
		}
	}
	for i := range f.CustomFields {
		if err := add(c.custom(fmt.Sprintf("%s.customFields[%d]", field, i), &f.CustomFields[i])); err != nil {
			return "", err
		}
	}
	if len(parts) == 0 {
		return "", invalid(field, "the filter has no conditions; to select everyone say {all: true}")
	}
	return unit(parts, " AND "), nil
}

// unit joins conditions with op as one parenthesised unit. Everything the
// compiler returns is a unit, so that no caller's AND or OR can bind into
// it: an or-group beside a sibling field once compiled to "A OR B AND C",
// widening a restriction.
func unit(conds []string, op string) string {
	return "(" + strings.Join(conds, op) + ")"
}

// ops collects one field filter's conditions (and-ed), refusing a filter
// without any.
type ops struct {
	c     *compiler
	field string
	parts []string
	err   error
}

func (o *ops) add(op, sql string) {
	if o.err == nil {
		o.err = o.c.count(o.field + "." + op)
	}
	o.parts = append(o.parts, sql)
}

func (o *ops) fail(op, format string, args ...any) {
	if o.err == nil {
		o.err = invalid(o.field+"."+op, format, args...)
	}
}

func (o *ops) done() (string, error) {
	if o.err != nil {
		return "", o.err
	}
	if len(o.parts) == 0 {
		return "", invalid(o.field, "no condition: give an operator (a null value is not one; use isNull)")
	}
	return unit(o.parts, " AND "), nil
}

func (o *ops) text(op, v string) bool {
	if len(v) > MaxFilterText {
		o.fail(op, "the value is longer than %d characters", MaxFilterText)
		return false
	}
	if strings.IndexByte(v, 0) >= 0 { // PostgreSQL text cannot hold it
		o.fail(op, "the value contains a NUL character (U+0000)")
		return false
	}
	return true
}

// list checks a list's length, and its texts (if any) as text does.
func (o *ops) list(op string, n int, texts ...string) bool {
	for _, v := range texts {
		if !o.text(op, v) {
			return false
		}
	}
	switch {
	case n == 0:
		o.fail(op, "%s needs at least one value", op)
	case n > MaxFilterValues:
		o.fail(op, "%s has more than %d values", op, MaxFilterValues)
	default:
		return true
	}
	return false
}

// isOneOf is "expr is one of vs": a plain equality for one value, so that
// the planner can walk an index on expr in order (it cannot with = ANY,
// even of one value: grade 5 at some schools, by name, walks
// recipients_grade_name_idx).
func isOneOf[T any](c *compiler, expr string, vs []T) string {
	if len(vs) == 1 {
		return expr + " = " + c.arg(vs[0])
	}
	return expr + " = ANY(" + c.arg(vs) + ")"
}

// foldAll folds every value (fold.Key).
func foldAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fold.Key(v)
	}
	return out
}

// column compiles a text filter on a column (empty text counts as null).
// key, when set, is the column's stored folded form: every operator then
// compares folded text, and ignores case. Otherwise every operator is exact.
func (c *compiler) column(field string, f *StringFilter, col, key string) (string, error) {
	o := &ops{c: c, field: field}
	expr, norm, norms := col, func(s string) string { return s }, func(vs []string) []string { return vs }
	if key != "" {
		expr, norm, norms = key, fold.Key, foldAll
	}
	// Empty text counts as null, so no value equals "" (eq "" matches
	// nobody, neq "" everybody) and a LIKE must not match it: '' LIKE '%'
	// is true. The checks are on the values, leaving the indexed
	// equalities as they are.
	nonEmpty := func(vs []string) []string {
		out := make([]string, 0, len(vs))
		for _, v := range vs {
			if v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	oneOf := func(vs []string, none string) string {
		if vs = nonEmpty(vs); len(vs) == 0 {
			return none
		}
		return isOneOf(c, expr, vs)
	}
	if f.Eq != nil && o.text("eq", *f.Eq) {
		o.add("eq", oneOf([]string{norm(*f.Eq)}, "FALSE"))
	}
	if f.Neq != nil && o.text("neq", *f.Neq) {
		if v := norm(*f.Neq); v == "" {
			o.add("neq", "TRUE")
		} else {
			o.add("neq", expr+" IS DISTINCT FROM "+c.arg(v))
		}
	}
	if f.In != nil && o.list("in", len(f.In), f.In...) {
		o.add("in", oneOf(norms(f.In), "FALSE"))
	}
	if f.Nin != nil && o.list("nin", len(f.Nin), f.Nin...) {
		if vs := nonEmpty(norms(f.Nin)); len(vs) == 0 {
			o.add("nin", "TRUE")
		} else {
			o.add("nin", "("+col+" IS NULL OR NOT ("+expr+" = ANY("+c.arg(vs)+")))")
		}
	}
	if f.StartsWith != nil && o.text("startsWith", *f.StartsWith) {
		o.add("startsWith", "("+expr+" LIKE "+c.arg(db.EscapeLike(norm(*f.StartsWith))+"%")+" AND "+expr+" <> '')")
	}
	if f.Contains != nil && o.text("contains", *f.Contains) {
		o.add("contains", "("+expr+" LIKE "+c.arg("%"+db.EscapeLike(norm(*f.Contains))+"%")+" AND "+expr+" <> '')")
	}
	if f.IsNull != nil {
		if *f.IsNull {
			o.add("isNull", "("+col+" IS NULL OR "+col+" = '')")
		} else {
			o.add("isNull", "("+col+" IS NOT NULL AND "+col+" <> '')")
		}
	}
	return o.done()
}

func (c *compiler) typeFilter(field string, f *TypeFilter) (string, error) {
	o := &ops{c: c, field: field}
	check := func(op string, ts ...Type) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			if !t.IsValid() {
				o.fail(op, "unknown recipient type %q", t)
			}
			out[i] = string(t)
		}
		return out
	}
	if f.Eq != nil {
		o.add("eq", "r.type = "+c.arg(check("eq", *f.Eq)[0]))
	}
	if f.Neq != nil {
		o.add("neq", "r.type <> "+c.arg(check("neq", *f.Neq)[0]))
	}
	if f.In != nil && o.list("in", len(f.In)) {
		o.add("in", "r.type = ANY("+c.arg(check("in", f.In...))+")")
	}
	if f.Nin != nil && o.list("nin", len(f.Nin)) {
		o.add("nin", "NOT (r.type = ANY("+c.arg(check("nin", f.Nin...))+"))")
	}
	return o.done()
}

func (c *compiler) importID(field string, f *IDFilter) (string, error) {
	o := &ops{c: c, field: field}
	if f.Eq != nil {
		o.add("eq", "r.import_id = "+c.arg(*f.Eq))
	}
	// Detached recipients have no import: they are "not import X".
	if f.Neq != nil {
		o.add("neq", "r.import_id IS DISTINCT FROM "+c.arg(*f.Neq))
	}
	if f.In != nil && o.list("in", len(f.In)) {
		o.add("in", "r.import_id = ANY("+c.arg(f.In)+")")
	}
	if f.Nin != nil && o.list("nin", len(f.Nin)) {
		o.add("nin", "(r.import_id IS NULL OR NOT (r.import_id = ANY("+c.arg(f.Nin)+")))")
	}
	if f.IsNull != nil {
		if *f.IsNull {
			o.add("isNull", "r.import_id IS NULL")
		} else {
			o.add("isNull", "r.import_id IS NOT NULL")
		}
	}
	return o.done()
}

// grade compiles a grade filter: grades on the PK–12 scale compare by rank,
// others (UG, Adult) by their text.
func (c *compiler) grade(field string, f *GradeFilter) (string, error) {
	o := &ops{c: c, field: field}
	rank := func(op, v string) (int16, bool) {
		_, r, ok := NormalizeGrade(v)
		if !ok {
			o.fail(op, "%q is not a grade between PK and 12, so it has no order", v)
		}
		return r, ok
	}
	split := func(vs []string) (ranks []int16, other []string) {
		for _, v := range vs {
			g, r, ok := NormalizeGrade(v)
			if ok {
				ranks = append(ranks, r)
			} else {
				other = append(other, g)
			}
		}
		return ranks, other
	}
	match := func(vs []string) string {
		ranks, other := split(vs)
		var alt []string
		if len(ranks) > 0 {
			alt = append(alt, isOneOf(c, "r.grade_rank", ranks))
		}
		if len(other) > 0 {
			// Grades outside PK–12 are stored as NormalizeGrade writes
			// them (upper-cased in Go), as other is.
			alt = append(alt, "(r.grade_rank IS NULL AND r.grade = ANY("+c.arg(other)+"))")
		}
		return strings.Join(alt, " OR ")
	}
	if f.Eq != nil && o.text("eq", *f.Eq) {
		o.add("eq", "("+match([]string{*f.Eq})+")")
	}
	if f.Neq != nil && o.text("neq", *f.Neq) {
		o.add("neq", "("+match([]string{*f.Neq})+") IS NOT TRUE")
	}
	if f.In != nil && o.list("in", len(f.In), f.In...) {
		o.add("in", "("+match(f.In)+")")
	}
	if f.Nin != nil && o.list("nin", len(f.Nin), f.Nin...) {
		o.add("nin", "("+match(f.Nin)+") IS NOT TRUE")
	}
	for _, cmp := range []struct {
		op, sql string
		v       *string
	}{{"gt", ">", f.Gt}, {"gte", ">=", f.Gte}, {"lt", "<", f.Lt}, {"lte", "<=", f.Lte}} {
		if cmp.v != nil {
			if r, ok := rank(cmp.op, *cmp.v); ok {
				o.add(cmp.op, "r.grade_rank "+cmp.sql+" "+c.arg(r))
			}
		}
	}
	if f.IsNull != nil {
		if *f.IsNull {
			o.add("isNull", "r.grade IS NULL")
		} else {
			o.add("isNull", "r.grade IS NOT NULL")
		}
	}
	return o.done()
}

func normalizeEmailFilter(v string) (string, bool) { return NormalizeEmail(v) }
func normalizePhoneFilter(v string) (string, bool) { return NormalizePhone(v) }

// contacts compiles a filter on phones or emails: it matches when any of the
// recipient's numbers or addresses does. Equality uses containment (which an
// index can serve); values are normalized as imports store them.
func (c *compiler) contacts(field string, f *StringFilter, col, key string, normalize func(string) (string, bool)) (string, error) {
	o := &ops{c: c, field: field}
	norm := func(op, v string) string {
		n, ok := normalize(v)
		if !ok {
			o.fail(op, "%q is not a valid %s", v, map[string]string{"address": "email address", "number": "phone number"}[key])
		}
		return n
	}
	contains := func(v string) string {
		b, _ := json.Marshal([]map[string]string{{key: v}})
		return col + " @> " + c.arg(string(b)) + "::jsonb"
	}
	any := func(cond string) string {
		return "EXISTS (SELECT 1 FROM jsonb_array_elements(" + col + ") AS x WHERE " + cond + ")"
	}
	if f.Eq != nil {
		o.add("eq", contains(norm("eq", *f.Eq)))
	}
	if f.Neq != nil {
		o.add("neq", "NOT "+contains(norm("neq", *f.Neq)))
	}
	normAll := func(op string, vs []string) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = norm(op, v)
		}
		return out
	}
	if f.In != nil && o.list("in", len(f.In)) {
		o.add("in", any("x->>'"+key+"' = ANY("+c.arg(normAll("in", f.In))+")"))
	}
	if f.Nin != nil && o.list("nin", len(f.Nin)) {
		o.add("nin", "NOT "+any("x->>'"+key+"' = ANY("+c.arg(normAll("nin", f.Nin))+")"))
	}
	// Stored addresses and numbers are folded already (NormalizeEmail,
	// NormalizePhone): the text looked for is folded the same way.
	if f.StartsWith != nil && o.text("startsWith", *f.StartsWith) {
		o.add("startsWith", any("x->>'"+key+"' LIKE "+c.arg(db.EscapeLike(fold.Key(*f.StartsWith))+"%")))
	}
	if f.Contains != nil && o.text("contains", *f.Contains) {
		o.add("contains", any("x->>'"+key+"' LIKE "+c.arg("%"+db.EscapeLike(fold.Key(*f.Contains))+"%")))
	}
	if f.IsNull != nil {
		if *f.IsNull {
			o.add("isNull", "jsonb_array_length("+col+") = 0")
		} else {
			o.add("isNull", "jsonb_array_length("+col+") > 0")
		}
	}
	return o.done()
}

func (c *compiler) custom(field string, f *CustomFieldFilter) (string, error) {
	o := &ops{c: c, field: field}
	key := strings.TrimSpace(f.Key)
	if key == "" {
		return "", invalid(field+".key", "key is required: the name of the custom field")
	}
	if !o.text("key", key) {
		return o.done()
	}
	value := func() string { return "(r.custom_fields ->> " + c.arg(key) + ")" }
	// startsWith and contains ignore case: they read the stored folded
	// values (custom_fields_key). The other operators are exact.
	folded := func() string { return "(r.custom_fields_key ->> " + c.arg(key) + ")" }
	if f.Eq != nil && o.text("eq", *f.Eq) {
		b, _ := json.Marshal(map[string]string{key: *f.Eq})
		o.add("eq", "r.custom_fields @> "+c.arg(string(b))+"::jsonb")
	}
	if f.Neq != nil && o.text("neq", *f.Neq) {
		o.add("neq", value()+" IS DISTINCT FROM "+c.arg(*f.Neq))
	}
	if f.In != nil && o.list("in", len(f.In), f.In...) {
		o.add("in", value()+" = ANY("+c.arg(f.In)+")")
	}
	if f.Nin != nil && o.list("nin", len(f.Nin), f.Nin...) {
		v := value()
		o.add("nin", "("+v+" IS NULL OR NOT ("+v+" = ANY("+c.arg(f.Nin)+")))")
	}
	// Text order is byte order (COLLATE "C"), the same in every database
	// whatever its locale, and Go's order of strings.
	for _, cmp := range []struct {
		op, sql string
		v       *string
	}{{"gt", ">", f.Gt}, {"gte", ">=", f.Gte}, {"lt", "<", f.Lt}, {"lte", "<=", f.Lte}} {
		if cmp.v != nil && o.text(cmp.op, *cmp.v) {
			o.add(cmp.op, value()+` COLLATE "C" `+cmp.sql+" "+c.arg(*cmp.v))
		}
	}
	if f.StartsWith != nil && o.text("startsWith", *f.StartsWith) {
		o.add("startsWith", folded()+" LIKE "+c.arg(db.EscapeLike(fold.Key(*f.StartsWith))+"%"))
	}
	if f.Contains != nil && o.text("contains", *f.Contains) {
		o.add("contains", folded()+" LIKE "+c.arg("%"+db.EscapeLike(fold.Key(*f.Contains))+"%"))
	}
	if f.IsNull != nil {
		if *f.IsNull {
			o.add("isNull", "NOT jsonb_exists(r.custom_fields, "+c.arg(key)+")")
		} else {
			o.add("isNull", "jsonb_exists(r.custom_fields, "+c.arg(key)+")")
		}
	}
	return o.done()
}

// class compiles a filter on the classes a recipient is enrolled in (a
// OneRoster import's current enrollments and classes, links.go): it
// matches when one of their classes' names (sourcedId, classCode, title,
// stored folded in the class record's match) does, ignoring case; neq and
// nin when none does, people without classes included.
func (c *compiler) class(field string, f *StringFilter) (string, error) {
	o := &ops{c: c, field: field}
	// enrolled is "enrolled in a class whose names satisfy cond (over
	// cl.match)": a semi-join from the matching classes to their
	// enrollments to recipients, by import and external id, which the
	// indexes of migration 0012 serve.
	enrolled := func(cond string) string {
		return `(r.import_id, r.external_id) IN (SELECT e.import_id, e.data->>'userSourcedId'
			FROM oneroster_records AS cl
			JOIN oneroster_records AS e ON e.import_id = cl.import_id AND e.entity = 'enrollments' AND e.to_run IS NULL
				AND e.data->>'classSourcedId' = cl.sourced_id
			WHERE cl.entity = 'classes' AND cl.to_run IS NULL AND ` + cond + `)`
	}
	none := func(cond string) string { return "(" + enrolled(cond) + ") IS NOT TRUE" }
	nonEmpty := func(vs []string) []string {
		out := make([]string, 0, len(vs))
		for _, v := range vs {
			if v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	if f.Eq != nil && o.text("eq", *f.Eq) {
		if v := fold.Key(*f.Eq); v == "" {
			o.add("eq", "FALSE")
		} else {
			o.add("eq", enrolled("cl.match && "+c.arg([]string{v})))
		}
	}
	if f.Neq != nil && o.text("neq", *f.Neq) {
		if v := fold.Key(*f.Neq); v == "" {
			o.add("neq", "TRUE")
		} else {
			o.add("neq", none("cl.match && "+c.arg([]string{v})))
		}
	}
	if f.In != nil && o.list("in", len(f.In), f.In...) {
		if vs := nonEmpty(foldAll(f.In)); len(vs) == 0 {
			o.add("in", "FALSE")
		} else {
			o.add("in", enrolled("cl.match && "+c.arg(vs)))
		}
	}
	if f.Nin != nil && o.list("nin", len(f.Nin), f.Nin...) {
		if vs := nonEmpty(foldAll(f.Nin)); len(vs) == 0 {
			o.add("nin", "TRUE")
		} else {
			o.add("nin", none("cl.match && "+c.arg(vs)))
		}
	}
	like := func(pattern string) string {
		return "EXISTS (SELECT FROM unnest(cl.match) AS m WHERE m LIKE " + c.arg(pattern) + ")"
	}
	if f.StartsWith != nil && o.text("startsWith", *f.StartsWith) {
		o.add("startsWith", enrolled(like(db.EscapeLike(fold.Key(*f.StartsWith))+"%")))
	}
	if f.Contains != nil && o.text("contains", *f.Contains) {
		o.add("contains", enrolled(like("%"+db.EscapeLike(fold.Key(*f.Contains))+"%")))
	}
	if f.IsNull != nil {
		if *f.IsNull {
			o.add("isNull", none("TRUE"))
		} else {
			o.add("isNull", enrolled("TRUE"))
		}
	}
	return o.done()
}
