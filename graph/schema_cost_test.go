package graph

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestEveryPagedFieldHasAComplexity walks the schema: every field that
// returns a connection, or a list with a page size, must take `first` (the
// row limit reads it) and have a complexity function that multiplies its
// contents by that page size, given or defaulted. A new paged field that
// setComplexity forgets fails here instead of costing 1.
func TestEveryPagedFieldHasAComplexity(t *testing.T) {
	t.Parallel()
	c := Config{}
	setComplexity(&c.Complexity)
	es := NewExecutableSchema(c)
	schema := es.Schema()
	ctx := context.Background()

	var paged []string
	for _, typ := range schema.Types {
		if typ.Kind != ast.Object || strings.HasPrefix(typ.Name, "__") {
			continue
		}
		for _, f := range typ.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			connection := strings.HasSuffix(f.Type.Name(), "Connection")
			first := f.Arguments.ForName("first")
			if !connection && first == nil {
				continue
			}
			name := typ.Name + "." + f.Name
			paged = append(paged, name)
			require.True(t, isPaged(f), name)
			require.NotNil(t, first, "%s returns a connection but takes no `first`: its page size cannot be counted", name)
			require.NotNil(t, first.DefaultValue, "%s: `first` needs a default page size", name)
			def, err := strconv.Atoi(first.DefaultValue.Raw)
			require.NoError(t, err, name)

			const child = 3
			for _, n := range []int{1, 7, def, 500} {
				args := requiredArgs(t, schema, f)
				args["first"] = int64(n)
				cost, ok := es.Complexity(ctx, typ.Name, f.Name, child, args)
				require.True(t, ok, "%s has no complexity function: add it to setComplexity", name)
				require.GreaterOrEqual(t, cost, n*child, "%s with first: %d must cost its page size times its contents", name, n)
			}
			// An explicit null: the resolvers' default page.
			args := requiredArgs(t, schema, f)
			args["first"] = nil
			cost, ok := es.Complexity(ctx, typ.Name, f.Name, child, args)
			require.True(t, ok, name)
			require.GreaterOrEqual(t, cost, 50*child, name)
		}
	}
	// The walk found what is there today (a guard on the walk itself).
	for _, want := range []string{"Query.users", "Query.recipients", "Query.lists", "Query.auditLog", "Query.findUsers",
		"Query.previewList", "Import.runs", "ImportRun.errors", "List.members", "List.additions", "List.exclusions", "List.contactPoints"} {
		require.Contains(t, paged, want)
	}
}

// requiredArgs returns a value for each non-null argument of f without a
// default, as a client would have to send it.
func requiredArgs(t *testing.T, schema *ast.Schema, f *ast.FieldDefinition) map[string]any {
	t.Helper()
	args := map[string]any{}
	for _, a := range f.Arguments {
		if a.Type.NonNull && a.DefaultValue == nil {
			args[a.Name] = placeholder(t, schema, a.Type)
		}
	}
	return args
}

func placeholder(t *testing.T, schema *ast.Schema, typ *ast.Type) any {
	t.Helper()
	if typ.Elem != nil {
		return []any{placeholder(t, schema, typ.Elem)}
	}
	def := schema.Types[typ.Name()]
	switch {
	case def.Kind == ast.Enum:
		return def.EnumValues[0].Name
	case def.Kind == ast.InputObject:
		obj := map[string]any{}
		for _, f := range def.Fields {
			if f.Type.NonNull && f.DefaultValue == nil {
				obj[f.Name] = placeholder(t, schema, f.Type)
			}
		}
		return obj
	case typ.Name() == "Int":
		return int64(1)
	case typ.Name() == "Boolean":
		return true
	default: // String, ID and the string scalars
		return "ab"
	}
}
