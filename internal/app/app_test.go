package app_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/internal/users"
)

func TestMain(m *testing.M) {
	testdb.Main(m)
}

func TestNoGoroutineLeak(t *testing.T) {
	// Last in the file by name order is not guaranteed; run alone.
	d := testdb.New(t)
	a, err := app.New(d, app.Options{ImportWorkers: 1})
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.Stop(ctx))
	goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

type bundle struct {
	d     *db.DB
	ctx   context.Context
	admin *users.User
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d := testdb.New(t)
	ctx := context.Background()
	a, err := app.New(d, app.Options{})
	require.NoError(t, err)
	admin, err := a.Services.Users.EnsureAdmin(ctx, "admin@district.test", "Admin")
	require.NoError(t, err)
	return &bundle{d: d, ctx: authz.WithViewer(ctx, users.AsViewer(admin)), admin: admin}
}

func start(t *testing.T, b *bundle) *app.App {
	t.Helper()
	a, err := app.New(b.d, app.Options{ImportWorkers: 1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	return a
}

// waitRun follows run id through app a, as a subscription does, until it
// ends.
func waitRun(t *testing.T, a *app.App, b *bundle, id int64) *imports.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	updates, err := a.Services.Imports.WatchRun(ctx, id)
	require.NoError(t, err)
	var last *imports.Run
	for r := range updates {
		last = r
	}
	require.NotNil(t, last)
	require.False(t, last.Status.Active(), "run %d is still %s", id, last.Status)
	return last
}

func snapshot(t *testing.T, b *bundle) []string {
	t.Helper()
	var rows []string
	require.NoError(t, b.d.NewRaw(`SELECT r::text FROM recipients r ORDER BY id`).Scan(b.ctx, &rows))
	return rows
}

// TestRunInterruptedByShutdownIsRetriedElsewhere stops a process in the
// middle of a run without waiting for it: nothing is applied, the run goes
// back to the queue, and another process finishes it.
func TestRunInterruptedByShutdownIsRetriedElsewhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := start(t, b)
	svc := mustServices(t, b)
	imp, err := svc.Imports.Create(b.ctx, imports.CreateImportInput{Name: "SIS", Method: imports.MethodFull})
	require.NoError(t, err)
	// The import holds about 1% of a district's students (most changed
	// since); then the whole district arrives.
	district := districtgen.Options{Rows: 100000, Seed: 3}
	few := districtgen.Change{ChangedPct: 100, RemovedPct: 99, AddedPct: -1}
	want := districtgen.NextDayCounts(district, few)
	_, run, err := svc.Imports.Upload(b.ctx, imp.ID, "a.csv", strings.NewReader(districtgen.NextDayFile(district, few)), true)
	require.NoError(t, err)
	require.Equal(t, imports.StatusSucceeded, waitRun(t, first, b, run.ID).Status)
	before := snapshot(t, b)

	// The run is held once it has read the file and comes to write
	// recipients, and the process stops there.
	hold := testdb.HoldWrites(t, b.d, "recipients")
	_, run, err = svc.Imports.Upload(b.ctx, imp.ID, "b.csv", strings.NewReader(districtgen.File(district)), true)
	require.NoError(t, err)
	hold.Waiter(t, time.Minute)

	expired, cancel := context.WithCancel(context.Background())
	cancel()
	_ = first.Stop(expired) // no time to finish: the run is canceled mid-apply
	hold.Release()

	r, err := imports.GetRun(b.ctx, b.d, run.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusQueued, r.Status, r.Message)
	require.Contains(t, r.Message, "nothing was applied")
	require.Equal(t, before, snapshot(t, b))

	second := start(t, b)
	defer func() { _ = second.Stop(context.Background()) }()
	done := waitRun(t, second, b, run.ID)
	require.Equal(t, imports.StatusSucceeded, done.Status, done.Message)
	require.Equal(t, want.Removed, done.Created)
	require.Equal(t, want.Changed, done.Updated)
	require.Equal(t, 2, done.Attempts)
}

