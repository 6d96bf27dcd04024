package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/server/servertest"
)

// TestRunSurvivesLostConnection kills the database connection of a run in
// the middle of its COPY: the transaction rolls back (the data stays as it
// was), River retries, and the retry applies the whole file.
func TestRunSurvivesLostConnection(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "FULL")
	// The import holds about 2% of a district's students (most of them
	// changed since); then the whole district arrives.
	district := districtgen.Options{Rows: 100000, Seed: 7}
	few := districtgen.Change{ChangedPct: 100, RemovedPct: 98, AddedPct: -1}
	want := districtgen.NextDayCounts(district, few)
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, token, id, districtgen.NextDayFile(district, few)).Status)
	before := recipientsSnapshot(t, s, id)

	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id, "run": true}, "big.csv", []byte(districtgen.File(district)))
	var up uploadOut
	resp.Decode(t, &up)
	runID := up.UploadImportFile.Run.ID

	// Wait for the COPY of that run, then cut its connection.
	ctx := context.Background()
	var killed bool
	require.Eventually(t, func() bool {
		err := s.DB.NewRaw(`SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
			WHERE datname = current_database() AND query ILIKE 'copy%import_stage%' AND pid <> pg_backend_pid()`).Scan(ctx, &killed)
		return err == nil && killed
	}, 30*time.Second, 5*time.Millisecond)

	// Whatever state the run is in now (the failed attempt not yet noticed,
	// waiting for its retry, retrying, or even done), the data read before
	// the run was seen unfinished is exactly as before.
	after := recipientsSnapshot(t, s, id)
	var status struct {
		ImportRun struct{ Status, Message string }
	}
	s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { status message } }`, map[string]any{"id": runID}, &status)
	switch status.ImportRun.Status {
	case "QUEUED":
		require.Contains(t, status.ImportRun.Message, "nothing was applied; retrying")
		require.Equal(t, before, after)
	case "RUNNING":
		require.Equal(t, before, after)
	case "SUCCEEDED":
		// The retry has already finished: checked below.
	default:
		t.Fatalf("run %s is %s after its connection was cut: %s", runID, status.ImportRun.Status, status.ImportRun.Message)
	}

	run := s.WaitRun(t, token, runID)
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, district.Rows, run.RowsRead)
	require.Equal(t, want.Removed, run.Created)
	require.Equal(t, want.Changed, run.Updated)
	var attempts struct{ ImportRun struct{ Attempts int } }
	s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { attempts } }`, map[string]any{"id": runID}, &attempts)
	require.Equal(t, 2, attempts.ImportRun.Attempts)
}

// recipientsSnapshot is every recipient row of an import as text.
func recipientsSnapshot(t *testing.T, s *servertest.Server, importID string) []string {
	t.Helper()
	var rows []string
	require.NoError(t, s.DB.NewRaw(`SELECT r::text FROM recipients r WHERE import_id = ? ORDER BY id`, importID).Scan(context.Background(), &rows))
	return rows
}
