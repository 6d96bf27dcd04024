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

// ScheduleArgs is the periodic job that fires due schedules. River runs
// periodic jobs on its elected leader only, so one node fires them; and
// each firing moves the import's next slot in the same transaction as the
// run it queues, so even two firings at once could not queue a slot twice.
type ScheduleArgs struct{}

func (ScheduleArgs) Kind() string { return "import_schedules" }

// PurgeArgs is the periodic job that purges deleted imports whose
// retention has ended, and prunes undo data past it.
type PurgeArgs struct{}

func (PurgeArgs) Kind() string { return "import_purge" }

// periodicWorker works the periodic job A by calling work; a zero timeout
// is River's default (a minute).
type periodicWorker[A river.JobArgs] struct {
	river.WorkerDefaults[A]
	work    func(context.Context) error
	timeout time.Duration
}

func (w *periodicWorker[A]) Timeout(*river.Job[A]) time.Duration { return w.timeout }

func (w *periodicWorker[A]) Work(ctx context.Context, _ *river.Job[A]) error { return w.work(ctx) }

// Register adds the import workers to workers: runs execute through
// runner, the periodic jobs through runner's service.
func Register(workers *river.Workers, runner *Runner) {
	svc := runner.svc
	river.AddWorker(workers, &RunWorker{runner: runner, timeout: svc.Config().RunTimeout})
	river.AddWorker(workers, &periodicWorker[RecoverArgs]{work: func(ctx context.Context) error {
		_, err := svc.RecoverStalledRuns(ctx)
		return err
	}})
	river.AddWorker(workers, &periodicWorker[ScheduleArgs]{work: func(ctx context.Context) error {
		_, err := svc.FireSchedules(ctx)
		return err
	}})
	// Purging a large import takes longer than River's default minute.
	river.AddWorker(workers, &periodicWorker[PurgeArgs]{timeout: time.Hour, work: func(ctx context.Context) error {
		_, purgeErr := svc.Purge(ctx)
		_, pruneErr := svc.PruneUndo(ctx)
		return errors.Join(purgeErr, pruneErr)
	}})
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
