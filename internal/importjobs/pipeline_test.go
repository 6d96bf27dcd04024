package importjobs

import (
	"strings"
	"testing"

	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/stretchr/testify/require"
)

const baseFile = `student_id,first_name,last_name,grade,school,home_language,guardian1_phone,guardian1_email,homeroom
S001,Ana,García,05,Lincoln Elementary,Spanish,(612) 555-0101,ana.parent@gmail.com,Room 4
S002,Ben,O'Brien,K,Lincoln Elementary,English,612-555-0102,,Room 1
S003,Chloé,Nguyễn,12,Jefferson High,Vietnamese,6125550103,chloe.mom@yahoo.com,"Room 12, Bldg B"
S004,Dev,Patel,PK,Lincoln Elementary,English,,,
`

func TestApplyFirstLoadAndRerun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})

	run := f.runFile(baseFile)
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Created: 4}, counts(run))
	require.NotNil(t, run.FinishedAt)

	ana := f.recipient("S001")
	require.Equal(t, "STUDENT", ana["type"])
	require.Equal(t, "García", ana["last"])
	require.Equal(t, "5", ana["grade"])
	require.EqualValues(t, 5, ana["rank"])
	require.Equal(t, []any{map[string]any{"number": "+16125550101", "label": "Guardian 1"}}, ana["phones"])
	require.Equal(t, []any{map[string]any{"address": "ana.parent@gmail.com", "label": "Guardian 1"}}, ana["emails"])
	require.Equal(t, map[string]any{"homeroom": "Room 4"}, ana["custom"])
	require.EqualValues(t, -1, f.recipient("S004")["rank"])
	require.EqualValues(t, 0, f.recipient("S002")["rank"])
	require.Equal(t, map[string]any{"homeroom": "Room 12, Bldg B"}, f.recipient("S003")["custom"])

	imp, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	require.NotNil(t, imp.LastRunAt)
	require.Equal(t, run.ID, *imp.LastRunID)

	before := f.snapshot()
	again := f.runFile(baseFile)
	require.Equal(t, imports.StatusSucceeded, again.Status)
	require.Equal(t, apply.Counts{RowsRead: 4, Unchanged: 4}, counts(again))
	require.Equal(t, before, f.snapshot(), "re-running the same file changes nothing")
}

// TestApplyStoresFoldedKeys: what filters compare without regard to case is
// stored folded (fold.Key) by the run that writes the values, on the first
// load (copied straight in) and on later runs (staged).
func TestApplyStoresFoldedKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	const header = "student_id,first_name,last_name,grade,school,home_language,homeroom\n"
	require.Equal(t, imports.StatusSucceeded, f.runFile(header+"S1,ÉLODIE,Núñez,3,École NORD,Français,Salle B\nS2,Ana,Li,4,,,\n").Status)
	require.Equal(t, []any{"élodie", "núñez", "école nord", "français"}, f.recipient("S1")["keys"])
	require.Equal(t, map[string]any{"homeroom": "salle b"}, f.recipient("S1")["customKey"])
	require.Equal(t, []any{"ana", "li", nil, nil}, f.recipient("S2")["keys"])
	require.Equal(t, map[string]any{}, f.recipient("S2")["customKey"])

	require.Equal(t, imports.StatusSucceeded, f.runFile(header+"S1,Élodie,NÚÑEZ,3,Lincoln,,Salle C\nS2,Ana,Li,4,ÉCOLE SUD,,\nS3,Zoë,Ö,5,,,\n").Status)
	require.Equal(t, []any{"élodie", "núñez", "lincoln", nil}, f.recipient("S1")["keys"])
	require.Equal(t, map[string]any{"homeroom": "salle c"}, f.recipient("S1")["customKey"])
	require.Equal(t, []any{"ana", "li", "école sud", nil}, f.recipient("S2")["keys"])
	require.Equal(t, []any{"zoë", "ö", nil, nil}, f.recipient("S3")["keys"])
}

