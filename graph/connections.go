package graph

import (
	"github.com/rollcall/rollcall/graph/model"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

func userCursor(u users.User) string           { return page.EncodeCursor(u.ID) }
func runCursor(r imports.Run) string           { return page.EncodeCursor(r.ID) }
func runErrorCursor(e imports.RunError) string { return page.EncodeCursor(e.Seq) }

// connection answers a paged field: the page first and after ask for, read
// by list, with cursors from cursor and a totalCount from count when asked.
func connection[T any](first *int, after *string, list func(page.Request) (page.Page[T], error), cursor func(T) string, count model.Counter) (*model.Connection[T], error) {
	req, err := page.New(first, after)
	if err != nil {
		return nil, err
	}
	p, err := list(req)
	if err != nil {
		return nil, err
	}
	return model.NewConnection(p, cursor, count), nil
}

func orderOr(o *recipients.Order) recipients.Order {
	if o == nil {
		return recipients.OrderLastName
	}
	return *o
}
