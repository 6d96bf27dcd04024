package schema

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	gql "github.com/vektah/gqlparser/v2/ast"

	"github.com/rollcall/rollcall/internal/apperr"
)

// loadSchema parses and validates this directory's files, as gqlgen does.
func loadSchema(t *testing.T) *gql.Schema {
	t.Helper()
	var sources []*gql.Source
	for _, name := range Order {
		data, err := files.ReadFile(name + ".graphqls")
		require.NoError(t, err)
		sources = append(sources, &gql.Source{Name: name + ".graphqls", Input: string(data)})
	}
	s, err := gqlparser.LoadSchema(sources...)
	if err != nil {
		t.Fatalf("load schema: %v", err)
	}
	return s
}

// builtIn reports whether a definition comes from GraphQL itself (the
// prelude: Int, __Schema, @deprecated …), not from Rollcall's files.
func builtIn(pos *gql.Position) bool { return pos == nil || pos.Src == nil || pos.Src.BuiltIn }

// missingDescriptions lists, as "Type.field(arg)" paths, every element
// Rollcall defines that has no description: the schema itself, types
// (scalars, enums, inputs, objects, root types), fields, arguments, input
// fields, enum values, directives and their arguments.
func missingDescriptions(s *gql.Schema) (missing []string, total int) {
	check := func(desc, path string) {
		total++
		if strings.TrimSpace(desc) == "" {
			missing = append(missing, path)
		}
	}
	check(s.Description, "schema")
	args := func(owner string, list gql.ArgumentDefinitionList) {
		for _, a := range list {
			check(a.Description, owner+"("+a.Name+")")
		}
	}
	for name, def := range s.Types {
		if builtIn(def.Position) {
			continue
		}
		check(def.Description, name)
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") || builtIn(f.Position) {
				continue // __schema and __type, which gqlparser adds to Query
			}
			check(f.Description, name+"."+f.Name)
			args(name+"."+f.Name, f.Arguments)
		}
		for _, v := range def.EnumValues {
			check(v.Description, name+"."+v.Name)
		}
	}
	for name, d := range s.Directives {
		if builtIn(d.Position) {
			continue
		}
		check(d.Description, "@"+name)
		args("@"+name, d.Arguments)
	}
	sort.Strings(missing)
	return missing, total
}

// TestEverythingIsDescribed: every type, field, argument, input field, enum
// value and directive the schema defines says what it is, for the front-end
// developers who read the schema (in GraphiQL, or schema.graphql) and
// nothing else.
func TestEverythingIsDescribed(t *testing.T) {
	t.Parallel()
	missing, total := missingDescriptions(loadSchema(t))
	if len(missing) > 0 {
		t.Errorf("%d of %d schema elements have no description (add a \"...\" or \"\"\"...\"\"\" before each):\n  %s",
			len(missing), total, strings.Join(missing, "\n  "))
	}
}

// errorCodeLine is one entry of the schema description's list of error
// codes: "- `CODE`: what it means and what to do".
var errorCodeLine = regexp.MustCompile("(?m)^- `([A-Z][A-Z0-9_]*)`: +(\\S.*)$")

// documentedCodes returns the error codes the schema's description lists,
// failing on a code listed twice.
func documentedCodes(t *testing.T, description string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, m := range errorCodeLine.FindAllStringSubmatch(description, -1) {
		require.False(t, seen[m[1]], "error code %s is listed twice in the schema description", m[1])
		seen[m[1]] = true
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

// apperrCodes returns apperr.Codes, sorted.
func apperrCodes(t *testing.T) []string {
	t.Helper()
	var codes []string
	for _, c := range apperr.Codes {
		codes = append(codes, string(c))
	}
	sort.Strings(codes)
	return codes
}

// TestErrorCodesAreDocumented: the schema's own description (the `schema`
// definition's, which introspection returns as __Schema.description) lists
// exactly the error codes internal/apperr defines, one "- `CODE`: …" line
// each, so that a client can handle every extensions.code it may receive.
func TestErrorCodesAreDocumented(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	require.NotEmpty(t, s.Description, "the schema definition (schema { query: Query … }) needs a description listing the error codes")
	defined, documented := apperrCodes(t), documentedCodes(t, s.Description)
	if missing, extra := difference(defined, documented), difference(documented, defined); len(missing)+len(extra) > 0 {
		t.Errorf("the schema description's error codes (lines \"- `CODE`: meaning\" in graph/schema/schema.graphqls) must be exactly internal/apperr's Code constants:\n"+
			"  defined in apperr but not documented: %v\n  documented but not defined in apperr: %v", missing, extra)
	}
}

// difference returns the elements of a that are not in b.
func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}