func TestApplyNextDay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{})
	require.Equal(t, imports.StatusSucceeded, f.runFile(baseFile).Status)

	// S002 changes school, S003 writes its phone differently (same number),
	// S004 is gone, S005 is new.
	next := `student_id,first_name,last_name,grade,school,home_language,guardian1_phone,guardian1_email,homeroom
S001,Ana,García,05,Lincoln Elementary,Spanish,(612) 555-0101,ana.parent@gmail.com,Room 4
S002,Ben,O'Brien,K,Adams Elementary,English,612-555-0102,,Room 1
S003,Chloé,Nguyễn,12,Jefferson High,Vietnamese,612.555.0103,chloe.mom@yahoo.com,"Room 12, Bldg B"
S005,Eve,Smith,3,Adams Elementary,English,612-555-0105,eve@outlook.com,Room 9
`
	f.imp.RemovalThreshold = 50
	_, err := f.db.NewUpdate().Model(f.imp).Column("removal_threshold").WherePK().Exec(f.ctx)
	require.NoError(t, err)

	run := f.runFile(next)
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Created: 1, Updated: 1, Unchanged: 2, Removed: 1}, counts(run))
	require.Equal(t, "Adams Elementary", f.recipient("S002")["school"])
	require.Equal(t, true, f.recipient("S004")["removed"])

	changes, err := imports.ListRunChanges(f.ctx, f.db, run.ID)
	require.NoError(t, err)
	var saw []string
	for _, c := range changes {
		s := string(c.Action) + " " + c.ExternalID
		if c.Field != nil {
			s += " " + *c.Field + " " + *c.OldValue + " -> " + *c.NewValue
		}
		saw = append(saw, s)
	}
	require.ElementsMatch(t, []string{"CREATE S005", "UPDATE S002 school Lincoln Elementary -> Adams Elementary", "REMOVE S004"}, saw)

	// S004 comes back: restored, not created.
	back := f.runFile(baseFile)
	require.Equal(t, imports.StatusSucceeded, back.Status, back.Message)
	require.Equal(t, 1, back.Restored)
	require.Equal(t, 1, back.Removed) // S005 is absent again
	require.Equal(t, false, f.recipient("S004")["removed"])
}

func TestApplyMethods(t *testing.T) {
	t.Parallel()
	next := strings.Replace(baseFile, "Lincoln Elementary,English,612-555-0102", "Adams Elementary,English,612-555-0102", 1)
	next = strings.Join(strings.Split(next, "\n")[:4], "\n") + "\nS009,New,Kid,1,Adams Elementary,English,,,\n" // drops S004

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, imports.CreateImportInput{Method: imports.MethodUpdate})
		f.runFile(baseFile)
		run := f.runFile(next)
		require.Equal(t, apply.Counts{RowsRead: 4, Created: 1, Updated: 1, Unchanged: 2}, counts(run))
		require.Equal(t, false, f.recipient("S004")["removed"], "UPDATE never removes")
	})
	t.Run("CreateOnly", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, imports.CreateImportInput{Method: imports.MethodCreateOnly})
		f.runFile(baseFile)
		run := f.runFile(next)
		require.Equal(t, apply.Counts{RowsRead: 4, Created: 1, Unchanged: 3}, counts(run))
		require.Equal(t, "Lincoln Elementary", f.recipient("S002")["school"], "CREATE_ONLY leaves existing untouched")
		require.Equal(t, false, f.recipient("S004")["removed"])
	})
}

