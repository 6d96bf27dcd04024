package imports

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/oneroster"
	"github.com/rollcall/rollcall/internal/opt"
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

// Revert undoes an applied run (admins only): every recipient it created is
// deleted, and every one it changed, removed or restored is put back as it
// was, in one transaction, recorded as a run of its own (trigger REVERT)
// with counts. Only the latest applied run of an import that has not been
// reverted can be; after it, the one before it, and so on. The import's
// Last Run goes back to the run whose data is current again.
func (s *Service) Revert(ctx context.Context, runID int64) (*Run, error) {
	var rev *Run
	err := s.inAdminTx(ctx, func(ctx context.Context, tx bun.Tx, v *authz.Viewer) error {
		target, err := GetRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		// The import's run lock first, without waiting: a run applying holds
		// it, and waiting for it while holding row locks the run needs
		// would deadlock. Then nothing else can change the recipients.
		if free, err := apply.TryLock(ctx, tx, target.ImportID); err != nil || !free {
			if err != nil {
				return err
			}
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
		if err := insertRun(ctx, tx, rev); err != nil {
			if errors.Is(err, errActiveRun) {
				return apperr.Conflict("another run of import %q is active: wait for it, then revert", imp.Name)
			}
			return err
		}
		c, err := apply.Undo(ctx, tx, target.ImportID, target.ID, *target.UndoWatermark)
		if err != nil {
			return fmt.Errorf("revert run %d: %w", target.ID, err)
		}
		rev.Removed, rev.Updated, rev.Restored = c.Removed, c.Updated, c.Restored
		rev.Status, rev.FinishedAt = StatusSucceeded, &now
		rev.Message = fmt.Sprintf("reverted run %d: %d created rows deleted, %d updated rows put back, %d removed rows restored, %d restored rows removed again",
			target.ID, c.Deleted, c.Updated, c.Restored, c.Removed-c.Deleted)
		if imp.Format == FormatOneRoster && imp.ProvisionTeacherAccounts {
			// The teachers' accounts follow the records put back.
			pc, err := oneroster.Provision(ctx, tx, imp.ID, now)
			if err != nil {
				return err
			}
			rev.Warnings = append(rev.Warnings, pc.String())
		}
		if err := updateRun(ctx, tx, rev, "status", "finished_at", "removed", "updated", "restored", "message", "warnings"); err != nil {
			return err
		}
		if err := setRunReverted(ctx, tx, target, rev.ID); err != nil {
			return err
		}
		if err := restoreLastRun(ctx, tx, imp.ID); err != nil {
			return err
		}
		return s.recordRun(ctx, tx, v, audit.RunReverted, imp, target, audit.Details{
			"revertRunId": rev.ID, "deleted": c.Deleted, "updated": c.Updated, "restored": c.Restored,
			"removed": c.Removed - c.Deleted, "listEntriesDeleted": c.ListEntries})
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
		return apperr.Conflict("run %d is itself a revert (of run %d); a revert cannot be reverted", run.ID, opt.Deref(run.RevertsRunID))
	case run.RevertedByRunID != nil:
		return apperr.Conflict("run %d was already reverted by run %d", run.ID, *run.RevertedByRunID)
	case !run.Applied():
		return apperr.Conflict("run %d changed nothing (%s%s): there is nothing to revert", run.ID, run.Status, dryWord(run.DryRun))
	}
	later, err := laterRevertible(ctx, tx, imp.ID, run.ID)
	if err != nil {
		return err
	}
	if later != 0 {
		return apperr.Conflict("run %d applied changes after run %d: revert it first", later, run.ID).With("runId", fmt.Sprint(later))
	}
	if run.UndoWatermark == nil {
		return apperr.Conflict("run %d can no longer be reverted: its undo data is kept for %s after a run, and was pruned",
			run.ID, s.cfg.Retention)
	}
	return nil
}

func dryWord(dry bool) string {
	if dry {
		return ", dry run"
	}
	return ""
}
