// Package model holds the GraphQL-only types: generated inputs and payloads,
// and the hand-written connections whose totalCount is computed lazily.
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

// Connect returns a page's nodes and page info. Edges are built only when a
// query asks for them (each connection's Edges method): most clients read
// nodes, and an edge's cursor for every node cost a tenth of a page.
func Connect[T any](p page.Page[T], cursor func(T) string) ([]T, PageInfo) {
	info := PageInfo{HasNextPage: p.HasNext, HasPreviousPage: p.HasPrevious}
	if n := len(p.Items); n > 0 {
		start, end := cursor(p.Items[0]), cursor(p.Items[n-1])
		info.StartCursor, info.EndCursor = &start, &end
	}
	nodes := p.Items
	if nodes == nil {
		nodes = []T{}
	}
	return nodes, info
}

// edges builds the edges of nodes.
func edges[T, E any](nodes []T, cursor func(T) string, edge func(cursor string, node *T) E) []E {
	out := make([]E, len(nodes))
	for i := range nodes {
		out[i] = edge(cursor(nodes[i]), &nodes[i])
	}
	return out
}

// UserConnection is a page of users.
type UserConnection struct {
	Nodes    []users.User
	PageInfo PageInfo
	Count    Counter
	Cursor   func(users.User) string
}

func (c *UserConnection) Edges() []UserEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *users.User) UserEdge { return UserEdge{Cursor: cur, Node: n} })
}

func (c *UserConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type UserEdge struct {
	Cursor string
	Node   *users.User
}

// ImportConnection is a page of imports.
type ImportConnection struct {
	Nodes    []imports.Import
	PageInfo PageInfo
	Count    Counter
	Cursor   func(imports.Import) string
}

func (c *ImportConnection) Edges() []ImportEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *imports.Import) ImportEdge { return ImportEdge{Cursor: cur, Node: n} })
}

func (c *ImportConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ImportEdge struct {
	Cursor string
	Node   *imports.Import
}

// ImportRunConnection is a page of runs.
type ImportRunConnection struct {
	Nodes    []imports.Run
	PageInfo PageInfo
	Count    Counter
	Cursor   func(imports.Run) string
}

func (c *ImportRunConnection) Edges() []ImportRunEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *imports.Run) ImportRunEdge { return ImportRunEdge{Cursor: cur, Node: n} })
}

func (c *ImportRunConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ImportRunEdge struct {
	Cursor string
	Node   *imports.Run
}

// ImportRunErrorConnection is a page of a run's errors.
type ImportRunErrorConnection struct {
	Nodes    []imports.RunError
	PageInfo PageInfo
	Count    Counter
	Cursor   func(imports.RunError) string
}

func (c *ImportRunErrorConnection) Edges() []ImportRunErrorEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *imports.RunError) ImportRunErrorEdge {
		return ImportRunErrorEdge{Cursor: cur, Node: n}
	})
}

func (c *ImportRunErrorConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ImportRunErrorEdge struct {
	Cursor string
	Node   *imports.RunError
}

// RecipientConnection is a page of recipients.
type RecipientConnection struct {
	Nodes    []recipients.Recipient
	PageInfo PageInfo
	Count    Counter
	Cursor   func(recipients.Recipient) string
}

func (c *RecipientConnection) Edges() []RecipientEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *recipients.Recipient) RecipientEdge { return RecipientEdge{Cursor: cur, Node: n} })
}

func (c *RecipientConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type RecipientEdge struct {
	Cursor string
	Node   *recipients.Recipient
}

// ListConnection is a page of lists.
type ListConnection struct {
	Nodes    []lists.List
	PageInfo PageInfo
	Count    Counter
	Cursor   func(lists.List) string
}

func (c *ListConnection) Edges() []ListEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *lists.List) ListEdge { return ListEdge{Cursor: cur, Node: n} })
}

func (c *ListConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ListEdge struct {
	Cursor string
	Node   *lists.List
}

// ContactPointConnection is a page of a list's contact points.
type ContactPointConnection struct {
	Nodes    []recipients.ContactPoint
	PageInfo PageInfo
	Count    Counter
	Cursor   func(recipients.ContactPoint) string
}

func (c *ContactPointConnection) Edges() []ContactPointEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *recipients.ContactPoint) ContactPointEdge {
		return ContactPointEdge{Cursor: cur, Node: n}
	})
}

func (c *ContactPointConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ContactPointEdge struct {
	Cursor string
	Node   *recipients.ContactPoint
}

// AuditEntryConnection is a page of audit log entries.
type AuditEntryConnection struct {
	Nodes    []audit.Entry
	PageInfo PageInfo
	Count    Counter
	Cursor   func(audit.Entry) string
}

func (c *AuditEntryConnection) Edges() []AuditEntryEdge {
	return edges(c.Nodes, c.Cursor, func(cur string, n *audit.Entry) AuditEntryEdge { return AuditEntryEdge{Cursor: cur, Node: n} })
}

func (c *AuditEntryConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type AuditEntryEdge struct {
	Cursor string
	Node   *audit.Entry
}
