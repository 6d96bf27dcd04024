package recipients

import (
	"fmt"
	"strconv"
	"strings"
)

// DescribeFilter reads a filter back as a sentence:
// `grade = 5 and school is one of Lincoln, Adams`.
func DescribeFilter(f *Filter) string {
	if f == nil {
		return "nobody (only people added by hand)"
	}
	var parts []string
	if f.All != nil && *f.All {
		parts = append(parts, "everyone")
	}
	for _, t := range []struct {
		name string
		f    *StringFilter
	}{{"external id", f.ExternalID}, {"first name", f.FirstName}, {"last name", f.LastName}} {
		parts = append(parts, describeText(t.name, t.f)...)
	}
	if f.Type != nil {
		parts = append(parts, describeType(f.Type)...)
	}
	if f.Grade != nil {
		parts = append(parts, describeGrade(f.Grade)...)
	}
	for _, t := range []struct {
		name string
		f    *StringFilter
	}{{"school", f.School}, {"language", f.Language}, {"email", f.Email}, {"phone", f.Phone}, {"class", f.Class}} {
		parts = append(parts, describeText(t.name, t.f)...)
	}
	if f.ImportID != nil {
		parts = append(parts, describeIDs(f.ImportID)...)
	}
	for i := range f.CustomFields {
		parts = append(parts, describeCustom(&f.CustomFields[i])...)
	}
	for i := range f.And {
		parts = append(parts, group(DescribeFilter(&f.And[i]), " or "))
	}
	if len(f.Or) > 0 {
		subs := make([]string, len(f.Or))
		for i := range f.Or {
			subs[i] = group(DescribeFilter(&f.Or[i]), " and ")
		}
		parts = append(parts, strings.Join(subs, " or "))
	}
	if f.Not != nil {
		parts = append(parts, "not ("+DescribeFilter(f.Not)+")")
	}
	if len(parts) > 1 {
		for i, p := range parts {
			parts[i] = group(p, " or ")
		}
	}
	return strings.Join(parts, " and ")
}

// group parenthesizes s if it contains sep (outside parentheses), so that
// and/or read unambiguously.
func group(s, sep string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth == 0 && strings.HasPrefix(s[i:], sep) {
			return "(" + s + ")"
		}
	}
	return s
}

func oneOf(vs []string) string { return strings.Join(vs, ", ") }

func describeText(name string, f *StringFilter) []string {
	if f == nil {
		return nil
	}
	var out []string
	if f.Eq != nil {
		out = append(out, name+" = "+*f.Eq)
	}
	if f.Neq != nil {
		out = append(out, name+" is not "+*f.Neq)
	}
	if f.In != nil {
		out = append(out, name+" is one of "+oneOf(f.In))
	}
	if f.Nin != nil {
		out = append(out, name+" is none of "+oneOf(f.Nin))
	}
	if f.StartsWith != nil {
		out = append(out, fmt.Sprintf("%s starts with %q", name, *f.StartsWith))
	}
	if f.Contains != nil {
		out = append(out, fmt.Sprintf("%s contains %q", name, *f.Contains))
	}
	if f.IsNull != nil {
		if *f.IsNull {
			out = append(out, name+" is empty")
		} else {
			out = append(out, name+" is not empty")
		}
	}
	return out
}

func describeType(f *TypeFilter) []string {
	names := func(ts []Type) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = strings.ToLower(string(t))
		}
		return oneOf(s)
	}
	var out []string
	if f.Eq != nil {
		out = append(out, "type = "+strings.ToLower(string(*f.Eq)))
	}
	if f.Neq != nil {
		out = append(out, "type is not "+strings.ToLower(string(*f.Neq)))
	}
	if f.In != nil {
		out = append(out, "type is one of "+names(f.In))
	}
	if f.Nin != nil {
		out = append(out, "type is none of "+names(f.Nin))
	}
	return out
}

func describeGrade(f *GradeFilter) []string {
	out := describeText("grade", &StringFilter{Eq: f.Eq, Neq: f.Neq, In: f.In, Nin: f.Nin, IsNull: f.IsNull})
	for _, c := range []struct {
		word string
		v    *string
	}{{"above", f.Gt}, {"at least", f.Gte}, {"below", f.Lt}, {"at most", f.Lte}} {
		if c.v != nil {
			out = append(out, "grade "+c.word+" "+*c.v)
		}
	}
	return out
}

func describeIDs(f *IDFilter) []string {
	ids := func(vs []int64) string {
		s := make([]string, len(vs))
		for i, v := range vs {
			s[i] = strconv.FormatInt(v, 10)
		}
		return oneOf(s)
	}
	var out []string
	if f.Eq != nil {
		out = append(out, fmt.Sprintf("import = %d", *f.Eq))
	}
	if f.Neq != nil {
		out = append(out, fmt.Sprintf("import is not %d", *f.Neq))
	}
	if f.In != nil {
		out = append(out, "import is one of "+ids(f.In))
	}
	if f.Nin != nil {
		out = append(out, "import is none of "+ids(f.Nin))
	}
	if f.IsNull != nil {
		if *f.IsNull {
			out = append(out, "detached from any import")
		} else {
			out = append(out, "from an import")
		}
	}
	return out
}

func describeCustom(f *CustomFieldFilter) []string {
	name := strconv.Quote(f.Key)
	out := describeText(name, &StringFilter{Eq: f.Eq, Neq: f.Neq, In: f.In, Nin: f.Nin, StartsWith: f.StartsWith, Contains: f.Contains, IsNull: f.IsNull})
	for _, c := range []struct {
		word string
		v    *string
	}{{">", f.Gt}, {">=", f.Gte}, {"<", f.Lt}, {"<=", f.Lte}} {
		if c.v != nil {
			out = append(out, name+" "+c.word+" "+*c.v)
		}
	}
	return out
}
