package imports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/oneroster"
	"github.com/rollcall/rollcall/internal/page"
)

// The SQL over import_runs and the tables that hang off it
// (import_run_errors, import_run_changes, import_run_undo).

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

// GetRuns returns runs by id.
func GetRuns(ctx context.Context, idb bun.IDB, ids []int64) ([]Run, error) {
	var out []Run
	if err := idb.NewSelect().Model(&out).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get runs: %w", err)
	}
	return out, nil
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

// RecentProblemRuns returns the runs that failed or were held since, newest
// first (at most 100).
func RecentProblemRuns(ctx context.Context, idb bun.IDB, since time.Time) ([]Run, error) {
	var out []Run
	if err := idb.NewSelect().Model(&out).
		Where("status IN (?, ?)", StatusFailed, StatusHeld).Where("NOT dry_run").
		Where("coalesce(finished_at, queued_at) > ?", since).
		OrderExpr("id DESC").Limit(100).Scan(ctx); err != nil {
		return nil, fmt.Errorf("problem runs: %w", err)
	}
	return out, nil
}

// ActiveRuns returns every queued, running or held run.
func ActiveRuns(ctx context.Context, idb bun.IDB) ([]Run, error) {
	var out []Run
	if err := idb.NewSelect().Model(&out).
		Where("status IN (?, ?, ?)", StatusQueued, StatusRunning, StatusHeld).OrderExpr("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("active runs: %w", err)
	}
	return out, nil
}

// staleRuns returns the runs marked RUNNING without a heartbeat since, and
// the runs back in the queue whose job is stuck (stuckJob).
func staleRuns(ctx context.Context, idb bun.IDB, since time.Time) ([]Run, error) {
	var out []Run
	if err := idb.NewSelect().Model(&out).
		Where("status = ? AND (heartbeat_at IS NULL OR heartbeat_at < ?)", StatusRunning, since).
		WhereOr("status = ? AND job_id IN (SELECT id FROM river_job WHERE "+stuckJob+")", StatusQueued, since).
		Scan(ctx); err != nil {
		return nil, fmt.Errorf("find stalled runs: %w", err)
	}
	return out, nil
}

// stuckJob selects River jobs (river_job) left "running" since a time (the
// parameter) by a worker that stopped before River could record how the
// attempt ended: River's own rescue of such a job waits for the longest a
// run may take (RescueStuckJobsAfter, hours), while its run, put back in
// the queue by the attempt (RetryRun), would wait with it.
const stuckJob = "state = 'running' AND attempted_at < ?"

// jobStuck reports whether job jobID is stuck since (stuckJob).
func jobStuck(ctx context.Context, idb bun.IDB, jobID *int64, since time.Time) (bool, error) {
	if jobID == nil {
		return false, nil
	}
	var stuck bool
	if err := idb.NewRaw("SELECT EXISTS (SELECT FROM river_job WHERE id = ? AND "+stuckJob+")", *jobID, since).Scan(ctx, &stuck); err != nil {
		return false, fmt.Errorf("read job %d: %w", *jobID, err)
	}
	return stuck, nil
}

// takesFile selects the runs that take their file, so that no schedule or
// upload runs it again: not dry runs, nor runs the system canceled (the
// import deleted); a run an administrator canceled does, and sets its file
// aside. RunStates (attention) and fileTaken (schedules) share it.
const takesFile = "NOT dry_run AND (status <> 'CANCELED' OR canceled_by IS NOT NULL)"

// fileTaken reports whether a run has taken file fileID (takesFile).
func fileTaken(ctx context.Context, idb bun.IDB, fileID int64) (bool, error) {
	return idb.NewSelect().Model((*Run)(nil)).Where("file_id = ?", fileID).Where(takesFile).Exists(ctx)
}

// revertibleRun selects the runs whose changes are in the data: applied,
// not reverts, not reverted.
const revertibleRun = "NOT dry_run AND status IN ('SUCCEEDED', 'SUCCEEDED_WITH_ERRORS') AND trigger <> 'REVERT' AND reverted_by_run_id IS NULL"

// laterRevertible returns the id of the import's latest run after runID
// whose changes are in the data (0: none).
func laterRevertible(ctx context.Context, idb bun.IDB, importID, runID int64) (int64, error) {
	var later int64
	err := idb.NewSelect().Model((*Run)(nil)).Column("id").Where("import_id = ? AND id > ?", importID, runID).
		Where(revertibleRun).OrderExpr("id DESC").Limit(1).Scan(ctx, &later)
	return later, db.IgnoreNoRows(err)
}

// insertRun inserts run, reading back its defaults; a savepoint, so that
// losing the race on the one-active-run index (ErrActiveRun) leaves tx
// usable.
func insertRun(ctx context.Context, tx bun.Tx, run *Run) error {
	err := tx.RunInTx(ctx, nil, func(ctx context.Context, sp bun.Tx) error {
		_, err := sp.NewInsert().Model(run).Returning("*").Exec(ctx)
		return err
	})
	if db.IsUniqueViolation(err, "import_runs_one_active") {
		return errActiveRun
	}
	if err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	return nil
}

// errActiveRun: another run of the import is active.
var errActiveRun = errors.New("another run of the import is active")

// updateRun writes columns of run.
func updateRun(ctx context.Context, idb bun.IDB, run *Run, columns ...string) error {
	if _, err := idb.NewUpdate().Model(run).Column(columns...).WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("update run %d: %w", run.ID, err)
	}
	return nil
}

