package imports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/importfile"
)

// QueueImports is the River queue runs execute on.
const QueueImports = "imports"

// RunArgs is the River job that executes a run.
type RunArgs struct {
	RunID int64 `json:"run_id"`
}

func (RunArgs) Kind() string { return "import_run" }

// InsertOpts: transient failures retry with River's backoff; a bad file
// does not (the worker ends those runs itself).
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueImports, MaxAttempts: 5}
}

// RunWorker executes runs.
type RunWorker struct {
	river.WorkerDefaults[RunArgs]
	svc *Service
}

// NewRunWorker returns the worker for svc's runs.
func NewRunWorker(svc *Service) *RunWorker { return &RunWorker{svc: svc} }

// Timeout fits a large file: a million rows take well under a minute here.
func (w *RunWorker) Timeout(*river.Job[RunArgs]) time.Duration { return w.svc.cfg.RunTimeout }

func (w *RunWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	return w.svc.executeRun(ctx, job.Args.RunID, job.ID, job.Attempt, job.MaxAttempts)
}

// RecoverArgs is the periodic job that recovers runs whose worker died.
type RecoverArgs struct{}

func (RecoverArgs) Kind() string { return "import_run_recover" }

// RecoverWorker recovers stalled runs.
type RecoverWorker struct {
	river.WorkerDefaults[RecoverArgs]
	svc *Service
}

// NewRecoverWorker returns the recovery worker.
func NewRecoverWorker(svc *Service) *RecoverWorker { return &RecoverWorker{svc: svc} }

func (w *RecoverWorker) Work(ctx context.Context, _ *river.Job[RecoverArgs]) error {
	_, err := w.svc.RecoverStalledRuns(ctx)
	return err
}

// executeRun runs a run's pipeline. Outcomes the file causes (failed, held,
// dry) end the job; database trouble is retried by River, with the run back
// in the queue in the meantime.
func (s *Service) executeRun(ctx context.Context, runID, jobID int64, attempt, maxAttempts int) error {
	run, imp, ok, err := s.startRun(ctx, runID, jobID)
	if err != nil || !ok {
		return err
	}
	_, err = s.process(ctx, run, imp)
	var stopped *stoppedRun
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stopped):
		return s.finishStatus(context.WithoutCancel(ctx), run.ID, StatusCanceled, stopped.message())
	case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
		return s.finishStatus(context.WithoutCancel(ctx), run.ID, StatusCanceled, "canceled while running; nothing was applied")
	}

	// Anything else is not the file's fault: a lost connection, a restart,
	// a timeout. Nothing was applied (the transaction rolled back).
	s.logger.Warn("import run attempt failed", slog.Int64("run_id", run.ID), slog.Int("attempt", attempt), slog.String("error", err.Error()))
	bg := context.WithoutCancel(ctx)
	if attempt >= maxAttempts {
		if ferr := s.finishStatus(bg, run.ID, StatusFailed, fmt.Sprintf("failed after %d attempts; nothing was applied: %v", attempt, err)); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	}
	if _, qerr := s.db.NewUpdate().Model((*Run)(nil)).
		Set("status = ?", StatusQueued).Set("phase = NULL").Set("heartbeat_at = NULL").
		Set("message = ?", fmt.Sprintf("attempt %d did not finish (%v); nothing was applied; retrying", attempt, err)).
		Where("id = ? AND status = ?", run.ID, StatusRunning).Exec(bg); qerr != nil {
		s.logger.Error("requeue import run", slog.Int64("run_id", run.ID), slog.String("error", qerr.Error()))
	}
	return err
}

// observe records a finished run in the metrics.
func (s *Service) observe(run *Run, res *applyResult, took time.Duration) {
	if s.m == nil {
		return
	}
	status := string(res.Status)
	if run.DryRun {
		status = "dry_run"
	}
	s.m.ImportRuns.WithLabelValues(status, string(run.Trigger)).Inc()
	s.m.ImportRunDuration.WithLabelValues(status).Observe(took.Seconds())
	if !res.Applied {
		return
	}
	c := res.Counts
	for outcome, n := range map[string]int{"created": c.Created, "updated": c.Updated, "unchanged": c.Unchanged,
		"removed": c.Removed, "restored": c.Restored, "rejected": c.Rejected} {
		s.m.ImportRows.WithLabelValues(outcome).Add(float64(n))
	}
}

func (s *Service) logRun(run *Run, res *applyResult) {
	attrs := []any{slog.Int64("run_id", run.ID), slog.Int64("import_id", run.ImportID),
		slog.String("status", string(res.Status)), slog.Bool("dry_run", run.DryRun), slog.String("summary", res.Message)}
	if len(res.Timings) > 0 {
		attrs = append(attrs, slog.Group("timings", anySlice(res.Timings)...))
	}
	s.logger.Info("import run finished", attrs...)
}

