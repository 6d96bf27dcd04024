package graph

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestEveryFieldHasAPolicy walks the schema: every field of every object
// type has a policy (a new field fails here until it gets one), no policy
// names a field that is gone, and every field the schema marks
// @hasRole(role: SYSTEM_ADMIN) is admin only in the table too.
func TestEveryFieldHasAPolicy(t *testing.T) {
	t.Parallel()
	schema := NewExecutableSchema(Config{}).Schema()
	seen := map[string]bool{}
	var missing, mismatched []string
	for name, def := range schema.Types {
		if def.Kind != ast.Object || def.BuiltIn || len(name) >= 2 && name[:2] == "__" {
			continue
		}
		for _, f := range def.Fields {
			if len(f.Name) >= 2 && f.Name[:2] == "__" {
				continue
			}
			key := name + "." + f.Name
			seen[key] = true
			p, ok := fieldPolicies[key]
			if !ok {
				missing = append(missing, key)
				continue
			}
			if d := f.Directives.ForName("hasRole"); d != nil && p != AdminOnly {
				mismatched = append(mismatched, key+" is @hasRole(SYSTEM_ADMIN) but "+p.String())
			}
		}
	}
	var stale []string
	for key := range fieldPolicies {
		if !seen[key] {
			stale = append(stale, key)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	require.Empty(t, missing, "fields without a policy in fieldPolicies (graph/policy.go)")
	require.Empty(t, stale, "policies for fields the schema no longer has")
	require.Empty(t, mismatched)
}
