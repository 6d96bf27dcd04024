package recipients

import (
	"context"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/users"
)

// Service reads recipients.
type Service struct {
	db *db.DB
}

// NewService returns a Service.
func NewService(d *db.DB) *Service { return &Service{db: d} }

// Get returns a recipient (admins only, until data restrictions exist).
func (s *Service) Get(ctx context.Context, id int64) (*Recipient, error) {
	if _, err := users.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	return GetRecipient(ctx, s.db, id)
}

// ListByImport returns a page of an import's recipients.
func (s *Service) ListByImport(ctx context.Context, importID int64, includeRemoved bool, req page.Request) (page.Page[Recipient], error) {
	if _, err := users.RequireAdmin(ctx); err != nil {
		return page.Page[Recipient]{}, err
	}
	return ListByImport(ctx, s.db, importID, includeRemoved, req)
}

// CountByImport counts an import's recipients.
func (s *Service) CountByImport(ctx context.Context, importID int64, includeRemoved bool) (int, error) {
	if _, err := users.RequireAdmin(ctx); err != nil {
		return 0, err
	}
	return CountByImport(ctx, s.db, importID, includeRemoved)
}