func anySlice(attrs []slog.Attr) []any {
	out := make([]any, len(attrs))
	for i, a := range attrs {
		out[i] = a
	}
	return out
}

// process applies a started run's file and records the outcome: with the
// changes when they apply, separately when they do not (dry run, held,
// failed). An error means the machinery failed and nothing was recorded.
func (s *Service) process(ctx context.Context, run *Run, imp *Import) (*applyResult, error) {
	file, err := GetFile(ctx, s.db, run.FileID)
	if err != nil {
		return nil, err
	}
	prog := &progress{}
	prog.phase.Store(PhaseReading)
	if file.LineCount > 1 {
		prog.total.Store(file.LineCount - 1)
	}
	stop := s.heartbeat(ctx, run.ID, prog)
	started := time.Now()
	res, err := s.applyRun(ctx, run, imp, file, prog)
	stop()
	if err != nil && errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely) {
		return nil, &stoppedRun{at: prog.snapshot()}
	}
	defer func() {
		if err == nil {
			s.observe(run, res, time.Since(started))
		}
	}()
	var rb *errRollback
	if errors.As(err, &rb) {
		if err := s.finishSeparately(context.WithoutCancel(ctx), run, rb.result); err != nil {
			return nil, err
		}
		res, err = rb.result, nil
	}
	if err == nil {
		s.logRun(run, res)
	}
	return res, err
}

// stoppedRun is a run canceled while it ran, and how far it had come.
type stoppedRun struct{ at Progress }

func (e *stoppedRun) Error() string { return e.message() }

func (e *stoppedRun) message() string {
	if e.at.Phase != PhaseReading {
		return "canceled while applying the changes; nothing was applied"
	}
	where := fmt.Sprintf("line %d", e.at.RowsProcessed)
	if e.at.RowsTotal != nil {
		where += fmt.Sprintf(" of about %d", *e.at.RowsTotal)
	}
	return fmt.Sprintf("canceled while reading the file, at %s; nothing was applied", where)
}

// startRun marks a run RUNNING for job jobID. ok is false when the run is not
// this job's to execute (canceled meanwhile, finished, or handed to another
// job by recovery).
func (s *Service) startRun(ctx context.Context, runID, jobID int64) (run *Run, imp *Import, ok bool, err error) {
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
		phase := PhaseReading
		run.Status, run.HeartbeatAt, run.Phase, run.RowsProcessed = StatusRunning, &now, &phase, 0
		run.Attempts++
		ok = true
		_, err = tx.NewUpdate().Model(run).Column("status", "started_at", "heartbeat_at", "phase", "rows_processed", "attempts").WherePK().Exec(ctx)
		return err
	})
	return run, imp, ok, err
}

