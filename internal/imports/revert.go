package imports

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
)

// Undo of a run. An applied recipient run records:
//   - its undo watermark: the highest recipient id allocated anywhere before
//     it began. Ids come from one sequence and runs of one import never
//     overlap (the import's advisory lock), so the rows it created are
//     exactly the import's rows above the watermark, as long as every later
//     run has been reverted.
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

// Revert undoes an applied run (admins only): every recipient it created is
// deleted, and every one it changed, removed or restored is put back as it
// was, in one transaction, recorded as a run of its own (trigger REVERT)
// with counts. Only the latest applied run of an import that has not been
// reverted can be; after it, the one before it, and so on. The import's
// Last Run goes back to the run whose data is current again.
func (s *Service) Revert(ctx context.Context, runID int64) (*Run, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var rev *Run
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		target, err := GetRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		// The import's run lock first, without waiting: a run applying holds
		// it, and waiting for it while holding row locks the run needs
		// would deadlock. Then nothing else can change the recipients.
		var free bool
		if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", importLockKey(target.ImportID)).Scan(ctx, &free); err != nil {
			return fmt.Errorf("lock import: %w", err)
		}
		if !free {
			return apperr.Conflict("a run of import %d is applying: wait for it to finish, then revert", target.ImportID)
		}
		if err := s.checkNoActiveRun(ctx, tx, target.ImportID); err != nil {
			return err
		}
		if target, err = GetRunForUpdate(ctx, tx, runID); err != nil {
			return err
		}
		imp, err := getLiveImport(ctx, tx, target.ImportID, true)
		if err != nil {
			return err
		}
		if err := s.checkRevertible(ctx, tx, imp, target); err != nil {
			return err
		}
		now := s.now()
		requester := v.UserID
		rev = &Run{ImportID: imp.ID, FileID: target.FileID, Status: StatusRunning, Trigger: TriggerRevert,
			RequestedBy: &requester, QueuedAt: now, StartedAt: &now, Attempts: 1, RevertsRunID: &target.ID, Warnings: []string{}}
		// Inserted as running: the one-active-run index refuses it if a run
		// started meanwhile.
		if _, err := tx.NewInsert().Model(rev).Returning("*").Exec(ctx); err != nil {
			if isActiveRunConflict(err) {
				return apperr.Conflict("another run of import %q is active: wait for it, then revert", imp.Name)
			}
			return fmt.Errorf("insert revert run: %w", err)
		}
		c, err := undo(ctx, tx, target)
		if err != nil {
			return fmt.Errorf("revert run %d: %w", target.ID, err)
		}
		rev.Removed, rev.Updated, rev.Restored = c.Removed, c.Updated, c.Restored
		rev.Status, rev.FinishedAt = StatusSucceeded, &now
		rev.Message = fmt.Sprintf("reverted run %d: %d created rows deleted, %d updated rows put back, %d removed rows restored, %d restored rows removed again",
			target.ID, c.deleted, c.Updated, c.Restored, c.Removed-c.deleted)
		if _, err := tx.NewUpdate().Model(rev).Column("status", "finished_at", "removed", "updated", "restored", "message").
			WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("record revert run: %w", err)
		}
		if _, err := tx.NewUpdate().Model(target).Set("reverted_by_run_id = ?", rev.ID).Set("undo_watermark = NULL").
			WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("mark run %d reverted: %w", target.ID, err)
		}
		if err := restoreLastRun(ctx, tx, imp.ID); err != nil {
			return err
		}
		return s.recordRun(ctx, tx, v, audit.RunReverted, imp, target, audit.Details{
			"revertRunId": rev.ID, "deleted": c.deleted, "updated": c.Updated, "restored": c.Restored,
			"removed": c.Removed - c.deleted, "listEntriesDeleted": c.listEntries})
	})
	if err != nil {
		return nil, err
	}
	return rev, nil
}

