package recipients

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/db"
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
