// Package model holds the GraphQL-only types: generated inputs and payloads,
// and the hand-written connections whose totalCount is computed lazily.
package model

import (
	"context"

	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/lists"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// Counter computes a connection's total only when a client asks for it.
type Counter func(ctx context.Context) (int, error)

// Connect builds a connection's edges, nodes and page info from a page.
func Connect[T, E any](p page.Page[T], cursor func(T) string, edge func(cursor string, node T) E) ([]E, []T, PageInfo) {
	edges := make([]E, len(p.Items))
	info := PageInfo{HasNextPage: p.HasNext, HasPreviousPage: p.HasPrevious}
	for i, item := range p.Items {
		c := cursor(item)
		edges[i] = edge(c, item)
		if i == 0 {
			info.StartCursor = &c
		}
		if i == len(p.Items)-1 {
			info.EndCursor = &c
		}
	}
	nodes := p.Items
	if nodes == nil {
		nodes = []T{}
	}
	return edges, nodes, info
}

// UserConnection is a page of users.
type UserConnection struct {
	Edges    []UserEdge
	Nodes    []users.User
	PageInfo PageInfo
	Count    Counter
}

func (c *UserConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type UserEdge struct {
	Cursor string
	Node   users.User
}

// ImportConnection is a page of imports.
type ImportConnection struct {
	Edges    []ImportEdge
	Nodes    []imports.Import
	PageInfo PageInfo
	Count    Counter
}

func (c *ImportConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ImportEdge struct {
	Cursor string
	Node   imports.Import
}

// ImportRunConnection is a page of runs.
type ImportRunConnection struct {
	Edges    []ImportRunEdge
	Nodes    []imports.Run
	PageInfo PageInfo
	Count    Counter
}

func (c *ImportRunConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ImportRunEdge struct {
	Cursor string
	Node   imports.Run
}

// ImportRunErrorConnection is a page of a run's errors.
type ImportRunErrorConnection struct {
	Edges    []ImportRunErrorEdge
	Nodes    []imports.RunError
	PageInfo PageInfo
	Count    Counter
}

func (c *ImportRunErrorConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ImportRunErrorEdge struct {
	Cursor string
	Node   imports.RunError
}

// RecipientConnection is a page of recipients.
type RecipientConnection struct {
	Edges    []RecipientEdge
	Nodes    []recipients.Recipient
	PageInfo PageInfo
	Count    Counter
}

func (c *RecipientConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type RecipientEdge struct {
	Cursor string
	Node   recipients.Recipient
}

// ListConnection is a page of lists.
type ListConnection struct {
	Edges    []ListEdge
	Nodes    []lists.List
	PageInfo PageInfo
	Count    Counter
}

func (c *ListConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ListEdge struct {
	Cursor string
	Node   lists.List
}

// ContactPointConnection is a page of a list's contact points.
type ContactPointConnection struct {
	Edges    []ContactPointEdge
	Nodes    []lists.ContactPoint
	PageInfo PageInfo
	Count    Counter
}

func (c *ContactPointConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

type ContactPointEdge struct {
	Cursor string
	Node   lists.ContactPoint
}
