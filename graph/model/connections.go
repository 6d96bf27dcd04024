// Package model holds the GraphQL-only types: generated inputs and payloads,
// and the hand-written connections whose totalCount is computed lazily.
package model

import (
	"context"

	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/users"
)

// Counter computes a connection's total only when a client asks for it.
type Counter func(ctx context.Context) (int, error)

// NewPageInfo describes page p whose items have the given cursors.
func NewPageInfo[T any](p page.Page[T], cursor func(T) string) PageInfo {
	pi := PageInfo{HasNextPage: p.HasNext, HasPreviousPage: p.HasPrevious}
	if n := len(p.Items); n > 0 {
		start, end := cursor(p.Items[0]), cursor(p.Items[n-1])
		pi.StartCursor, pi.EndCursor = &start, &end
	}
	return pi
}

// UserConnection is a page of users.
type UserConnection struct {
	Edges    []UserEdge
	Nodes    []users.User
	PageInfo PageInfo
	Count    Counter
}

// TotalCount runs the count query.
func (c *UserConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

// UserEdge is a user with its cursor.
type UserEdge struct {
	Cursor string
	Node   users.User
}
