package importjobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/filestore"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/metrics"
)

// Runner executes import runs: it takes a queued run, streams its file
// through the apply pipeline in one transaction, and records the outcome,
// reporting progress on the way.
type Runner struct {
	svc    *imports.Service
	db     *db.DB
	logger *slog.Logger
	m      *metrics.Metrics // optional
}

// NewRunner returns a Runner of svc's runs; m may be nil.
func NewRunner(svc *imports.Service, d *db.DB, logger *slog.Logger, m *metrics.Metrics) *Runner {
	return &Runner{svc: svc, db: d, logger: logger, m: m}
}

// Execute runs job jobID's run. Outcomes the file causes (failed, held,
// dry) end the job; database trouble is retried by River, with the run back
// in the queue in the meantime.
func (r *Runner) Execute(ctx context.Context, runID, jobID int64, attempt, maxAttempts int) error {
	run, imp, ok, err := r.svc.StartRun(ctx, runID, jobID)
	if err != nil || !ok {
		return err
	}
	_, err = r.Process(ctx, run, imp)
	bg := context.WithoutCancel(ctx)
	var stopped *stoppedRun
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stopped):
		return r.svc.FinishRun(bg, run.ID, imports.StatusCanceled, stopped.message())
	case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
		return r.svc.FinishRun(bg, run.ID, imports.StatusCanceled, "canceled while running; nothing was applied")
	}

	// Anything else is not the file's fault: a lost connection, a restart,
	// a timeout. Nothing was applied (the transaction rolled back).
	r.logger.Warn("import run attempt failed", slog.Int64("run_id", run.ID), slog.Int("attempt", attempt), slog.String("error", err.Error()))
	if attempt >= maxAttempts {
		if ferr := r.svc.FinishRun(bg, run.ID, imports.StatusFailed, fmt.Sprintf("failed after %d attempts; nothing was applied: %v", attempt, err)); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	}
	if qerr := r.svc.RetryRun(bg, run.ID, fmt.Sprintf("attempt %d did not finish (%v); nothing was applied; retrying", attempt, err)); qerr != nil {
		r.logger.Error("requeue import run", slog.Int64("run_id", run.ID), slog.String("error", qerr.Error()))
	}
	return err
}

// Process applies a started run's file and records the outcome: with the
// changes when they apply, separately when they do not (dry run, held,
// failed). An error means the machinery failed and nothing was recorded.
func (r *Runner) Process(ctx context.Context, run *imports.Run, imp *imports.Import) (*apply.Result, error) {
	file, err := filestore.Get(ctx, r.db, run.FileID)
	if err != nil {
		return nil, err
	}
	prog := &apply.Progress{}
	if file.LineCount > 1 {
		prog.SetTotal(file.LineCount - 1)
	}
	stop := r.heartbeat(ctx, run.ID, prog)
	started := time.Now()
	res, err := r.apply(ctx, run, imp, file, prog)
	stop()
	if err != nil && errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely) {
		return nil, &stoppedRun{at: progressOf(prog)}
	}
	var rb *apply.Rollback
	if errors.As(err, &rb) {
		res = rb.Result
		err = r.db.RunInPgxTx(context.WithoutCancel(ctx), func(ctx context.Context, tx *db.Tx) error {
			return r.svc.RecordOutcome(ctx, tx, run, res)
		})
	}
	if err != nil {
		return nil, err
	}
	r.observe(run, res, time.Since(started))
	r.logRun(run, res)
	if res.AnalyzeRecipients {
		if err := apply.AnalyzeRecipients(ctx, r.db); err != nil {
			r.logger.Warn("import run: statistics of recipients not refreshed", slog.Int64("run_id", run.ID), slog.String("error", err.Error()))
		}
	}
	return res, nil
}

// apply streams the file through the pipeline in one transaction, under
// the import's run locks; when the changes apply, the run's outcome is
// recorded in the same transaction.
func (r *Runner) apply(ctx context.Context, run *imports.Run, imp *imports.Import, file *filestore.File, prog *apply.Progress) (*apply.Result, error) {
	spec := r.svc.Spec(run, imp)
	in := apply.File{Size: file.Size}
	if spec.OneRoster {
		// A zip is read where its directory says, a chunk at a time.
		in.At = filestore.OpenAt(ctx, r.db.Pool, file)
	} else {
		fr, err := filestore.Open(ctx, r.db.Pool, file.ID)
		if err != nil {
			return nil, err
		}
		defer fr.Close()
		in.Stream = fr
	}
	var res *apply.Result
	err := r.db.RunInPgxTx(ctx, func(ctx context.Context, tx *db.Tx) error {
		if err := r.svc.LockForApply(ctx, tx, spec); err != nil {
			return err
		}
		var err error
		if res, err = apply.Run(ctx, tx, spec, in, prog); err != nil {
			return err
		}
		return r.svc.RecordOutcome(ctx, tx, run, res)
	})
	return res, err
}

// heartbeat records progress about once a second until stopped.
func (r *Runner) heartbeat(ctx context.Context, runID int64, prog *apply.Progress) (stop func()) {
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
				if err := r.svc.RecordProgress(ctx, runID, progressOf(prog)); err != nil && ctx.Err() == nil {
					r.logger.Warn("import run heartbeat", slog.Int64("run_id", runID), slog.String("error", err.Error()))
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func progressOf(p *apply.Progress) imports.Progress {
	phase, lines, total := p.Snapshot()
	out := imports.Progress{Phase: phase, RowsProcessed: lines}
	if total > 0 {
		out.RowsTotal = &total
	}
	return out
}

// stoppedRun is a run canceled while it ran, and how far it had come.
type stoppedRun struct{ at imports.Progress }

func (e *stoppedRun) Error() string { return e.message() }

func (e *stoppedRun) message() string {
	if e.at.Phase != apply.PhaseReading {
		return "canceled while applying the changes; nothing was applied"
	}
	where := fmt.Sprintf("line %d", e.at.RowsProcessed)
	if e.at.RowsTotal != nil {
		where += fmt.Sprintf(" of about %d", *e.at.RowsTotal)
	}
	return fmt.Sprintf("canceled while reading the file, at %s; nothing was applied", where)
}

// observe records a finished run in the metrics.
func (r *Runner) observe(run *imports.Run, res *apply.Result, took time.Duration) {
	if r.m == nil {
		return
	}
	status := string(res.Status)
	if run.DryRun {
		status = "dry_run"
	}
	r.m.ImportRuns.WithLabelValues(status, string(run.Trigger)).Inc()
	r.m.ImportRunDuration.WithLabelValues(status).Observe(took.Seconds())
	if !res.Applied {
		return
	}
	c := res.Counts
	for outcome, n := range map[string]int{"created": c.Created, "updated": c.Updated, "unchanged": c.Unchanged,
		"removed": c.Removed, "restored": c.Restored, "rejected": c.Rejected} {
		r.m.ImportRows.WithLabelValues(outcome).Add(float64(n))
	}
}

func (r *Runner) logRun(run *imports.Run, res *apply.Result) {
	attrs := []any{slog.Int64("run_id", run.ID), slog.Int64("import_id", run.ImportID),
		slog.String("status", string(res.Status)), slog.Bool("dry_run", run.DryRun), slog.String("summary", res.Message)}
	if len(res.Timings) > 0 {
		timings := make([]any, len(res.Timings))
		for i, a := range res.Timings {
			timings[i] = a
		}
		attrs = append(attrs, slog.Group("timings", timings...))
	}
	r.logger.Info("import run finished", attrs...)
}