func TestApplyRowErrorsAndDuplicates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{RejectionThreshold: new(60.0)})
	file := `student_id,first_name,last_name,grade,guardian1_email,guardian1_phone
S001,Ana,García,5,ana@gmail.com,612-555-0101
S002,Ben,Lee,4,not-an-email,612-555-0102
,Nobody,Key,3,,
S003,Cy,Day,2,,555-0199
S004,Di,Eve,1,di@gmail.com
S005,Ed,Fox,1,,
S005,Ed,Fox,1,,
S006,Fa,Gee,3,,
S006,Fa,Gee,4,,
S001,Ana,García,5,ana@gmail.com,612-555-0101
`
	run := f.runFile(file)
	require.Equal(t, imports.StatusSucceededWithErrors, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 10, Created: 2, Rejected: 6}, counts(run))

	errs := f.errors(run)
	type e struct {
		line      int
		column, m string
	}
	var got []e
	for _, x := range errs {
		col := ""
		if x.ColumnName != nil {
			col = *x.ColumnName
		}
		got = append(got, e{x.Line, col, x.Message})
	}
	require.Len(t, got, 6)
	require.Equal(t, e{3, "guardian1_email", `"not-an-email" is not a valid email address`}, got[0])
	require.Equal(t, e{4, "student_id", "the key is empty"}, got[1])
	require.Equal(t, 5, got[2].line)
	require.Equal(t, "guardian1_phone", got[2].column)
	require.Equal(t, e{6, "", "expected 6 fields (as in the header), found 5"}, got[3])
	require.Equal(t, 9, got[4].line)
	require.Contains(t, got[4].m, "appears again on line 10")
	require.Equal(t, 10, got[5].line)
	require.Contains(t, run.Warnings, "2 row(s) repeated an earlier row exactly (same key and values) and were counted once")

	snap := f.snapshot()
	require.Len(t, snap, 2)
	require.Contains(t, snap, "S001")
	require.Contains(t, snap, "S005")
}

func TestApplyConflictingKeyIsNotRemovedOrUpdated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imports.CreateImportInput{RejectionThreshold: new(50.0)})
	require.Equal(t, imports.StatusSucceeded, f.runFile(baseFile).Status)
	before := f.snapshot()

	lines := strings.Split(strings.TrimSpace(baseFile), "\n")
	conflicting := strings.Join(append(lines, strings.Replace(lines[2], "K,", "1,", 1)), "\n") + "\n"
	run := f.runFile(conflicting)
	require.Equal(t, imports.StatusSucceededWithErrors, run.Status, run.Message)
	require.Equal(t, 0, run.Removed)
	require.Equal(t, 2, run.Rejected)
	require.Equal(t, before["S002"], f.snapshot()["S002"], "the conflicting key is left as it was")
}

func TestGuards(t *testing.T) {
	t.Parallel()

	t.Run("RemovalHeldThenApproved", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, imports.CreateImportInput{})
		f.runFile(baseFile)
		before := f.snapshot()
		half := strings.Join(strings.Split(baseFile, "\n")[:3], "\n") + "\n"
		run := f.runFile(half)
		require.Equal(t, imports.StatusHeld, run.Status)
		require.Equal(t, 2, run.Removed)
		require.Contains(t, run.Message, "would remove 2 of 4 active recipients (50.0%)")
		require.Equal(t, before, f.snapshot(), "a held run applies nothing")

		ok := f.approve(run)
		require.Equal(t, imports.StatusSucceeded, ok.Status, ok.Message)
		require.Equal(t, 2, ok.Removed)
		require.Equal(t, true, f.recipient("S004")["removed"])
	})

	t.Run("TooManyRejected", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, imports.CreateImportInput{})
		f.runFile(baseFile)
		before := f.snapshot()
		bad := strings.ReplaceAll(baseFile, "@", "at")
		run := f.runFile(bad)
		require.Equal(t, imports.StatusFailed, run.Status)
		require.Contains(t, run.Message, "looks damaged")
		require.Equal(t, before, f.snapshot())
	})

	t.Run("DryRunAppliesNothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, imports.CreateImportInput{})
		f.runFile(baseFile)
		before := f.snapshot()
		lastRun := *f.imp.LastRunID
		next := strings.Replace(baseFile, "Room 4", "Room 5", 1)
		run := f.runFile(next, dryRun)
		require.Equal(t, imports.StatusSucceeded, run.Status)
		require.True(t, run.DryRun)
		require.Equal(t, apply.Counts{RowsRead: 4, Updated: 1, Unchanged: 3}, counts(run))
		require.Equal(t, before, f.snapshot())
		changes, err := imports.ListRunChanges(f.ctx, f.db, run.ID)
		require.NoError(t, err)
		require.Len(t, changes, 1)
		require.Equal(t, "customFields", *changes[0].Field)
		imp, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
		require.NoError(t, err)
		require.Equal(t, lastRun, *imp.LastRunID, "a dry run is not a Last Run")
	})
}
