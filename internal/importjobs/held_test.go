package importjobs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/imports"
)

const rosterHeader = "student_id,first_name,last_name,grade,school,home_language,guardian1_phone,guardian1_email,homeroom\n"

// rosterRow is student i's row; phone is how the file writes the phone.
func rosterRow(i int, phone, homeroom string) string {
	if phone == "" {
		phone = fmt.Sprintf("612-555-%04d", i)
	}
	return fmt.Sprintf("S%03d,First%d,Last%d,5,Lincoln Elementary,English,%s,,%s\n", i, i, i, phone, homeroom)
}

// roster is the file of students from to to (inclusive).
func roster(from, to int) string {
	var b strings.Builder
	b.WriteString(rosterHeader)
	for i := from; i <= to; i++ {
		b.WriteString(rosterRow(i, "", "Room 1"))
	}
	return b.String()
}

// undoRows counts the before-images kept for run.
func (f *fixture) undoRows(run *imports.Run) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.db.NewRaw("SELECT count(*) FROM import_run_undo WHERE run_id = ?", run.ID).Scan(f.ctx, &n))
	return n
}

// TestHeldRunCountsWhatApprovalApplies: a run the removal guard holds
// records every count (and its sample of changes) as approving it then
// applies them, while applying nothing; approving replaces them (and the
// errors) with what it applied, which is the same.
func TestHeldRunCountsWhatApprovalApplies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{RejectionThreshold: new(50.0)})
	require.Equal(t, apply.Counts{RowsRead: 20, Created: 20}, counts(f.runFile(roster(1, 20))))
	// S020 leaves (1 of 20: within the guard), to come back below.
	require.Equal(t, apply.Counts{RowsRead: 19, Unchanged: 19, Removed: 1}, counts(f.runFile(roster(1, 19))))
	lastRun := *f.imp.LastRunID

	// S001-S004 absent (4 of 19 active: held), S005 changed, S006's phone
	// written differently (the same number: unchanged), S020 back, S021 new,
	// S022 rejected (a bad e-mail).
	var b strings.Builder
	b.WriteString(rosterHeader)
	b.WriteString(rosterRow(5, "", "Room 2"))
	b.WriteString(rosterRow(6, "(612) 555-0006", "Room 1"))
	b.WriteString(strings.TrimPrefix(roster(7, 21), rosterHeader))
	b.WriteString("S022,Bad,Mail,5,Lincoln Elementary,English,,not-an-email,Room 1\n")
	before := f.snapshot()

	held := f.runFile(b.String())
	require.Equal(t, imports.StatusHeld, held.Status, held.Message)
	want := apply.Counts{RowsRead: 18, Created: 1, Updated: 1, Unchanged: 14, Removed: 4, Restored: 1, Rejected: 1}
	require.Equal(t, want, counts(held), "a held run records what it would apply")
	require.Contains(t, held.Message, "would remove 4 of 19 active recipients")
	require.Contains(t, held.Message, "nothing was applied")
	// Nothing is applied, nor half applied: the data, the Last Run and the
	// undo data are as they were.
	require.Equal(t, before, f.snapshot(), "a held run applies nothing")
	require.Equal(t, lastRun, *f.imp.LastRunID)
	require.Nil(t, held.UndoWatermark)
	require.Zero(t, f.undoRows(held))
	heldChanges := changeLines(t, f, held)
	require.ElementsMatch(t, []string{
		"CREATE S021", "UPDATE S005 customFields {\"homeroom\": \"Room 1\"} -> {\"homeroom\": \"Room 2\"}", "RESTORE S020",
		"REMOVE S001", "REMOVE S002", "REMOVE S003", "REMOVE S004",
	}, heldChanges)
	require.Len(t, f.errors(held), 1)

	ok := f.approve(held)
	require.Equal(t, imports.StatusSucceededWithErrors, ok.Status, ok.Message)
	require.Equal(t, counts(held), counts(ok), "approval applies what the held run showed")
	require.Equal(t, heldChanges, changeLines(t, f, ok))
	require.Len(t, f.errors(ok), 1, "the errors recorded when held give way to the applied run's")
	require.Equal(t, ok.ID, *f.imp.LastRunID)
	require.Equal(t, true, f.recipient("S001")["removed"])
	require.Equal(t, false, f.recipient("S020")["removed"])
	require.Equal(t, map[string]any{"homeroom": "Room 2"}, f.recipient("S005")["custom"])
	require.Positive(t, f.undoRows(ok))
}

// TestDryRunOverTheRemovalGuard: a dry run over the removal guard has its
// full counts, applies nothing, and is not HELD: it says a run would be.
func TestDryRunOverTheRemovalGuard(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	f.runFile(roster(1, 10))
	before := f.snapshot()
	run := f.runFile(roster(4, 11), dryRun)
	// A dry run is never HELD (it would block the import's next run
	// until someone approved or canceled it): it says a run would be.
	require.Equal(t, imports.StatusSucceeded, run.Status)
	require.Contains(t, run.Message, "a run of this file would be HELD: this file would remove 3 of 10 active recipients")
	require.Equal(t, apply.Counts{RowsRead: 8, Created: 1, Unchanged: 7, Removed: 3}, counts(run))
	require.Equal(t, before, f.snapshot())
}
