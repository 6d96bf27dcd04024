package imports

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/page"
)

// The SQL over imports.

// GetImport returns the import with id.
func GetImport(ctx context.Context, idb bun.IDB, id int64) (*Import, error) {
	return getImport(ctx, idb, id, "")
}

// getImport returns the import with id, locked FOR lock unless lock is "".
func getImport(ctx context.Context, idb bun.IDB, id int64, lock string) (*Import, error) {
	imp := new(Import)
	q := idb.NewSelect().Model(imp).Where("id = ?", id)
	if lock != "" {
		q = q.For(lock)
	}
	err := q.Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("import", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get import %d: %w", id, err)
	}
	return imp, nil
}

// getLiveImport returns an import that is not deleted, locked with lock. A
// deleted import takes no files, runs or changes until it is restored.
//
// The lock is FOR NO KEY UPDATE: it serializes the actions that change an
// import (and an upload's UPDATE of its file date) without waiting for a
// run that is applying, whose foreign-key checks hold KEY SHARE locks on
// the import row for the length of its transaction.
func getLiveImport(ctx context.Context, idb bun.IDB, id int64, lock bool) (*Import, error) {
	mode := ""
	if lock {
		mode = "NO KEY UPDATE"
	}
	imp, err := getImport(ctx, idb, id, mode)
	if err != nil {
		return nil, err
	}
	if imp.Deleted() {
		return nil, apperr.Conflict("import %q is deleted: restore it first (restoreImport)", imp.Name).With("importId", fmt.Sprint(id))
	}
	return imp, nil
}

// lockImportIf returns import id locked, skipping it (nil) when another
// transaction holds it or it no longer matches where.
func lockImportIf(ctx context.Context, tx bun.Tx, id int64, where string, args ...any) (*Import, error) {
	imp := new(Import)
	err := tx.NewSelect().Model(imp).Where("id = ?", id).Where(where, args...).For("UPDATE SKIP LOCKED").Scan(ctx)
	if db.IsNoRows(err) {
		return nil, nil
	}
	return imp, err
}

// GetImports returns imports by id (missing ids skipped).
func GetImports(ctx context.Context, idb bun.IDB, ids []int64) ([]Import, error) {
	var out []Import
	if err := idb.NewSelect().Model(&out).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get imports: %w", err)
	}
	return out, nil
}

// importCursor orders imports by name, then id.
type importCursor struct {
	Name string `json:"n"`
	ID   int64  `json:"i"`
}

// ImportsAfter returns whether an import comes after req's cursor in
// ListImports' order (every import, without a cursor).
func ImportsAfter(req page.Request) (func(Import) bool, error) {
	var c importCursor
	if err := req.Cursor(&c); err != nil || !req.HasCursor() {
		return func(Import) bool { return true }, err
	}
	return func(imp Import) bool {
		n := strings.ToLower(strings.TrimSpace(imp.Name))
		return n > c.Name || n == c.Name && imp.ID > c.ID
	}, nil
}

// ImportCursor is the cursor of imp in ListImports.
func ImportCursor(imp Import) string {
	return page.EncodeCursor(importCursor{Name: strings.ToLower(strings.TrimSpace(imp.Name)), ID: imp.ID})
}

// byName is the order imports are listed in.
const byName = "lower(btrim(name)), id"

// ListImports returns a page of imports ordered by name; deleted ones only
// with includeDeleted.
func ListImports(ctx context.Context, idb bun.IDB, req page.Request, includeDeleted bool) (page.Page[Import], error) {
	var c importCursor
	if err := req.Cursor(&c); err != nil {
		return page.Page[Import]{}, err
	}
	var out []Import
	q := liveUnless(idb.NewSelect().Model(&out), includeDeleted).OrderExpr(byName).Limit(req.Limit())
	if req.HasCursor() {
		q = q.Where("(lower(btrim(name)), id) > (?, ?)", c.Name, c.ID)
	}
	if err := q.Scan(ctx); err != nil {
		return page.Page[Import]{}, fmt.Errorf("list imports: %w", err)
	}
	return page.Trim(req, out), nil
}

// CountImports counts imports; deleted ones only with includeDeleted.
func CountImports(ctx context.Context, idb bun.IDB, includeDeleted bool) (int, error) {
	n, err := liveUnless(idb.NewSelect().Model((*Import)(nil)), includeDeleted).Count(ctx)
	return int(n), err
}

