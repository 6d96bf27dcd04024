package imports

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/db"
)

// A run's life as its worker (importjobs.Runner) drives it: StartRun,
// then RecordProgress while it reads, LockForApply and apply.Run in one
// transaction with RecordOutcome, or FinishRun / RetryRun when it could
// not finish.

// StartRun marks a run RUNNING for job jobID. ok is false when the run is
// not this job's to execute (canceled meanwhile, finished, or handed to
// another job by recovery).
func (s *Service) StartRun(ctx context.Context, runID, jobID int64) (run *Run, imp *Import, ok bool, err error) {
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		run, err = GetRunForUpdate(ctx, tx, runID)
		if err != nil {
			return err
		}
		if run.JobID == nil || *run.JobID != jobID || (run.Status != StatusQueued && run.Status != StatusRunning) {
			return nil
		}
		if imp, err = GetImport(ctx, tx, run.ImportID); err != nil {
			return err
		}
		now := s.now()
		if imp.Deleted() {
			// Deletes cancel the import's runs; one that slipped through
			// never applies to a deleted import.
			return setRunFinished(ctx, tx, run.ID, StatusCanceled, "canceled: the import is deleted", now)
		}
		if run.StartedAt == nil {
			run.StartedAt = &now
		}
		phase := string(apply.PhaseReading)
		run.Status, run.HeartbeatAt, run.Phase, run.RowsProcessed = StatusRunning, &now, &phase, 0
		run.Attempts++
		ok = true
		return updateRun(ctx, tx, run, "status", "started_at", "heartbeat_at", "phase", "rows_processed", "attempts")
	})
	return run, imp, ok, err
}

// RecordProgress records a running run's heartbeat and progress.
func (s *Service) RecordProgress(ctx context.Context, runID int64, p Progress) error {
	return setRunProgress(ctx, s.db, runID, p, s.now())
}

// Spec is what run applies to imp.
func (s *Service) Spec(run *Run, imp *Import) apply.Spec {
	return apply.Spec{
		ImportID: imp.ID, ImportName: imp.Name, Users: imp.Kind == KindUser,
		RemoveAbsent: imp.Method == MethodFull, CreateOnly: imp.Method == MethodCreateOnly,
		Mapping: imp.Mapping, DefaultType: imp.DefaultRecipientType,
		RejectionThreshold: imp.RejectionThreshold, RemovalThreshold: imp.RemovalThreshold,
		HasRun: imp.LastRunID != nil, RunID: run.ID, DryRun: run.DryRun, Approved: run.ApprovedAt != nil,
		Now: s.now(), Limits: s.cfg.Limits, SegmentRows: s.cfg.SegmentRows, OneRoster: imp.Format == FormatOneRoster,
		ProvisionTeachers: imp.Format == FormatOneRoster && imp.ProvisionTeacherAccounts,
		ImportNames: func(ctx context.Context, ids []int64) (map[int64]string, error) {
			imps, err := GetImports(ctx, s.db, ids)
			names := make(map[int64]string, len(imps))
			for _, imp := range imps {
				names[imp.ID] = imp.Name
			}
			return names, err
		},
	}
}

// LockForApply takes spec's run locks for tx (apply.Lock), then checks
// that the import is still live: a delete takes the import's lock too, so
// a run that gets it after a delete ends CANCELED (*apply.Rollback).
func (s *Service) LockForApply(ctx context.Context, tx *db.Tx, spec apply.Spec) error {
	if err := apply.Lock(ctx, tx, spec); err != nil {
		return err
	}
	deleted, err := importDeleted(ctx, tx, spec.ImportID)
	if err != nil || !deleted {
		return err
	}
	return &apply.Rollback{Result: &apply.Result{Status: apply.StatusCanceled,
		Message: "canceled: the import was deleted before the run could apply"}}
}

// RecordOutcome writes a run's status, counts, errors and sample of
// changes in tx; for an applied run it also moves the import's Last Run,
// and starts the run of a file that arrived meanwhile (followUp).
func (s *Service) RecordOutcome(ctx context.Context, tx *db.Tx, run *Run, res *apply.Result) error {
	now := s.now()
	if err := setRunOutcome(ctx, tx, run.ID, res, now, run.ApprovedAt != nil); err != nil {
		return err
	}
	if res.Applied {
		if err := setLastRun(ctx, tx, run.ImportID, run.ID, now); err != nil {
			return err
		}
	}
	if run.DryRun || res.Status == apply.StatusHeld {
		return nil
	}
	return s.followUp(ctx, tx.Tx, run.ImportID)
}

