package imports

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/page"
)

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

// ImportCursor is the cursor of imp in ListImports.
func ImportCursor(imp Import) string {
	return page.EncodeCursor(importCursor{Name: strings.ToLower(strings.TrimSpace(imp.Name)), ID: imp.ID})
}

// ListImports returns a page of imports ordered by name; deleted ones only
// with includeDeleted.
func ListImports(ctx context.Context, idb bun.IDB, req page.Request, includeDeleted bool) (page.Page[Import], error) {
	var c importCursor
	if err := req.Cursor(&c); err != nil {
		return page.Page[Import]{}, err
	}
	var out []Import
	q := liveUnless(idb.NewSelect().Model(&out), includeDeleted).OrderExpr("lower(btrim(name)), id").Limit(req.Limit())
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

// GetFile returns the file with id.
func GetFile(ctx context.Context, idb bun.IDB, id int64) (*File, error) {
	f := new(File)
	err := idb.NewSelect().Model(f).Where("id = ?", id).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("file", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get file %d: %w", id, err)
	}
	return f, nil
}

// GetRun returns the run with id.
func GetRun(ctx context.Context, idb bun.IDB, id int64) (*Run, error) {
	return getRun(ctx, idb, id, false)
}

// GetRunForUpdate returns the run with id, locked.
func GetRunForUpdate(ctx context.Context, idb bun.IDB, id int64) (*Run, error) {
	return getRun(ctx, idb, id, true)
}

func getRun(ctx context.Context, idb bun.IDB, id int64, lock bool) (*Run, error) {
	r := new(Run)
	q := idb.NewSelect().Model(r).Where("id = ?", id)
	if lock {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if db.IsNoRows(err) {
		return nil, apperr.NotFound("import run", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, err)
	}
	return r, nil
}

// ActiveRun returns the import's queued, running or held run, if any.
func ActiveRun(ctx context.Context, idb bun.IDB, importID int64) (*Run, error) {
	r := new(Run)
	err := idb.NewSelect().Model(r).Where("import_id = ?", importID).
		Where("status IN (?)", bun.List([]RunStatus{StatusQueued, StatusRunning, StatusHeld})).Scan(ctx)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("active run of import %d: %w", importID, err)
	}
	return r, nil
}

// ListRuns returns an import's runs, newest first.
func ListRuns(ctx context.Context, idb bun.IDB, importID int64, req page.Request) (page.Page[Run], error) {
	var after int64
	if err := req.Cursor(&after); err != nil {
		return page.Page[Run]{}, err
	}
	var out []Run
	q := idb.NewSelect().Model(&out).Where("import_id = ?", importID).OrderExpr("id DESC").Limit(req.Limit())
	if req.HasCursor() {
		q = q.Where("id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return page.Page[Run]{}, fmt.Errorf("list runs: %w", err)
	}
	return page.Trim(req, out), nil
}

// CountRuns counts an import's runs.
func CountRuns(ctx context.Context, idb bun.IDB, importID int64) (int, error) {
	n, err := idb.NewSelect().Model((*Run)(nil)).Where("import_id = ?", importID).Count(ctx)
	return int(n), err
}

// ListRunErrors returns a page of a run's errors in file order.
func ListRunErrors(ctx context.Context, idb bun.IDB, runID int64, req page.Request) (page.Page[RunError], error) {
	var after int
	if err := req.Cursor(&after); err != nil {
		return page.Page[RunError]{}, err
	}
	var out []RunError
	q := idb.NewSelect().Model(&out).Where("run_id = ?", runID).OrderExpr("seq").Limit(req.Limit())
	if req.HasCursor() {
		q = q.Where("seq > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return page.Page[RunError]{}, fmt.Errorf("list run errors: %w", err)
	}
	return page.Trim(req, out), nil
}

// CountRunErrors counts a run's stored errors.
func CountRunErrors(ctx context.Context, idb bun.IDB, runID int64) (int, error) {
	n, err := idb.NewSelect().Model((*RunError)(nil)).Where("run_id = ?", runID).Count(ctx)
	return int(n), err
}

// ListRunChanges returns a run's sample of changes.
func ListRunChanges(ctx context.Context, idb bun.IDB, runID int64) ([]RunChange, error) {
	var out []RunChange
	if err := idb.NewSelect().Model(&out).Where("run_id = ?", runID).OrderExpr("seq").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list run changes: %w", err)
	}
	return out, nil
}

// CountActiveRecipients counts an import's recipients that are not removed.
func CountActiveRecipients(ctx context.Context, idb bun.IDB, importID int64) (int, error) {
	var n int
	err := idb.NewRaw("SELECT count(*) FROM recipients WHERE import_id = ? AND removed_at IS NULL", importID).Scan(ctx, &n)
	return n, err
}

// setRunQueued returns a run to the queue under a new job.
func setRunQueued(ctx context.Context, idb bun.IDB, runID, jobID int64, message string) error {
	_, err := idb.NewUpdate().Model((*Run)(nil)).
		Set("status = ?", StatusQueued).Set("job_id = ?", jobID).Set("message = ?", message).
		Set("phase = NULL").Set("heartbeat_at = NULL").
		Where("id = ?", runID).Exec(ctx)
	return err
}

// setRunFinished records a run's end without results (canceled, or failed
// outside the pipeline).
func setRunFinished(ctx context.Context, idb bun.IDB, runID int64, status RunStatus, message string, now time.Time) error {
	_, err := idb.NewUpdate().Model((*Run)(nil)).
		Set("status = ?", status).Set("message = ?", message).Set("finished_at = ?", now).
		Set("phase = NULL").
		Where("id = ?", runID).Exec(ctx)
	return err
}

// GetFiles returns files by id.
func GetFiles(ctx context.Context, idb bun.IDB, ids []int64) ([]File, error) {
	var out []File
	if err := idb.NewSelect().Model(&out).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get files: %w", err)
	}
	return out, nil
}

// GetRuns returns runs by id.
func GetRuns(ctx context.Context, idb bun.IDB, ids []int64) ([]Run, error) {
	var out []Run
	if err := idb.NewSelect().Model(&out).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get runs: %w", err)
	}
	return out, nil
}
