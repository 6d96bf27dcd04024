package imports

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
)

// scheduleDue selects the imports whose scheduled slot came at ?.
const scheduleDue = "schedule_next_at <= ?"

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
	due, err := importIDs(ctx, s.db, "schedule_next_at", scheduleDue, now)
	if err != nil {
		return nil, err
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
		imp, err := lockImportIf(ctx, tx, id, scheduleDue, now)
		if err != nil || imp == nil || imp.Schedule() == nil {
			return err // fired meanwhile, unscheduled, or busy elsewhere
		}
		out = &SlotOutcome{ImportID: id, Slot: *imp.ScheduleNextAt}
		next, err := imp.Schedule().Next(now)
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
		return updateImport(ctx, tx, imp, "", "schedule_next_at", "schedule_missed_at")
	})
	return out, err
}

// fileWaiting reports whether the import's latest file has arrived since
// the last run: no run (dry runs and canceled ones aside) has taken it.
func fileWaiting(ctx context.Context, idb bun.IDB, imp *Import) (bool, error) {
	if imp.LatestFileID == nil {
		return false, nil
	}
	taken, err := fileTaken(ctx, idb, *imp.LatestFileID)
	return !taken, err
}
