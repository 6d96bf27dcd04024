// Package model holds the GraphQL-only types: generated inputs and payloads,
// and the connections, whose totalCount is computed lazily.
package model

import (
	"context"

	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/lists"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// Counter computes a connection's total only when a client asks for it.
type Counter func(ctx context.Context) (int, error)

// Connection is a page of nodes, as every *Connection type of the schema
// is: nodes, page info, edges and totalCount. Edges are built only when a
// query asks for them: most clients read nodes, and an edge's cursor for
// every node cost a tenth of a page.
type Connection[T any] struct {
	Nodes    []T
	PageInfo PageInfo
	count    Counter
	cursor   func(T) string
}

// Edge is a node with its cursor.
type Edge[T any] struct {
	Cursor string
	Node   *T
}

// NewConnection returns page p, whose nodes' cursors cursor gives, counted
// by count when asked.
func NewConnection[T any](p page.Page[T], cursor func(T) string, count Counter) *Connection[T] {
	c := &Connection[T]{Nodes: p.Items, PageInfo: PageInfo{HasNextPage: p.HasNext, HasPreviousPage: p.HasPrevious},
		count: count, cursor: cursor}
	if c.Nodes == nil {
		c.Nodes = []T{}
	}
	if n := len(c.Nodes); n > 0 {
		start, end := cursor(c.Nodes[0]), cursor(c.Nodes[n-1])
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &start, &end
	}
	return c
}

// Edges builds the edges of the page's nodes.
func (c *Connection[T]) Edges() []Edge[T] {
	out := make([]Edge[T], len(c.Nodes))
	for i := range c.Nodes {
		out[i] = Edge[T]{Cursor: c.cursor(c.Nodes[i]), Node: &c.Nodes[i]}
	}
	return out
}

// TotalCount counts every node of the connection, across pages.
func (c *Connection[T]) TotalCount(ctx context.Context) (int, error) { return c.count(ctx) }

// The schema's connections and edges. gqlgen binds a schema type to a Go
// type by name and cannot name an instance of a generic type itself, so
// each is an alias.
type (
	UserConnection           = Connection[users.User]
	UserEdge                 = Edge[users.User]
	ImportConnection         = Connection[imports.Import]
	ImportEdge               = Edge[imports.Import]
	ImportRunConnection      = Connection[imports.Run]
	ImportRunEdge            = Edge[imports.Run]
	ImportRunErrorConnection = Connection[imports.RunError]
	ImportRunErrorEdge       = Edge[imports.RunError]
	RecipientConnection      = Connection[recipients.Recipient]
	RecipientEdge            = Edge[recipients.Recipient]
	ListConnection           = Connection[lists.List]
	ListEdge                 = Edge[lists.List]
	ContactPointConnection   = Connection[recipients.ContactPoint]
	ContactPointEdge         = Edge[recipients.ContactPoint]
	AuditEntryConnection     = Connection[audit.Entry]
	AuditEntryEdge           = Edge[audit.Entry]
)
