package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/server/servertest"
)

// bigFile writes n students, the first `changed` of them with a different
// homeroom than `base` would give.
func bigFile(n int, variant string) string {
	var b strings.Builder
	b.WriteString("student_id,first_name,last_name,grade,school,guardian1_phone,guardian1_email,homeroom\n")
	for i := range n {
		fmt.Fprintf(&b, "S%07d,First%d,Last%d,%d,School %d,612-555-%04d,parent%d@example.org,Room %s%d\n",
			i, i, i, i%12+1, i%7, i%10000, i, variant, i%40)
	}
	return b.String()
}

// TestRunSurvivesLostConnection kills the database connection of a run in
// the middle of its COPY: the transaction rolls back (the data stays as it
// was), River retries, and the retry applies the whole file.
func TestRunSurvivesLostConnection(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "FULL")
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, token, id, bigFile(2000, "A")).Status)
	before := recipientsSnapshot(t, s, id)

	content := bigFile(100000, "B")
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id, "run": true}, "big.csv", []byte(content))
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

	// While the retry waits for its backoff, the data is exactly as before.
	var status struct {
		ImportRun struct{ Status, Message string }
	}
	s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { status message } }`, map[string]any{"id": runID}, &status)
	if status.ImportRun.Status == "QUEUED" {
		require.Contains(t, status.ImportRun.Message, "nothing was applied; retrying")
		require.Equal(t, before, recipientsSnapshot(t, s, id))
	}

	run := s.WaitRun(t, token, runID)
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, 100000, run.RowsRead)
	require.Equal(t, 98000, run.Created)
	require.Equal(t, 2000, run.Updated)
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