// checkRevertible refuses runs that cannot be reverted, saying why.
func (s *Service) checkRevertible(ctx context.Context, tx bun.Tx, imp *Import, run *Run) error {
	switch {
	case imp.Kind == KindUser:
		return apperr.Conflict("runs of USER imports cannot be reverted: they change accounts, which keep no before-images")
	case run.Trigger == TriggerRevert:
		return apperr.Conflict("run %d is itself a revert (of run %d); a revert cannot be reverted", run.ID, deref64(run.RevertsRunID))
	case run.RevertedByRunID != nil:
		return apperr.Conflict("run %d was already reverted by run %d", run.ID, *run.RevertedByRunID)
	case !run.Applied():
		return apperr.Conflict("run %d changed nothing (%s%s): there is nothing to revert", run.ID, run.Status, dryWord(run.DryRun))
	}
	var later int64
	err := tx.NewSelect().Model((*Run)(nil)).Column("id").Where("import_id = ? AND id > ?", imp.ID, run.ID).
		Where(revertibleRun).OrderExpr("id DESC").Limit(1).Scan(ctx, &later)
	if err == nil {
		return apperr.Conflict("run %d applied changes after run %d: revert it first", later, run.ID).With("runId", fmt.Sprint(later))
	}
	if err := ignoreNoRows(err); err != nil {
		return err
	}
	if run.UndoWatermark == nil {
		return apperr.Conflict("run %d can no longer be reverted: its undo data is kept for %s after a run, and was pruned",
			run.ID, s.cfg.Retention)
	}
	return nil
}

// revertibleRun selects the runs whose changes are in the data: applied,
// not reverts, not reverted.
const revertibleRun = "NOT dry_run AND status IN ('SUCCEEDED', 'SUCCEEDED_WITH_ERRORS') AND trigger <> 'REVERT' AND reverted_by_run_id IS NULL"

type undoCounts struct {
	Counts
	deleted     int // created by the run, deleted (also counted in Removed)
	listEntries int // list additions and skips of those, deleted with them
}

// createdRows selects the rows a run created (import id, watermark).
const createdRows = `SELECT id FROM recipients WHERE import_id = ? AND id > ?`

// undo puts the import's recipients back as they were before run.
func undo(ctx context.Context, tx bun.Tx, run *Run) (undoCounts, error) {
	var c undoCounts
	// Hand-made list entries of the people the run created go with them:
	// counted first, for the audit log.
	if err := tx.NewRaw(`SELECT (SELECT count(*) FROM list_additions WHERE recipient_id IN (`+createdRows+`))
			+ (SELECT count(*) FROM list_exclusions WHERE recipient_id IN (`+createdRows+`))`,
		run.ImportID, *run.UndoWatermark, run.ImportID, *run.UndoWatermark).Scan(ctx, &c.listEntries); err != nil {
		return c, fmt.Errorf("count list entries: %w", err)
	}
	res, err := tx.NewRaw(`DELETE FROM recipients WHERE id IN (`+createdRows+`)`, run.ImportID, *run.UndoWatermark).Exec(ctx)
	if err != nil {
		return c, fmt.Errorf("delete created rows: %w", err)
	}
	n, _ := res.RowsAffected()
	c.deleted = int(n)
	c.Removed = c.deleted

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
		RETURNING o.removed_at IS NOT NULL AS was_removed, o.differs`, run.ID).Scan(ctx, &outcomes)
	if err := ignoreNoRows(err); err != nil {
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
		WHERE u.run_id = ? AND u.op = 'D' AND r.id = u.recipient_id AND r.removed_by_run_id = u.run_id`, run.ID).Exec(ctx)
	if err != nil {
		return c, fmt.Errorf("restore removed rows: %w", err)
	}
	n, _ = res.RowsAffected()
	c.Restored = int(n)

	if _, err := tx.NewDelete().Table("import_run_undo").Where("run_id = ?", run.ID).Exec(ctx); err != nil {
		return c, fmt.Errorf("drop undo data: %w", err)
	}
	return c, nil
}

// restoreLastRun points the import's Last Run at the latest run whose
// changes are in the data (none: never run).
func restoreLastRun(ctx context.Context, tx bun.Tx, importID int64) error {
	_, err := tx.NewRaw(`UPDATE imports SET (last_run_id, last_run_at) = (
			SELECT id, finished_at FROM import_runs
			WHERE import_id = ? AND `+revertibleRun+` ORDER BY id DESC LIMIT 1)
		WHERE id = ?`, importID, importID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("move last run back: %w", err)
	}
	return nil
}

func deref64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func dryWord(dry bool) string {
	if dry {
		return ", dry run"
	}
	return ""
}

func isActiveRunConflict(err error) bool { return db.IsUniqueViolation(err, "import_runs_one_active") }
