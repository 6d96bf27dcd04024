package imports

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/db"
)

// ScheduleArgs is the periodic job that fires due schedules. River runs
// periodic jobs on its elected leader only, so one node fires them; and
// each firing moves the import's next slot in the same transaction as the
// run it queues, so even two firings at once could not queue a slot twice.
type ScheduleArgs struct{}

func (ScheduleArgs) Kind() string { return "import_schedules" }

// ScheduleWorker fires due schedules.
type ScheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	svc *Service
}

// NewScheduleWorker returns the schedule worker.
func NewScheduleWorker(svc *Service) *ScheduleWorker { return &ScheduleWorker{svc: svc} }

func (w *ScheduleWorker) Work(ctx context.Context, _ *river.Job[ScheduleArgs]) error {
	_, err := w.svc.FireSchedules(ctx)
	return err
}

// SlotOutcome is what one scheduled slot did.
type SlotOutcome struct {
	ImportID int64
	Slot     time.Time
	// Run is the run the slot queued (a file was waiting), or nil.
	Run *Run
	// Missed: no new file had arrived.
	Missed bool
}

// FireSchedules handles every import whose scheduled slot has come: a file
// that arrived since the last run is run (trigger SCHEDULE); with none, the
// import is marked as missing its expected file. Slots missed while no node
// was running collapse into one.
func (s *Service) FireSchedules(ctx context.Context) ([]SlotOutcome, error) {
	now := s.now()
	var due []int64
	if err := s.db.NewSelect().Model((*Import)(nil)).Column("id").
		Where("schedule_next_at <= ?", now).OrderExpr("schedule_next_at").Scan(ctx, &due); err != nil {
		return nil, fmt.Errorf("due schedules: %w", err)
	}
	var out []SlotOutcome
	for _, id := range due {
		o, err := s.fireSchedule(ctx, id, now)
		if err != nil {
			return out, fmt.Errorf("fire schedule of import %d: %w", id, err)
		}
		if o != nil {
			out = append(out, *o)
			s.logger.Info("scheduled slot", slog.Int64("import_id", o.ImportID), slog.Time("slot", o.Slot),
				slog.Bool("missed", o.Missed), slog.Bool("queued", o.Run != nil))
		}
	}
	return out, nil
}

func (s *Service) fireSchedule(ctx context.Context, id int64, now time.Time) (*SlotOutcome, error) {
	var out *SlotOutcome
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		imp := new(Import)
		err := tx.NewSelect().Model(imp).Where("id = ?", id).For("UPDATE SKIP LOCKED").Scan(ctx)
		if err != nil || imp.ScheduleNextAt == nil || imp.ScheduleNextAt.After(now) {
			return ignoreNoRows(err) // fired meanwhile, unscheduled, or busy elsewhere
		}
		sched := imp.Schedule()
		if sched == nil {
			return nil
		}
		out = &SlotOutcome{ImportID: id, Slot: *imp.ScheduleNextAt}
		next, err := sched.Next(now)
		if err != nil {
			return err
		}
		imp.ScheduleNextAt = &next
		active, err := ActiveRun(ctx, tx, id)
		if err != nil {
			return err
		}
		waiting, err := fileWaiting(ctx, tx, imp)
		if err != nil {
			return err
		}
		switch {
		case active != nil:
			// The file is being handled (or held): neither run nor missing.
		case waiting:
			if out.Run, err = s.enqueueRun(ctx, tx, imp, *imp.LatestFileID, TriggerSchedule, false, nil); err != nil {
				return err
			}
			imp.ScheduleMissedAt = nil
		default:
			out.Missed = true
			if imp.ScheduleMissedAt == nil {
				imp.ScheduleMissedAt = &out.Slot
			}
		}
		_, err = tx.NewUpdate().Model(imp).Column("schedule_next_at", "schedule_missed_at").WherePK().Exec(ctx)
		return err
	})
	return out, err
}

// fileWaiting reports whether the import's latest file has arrived since
// the last run: no run (dry runs and canceled ones aside) has taken it.
func fileWaiting(ctx context.Context, idb bun.IDB, imp *Import) (bool, error) {
	if imp.LatestFileID == nil {
		return false, nil
	}
	taken, err := idb.NewSelect().Model((*Run)(nil)).
		Where("file_id = ?", *imp.LatestFileID).Where("NOT dry_run").Where("status <> ?", StatusCanceled).Exists(ctx)
	return !taken, err
}

func ignoreNoRows(err error) error {
	if db.IsNoRows(err) {
		return nil
	}
	return err
}