// TestStalledRunIsRecovered: a run left RUNNING by a worker that died (no
// heartbeat, nobody holding the import) is put back in the queue and run.
func TestStalledRunIsRecovered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := mustServices(t, b)
	imp, err := svc.Imports.Create(b.ctx, imports.CreateImportInput{Name: "SIS", Method: imports.MethodFull})
	require.NoError(t, err)
	f, _, err := svc.Imports.Upload(b.ctx, imp.ID, "a.csv", strings.NewReader(districtgen.File(districtgen.Options{Rows: 50, Seed: 1})), false)
	require.NoError(t, err)
	stale := time.Now().Add(-10 * time.Minute)
	job := int64(424242)
	run := &imports.Run{ImportID: imp.ID, FileID: f.ID, Status: imports.StatusRunning, Trigger: imports.TriggerManual,
		HeartbeatAt: &stale, JobID: &job, Attempts: 1, Warnings: []string{}}
	_, err = b.d.NewInsert().Model(run).Returning("*").Exec(b.ctx)
	require.NoError(t, err)

	a := start(t, b) // its periodic recovery runs at start
	defer func() { _ = a.Stop(context.Background()) }()
	done := waitRun(t, a, b, run.ID)
	require.Equal(t, imports.StatusSucceeded, done.Status, done.Message)
	require.Equal(t, 50, done.Created)
	require.Equal(t, 2, done.Attempts)

	// After MaxRunAttempts starts, a stalled run fails instead.
	run2 := &imports.Run{ImportID: imp.ID, FileID: f.ID, Status: imports.StatusRunning, Trigger: imports.TriggerManual,
		HeartbeatAt: &stale, JobID: &job, Attempts: 3, Warnings: []string{}}
	_, err = b.d.NewInsert().Model(run2).Returning("*").Exec(b.ctx)
	require.NoError(t, err)
	n, err := a.Services.Imports.RecoverStalledRuns(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	failed, err := imports.GetRun(b.ctx, b.d, run2.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusFailed, failed.Status)
	require.Contains(t, failed.Message, "stopped 3 times")
}

func mustServices(t *testing.T, b *bundle) *app.Services {
	t.Helper()
	a, err := app.New(b.d, app.Options{})
	require.NoError(t, err)
	return a.Services
}

// TestQueuedRunWithStuckJobIsRecovered: a worker that stops before River
// records how an attempt ended leaves the run's job "running" (River
// rescues such a job only after the longest a run may take) while the
// attempt has put the run back in the queue. Another process's recovery
// gives the run a new job and runs it.
func TestQueuedRunWithStuckJobIsRecovered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := mustServices(t, b) // no workers: the job waits
	imp, err := svc.Imports.Create(b.ctx, imports.CreateImportInput{Name: "SIS", Method: imports.MethodFull})
	require.NoError(t, err)
	_, run, err := svc.Imports.Upload(b.ctx, imp.ID, "a.csv", strings.NewReader(districtgen.File(districtgen.Options{Rows: 50, Seed: 1})), true)
	require.NoError(t, err)
	require.NotNil(t, run.JobID)
	// As the stopped attempt left them.
	_, err = b.d.NewRaw(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '10 minutes' WHERE id = ?`, *run.JobID).Exec(b.ctx)
	require.NoError(t, err)
	_, err = b.d.NewRaw(`UPDATE import_runs SET attempts = 1, message = 'attempt 1 did not finish; retrying' WHERE id = ?`, run.ID).Exec(b.ctx)
	require.NoError(t, err)

	a := start(t, b) // its periodic recovery runs at start
	defer func() { _ = a.Stop(context.Background()) }()
	done := waitRun(t, a, b, run.ID)
	require.Equal(t, imports.StatusSucceeded, done.Status, done.Message)
	require.Equal(t, 50, done.Created)
	require.Equal(t, 2, done.Attempts)
	require.NotEqual(t, *run.JobID, *done.JobID, "a new job")
	var state string
	var cancelAsked bool
	require.NoError(t, b.d.NewRaw(`SELECT state, metadata->>'cancel_attempted_at' IS NOT NULL FROM river_job WHERE id = ?`, *run.JobID).Scan(b.ctx, &state, &cancelAsked))
	require.Equal(t, "running", state)
	require.True(t, cancelAsked, "River's rescue, hours later, finds the old job canceled")
}
