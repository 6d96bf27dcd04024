package graph

import (
	"github.com/rollcall/rollcall/graph/model"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/users"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func userCursor(u users.User) string { return page.EncodeCursor(u.ID) }

func newUserConnection(p page.Page[users.User], count model.Counter) *model.UserConnection {
	c := &model.UserConnection{Nodes: p.Items, PageInfo: model.NewPageInfo(p, userCursor), Count: count}
	c.Edges = make([]model.UserEdge, len(p.Items))
	for i, u := range p.Items {
		c.Edges[i] = model.UserEdge{Cursor: userCursor(u), Node: u}
	}
	return c
}
