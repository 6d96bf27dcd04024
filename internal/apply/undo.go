package apply

import (
	"context"
	"fmt"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/oneroster"
	"github.com/uptrace/bun"
)

// Undo of a run. An applied recipient run records:
//   - its undo watermark: the highest recipient id allocated anywhere before
//     it began. Ids come from one sequence and runs of one import never
//     overlap (the import's run lock), so the rows it created are exactly
//     the import's rows above the watermark, as long as every later run has
//     been reverted.
//   - a before-image in import_run_undo of every row it updated or restored
//     (all the columns it overwrote) or removed (only updated_at: the rest a
//     removal leaves as it was).
//
// That is less than copying the rows a run touched, and nothing at all for
// a first load, however large.

// undoWatermarkSQL reads the highest recipient id allocated so far (0 if
// none). Sequences are not transactional: the value is what any session
// has taken, committed or not, which is what the watermark needs.
const undoWatermarkSQL = `SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('recipients', 'id')::regclass), 0)`

// UndoCounts is what an undo did.
type UndoCounts struct {
	Counts
	Deleted     int // created by the run, deleted (also counted in Removed)
	ListEntries int // list additions and skips of those, deleted with them
}

// createdRows selects the rows a run created (import id, watermark).
const createdRows = `SELECT id FROM recipients WHERE import_id = ? AND id > ?`

// Undo puts import importID's recipients back as they were before its run
// runID, which recorded watermark (see the package's notes on undo): in
// tx, which must hold the import's run lock (TryLock).
func Undo(ctx context.Context, tx bun.Tx, importID, runID, watermark int64) (UndoCounts, error) {
	var c UndoCounts
	// Hand-made list entries of the people the run created go with them:
	// counted first, for the audit log.
	if err := tx.NewRaw(`SELECT (SELECT count(*) FROM list_additions WHERE recipient_id IN (`+createdRows+`))
			+ (SELECT count(*) FROM list_exclusions WHERE recipient_id IN (`+createdRows+`))`,
		importID, watermark, importID, watermark).Scan(ctx, &c.ListEntries); err != nil {
		return c, fmt.Errorf("count list entries: %w", err)
	}
	res, err := tx.NewRaw(`DELETE FROM recipients WHERE id IN (`+createdRows+`)`, importID, watermark).Exec(ctx)
	if err != nil {
		return c, fmt.Errorf("delete created rows: %w", err)
	}
	n, _ := res.RowsAffected()
	c.Deleted = int(n)
	c.Removed = c.Deleted

	// Updated and restored rows take back every column the run wrote. A
	// row the run restored is removed again; one whose values the run did
	// not change (only its file text) counts as neither.
	var outcomes []struct {
		WasRemoved bool `bun:"was_removed"`
		Differs    bool `bun:"differs"`
	}
	err = tx.NewRaw(`WITH old AS (
			SELECT u.*, (u.type, u.first_name, u.last_name, u.grade, u.grade_rank, u.school, u.language,
				u.phones, u.emails, u.custom_fields) IS DISTINCT FROM (r.type, r.first_name, r.last_name, r.grade,
				r.grade_rank, r.school, r.language, r.phones, r.emails, r.custom_fields) AS differs
			FROM import_run_undo AS u JOIN recipients AS r ON r.id = u.recipient_id
			WHERE u.run_id = ? AND u.op = 'U')
		UPDATE recipients AS r SET
			type = o.type, first_name = o.first_name, last_name = o.last_name, grade = o.grade,
			grade_rank = o.grade_rank, school = o.school, language = o.language, phones = o.phones,
			emails = o.emails, custom_fields = o.custom_fields, row_hash = o.row_hash,
			first_name_key = o.first_name_key, last_name_key = o.last_name_key, school_key = o.school_key,
			language_key = o.language_key, custom_fields_key = o.custom_fields_key,
			updated_at = o.updated_at, removed_at = o.removed_at, removed_by_run_id = o.removed_by_run_id
		FROM old AS o WHERE r.id = o.recipient_id
		RETURNING o.removed_at IS NOT NULL AS was_removed, o.differs`, runID).Scan(ctx, &outcomes)
	if err := db.IgnoreNoRows(err); err != nil {
		return c, fmt.Errorf("put back updated rows: %w", err)
	}
	for _, o := range outcomes {
		switch {
		case o.WasRemoved:
			c.Removed++
		case o.Differs:
			c.Updated++
		}
	}

	res, err = tx.NewRaw(`UPDATE recipients AS r SET removed_at = NULL, removed_by_run_id = NULL, updated_at = u.updated_at
		FROM import_run_undo AS u
		WHERE u.run_id = ? AND u.op = 'D' AND r.id = u.recipient_id AND r.removed_by_run_id = u.run_id`, runID).Exec(ctx)
	if err != nil {
		return c, fmt.Errorf("restore removed rows: %w", err)
	}
	n, _ = res.RowsAffected()
	c.Restored = int(n)

	if _, err := tx.NewDelete().Table("import_run_undo").Where("run_id = ?", runID).Exec(ctx); err != nil {
		return c, fmt.Errorf("drop undo data: %w", err)
	}
	// A OneRoster import's records (guardian links, schools) as they were.
	if err := oneroster.Undo(ctx, tx, importID, runID); err != nil {
		return c, err
	}
	return c, nil
}
