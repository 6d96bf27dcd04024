package importjobs

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/attention"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/schedule"
	"github.com/rollcall/rollcall/internal/testkit/clock"
)

// runsOfFile counts the runs of file fileID, dry ones included.
func (f *fixture) runsOfFile(fileID int64) int {
	f.t.Helper()
	n, err := f.db.NewSelect().Model((*imports.Run)(nil)).Where("file_id = ?", fileID).Count(f.ctx)
	require.NoError(f.t, err)
	return int(n)
}

func (f *fixture) daily(at string) {
	f.t.Helper()
	_, err := f.svc.Update(f.ctx, f.imp.ID, imports.UpdateImportInput{Schedule: &schedule.Schedule{Time: &at, TimeZone: "UTC"}})
	require.NoError(f.t, err)
}

// TestCanceledFileIsNotScheduledAgain: a file whose held run an
// administrator canceled is set aside: later slots do not run it, and the
// import needs attention (LATEST_FILE_CANCELED) until a new file arrives,
// which the next slot runs.
func TestCanceledFileIsNotScheduledAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	start := clock.MustParse(t, "2026-11-25T12:00:00Z")
	f.clock.Set(start)
	f.daily("02:00")
	f.upload(roster(1, 10))
	var slots []imports.SlotOutcome
	collect := func(_ time.Time, o imports.SlotOutcome) { slots = append(slots, o) }
	f.walk(start, start.Add(24*time.Hour), 10*time.Minute, collect) // 26 Nov 02:00
	require.Len(t, slots, 1)
	require.Equal(t, imports.StatusSucceeded, f.execute(slots[0].Run).Status)

	// A truncated file comes; the next slot runs it, and it is held.
	truncated := f.upload(roster(1, 3))
	slots = nil
	f.walk(start.Add(24*time.Hour), start.Add(48*time.Hour), 10*time.Minute, collect) // 27 Nov 02:00
	require.Len(t, slots, 1)
	require.Equal(t, truncated.ID, slots[0].Run.FileID)
	held := f.execute(slots[0].Run)
	require.Equal(t, imports.StatusHeld, held.Status)
	require.Equal(t, []attention.Code{attention.LastRunHeld}, f.attentionCodes())

	canceled, err := f.svc.Cancel(f.ctx, held.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusCanceled, canceled.Status)
	require.NotNil(t, canceled.CanceledBy)
	require.Equal(t, []attention.Code{attention.LatestFileCanceled}, f.attentionCodes())

	// Three slots later the file has not run again, and nothing is active.
	slots = nil
	f.walk(start.Add(48*time.Hour), start.Add(5*24*time.Hour), 10*time.Minute, collect)
	require.Len(t, slots, 3)
	for _, o := range slots {
		require.Nil(t, o.Run, "a canceled file is not run again")
		require.True(t, o.Missed)
	}
	require.Equal(t, 1, f.runsOfFile(truncated.ID))
	active, err := imports.ActiveRun(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	require.Nil(t, active)
	require.Equal(t, []attention.Code{attention.LatestFileCanceled, attention.FileMissing}, f.attentionCodes())
	imp, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	reasons, err := attention.NewService(f.db, f.svc, f.clock.Now).Reasons(f.ctx, []*imports.Import{imp})
	require.NoError(t, err)
	require.Equal(t, held.ID, *reasons[imp.ID][0].RunID)
	require.Contains(t, reasons[imp.ID][0].Message, "was canceled")

	// A new file clears it, and the next slot runs that file.
	f.clock.Set(start.Add(5*24*time.Hour + time.Hour))
	next := f.upload(roster(1, 10))
	require.Empty(t, f.attentionCodes())
	slots = nil
	f.walk(start.Add(5*24*time.Hour+time.Hour), start.Add(6*24*time.Hour), 10*time.Minute, collect)
	require.Len(t, slots, 1)
	require.Equal(t, next.ID, slots[0].Run.FileID)
	require.Equal(t, imports.StatusSucceeded, f.execute(slots[0].Run).Status)
	require.Equal(t, 1, f.runsOfFile(truncated.ID))
}

// TestCanceledFileRunByHand: an administrator may still run a canceled
// file (Run Now); that clears the reason, and the file counts as taken.
func TestCanceledFileRunByHand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	file := f.upload(roster(1, 5))
	queued, err := f.svc.RunImport(f.ctx, f.imp.ID, false)
	require.NoError(t, err)
	_, err = f.svc.Cancel(f.ctx, queued.ID)
	require.NoError(t, err)
	require.Equal(t, []attention.Code{attention.LatestFileCanceled}, f.attentionCodes())

	again, err := f.svc.RunImport(f.ctx, f.imp.ID, false)
	require.NoError(t, err)
	require.Equal(t, file.ID, again.FileID)
	require.Empty(t, f.attentionCodes(), "queued by hand")
	require.Equal(t, imports.StatusSucceeded, f.execute(again).Status)
	require.Empty(t, f.attentionCodes())
}

