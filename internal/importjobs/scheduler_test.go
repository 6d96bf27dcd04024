package importjobs

import (
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/internal/attention"
	"github.com/rollcall/rollcall/internal/filestore"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/schedule"
	"github.com/rollcall/rollcall/internal/testkit/clock"
	"github.com/stretchr/testify/require"
)

// execute applies a queued run the way a worker would.
func (f *fixture) execute(run *imports.Run) *imports.Run {
	f.t.Helper()
	run.Status = imports.StatusRunning
	_, err := f.db.NewUpdate().Model(run).Column("status").WherePK().Exec(f.ctx)
	require.NoError(f.t, err)
	imp, err := imports.GetImport(f.ctx, f.db, run.ImportID)
	require.NoError(f.t, err)
	_, err = f.runner.Process(f.ctx, run, imp)
	require.NoError(f.t, err)
	return f.reload(run.ID)
}

func (f *fixture) upload(content string) *filestore.File {
	f.t.Helper()
	file, run, err := f.svc.Upload(f.ctx, f.imp.ID, "nightly.csv", strings.NewReader(content), false)
	require.NoError(f.t, err)
	require.Nil(f.t, run)
	return file
}

func (f *fixture) attentionCodes() []attention.Code {
	f.t.Helper()
	imp, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
	require.NoError(f.t, err)
	reasons, err := attention.NewService(f.db, f.svc, f.clock.Now).Reasons(f.ctx, []*imports.Import{imp})
	require.NoError(f.t, err)
	var codes []attention.Code
	for _, r := range reasons[imp.ID] {
		codes = append(codes, r.Code)
	}
	return codes
}

// walk moves the clock from `from` to `to` in steps, firing schedules at
// each step, and returns every slot outcome with the clock it fired at.
func (f *fixture) walk(from, to time.Time, step time.Duration, each func(now time.Time, o imports.SlotOutcome)) {
	f.t.Helper()
	for now := from; !now.After(to); now = now.Add(step) {
		f.clock.Set(now)
		out, err := f.svc.FireSchedules(f.ctx)
		require.NoError(f.t, err)
		for _, o := range out {
			each(now, o)
		}
	}
}

func TestScheduledRunsAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, clock, zone, start string
		slots                    []string // the slots that fire over three days, in UTC
	}{
		// Spring forward (8 March 2026): 02:30 does not exist that night.
		{"SpringForwardChicago", "02:30", "America/Chicago", "2026-03-07T09:00:00Z",
			[]string{"2026-03-08T08:30:00Z", "2026-03-09T07:30:00Z", "2026-03-10T07:30:00Z"}},
		// Fall back (1 November 2026): 01:30 happens twice that night.
		{"FallBackChicago", "01:30", "America/Chicago", "2026-10-31T09:00:00Z",
			[]string{"2026-11-01T06:30:00Z", "2026-11-02T07:30:00Z", "2026-11-03T07:30:00Z"}},
		{"SydneyAutumn", "02:30", "Australia/Sydney", "2026-04-03T00:00:00Z", // clocks go back 5 April 03:00 → 02:00
			[]string{"2026-04-03T15:30:00Z", "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, imports.CreateImportInput{})
			start := clock.MustParse(t, c.start)
			f.clock.Set(start)
			_, err := f.svc.Update(f.ctx, f.imp.ID, imports.UpdateImportInput{Schedule: &schedule.Schedule{Time: &c.clock, TimeZone: c.zone}})
			require.NoError(t, err)

			fired := map[time.Time]int{}
			var order []string
			f.walk(start, start.Add(72*time.Hour), 5*time.Minute, func(now time.Time, o imports.SlotOutcome) {
				fired[o.Slot]++
				order = append(order, o.Slot.UTC().Format(time.RFC3339))
				require.False(t, now.Before(o.Slot), "fired early")
				require.Less(t, now.Sub(o.Slot), 5*time.Minute, "fired late")
				require.True(t, o.Missed, "no file arrived")
			})
			require.Equal(t, c.slots, order)
			for slot, n := range fired {
				require.Equal(t, 1, n, "slot %s fired %d times", slot, n)
			}
		})
	}
}

func TestScheduledRunTakesTheWaitingFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	start := clock.MustParse(t, "2026-11-25T12:00:00Z")
	f.clock.Set(start)
	two := "02:00"
	imp, err := f.svc.Update(f.ctx, f.imp.ID, imports.UpdateImportInput{Schedule: &schedule.Schedule{Time: &two, TimeZone: "America/Chicago"}})
	require.NoError(t, err)
	require.Equal(t, "Daily at 02:00 (America/Chicago)", f.svc.ScheduleDescription(imp))
	require.True(t, clock.MustParse(t, "2026-11-26T08:00:00Z").Equal(*imp.ScheduleNextAt), "next slot %s", imp.ScheduleNextAt)

	// The SIS pushes its file in the evening; it waits for the slot
	// (without needing attention: the schedule will take it).
	f.clock.Set(start.Add(10 * time.Hour))
	file := f.upload(baseFile)
	require.Empty(t, f.attentionCodes())

	var runs []*imports.Run
	f.walk(start.Add(10*time.Hour), start.Add(21*time.Hour), time.Minute, func(_ time.Time, o imports.SlotOutcome) {
		require.False(t, o.Missed)
		require.NotNil(t, o.Run)
		runs = append(runs, o.Run)
	})
	require.Len(t, runs, 1)
	require.Equal(t, imports.TriggerSchedule, runs[0].Trigger)
	require.Equal(t, file.ID, runs[0].FileID)
	require.Nil(t, runs[0].RequestedBy)
	require.Equal(t, imports.StatusSucceeded, f.execute(runs[0]).Status)

	// The next night no file came: no run, and the import says so.
	var missed []imports.SlotOutcome
	f.walk(start.Add(21*time.Hour), start.Add(45*time.Hour), 5*time.Minute, func(_ time.Time, o imports.SlotOutcome) {
		missed = append(missed, o)
	})
	require.Len(t, missed, 1)
	require.True(t, missed[0].Missed)
	require.Nil(t, missed[0].Run)
	require.Equal(t, []attention.Code{attention.FileMissing}, f.attentionCodes())
	cur, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	reasons, err := attention.NewService(f.db, f.svc, f.clock.Now).Reasons(f.ctx, []*imports.Import{cur})
	require.NoError(t, err)
	require.Contains(t, reasons[cur.ID][0].Message, "expected file not received since 2026-11-27T08:00:00Z")

	// A late file clears it, and the next slot runs it.
	f.clock.Set(start.Add(46 * time.Hour))
	f.upload(strings.Replace(baseFile, "Room 4", "Room 5", 1))
	require.Empty(t, f.attentionCodes())
	var late []imports.SlotOutcome
	f.walk(start.Add(46*time.Hour), start.Add(69*time.Hour), 5*time.Minute, func(_ time.Time, o imports.SlotOutcome) {
		late = append(late, o)
	})
	require.Len(t, late, 1)
	require.NotNil(t, late[0].Run)
}

func TestRunOnUpload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{RunOnUpload: new(true)})

	_, first, err := f.svc.Upload(f.ctx, f.imp.ID, "a.csv", strings.NewReader(baseFile), false)
	require.NoError(t, err)
	require.NotNil(t, first)
	require.Equal(t, imports.TriggerUpload, first.Trigger)

	// A second file arrives while the first run is still queued: it is
	// stored and waits.
	second, none, err := f.svc.Upload(f.ctx, f.imp.ID, "b.csv", strings.NewReader(strings.Replace(baseFile, "Room 4", "Room 5", 1)), false)
	require.NoError(t, err)
	require.Nil(t, none)

	// When the first run ends, the waiting file is queued.
	require.Equal(t, imports.StatusSucceeded, f.execute(first).Status)
	next, err := imports.ActiveRun(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	require.NotNil(t, next)
	require.Equal(t, second.ID, next.FileID)
	require.Equal(t, imports.TriggerUpload, next.Trigger)
	done := f.execute(next)
	require.Equal(t, imports.StatusSucceeded, done.Status)
	require.Equal(t, 1, done.Updated)

	// Nothing more waits.
	active, err := imports.ActiveRun(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	require.Nil(t, active)
}

func TestScheduleSkipsSlotWhileARunIsActive(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	start := clock.MustParse(t, "2026-11-25T12:00:00Z")
	f.clock.Set(start)
	cron := "0 * * * *" // hourly
	_, err := f.svc.Update(f.ctx, f.imp.ID, imports.UpdateImportInput{Schedule: &schedule.Schedule{Cron: &cron, TimeZone: "UTC"}})
	require.NoError(t, err)
	f.upload(baseFile)
	run, err := f.svc.RunImport(f.ctx, f.imp.ID, false) // queued by hand, not yet worked
	require.NoError(t, err)

	var outs []imports.SlotOutcome
	f.walk(start, start.Add(3*time.Hour), 10*time.Minute, func(_ time.Time, o imports.SlotOutcome) { outs = append(outs, o) })
	require.Len(t, outs, 3)
	for _, o := range outs {
		require.Nil(t, o.Run, "the file is already being run")
		require.False(t, o.Missed)
	}
	require.Equal(t, imports.StatusSucceeded, f.execute(run).Status)
}