// heartbeat records progress about once a second until stopped.
func (s *Service) heartbeat(ctx context.Context, runID int64, prog *progress) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.recordProgress(ctx, runID, prog.snapshot()); err != nil && ctx.Err() == nil {
					s.logger.Warn("import run heartbeat", slog.Int64("run_id", runID), slog.String("error", err.Error()))
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (s *Service) recordProgress(ctx context.Context, runID int64, p Progress) error {
	_, err := s.db.NewUpdate().Model((*Run)(nil)).
		Set("heartbeat_at = ?", s.now()).Set("phase = ?", p.Phase).
		Set("rows_processed = ?", p.RowsProcessed).Set("rows_total = ?", p.RowsTotal).
		Where("id = ? AND status = ?", runID, StatusRunning).Exec(ctx)
	return err
}

// applyRun streams the file through the pipeline of the import's kind in
// one transaction; when the changes apply, the run's outcome is recorded in
// the same transaction.
func (s *Service) applyRun(ctx context.Context, run *Run, imp *Import, file *File, prog *progress) (*applyResult, error) {
	fr, err := openFile(ctx, s.db.Pool, file.ID)
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	var res *applyResult
	err = s.db.RunInPgxTx(ctx, func(ctx context.Context, tx *db.Tx) error {
		base := runBase{
			spec:     applySpec{imp: imp, run: run, now: s.now(), approved: run.ApprovedAt != nil, limits: s.cfg.Limits},
			notes:    &importfile.Notes{},
			progress: prog,
		}
		var err error
		switch imp.Kind {
		case KindUser:
			res, err = (&userPipeline{runBase: base, tx: tx}).execute(ctx, fr)
		default:
			res, err = (&pipeline{runBase: base, tx: tx}).execute(ctx, fr)
		}
		if err != nil {
			return err
		}
		return s.recordOutcome(ctx, tx, run, res)
	})
	return res, err
}

// finishSeparately records an outcome that changed no data (dry run, held,
// failed) after its transaction rolled back.
func (s *Service) finishSeparately(ctx context.Context, run *Run, res *applyResult) error {
	return s.db.RunInPgxTx(ctx, func(ctx context.Context, tx *db.Tx) error {
		return s.recordOutcome(ctx, tx, run, res)
	})
}

// recordOutcome writes a run's status, counts, errors and sample of changes;
// for applied runs it also moves the import's Last Run.
func (s *Service) recordOutcome(ctx context.Context, tx *db.Tx, run *Run, res *applyResult) error {
	now := s.now()
	c := res.Counts
	warnings := res.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	_, err := tx.NewUpdate().Model((*Run)(nil)).
		Set("status = ?", res.Status).Set("message = ?", res.Message).Set("warnings = ?", pgdialect.Array(warnings)).
		Set("finished_at = ?", now).Set("phase = NULL").Set("heartbeat_at = ?", now).
		Set("rows_read = ?", c.RowsRead).Set("created = ?", c.Created).Set("updated = ?", c.Updated).
		Set("unchanged = ?", c.Unchanged).Set("removed = ?", c.Removed).Set("restored = ?", c.Restored).
		Set("rejected = ?", c.Rejected).Set("rows_processed = ?", c.RowsRead).
		Where("id = ?", run.ID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("record run %d: %w", run.ID, err)
	}
	if len(res.Errors) > 0 {
		src := pgx.CopyFromSlice(len(res.Errors), func(i int) ([]any, error) {
			e := res.Errors[i]
			return []any{run.ID, int32(i + 1), int32(e.Line), nullable(e.Column), nullable(e.Value), e.Message}, nil
		})
		if _, err := tx.CopyFrom(ctx, "import_run_errors", []string{"run_id", "seq", "line", "column_name", "value", "message"}, src); err != nil {
			return err
		}
	}
	for i := range res.Changes {
		res.Changes[i].RunID, res.Changes[i].Seq = run.ID, i+1
	}
	if len(res.Changes) > 0 {
		if _, err := tx.NewInsert().Model(&res.Changes).Exec(ctx); err != nil {
			return fmt.Errorf("record run changes: %w", err)
		}
	}
	if res.Applied {
		if _, err := tx.NewUpdate().Model((*Import)(nil)).Set("last_run_at = ?", now).Set("last_run_id = ?", run.ID).
			Where("id = ?", run.ImportID).Exec(ctx); err != nil {
			return fmt.Errorf("record last run: %w", err)
		}
		if res.UndoWatermark != nil {
			if _, err := tx.NewUpdate().Model((*Run)(nil)).Set("undo_watermark = ?", *res.UndoWatermark).
				Where("id = ?", run.ID).Exec(ctx); err != nil {
				return fmt.Errorf("record undo watermark: %w", err)
			}
		}
	}
	if run.DryRun || res.Status == StatusHeld {
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

func (s *Service) finishStatus(ctx context.Context, runID int64, status RunStatus, message string) error {
	return setRunFinished(ctx, s.db, runID, status, message, s.now())
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RecoverStalledRuns finds runs marked RUNNING whose heartbeat stopped and
// whose import no one is applying (its advisory lock is free): their worker
// died. Each goes back to the queue under a new job, or fails after
// MaxRunAttempts starts. The data is as it was: the dead worker's
// transaction never committed.
func (s *Service) RecoverStalledRuns(ctx context.Context) (int, error) {
	var stalled []Run
	err := s.db.NewSelect().Model(&stalled).Where("status = ?", StatusRunning).
		Where("heartbeat_at IS NULL OR heartbeat_at < ?", s.now().Add(-s.cfg.StaleAfter)).Scan(ctx)
	if err != nil {
		return 0, fmt.Errorf("find stalled runs: %w", err)
	}
	recovered := 0
	for i := range stalled {
		r := &stalled[i]
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var free bool
			if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", importLockKey(r.ImportID)).Scan(ctx, &free); err != nil {
				return err
			}
			cur, err := GetRunForUpdate(ctx, tx, r.ID)
			if err != nil {
				return err
			}
			if !free || cur.Status != StatusRunning || cur.HeartbeatAt != nil && cur.HeartbeatAt.After(s.now().Add(-s.cfg.StaleAfter)) {
				return nil // still alive after all
			}
			recovered++
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
