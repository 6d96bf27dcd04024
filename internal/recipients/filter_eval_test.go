package recipients

import (
	"fmt"
	"strings"

	"github.com/rollcall/rollcall/internal/fold"
)

// This file is an evaluator of recipient filters written from the
// documentation alone (docs/filters.md and the RecipientFilter inputs of
// schema.graphql), not from the compiler: plain loops over Go values, no
// SQL. The differential test (filter_diff_test.go) runs random filters
// through both and requires the same people; where the two disagree, the
// documentation decides which is wrong.
//
// Every condition here is two-valued: a missing value (null, or empty text,
// which counts as null) makes eq, in, startsWith, contains and the grade
// and custom-field comparisons false, and neq, nin and not are the plain
// negation of eq, in and the group (SQL's IS NOT TRUE), so "not at
// Lincoln" includes the people with no school.

// evalRecipient is a recipient as an import stores it.
type evalRecipient struct {
	ID         int64
	ImportID   *int64 // nil: detached
	ExternalID string
	Type       Type
	FirstName  string
	LastName   string
	// Grade and GradeRank are what NormalizeGrade made of the file's
	// grade: the canonical text and, for PK–12, the rank.
	Grade     *string
	GradeRank *int16
	School    *string
	Language  *string
	Phones    []string          // E.164, as NormalizePhone writes them
	Emails    []string          // as NormalizeEmail writes them
	Custom    map[string]string // as the file had them
	Removed   bool
	// Classes are the names (sourcedId, classCode, title, as the export
	// has them) of the classes the recipient's import enrolls them in.
	Classes []string
}

// evalMatches reports whether r is selected by f, which must be valid
// (evalInvalid returns ""). Removed recipients never match.
func evalMatches(f *Filter, r *evalRecipient) bool {
	return !r.Removed && evalFilter(f, r)
}