func liveUnless(q *bun.SelectQuery, includeDeleted bool) *bun.SelectQuery {
	if includeDeleted {
		return q
	}
	return q.Where("deleted_at IS NULL")
}

// LiveImports returns up to limit imports that are not deleted, by name.
func LiveImports(ctx context.Context, idb bun.IDB, limit int64) ([]Import, error) {
	var out []Import
	if err := idb.NewSelect().Model(&out).Where("deleted_at IS NULL").OrderExpr(byName).Limit(limit).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list imports: %w", err)
	}
	return out, nil
}

// importIDs returns the ids of the imports matching where, in order.
func importIDs(ctx context.Context, idb bun.IDB, order, where string, args ...any) ([]int64, error) {
	var ids []int64
	if err := idb.NewSelect().Model((*Import)(nil)).Column("id").Where(where, args...).OrderExpr(order).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("imports: %w", err)
	}
	return ids, nil
}

// insertImport inserts imp, reading back its defaults.
func insertImport(ctx context.Context, idb bun.IDB, imp *Import) error {
	_, err := idb.NewInsert().Model(imp).Returning("*").Exec(ctx)
	if db.IsUniqueViolation(err, "imports_name_key") {
		return apperr.Conflict("an import named %q already exists", imp.Name).With("field", "input.name")
	}
	if err != nil {
		return fmt.Errorf("create import: %w", err)
	}
	return nil
}

// updateImport writes columns of imp. A name another import has is a
// conflict, nameTaken says how to put it; it names the field input.name
// when the name is among the columns written (updateImport's input), and
// no field when it is not (a restore, whose old name is now taken).
func updateImport(ctx context.Context, idb bun.IDB, imp *Import, nameTaken string, columns ...string) error {
	_, err := idb.NewUpdate().Model(imp).Column(columns...).WherePK().Exec(ctx)
	if db.IsUniqueViolation(err, "imports_name_key") {
		conflict := apperr.Conflict(nameTaken, imp.Name)
		if slices.Contains(columns, "name") {
			conflict = conflict.With("field", "input.name")
		}
		return conflict
	}
	if err != nil {
		return fmt.Errorf("update import %d: %w", imp.ID, err)
	}
	return nil
}

