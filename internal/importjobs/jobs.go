// Package importjobs runs imports in the background on River: the run
// worker (Runner), and the periodic jobs that recover runs whose worker
// died, fire schedules, and purge deleted imports.
package importjobs

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/rollcall/rollcall/internal/imports"
)

// RunWorker executes runs (imports.RunArgs).
type RunWorker struct {
	river.WorkerDefaults[imports.RunArgs]
	runner  *Runner
	timeout time.Duration
}

// Timeout bounds one attempt (imports.Config.RunTimeout): a million rows
// take about a minute here.
func (w *RunWorker) Timeout(*river.Job[imports.RunArgs]) time.Duration { return w.timeout }

func (w *RunWorker) Work(ctx context.Context, job *river.Job[imports.RunArgs]) error {
	return w.runner.Execute(ctx, job.Args.RunID, job.ID, job.Attempt, job.MaxAttempts)
}

// RecoverArgs is the periodic job that recovers runs whose worker died.
type RecoverArgs struct{}

func (RecoverArgs) Kind() string { return "import_run_recover" }

// RecoverWorker recovers stalled runs.
type RecoverWorker struct {
	river.WorkerDefaults[RecoverArgs]
	svc *imports.Service
}

func (w *RecoverWorker) Work(ctx context.Context, _ *river.Job[RecoverArgs]) error {
	_, err := w.svc.RecoverStalledRuns(ctx)
	return err
}

// ScheduleArgs is the periodic job that fires due schedules. River runs
// periodic jobs on its elected leader only, so one node fires them; and
// each firing moves the import's next slot in the same transaction as the
// run it queues, so even two firings at once could not queue a slot twice.
type ScheduleArgs struct{}

func (ScheduleArgs) Kind() string { return "import_schedules" }

// ScheduleWorker fires due schedules.
type ScheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	svc *imports.Service
}

func (w *ScheduleWorker) Work(ctx context.Context, _ *river.Job[ScheduleArgs]) error {
	_, err := w.svc.FireSchedules(ctx)
	return err
}

// PurgeArgs is the periodic job that purges deleted imports whose
// retention has ended, and prunes undo data past it.
type PurgeArgs struct{}

func (PurgeArgs) Kind() string { return "import_purge" }

// PurgeWorker purges.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	svc *imports.Service
}

// Timeout allows purging large imports (River's default is a minute).
func (w *PurgeWorker) Timeout(*river.Job[PurgeArgs]) time.Duration { return time.Hour }

func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	_, purgeErr := w.svc.Purge(ctx)
	_, pruneErr := w.svc.PruneUndo(ctx)
	return errors.Join(purgeErr, pruneErr)
}

// Register adds the import workers to workers: runs execute through
// runner, the periodic jobs through runner's service.
func Register(workers *river.Workers, runner *Runner) {
	svc := runner.svc
	river.AddWorker(workers, &RunWorker{runner: runner, timeout: svc.Config().RunTimeout})
	river.AddWorker(workers, &RecoverWorker{svc: svc})
	river.AddWorker(workers, &ScheduleWorker{svc: svc})
	river.AddWorker(workers, &PurgeWorker{svc: svc})
}

// Periodic returns the periodic jobs, for the River client that works
// them. River runs them on its elected leader only: one node fires
// schedules and recovers stalled runs, whichever nodes are up.
func Periodic(cfg imports.Config) []*river.PeriodicJob {
	every := func(d time.Duration, args river.JobArgs) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(d),
			func() (river.JobArgs, *river.InsertOpts) { return args, nil },
			&river.PeriodicJobOpts{RunOnStart: true})
	}
	return []*river.PeriodicJob{
		every(max(time.Second, cfg.StaleAfter/3), RecoverArgs{}),
		every(cfg.SchedulerInterval, ScheduleArgs{}),
		// Deleted imports past their retention, and undo data past it.
		every(time.Hour, PurgeArgs{}),
	}
}
