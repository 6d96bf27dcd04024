package recipients

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/page"
)

// GetRecipient returns the recipient with id.
func GetRecipient(ctx context.Context, idb bun.IDB, id int64) (*Recipient, error) {
	r := new(Recipient)
	err := idb.NewSelect().Model(r).Where("id = ?", id).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("recipient", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get recipient %d: %w", id, err)
	}
	return r, nil
}

// ExternalIDCursor is the cursor of r in ListByImport.
func ExternalIDCursor(r Recipient) string { return page.EncodeCursor(r.ExternalID) }

// ListByImport returns a page of an import's recipients ordered by external
// id (the import's unique key serves the order), removed ones included only
// when asked.
func ListByImport(ctx context.Context, idb bun.IDB, importID int64, includeRemoved bool, req page.Request) (page.Page[Recipient], error) {
	var after string
	if err := req.Cursor(&after); err != nil {
		return page.Page[Recipient]{}, err
	}
	var out []Recipient
	q := idb.NewSelect().Model(&out).Where("import_id = ?", importID).OrderExpr("external_id").Limit(req.Limit())
	if req.HasCursor() {
		q = q.Where("external_id > ?", after)
	}
	if !includeRemoved {
		q = q.Where("removed_at IS NULL")
	}
	if err := q.Scan(ctx); err != nil {
		return page.Page[Recipient]{}, fmt.Errorf("list recipients of import %d: %w", importID, err)
	}
	return page.Trim(req, out), nil
}

// CountByImport counts an import's recipients.
func CountByImport(ctx context.Context, idb bun.IDB, importID int64, includeRemoved bool) (int, error) {
	q := idb.NewSelect().Model((*Recipient)(nil)).Where("import_id = ?", importID)
	if !includeRemoved {
		q = q.Where("removed_at IS NULL")
	}
	n, err := q.Count(ctx)
	return int(n), err
}
