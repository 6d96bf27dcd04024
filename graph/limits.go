package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/page"
)

// depthLimit rejects operations nested deeper than max. gqlgen has a
// complexity limit but no depth limit; this walks the operation once, after
// validation, following fragments. Introspection fields (__schema, __type)
// are not counted: their depth is bounded by the schema, and GraphiQL's own
// introspection query is deep.
type depthLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = depthLimit{}
	_ graphql.OperationContextMutator = depthLimit{}
)

func (depthLimit) ExtensionName() string                          { return "DepthLimit" }
func (depthLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if d.max <= 0 || oc.Operation == nil {
		return nil
	}
	depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, map[string]bool{})
	if depth > d.max {
		err := gqlerror.Errorf("query is nested %d levels deep, more than the limit of %d", depth, d.max)
		err.Extensions = map[string]any{"code": apperr.CodeQueryTooDeep}
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, fragments ast.FragmentDefinitionList, visiting map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		d := 0
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			d = 1 + selectionDepth(s.SelectionSet, fragments, visiting)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, fragments, visiting)
		case *ast.FragmentSpread:
			if visiting[s.Name] {
				continue // a cycle; validation rejects these anyway
			}
			if def := fragments.ForName(s.Name); def != nil {
				visiting[s.Name] = true
				d = selectionDepth(def.SelectionSet, fragments, visiting)
				delete(visiting, s.Name)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// costLimit refuses, before anything runs, an operation that could cost
// too much: one whose complexity is over maxComplexity (each field 1; a
// connection, or a list with a page size, its contents times its page size:
// see setComplexity), or that could read more than maxRows rows (the sum of
// its page sizes, each times the page sizes around it: rowsRead). Both name
// their setting, so that a client knows what it ran into and an operator
// what to change.
type costLimit struct {
	maxComplexity, maxRows int
	es                     graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension        = &costLimit{}
	_ graphql.OperationContextMutator = &costLimit{}
)

func (*costLimit) ExtensionName() string { return "CostLimit" }

func (c *costLimit) Validate(schema graphql.ExecutableSchema) error {
	c.es = schema
	return nil
}

func (c *costLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if c.maxRows > 0 {
		if rows := rowsRead(oc.Operation.SelectionSet, oc.Variables, 1, map[string]bool{}); rows > c.maxRows {
			return costError(fmt.Sprintf("the query could read %d rows, more than the limit of %d rows per request (ROLLCALL_MAX_ROWS): "+
				"ask for smaller pages (first) or fewer of them", rows, c.maxRows), "ROLLCALL_MAX_ROWS", rows, c.maxRows)
		}
	}
	if c.maxComplexity > 0 {
		if n := complexity.Calculate(ctx, c.es, oc.Operation, oc.Variables); n > c.maxComplexity {
			return costError(fmt.Sprintf("the query has complexity %d, more than the limit of %d (ROLLCALL_MAX_COMPLEXITY): "+
				"each field counts 1, and a connection its contents times its page size", n, c.maxComplexity), "ROLLCALL_MAX_COMPLEXITY", n, c.maxComplexity)
		}
	}
	return nil
}

func costError(msg, limit string, value, max int) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	err.Extensions = map[string]any{"code": apperr.CodeComplexityLimit, "limit": limit, "value": value, "max": max}
	return err
}

// rowsRead is how many rows set could read, as the sum over its paged
// fields of their page size times mult (the page sizes of the fields around
// them multiplied). Other fields read a bounded number of rows per parent
// and are not counted. Fragments count where they are spread.
func rowsRead(set ast.SelectionSet, vars map[string]any, mult int, visiting map[string]bool) int {
	rows := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") || s.Definition == nil {
				continue
			}
			inner := mult
			if n, ok := fieldPageSize(s, vars); ok {
				inner = saturatingMul(mult, n)
				rows = saturatingAdd(rows, inner)
			}
			rows = saturatingAdd(rows, rowsRead(s.SelectionSet, vars, inner, visiting))
		case *ast.InlineFragment:
			rows = saturatingAdd(rows, rowsRead(s.SelectionSet, vars, mult, visiting))
		case *ast.FragmentSpread:
			if visiting[s.Name] || s.Definition == nil {
				continue // a cycle; validation rejects these anyway
			}
			visiting[s.Name] = true
			rows = saturatingAdd(rows, rowsRead(s.Definition.SelectionSet, vars, mult, visiting))
			delete(visiting, s.Name)
		}
	}
	return rows
}

// isPaged reports whether a field returns pages: a connection, or a list
// with a page size (a `first` argument). schema_cost_test.go checks that
// every connection field takes `first` and has a complexity function.
func isPaged(f *ast.FieldDefinition) bool {
	return f.Arguments.ForName("first") != nil || strings.HasSuffix(f.Type.Name(), "Connection")
}

// fieldPageSize is the page size of a paged field as the operation asks for
// it (its `first`, or the argument's default), with the resolvers' rules: a
// null `first` means page.DefaultFirst, and a page over page.MaxFirst is
// refused by the resolver, so it counts as page.MaxFirst here.
func fieldPageSize(f *ast.Field, vars map[string]any) (int, bool) {
	if !isPaged(f.Definition) {
		return 0, false
	}
	v, ok := f.ArgumentMap(vars)["first"]
	if !ok || v == nil {
		return page.DefaultFirst, true
	}
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case float64:
		n = int64(x)
	case json.Number:
		n, _ = x.Int64()
	default:
		return page.DefaultFirst, true
	}
	return pageSizeOf(n), true
}

// pageSizeOf clamps a requested page size to what a resolver would serve.
func pageSizeOf(first int64) int {
	switch {
	case first < 0:
		return 0
	case first > page.MaxFirst:
		return page.MaxFirst
	}
	return int(first)
}

const costCeiling = math.MaxInt32

func saturatingMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > costCeiling/b {
		return costCeiling
	}
	return a * b
}

func saturatingAdd(a, b int) int {
	if a > costCeiling-b {
		return costCeiling
	}
	return a + b
}