// TestRecoveryDoesNotRestartACanceledRun: a run whose cancel was asked
// while it ran, and whose worker then died, is not put back in the queue
// by recovery: it ends CANCELED, its file set aside.
func TestRecoveryDoesNotRestartACanceledRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	f.upload(roster(1, 5))
	run, err := f.svc.RunImport(f.ctx, f.imp.ID, false)
	require.NoError(t, err)
	// Its worker started it, then stopped beating.
	_, err = f.db.NewRaw(`UPDATE import_runs SET status = 'RUNNING', attempts = 1, started_at = now() - interval '1 hour',
		heartbeat_at = now() - interval '1 hour' WHERE id = ?`, run.ID).Exec(f.ctx)
	require.NoError(t, err)
	asked, err := f.svc.Cancel(f.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusRunning, asked.Status, "a running run is asked to stop")

	n, err := f.svc.RecoverStalledRuns(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	done := f.reload(run.ID)
	require.Equal(t, imports.StatusCanceled, done.Status, done.Message)
	require.Equal(t, 1, f.runsOfFile(done.FileID), "no other run of the file")
	active, err := imports.ActiveRun(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	require.Nil(t, active)
	require.Equal(t, []attention.Code{attention.LatestFileCanceled}, f.attentionCodes())
}

// TestFileTakenAgreesWithAttention: whether a slot runs the latest file
// (imports' fileTaken, in Go) and what the attention reasons say of it
// (imports.RunStates, in SQL) agree, for every history of the file's runs.
func TestFileTakenAgreesWithAttention(t *testing.T) {
	t.Parallel()
	type past struct {
		status imports.RunStatus
		dry    bool
		admin  bool // canceled by an administrator
	}
	succeeded, failed := past{status: imports.StatusSucceeded}, past{status: imports.StatusFailed}
	sysCanceled, adminCanceled := past{status: imports.StatusCanceled}, past{status: imports.StatusCanceled, admin: true}
	dry := past{status: imports.StatusSucceeded, dry: true}
	for _, c := range []struct {
		name     string
		runs     []past
		waiting  bool // the slot runs the file
		canceled bool // LATEST_FILE_CANCELED
	}{
		{"NoRun", nil, true, false},
		{"DryRun", []past{dry}, true, false},
		{"CanceledBySystem", []past{sysCanceled}, true, false},
		{"CanceledByAdministrator", []past{adminCanceled}, false, true},
		{"AdministratorThenSystem", []past{adminCanceled, sysCanceled}, false, true},
		{"CanceledThenDryRun", []past{adminCanceled, dry}, false, true},
		{"CanceledThenRunByHand", []past{adminCanceled, succeeded}, false, false},
		{"Failed", []past{failed}, false, false},
		{"Succeeded", []past{succeeded}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, imports.CreateImportInput{})
			start := clock.MustParse(t, "2026-11-25T12:00:00Z")
			f.clock.Set(start)
			f.daily("02:00")
			file := f.upload(roster(1, 3))
			var admin int64
			require.NoError(t, f.db.NewRaw("SELECT id FROM users ORDER BY id LIMIT 1").Scan(f.ctx, &admin))
			for _, p := range c.runs {
				r := &imports.Run{ImportID: f.imp.ID, FileID: file.ID, Status: p.status, Trigger: imports.TriggerManual,
					DryRun: p.dry, Warnings: []string{}, FinishedAt: &start}
				if p.admin {
					r.CanceledBy = &admin
				}
				_, err := f.db.NewInsert().Model(r).Exec(f.ctx)
				require.NoError(t, err)
			}
			imp, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
			require.NoError(t, err)
			states, err := imports.RunStates(f.ctx, f.db, []int64{imp.ID})
			require.NoError(t, err)
			require.Len(t, states, 1)
			require.Equal(t, !c.waiting, states[0].LatestTaken, "attention's view of the file")
			require.Equal(t, c.canceled, states[0].LatestCanceledRun != nil)
			codes := strings.Join(func() []string {
				var s []string
				for _, code := range f.attentionCodes() {
					s = append(s, string(code))
				}
				return s
			}(), ",")
			require.Equal(t, c.canceled, strings.Contains(codes, string(attention.LatestFileCanceled)), codes)

			var slots []imports.SlotOutcome
			f.walk(start, start.Add(24*time.Hour), 10*time.Minute, func(_ time.Time, o imports.SlotOutcome) { slots = append(slots, o) })
			require.Len(t, slots, 1)
			require.Equal(t, c.waiting, slots[0].Run != nil, "the scheduler's view of the file")
		})
	}
}
