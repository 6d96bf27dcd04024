package recipients

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// What deleting and restoring an import does to its recipients. A delete
// that removes them marks them removed at the delete's time, with no run:
// that is how a restore tells them from those runs removed.

// CountActiveOf counts import importID's recipients that are not removed.
func CountActiveOf(ctx context.Context, idb bun.IDB, importID int64) (int, error) {
	var n int
	err := idb.NewRaw("SELECT count(*) FROM recipients WHERE import_id = ? AND removed_at IS NULL", importID).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("count recipients of import %d: %w", importID, err)
	}
	return n, nil
}

// RemoveAllOf marks import importID's active recipients removed at at,
// and returns how many.
func RemoveAllOf(ctx context.Context, idb bun.IDB, importID int64, at time.Time) (int, error) {
	res, err := idb.NewUpdate().Table("recipients").Set("removed_at = ?", at).
		Where("import_id = ? AND removed_at IS NULL", importID).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("remove recipients of import %d: %w", importID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RestoreAllOf makes active again the recipients of import importID that
// RemoveAllOf removed at removedAt, and returns how many.
func RestoreAllOf(ctx context.Context, idb bun.IDB, importID int64, removedAt time.Time) (int, error) {
	res, err := idb.NewUpdate().Table("recipients").Set("removed_at = NULL").
		Where("import_id = ? AND removed_at = ? AND removed_by_run_id IS NULL", importID, removedAt).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("restore recipients of import %d: %w", importID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
