package imports

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
)

// QueueImports is the River queue runs execute on.
const QueueImports = "imports"

// RunArgs is the River job that executes a run (worked by
// importjobs.RunWorker). It is queued in the transaction that queues the
// run.
type RunArgs struct {
	RunID int64 `json:"run_id"`
}

func (RunArgs) Kind() string { return "import_run" }

// InsertOpts: transient failures retry with River's backoff; a bad file
// does not (the worker ends those runs itself).
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueImports, MaxAttempts: 5}
}

// insertJob queues the River job that executes run, in tx.
func (s *Service) insertJob(ctx context.Context, tx bun.Tx, run *Run) error {
	res, err := s.jobs.InsertTx(ctx, tx.Tx, RunArgs{RunID: run.ID}, nil)
	if err != nil {
		return fmt.Errorf("queue run %d: %w", run.ID, err)
	}
	run.JobID = &res.Job.ID
	return updateRun(ctx, tx, run, "job_id")
}

// cancelJob cancels run's River job, if it has one, in tx.
func (s *Service) cancelJob(ctx context.Context, tx bun.Tx, run *Run) error {
	if run.JobID == nil {
		return nil
	}
	if _, err := s.jobs.JobCancelTx(ctx, tx.Tx, *run.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("cancel job: %w", err)
	}
	return nil
}
