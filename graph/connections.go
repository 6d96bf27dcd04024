package graph

import (
	"github.com/rollcall/rollcall/graph/model"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func userCursor(u users.User) string           { return page.EncodeCursor(u.ID) }
func runCursor(r imports.Run) string           { return page.EncodeCursor(r.ID) }
func runErrorCursor(e imports.RunError) string { return page.EncodeCursor(e.Seq) }

func newUserConnection(p page.Page[users.User], count model.Counter) *model.UserConnection {
	c := &model.UserConnection{Count: count, Cursor: userCursor}
	c.Nodes, c.PageInfo = model.Connect(p, userCursor)
	return c
}

func orderOr(o *recipients.Order) recipients.Order {
	if o == nil {
		return recipients.OrderLastName
	}
	return *o
}

// recipientConnection builds a page of recipients in order o.
func recipientConnection(p page.Page[recipients.Recipient], o recipients.Order, count model.Counter) *model.RecipientConnection {
	c := &model.RecipientConnection{Count: count, Cursor: o.Cursor}
	c.Nodes, c.PageInfo = model.Connect(p, o.Cursor)
	return c
}