// setFileArrived records file fileID as the live import's latest file;
// false if the import is deleted.
func setFileArrived(ctx context.Context, idb bun.IDB, importID, fileID int64, now time.Time) (bool, error) {
	res, err := idb.NewUpdate().Model((*Import)(nil)).Set("file_date = ?", now).Set("latest_file_id = ?", fileID).
		Set("schedule_missed_at = NULL").Where("id = ? AND deleted_at IS NULL", importID).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("record file date: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// setLastRun records run as the import's Last Run.
func setLastRun(ctx context.Context, idb bun.IDB, importID, runID int64, at time.Time) error {
	if _, err := idb.NewUpdate().Model((*Import)(nil)).Set("last_run_at = ?", at).Set("last_run_id = ?", runID).
		Where("id = ?", importID).Exec(ctx); err != nil {
		return fmt.Errorf("record last run: %w", err)
	}
	return nil
}

// restoreLastRun points the import's Last Run at the latest run whose
// changes are in the data (none: never run).
func restoreLastRun(ctx context.Context, idb bun.IDB, importID int64) error {
	_, err := idb.NewRaw(`UPDATE imports SET (last_run_id, last_run_at) = (
			SELECT id, finished_at FROM import_runs
			WHERE import_id = ? AND `+revertibleRun+` ORDER BY id DESC LIMIT 1)
		WHERE id = ?`, importID, importID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("move last run back: %w", err)
	}
	return nil
}

// importDeleted reports whether import id is deleted.
func importDeleted(ctx context.Context, idb bun.IDB, id int64) (bool, error) {
	var deleted bool
	if err := idb.NewRaw("SELECT deleted_at IS NOT NULL FROM imports WHERE id = ?", id).Scan(ctx, &deleted); err != nil {
		return false, fmt.Errorf("check import %d: %w", id, err)
	}
	return deleted, nil
}

// RunState is where an import's runs stand: its last finished run (not a
// dry run, not canceled), whether a run took its latest file (takesFile)
// and whether the last to take it was canceled, and whether one is queued
// or running.
type RunState struct {
	ImportID           int64      `bun:"import_id"`
	LastStatus         *RunStatus `bun:"last_status"`
	LastRunID          *int64     `bun:"last_run_id"`
	LastStatusAt       *time.Time `bun:"last_status_at"`
	LastMessage        *string    `bun:"last_message"`
	LastTrigger        *Trigger   `bun:"last_trigger"`
	LastReverts        *int64     `bun:"last_reverts"`
	LatestTaken        bool       `bun:"latest_taken"`
	LatestCanceledRun  *int64     `bun:"latest_canceled_run"`
	LatestCanceledAt   *time.Time `bun:"latest_canceled_at"`
	HasQueuedOrRunning bool       `bun:"has_active"`
}

// RunStates reads the run state of each of the imports ids.
func RunStates(ctx context.Context, idb bun.IDB, ids []int64) ([]RunState, error) {
	var states []RunState
	err := idb.NewRaw(`SELECT i.id AS import_id,
			lr.status AS last_status, lr.id AS last_run_id, coalesce(lr.finished_at, lr.queued_at) AS last_status_at,
			lr.message AS last_message, lr.trigger AS last_trigger, lr.reverts_run_id AS last_reverts,
			lf.id IS NOT NULL AS latest_taken, CASE WHEN lf.status = 'CANCELED' THEN lf.id END AS latest_canceled_run,
			CASE WHEN lf.status = 'CANCELED' THEN lf.finished_at END AS latest_canceled_at,
			EXISTS (SELECT 1 FROM import_runs r WHERE r.import_id = i.id AND r.status IN ('QUEUED', 'RUNNING')) AS has_active
		FROM imports i
		LEFT JOIN LATERAL (SELECT r.status, r.id, r.finished_at, r.queued_at, r.message, r.trigger, r.reverts_run_id FROM import_runs r
			WHERE r.import_id = i.id AND NOT r.dry_run AND r.status NOT IN ('QUEUED', 'RUNNING', 'CANCELED')
			ORDER BY r.id DESC LIMIT 1) lr ON true
		LEFT JOIN LATERAL (SELECT r.id, r.status, r.finished_at FROM import_runs r
			WHERE r.import_id = i.id AND r.file_id = i.latest_file_id AND `+takesFile+`
			ORDER BY r.id DESC LIMIT 1) lf ON true
		WHERE i.id IN (?)`, bun.List(ids)).Scan(ctx, &states)
	if err != nil {
		return nil, fmt.Errorf("run states: %w", err)
	}
	return states, nil
}

// purgeImport deletes an import and what belongs to it only, in an order
// the foreign keys accept; they set kept recipients' and accounts'
// import_id to NULL. It returns what it deleted, for the audit log.
func purgeImport(ctx context.Context, tx bun.Tx, id int64) (audit.Details, error) {
	d := audit.Details{}
	steps := []struct {
		name, sql string
	}{
		{"", `UPDATE imports SET last_run_id = NULL, latest_file_id = NULL WHERE id = ?`},
		// The hand-made list entries of those recipients go with them (the
		// foreign keys cascade); counted for the audit log.
		{"listAdditionsDeleted", `DELETE FROM list_additions WHERE recipient_id IN
			(SELECT id FROM recipients WHERE import_id = ? AND removed_at IS NOT NULL)`},
		{"listSkipsDeleted", `DELETE FROM list_exclusions WHERE recipient_id IN
			(SELECT id FROM recipients WHERE import_id = ? AND removed_at IS NOT NULL)`},
		{"recipientsDeleted", `DELETE FROM recipients WHERE import_id = ? AND removed_at IS NOT NULL`},
		{"runsDeleted", `DELETE FROM import_runs WHERE import_id = ?`},
		{"filesDeleted", `DELETE FROM import_files WHERE import_id = ?`},
		// A OneRoster import's records (no foreign key: migration 0013).
		{"oneRosterRecordsDeleted", `DELETE FROM oneroster_records WHERE import_id = ?`},
		{"", `DELETE FROM imports WHERE id = ?`},
	}
	for _, st := range steps {
		res, err := tx.NewRaw(st.sql, id).Exec(ctx)
		if err != nil {
			return nil, err
		}
		if st.name != "" {
			d[st.name], _ = res.RowsAffected()
		}
	}
	return d, nil
}
