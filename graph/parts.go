package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/rollcall/rollcall/internal/recipients"
)

// recipientParts says which large parts of recipients the current field's
// query selects, wherever recipients appear under it: a connection's nodes
// or edges' nodes, or a preview's recipients. Unknown shapes read all.
func recipientParts(ctx context.Context) recipients.Parts {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return recipients.AllParts
	}
	op := graphql.GetOperationContext(ctx)
	var parts recipients.Parts
	var visit func(sel ast.SelectionSet, depth int)
	visit = func(sel ast.SelectionSet, depth int) {
		for _, f := range graphql.CollectFields(op, sel, nil) {
			switch f.Name {
			case "phones", "emails":
				parts |= recipients.PartContacts
			case "customFields":
				parts |= recipients.PartCustomFields
			case "nodes", "edges", "node", "recipients":
				if depth < 3 {
					visit(f.Selections, depth+1)
				}
			}
		}
	}
	visit(fc.Field.Selections, 0)
	return parts
}
