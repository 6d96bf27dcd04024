package importjobs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/recipients"
)

// table is every column of every recipient, in id order.
func (f *fixture) table() []string {
	f.t.Helper()
	var rows []string
	require.NoError(f.t, f.db.NewRaw(`SELECT to_jsonb(r)::text FROM recipients AS r ORDER BY r.id`).Scan(f.ctx, &rows))
	return rows
}

func (f *fixture) revert(run *imports.Run) *imports.Run {
	f.t.Helper()
	rev, err := f.svc.Revert(f.ctx, run.ID)
	require.NoError(f.t, err)
	return rev
}

// A district's days, applied and then undone one by one, go back through
// exactly the same states. Day 2 is a day after the first file, not after
// day 1, so applying it after day 1 also restores day 1's removals and
// undoes its changes: every kind of change is in play.
func TestRevertWalksBackThroughEveryState(t *testing.T) {
	t.Parallel()
	guard := 100.0
	f := newFixture(t, imports.CreateImportInput{RemovalThreshold: &guard})
	opts := districtgen.Options{Rows: 3000, Seed: 7}
	file := func(day int) string {
		var b bytes.Buffer
		if day == 0 {
			require.NoError(t, districtgen.Write(&b, opts))
		} else {
			require.NoError(t, districtgen.NextDay(&b, opts, districtgen.Change{ChangedPct: 5, RemovedPct: 3, AddedPct: 3, Day: day}))
		}
		return b.String()
	}
	states := [][]string{f.table()}
	var runs []*imports.Run
	for day := 0; day <= 2; day++ {
		run := f.runFile(file(day))
		require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
		require.NotNil(t, run.UndoWatermark)
		runs = append(runs, run)
		states = append(states, f.table())
	}
	day2 := runs[2]
	require.Positive(t, day2.Restored, "day 2 restores day 1's removals")
	require.Positive(t, day2.Removed)
	require.Positive(t, day2.Created)
	require.Positive(t, day2.Updated)

	// A dry run in between changes nothing and is not "the latest".
	f.runFile(file(1), dryRun)

	for i := len(runs) - 1; i >= 0; i-- {
		rev := f.revert(runs[i])
		require.Equal(t, states[i], f.table(), "after reverting day %d", i)
		require.Equal(t, imports.TriggerRevert, rev.Trigger)
		// What the revert counts mirrors what the run did.
		r := runs[i]
		require.Equal(t, r.Created+r.Restored, rev.Removed, "day %d", i)
		require.Equal(t, r.Removed, rev.Restored, "day %d", i)
		require.Equal(t, r.Updated, rev.Updated, "day %d", i)
		var undo int
		require.NoError(t, f.db.NewRaw(`SELECT count(*) FROM import_run_undo WHERE run_id = ?`, r.ID).Scan(f.ctx, &undo))
		require.Zero(t, undo, "the undo data goes with the revert")
	}
	first := f.reload(runs[0].ID)
	require.Nil(t, f.imp.LastRunAt)
	require.NotNil(t, first.RevertedByRunID)
}

// A revert does not wait for a run that is applying (it would hold row
// locks that run needs): it says so at once.
func TestRevertRefusesWhileARunApplies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	run := f.runFile("student_id,first_name,last_name\nS1,Ana,Lopez\nS2,Ben,Ode\n")
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)

	release := f.holdRunLock()
	defer release()

	_, err := f.svc.Revert(f.ctx, run.ID)
	require.Equal(t, apperr.CodeConflict, asAppErr(t, err).Code)
	require.Contains(t, err.Error(), "applying")

	release()
	rev := f.revert(run)
	require.Equal(t, 2, rev.Removed)
}

// A run queued just as its import was deleted (the delete could not see it)
// is canceled by the worker, never applied.
func TestRunOfDeletedImportNeverStarts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	_, run, err := f.svc.Upload(f.ctx, f.imp.ID, "students.csv", strings.NewReader("student_id,first_name\nS1,Ana\n"), true)
	require.NoError(t, err)
	f.markDeleted()

	_, _, ok, err := f.svc.StartRun(f.ctx, run.ID, *run.JobID)
	require.NoError(t, err)
	require.False(t, ok)
	got := f.reload(run.ID)
	require.Equal(t, imports.StatusCanceled, got.Status)
	require.Contains(t, got.Message, "deleted")
	f.requireNoActiveRecipients()
}

// A run that reaches the import's run lock after a delete committed (it was
// queued just before) cancels itself instead of applying.
func TestRunCancelsItselfWhenItsImportWasDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	file, _, err := f.svc.Upload(f.ctx, f.imp.ID, "students.csv", strings.NewReader("student_id,first_name\nS1,Ana\n"), false)
	require.NoError(t, err)
	f.markDeleted()
	run := f.runStored(file.ID)
	require.Equal(t, imports.StatusCanceled, run.Status)
	require.Contains(t, run.Message, "deleted")
	f.requireNoActiveRecipients()
}

// A delete does not wait for a run that is applying: it says so at once.
func TestDeleteRefusedWhileARunApplies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	release := f.holdRunLock()
	defer release()
	_, _, err := f.svc.Delete(f.ctx, f.imp.ID, f.imp.Name, imports.DeleteRemove)
	require.Equal(t, apperr.CodeConflict, asAppErr(t, err).Code)
	require.Contains(t, err.Error(), "applying")
}

// markDeleted deletes the import behind the service's back, as a delete
// committing while a run was on its way would leave it.
func (f *fixture) markDeleted() {
	f.t.Helper()
	_, err := f.db.NewRaw(`UPDATE imports SET deleted_at = now(), delete_mode = 'KEEP', purge_after = now() + interval '1 day' WHERE id = ?`, f.imp.ID).Exec(f.ctx)
	require.NoError(f.t, err)
}

func (f *fixture) requireNoActiveRecipients() {
	f.t.Helper()
	n, err := recipients.CountActiveOf(f.ctx, f.db, f.imp.ID)
	require.NoError(f.t, err)
	require.Zero(f.t, n)
}

// holdRunLock takes the import's run lock, as a run applying holds it,
// until release.
func (f *fixture) holdRunLock() (release func()) {
	f.t.Helper()
	tx, err := f.db.BeginTx(f.ctx, nil)
	require.NoError(f.t, err)
	free, err := apply.TryLock(f.ctx, tx, f.imp.ID)
	require.NoError(f.t, err)
	require.True(f.t, free)
	return func() { _ = tx.Rollback() }
}