// followUp starts the run of a file that arrived while another run was busy,
// for imports that apply files on arrival.
func (s *Service) followUp(ctx context.Context, tx bun.Tx, importID int64) error {
	imp, err := GetImport(ctx, tx, importID)
	if err != nil || !imp.RunOnUpload || imp.Deleted() {
		return err
	}
	waiting, err := fileWaiting(ctx, tx, imp)
	if err != nil || !waiting {
		return err
	}
	if active, err := ActiveRun(ctx, tx, importID); err != nil || active != nil {
		return err
	}
	_, err = s.enqueueRun(ctx, tx, imp, *imp.LatestFileID, TriggerUpload, false, nil)
	return err
}

// FinishRun ends a run that applied nothing (canceled, or failed outside
// the pipeline) with message.
func (s *Service) FinishRun(ctx context.Context, runID int64, status RunStatus, message string) error {
	return setRunFinished(ctx, s.db, runID, status, message, s.now())
}

// RetryRun puts a running run back in the queue for its job's next
// attempt, saying why in message.
func (s *Service) RetryRun(ctx context.Context, runID int64, message string) error {
	return setRunRetrying(ctx, s.db, runID, message)
}

// RecoverStalledRuns finds runs marked RUNNING whose heartbeat stopped and
// whose import no one is applying (its run lock is free): their worker
// died. Each goes back to the queue under a new job, fails after
// MaxRunAttempts starts, or ends CANCELED if an administrator canceled it.
// The data is as it was: the dead worker's transaction never committed.
// So does a run back in the queue whose job a stopping worker left stuck
// (staleRuns): its old job, should River ever run it again, finds the run
// handed to the new one (StartRun).
func (s *Service) RecoverStalledRuns(ctx context.Context) (int, error) {
	since := s.now().Add(-s.cfg.StaleAfter)
	stalled, err := staleRuns(ctx, s.db, since)
	if err != nil {
		return 0, err
	}
	recovered := 0
	for i := range stalled {
		r := &stalled[i]
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			free, err := apply.TryLock(ctx, tx, r.ImportID)
			if err != nil {
				return err
			}
			cur, err := GetRunForUpdate(ctx, tx, r.ID)
			if err != nil {
				return err
			}
			stale := cur.Status == StatusRunning && (cur.HeartbeatAt == nil || cur.HeartbeatAt.Before(since))
			stuck := false
			if cur.Status == StatusQueued {
				if stuck, err = jobStuck(ctx, tx, cur.JobID, since); err != nil {
					return err
				}
			}
			if !free || !stale && !stuck {
				return nil // still alive after all
			}
			if stuck {
				// River's rescue of the stuck job finds it canceled.
				if err := s.cancelJob(ctx, tx, cur); err != nil {
					return err
				}
			}
			recovered++
			if cur.CanceledBy != nil { // its job was canceled: never run again
				return setRunFinished(ctx, tx, cur.ID, StatusCanceled, "canceled while running; nothing was applied", s.now())
			}
			if cur.Attempts >= s.cfg.MaxRunAttempts {
				return setRunFinished(ctx, tx, cur.ID, StatusFailed, fmt.Sprintf(
					"the worker stopped %d times while running this file; nothing was applied", cur.Attempts), s.now())
			}
			s.logger.Warn("recovering stalled import run", slog.Int64("run_id", cur.ID), slog.Int("attempts", cur.Attempts))
			if err := setRunQueued(ctx, tx, cur.ID, 0, fmt.Sprintf(
				"the worker stopped during attempt %d; nothing was applied; retrying", cur.Attempts)); err != nil {
				return err
			}
			return s.insertJob(ctx, tx, cur)
		})
		if err != nil {
			return recovered, fmt.Errorf("recover run %d: %w", r.ID, err)
		}
	}
	return recovered, nil
}