// setRunQueued returns a run to the queue under a new job.
func setRunQueued(ctx context.Context, idb bun.IDB, runID, jobID int64, message string) error {
	_, err := idb.NewUpdate().Model((*Run)(nil)).
		Set("status = ?", StatusQueued).Set("job_id = ?", jobID).Set("message = ?", message).
		Set("phase = NULL").Set("heartbeat_at = NULL").
		Where("id = ?", runID).Exec(ctx)
	return err
}

// setRunRetrying returns a running run to the queue for its job's next
// attempt.
func setRunRetrying(ctx context.Context, idb bun.IDB, runID int64, message string) error {
	_, err := idb.NewUpdate().Model((*Run)(nil)).
		Set("status = ?", StatusQueued).Set("phase = NULL").Set("heartbeat_at = NULL").Set("message = ?", message).
		Where("id = ? AND status = ?", runID, StatusRunning).Exec(ctx)
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

// setRunProgress records a running run's heartbeat and progress.
func setRunProgress(ctx context.Context, idb bun.IDB, runID int64, p Progress, now time.Time) error {
	_, err := idb.NewUpdate().Model((*Run)(nil)).
		Set("heartbeat_at = ?", now).Set("phase = ?", p.Phase).
		Set("rows_processed = ?", p.RowsProcessed).Set("rows_total = ?", p.RowsTotal).
		Where("id = ? AND status = ?", runID, StatusRunning).Exec(ctx)
	return err
}

// setRunOutcome writes what a run did (or, held, would do): status, counts,
// warnings, errors, sample of changes and, for an applied run that can be
// undone, its undo watermark. With again (an approved held run), the
// errors and sample recorded when it was held give way.
func setRunOutcome(ctx context.Context, tx *db.Tx, runID int64, res *apply.Result, now time.Time, again bool) error {
	c := res.Counts
	warnings := res.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	q := tx.NewUpdate().Model((*Run)(nil)).
		Set("status = ?", res.Status).Set("message = ?", res.Message).Set("warnings = ?", pgdialect.Array(warnings)).
		Set("finished_at = ?", now).Set("phase = NULL").Set("heartbeat_at = ?", now).
		Set("rows_read = ?", c.RowsRead).Set("created = ?", c.Created).Set("updated = ?", c.Updated).
		Set("unchanged = ?", c.Unchanged).Set("removed = ?", c.Removed).Set("restored = ?", c.Restored).
		Set("rejected = ?", c.Rejected).Set("rows_processed = ?", c.RowsRead)
	if res.Applied && res.UndoWatermark != nil {
		q = q.Set("undo_watermark = ?", *res.UndoWatermark)
	}
	if _, err := q.Where("id = ?", runID).Exec(ctx); err != nil {
		return fmt.Errorf("record run %d: %w", runID, err)
	}
	if again {
		if _, err := tx.NewRaw(`WITH e AS (DELETE FROM import_run_errors WHERE run_id = ?)
			DELETE FROM import_run_changes WHERE run_id = ?`, runID, runID).Exec(ctx); err != nil {
			return fmt.Errorf("replace run %d's errors and changes: %w", runID, err)
		}
	}
	if len(res.Errors) > 0 {
		src := pgx.CopyFromSlice(len(res.Errors), func(i int) ([]any, error) {
			e := res.Errors[i]
			return []any{runID, int32(i + 1), nullable(e.File), int32(e.Line), nullable(e.Column), nullable(e.Value), e.Message}, nil
		})
		if _, err := tx.CopyFrom(ctx, "import_run_errors", []string{"run_id", "seq", "file_name", "line", "column_name", "value", "message"}, src); err != nil {
			return fmt.Errorf("record run errors: %w", err)
		}
	}
	if len(res.Changes) == 0 {
		return nil
	}
	changes := make([]RunChange, len(res.Changes))
	for i, ch := range res.Changes {
		changes[i] = RunChange{RunID: runID, Seq: i + 1, Line: ch.Line, ExternalID: ch.ExternalID, Action: ch.Action,
			Field: ch.Field, OldValue: ch.OldValue, NewValue: ch.NewValue}
	}
	if _, err := tx.NewInsert().Model(&changes).Exec(ctx); err != nil {
		return fmt.Errorf("record run changes: %w", err)
	}
	return nil
}

// setRunReverted marks target reverted by revID; its undo data is spent.
func setRunReverted(ctx context.Context, idb bun.IDB, target *Run, revID int64) error {
	if _, err := idb.NewUpdate().Model(target).Set("reverted_by_run_id = ?", revID).Set("undo_watermark = NULL").
		WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("mark run %d reverted: %w", target.ID, err)
	}
	return nil
}

// pruneUndo drops the undo data of runs that finished before, and returns
// how many runs it pruned.
func pruneUndo(ctx context.Context, tx bun.Tx, before time.Time) (int, error) {
	var ids []int64
	if err := tx.NewUpdate().Model((*Run)(nil)).Set("undo_watermark = NULL").
		Where("undo_watermark IS NOT NULL AND finished_at < ?", before).
		Returning("id").Scan(ctx, &ids); err != nil && !db.IsNoRows(err) {
		return 0, fmt.Errorf("prune undo: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := tx.NewDelete().Table("import_run_undo").Where("run_id = ANY(?)", pgdialect.Array(ids)).Exec(ctx); err != nil {
		return 0, err
	}
	// The OneRoster records those runs replaced are no longer needed either.
	return len(ids), oneroster.Prune(ctx, tx, ids)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