// evalFilter evaluates one level of a filter: its conditions are and-ed.
func evalFilter(f *Filter, r *evalRecipient) bool {
	if f.All != nil && !*f.All {
		return false // invalid; never reached for valid filters
	}
	for i := range f.And {
		if !evalFilter(&f.And[i], r) {
			return false
		}
	}
	if f.Or != nil {
		any := false
		for i := range f.Or {
			if evalFilter(&f.Or[i], r) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	if f.Not != nil && evalFilter(f.Not, r) {
		return false
	}
	for _, c := range []struct {
		sf *StringFilter
		tf textField
	}{
		{f.ExternalID, externalIDField},
		{f.FirstName, foldedField(func(r *evalRecipient) *string { return &r.FirstName })},
		{f.LastName, foldedField(func(r *evalRecipient) *string { return &r.LastName })},
		{f.School, foldedField(func(r *evalRecipient) *string { return r.School })},
		{f.Language, foldedField(func(r *evalRecipient) *string { return r.Language })},
		{f.Email, emailField},
		{f.Phone, phoneField},
		{f.Class, classField},
	} {
		if c.sf != nil && !evalText(c.sf, c.tf, r) {
			return false
		}
	}
	if f.Type != nil && !evalType(f.Type, r) {
		return false
	}
	if f.Grade != nil && !evalGrade(f.Grade, r) {
		return false
	}
	if f.ImportID != nil && !evalImportID(f.ImportID, r) {
		return false
	}
	for i := range f.CustomFields {
		if !evalCustom(&f.CustomFields[i], r) {
			return false
		}
	}
	return true
}

// textField says how a StringFilter reads one field: its values (none when
// null or empty; several for email and phone, any of which may match), in
// the form compared, and how a filter's value is put in that form for the
// equality operators (eq, neq, in, nin) and for startsWith and contains.
type textField struct {
	values func(r *evalRecipient) []string
	equal  func(v string) (string, bool) // false: the value is invalid
	like   func(v string) string
}

func exact(v string) (string, bool) { return v, true }
func same(v string) string          { return v }
func folded(v string) (string, bool) {
	return fold.Key(v), true
}

// one is a single value, none when null or empty ("empty text counts as
// null").
func one(s *string) []string {
	if s == nil || *s == "" {
		return nil
	}
	return []string{*s}
}

// externalIDField: exact in every operator.
var externalIDField = textField{
	values: func(r *evalRecipient) []string { return one(&r.ExternalID) },
	equal:  exact,
	like:   same,
}

// foldedField: names, school and language ignore case, in every language:
// both sides are compared in their folded form.
func foldedField(get func(r *evalRecipient) *string) textField {
	return textField{
		values: func(r *evalRecipient) []string {
			vs := one(get(r))
			for i := range vs {
				vs[i] = fold.Key(vs[i])
			}
			return vs
		},
		equal: folded,
		like:  fold.Key,
	}
}

// emailField: any of the addresses, ignoring case; values of the equality
// operators must be addresses (normalized as imports normalize them).
var emailField = textField{
	values: func(r *evalRecipient) []string {
		var vs []string
		for _, a := range r.Emails {
			vs = append(vs, fold.Key(a))
		}
		return vs
	},
	equal: NormalizeEmail,
	like:  fold.Key,
}

// phoneField: any of the numbers; values of the equality operators are
// normalized ("(612) 555-0101" finds +16125550101). startsWith and contains
// look for the text as given (a part of a number cannot be normalized).
var phoneField = textField{
	values: func(r *evalRecipient) []string { return r.Phones },
	equal:  NormalizePhone,
	like:   same,
}

// classField: any name of any of the recipient's classes, ignoring case
// (docs/filters.md, RecipientFilter.class).
var classField = textField{
	values: func(r *evalRecipient) []string {
		var vs []string
		for _, n := range r.Classes {
			if n != "" {
				vs = append(vs, fold.Key(n))
			}
		}
		return vs
	},
	equal: folded,
	like:  fold.Key,
}

func evalText(f *StringFilter, tf textField, r *evalRecipient) bool {
	vs := tf.values(r)
	eq := func(v string) bool {
		want, _ := tf.equal(v)
		for _, x := range vs {
			if x == want {
				return true
			}
		}
		return false
	}
	in := func(list []string) bool {
		for _, v := range list {
			if eq(v) {
				return true
			}
		}
		return false
	}
	if f.Eq != nil && !eq(*f.Eq) {
		return false
	}
	if f.Neq != nil && eq(*f.Neq) {
		return false
	}
	if f.In != nil && !in(f.In) {
		return false
	}
	if f.Nin != nil && in(f.Nin) {
		return false
	}
	if f.StartsWith != nil && !anyOf(vs, func(x string) bool { return strings.HasPrefix(x, tf.like(*f.StartsWith)) }) {
		return false
	}
	if f.Contains != nil && !anyOf(vs, func(x string) bool { return strings.Contains(x, tf.like(*f.Contains)) }) {
		return false
	}
	if f.IsNull != nil && (len(vs) == 0) != *f.IsNull {
		return false
	}
	return true
}

func anyOf(vs []string, p func(string) bool) bool {
	for _, v := range vs {
		if p(v) {
			return true
		}
	}
	return false
}

func evalType(f *TypeFilter, r *evalRecipient) bool {
	in := func(ts []Type) bool {
		for _, t := range ts {
			if r.Type == t {
				return true
			}
		}
		return false
	}
	if f.Eq != nil && r.Type != *f.Eq {
		return false
	}
	if f.Neq != nil && r.Type == *f.Neq {
		return false
	}
	if f.In != nil && !in(f.In) {
		return false
	}
	if f.Nin != nil && in(f.Nin) {
		return false
	}
	return true
}

// evalGrade: grades in school order by rank ("05", "5th", "Grade 5" are
// all 5, "KG" is K, "TK" counts as PK); a grade outside that order matches
// eq and in by its (normalized) text and never a comparison.
func evalGrade(f *GradeFilter, r *evalRecipient) bool {
	hasGrade := r.Grade != nil && *r.Grade != ""
	eq := func(v string) bool {
		g, rank, ok := NormalizeGrade(v)
		if ok {
			return hasGrade && r.GradeRank != nil && *r.GradeRank == rank
		}
		return hasGrade && r.GradeRank == nil && g != "" && *r.Grade == g
	}
	in := func(vs []string) bool {
		for _, v := range vs {
			if eq(v) {
				return true
			}
		}
		return false
	}
	cmp := func(v string, ok func(have, want int16) bool) bool {
		_, rank, _ := NormalizeGrade(v)
		return hasGrade && r.GradeRank != nil && ok(*r.GradeRank, rank)
	}
	if f.Eq != nil && !eq(*f.Eq) {
		return false
	}
	if f.Neq != nil && eq(*f.Neq) {
		return false
	}
	if f.In != nil && !in(f.In) {
		return false
	}
	if f.Nin != nil && in(f.Nin) {
		return false
	}
	if f.Gt != nil && !cmp(*f.Gt, func(h, w int16) bool { return h > w }) {
		return false
	}
	if f.Gte != nil && !cmp(*f.Gte, func(h, w int16) bool { return h >= w }) {
		return false
	}
	if f.Lt != nil && !cmp(*f.Lt, func(h, w int16) bool { return h < w }) {
		return false
	}
	if f.Lte != nil && !cmp(*f.Lte, func(h, w int16) bool { return h <= w }) {
		return false
	}
	if f.IsNull != nil && !hasGrade != *f.IsNull {
		return false
	}
	return true
}

// evalImportID: null for detached recipients, whom neq and nin include.
func evalImportID(f *IDFilter, r *evalRecipient) bool {
	eq := func(id int64) bool { return r.ImportID != nil && *r.ImportID == id }
	in := func(ids []int64) bool {
		for _, id := range ids {
			if eq(id) {
				return true
			}
		}
		return false
	}
	if f.Eq != nil && !eq(*f.Eq) {
		return false
	}
	if f.Neq != nil && eq(*f.Neq) {
		return false
	}
	if f.In != nil && !in(f.In) {
		return false
	}
	if f.Nin != nil && in(f.Nin) {
		return false
	}
	if f.IsNull != nil && (r.ImportID == nil) != *f.IsNull {
		return false
	}
	return true
}

// evalCustom: exact (eq, neq, in, nin), byte order (gt, gte, lt, lte),
// ignoring case (startsWith, contains); a key the recipient lacks, or an
// empty value, is null.
func evalCustom(f *CustomFieldFilter, r *evalRecipient) bool {
	// Keys are trimmed, as imports trim the header names they come from
	// (the docs are silent; the compiler does so).
	v, has := r.Custom[strings.TrimSpace(f.Key)]
	has = has && v != ""
	eq := func(w string) bool { return has && v == w }
	in := func(ws []string) bool {
		for _, w := range ws {
			if eq(w) {
				return true
			}
		}
		return false
	}
	if f.Eq != nil && !eq(*f.Eq) {
		return false
	}
	if f.Neq != nil && eq(*f.Neq) {
		return false
	}
	if f.In != nil && !in(f.In) {
		return false
	}
	if f.Nin != nil && in(f.Nin) {
		return false
	}
	if f.Gt != nil && !(has && v > *f.Gt) {
		return false
	}
	if f.Gte != nil && !(has && v >= *f.Gte) {
		return false
	}
	if f.Lt != nil && !(has && v < *f.Lt) {
		return false
	}
	if f.Lte != nil && !(has && v <= *f.Lte) {
		return false
	}
	if f.StartsWith != nil && !(has && strings.HasPrefix(fold.Key(v), fold.Key(*f.StartsWith))) {
		return false
	}
	if f.Contains != nil && !(has && strings.Contains(fold.Key(v), fold.Key(*f.Contains))) {
		return false
	}
	if f.IsNull != nil && !has != *f.IsNull {
		return false
	}
	return true
}

// evalInvalid returns why f is invalid by the documented rules, or "" when
// it is valid: a filter must say something ({} and operators given null
// are errors, lists need a value), all can only be true, comparing a grade
// outside PK–12 is an error, email and phone values of the equality
// operators must be an address and a number, types and custom-field keys
// must be given, and the limits (depth, conditions, values, text length).
//
// long reports a value longer than MaxFilterText bytes, whose length is
// not judged (see texts).
func evalInvalid(f *Filter) (why string, long bool) {
	if f == nil {
		return "nil filter", false
	}
	v := &evalValidator{}
	v.filter(f, 0)
	return v.why, v.long
}

type evalValidator struct {
	why        string
	long       bool
	conditions int
}

func (v *evalValidator) fail(format string, args ...any) {
	if v.why == "" {
		v.why = fmt.Sprintf(format, args...)
	}
}

// filter checks one level, depth levels below the top.
func (v *evalValidator) filter(f *Filter, depth int) {
	if depth > MaxFilterDepth {
		v.fail("nests more than %d levels", MaxFilterDepth)
		return
	}
	said := false
	if f.All != nil {
		said = true
		if !*f.All {
			v.fail("all can only be true")
		}
		v.condition()
	}
	for _, group := range [][]Filter{f.And, f.Or} {
		if group == nil {
			continue
		}
		said = true
		if len(group) == 0 {
			v.fail("a group needs at least one filter")
		}
		for i := range group {
			v.filter(&group[i], depth+1)
		}
	}
	if f.Not != nil {
		said = true
		v.filter(f.Not, depth+1)
	}
	for _, c := range []struct {
		sf      *StringFilter
		email   bool
		phone   bool
		present bool
	}{
		{f.ExternalID, false, false, f.ExternalID != nil},
		{f.FirstName, false, false, f.FirstName != nil},
		{f.LastName, false, false, f.LastName != nil},
		{f.School, false, false, f.School != nil},
		{f.Language, false, false, f.Language != nil},
		{f.Email, true, false, f.Email != nil},
		{f.Phone, false, true, f.Phone != nil},
		{f.Class, false, false, f.Class != nil},
	} {
		if !c.present {
			continue
		}
		said = true
		sf := c.sf
		v.operators(sf.Eq != nil, sf.Neq != nil, sf.In != nil, sf.Nin != nil, sf.StartsWith != nil, sf.Contains != nil, sf.IsNull != nil)
		eqs := append(append(append([]string{}, ptrs(sf.Eq, sf.Neq)...), sf.In...), sf.Nin...)
		v.lists(sf.In, sf.Nin)
		v.texts(append(eqs, ptrs(sf.StartsWith, sf.Contains)...)...)
		for _, x := range eqs {
			if c.email {
				if _, ok := NormalizeEmail(x); !ok {
					v.fail("%q is not a valid email address", x)
				}
			}
			if c.phone {
				if _, ok := NormalizePhone(x); !ok {
					v.fail("%q is not a valid phone number", x)
				}
			}
		}
	}
	if t := f.Type; t != nil {
		said = true
		v.operators(t.Eq != nil, t.Neq != nil, t.In != nil, t.Nin != nil)
		v.lists(t.In, t.Nin)
		for _, x := range append(append(append([]Type{}, typePtrs(t.Eq, t.Neq)...), t.In...), t.Nin...) {
			if !x.IsValid() {
				v.fail("unknown recipient type %q", x)
			}
		}
	}
	if g := f.Grade; g != nil {
		said = true
		v.operators(g.Eq != nil, g.Neq != nil, g.In != nil, g.Nin != nil, g.Gt != nil, g.Gte != nil, g.Lt != nil, g.Lte != nil, g.IsNull != nil)
		v.lists(g.In, g.Nin)
		v.texts(append(append(append([]string{}, ptrs(g.Eq, g.Neq, g.Gt, g.Gte, g.Lt, g.Lte)...), g.In...), g.Nin...)...)
		for _, x := range ptrs(g.Gt, g.Gte, g.Lt, g.Lte) {
			if _, _, ok := NormalizeGrade(x); !ok {
				v.fail("grade %q has no order", x)
			}
		}
	}
	if id := f.ImportID; id != nil {
		said = true
		v.operators(id.Eq != nil, id.Neq != nil, id.In != nil, id.Nin != nil, id.IsNull != nil)
		v.lists(id.In, id.Nin)
	}
	if len(f.CustomFields) > 0 {
		// An empty list says nothing (the docs are silent; the compiler
		// treats it so, unlike an empty and/or, which is an error).
		said = true
		for i := range f.CustomFields {
			c := &f.CustomFields[i]
			if strings.TrimSpace(c.Key) == "" {
				v.fail("key is required")
			}
			v.texts(c.Key)
			v.operators(c.Eq != nil, c.Neq != nil, c.In != nil, c.Nin != nil, c.Gt != nil, c.Gte != nil, c.Lt != nil, c.Lte != nil,
				c.StartsWith != nil, c.Contains != nil, c.IsNull != nil)
			v.lists(c.In, c.Nin)
			v.texts(append(append(append([]string{}, ptrs(c.Eq, c.Neq, c.Gt, c.Gte, c.Lt, c.Lte, c.StartsWith, c.Contains)...), c.In...), c.Nin...)...)
		}
	}
	if !said {
		v.fail("no conditions")
	}
	if v.conditions > MaxFilterConditions {
		v.fail("more than %d conditions", MaxFilterConditions)
	}
}

// operators checks that a field's filter gives at least one operator a
// value, and counts each as a condition.
func (v *evalValidator) operators(given ...bool) {
	n := 0
	for _, g := range given {
		if g {
			n++
			v.condition()
		}
	}
	if n == 0 {
		v.fail("no operator given (a null value is not one)")
	}
}

func (v *evalValidator) condition() { v.conditions++ }

func (v *evalValidator) lists(lists ...any) {
	for _, l := range lists {
		var n int
		var isNil bool
		switch l := l.(type) {
		case []string:
			n, isNil = len(l), l == nil
		case []Type:
			n, isNil = len(l), l == nil
		case []int64:
			n, isNil = len(l), l == nil
		}
		if isNil {
			continue
		}
		if n == 0 {
			v.fail("a list needs at least one value")
		}
		if n > MaxFilterValues {
			v.fail("more than %d values", MaxFilterValues)
		}
	}
}

func (v *evalValidator) texts(vs ...string) {
	for _, s := range vs {
		// "500 characters a value" (docs/filters.md); the compiler counts
		// bytes, and not for email's and phone's equality values (which
		// normalization bounds, mostly): a known, reported difference the
		// caller tolerates when long is set.
		if len(s) > MaxFilterText {
			v.long = true
		}
		// The docs are silent, but PostgreSQL text cannot hold U+0000:
		// such a value is bad input.
		if strings.ContainsRune(s, 0) {
			v.fail("a value holds U+0000")
		}
	}
}

func ptrs(ps ...*string) []string {
	var out []string
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

func typePtrs(ps ...*Type) []Type {
	var out []Type
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}
