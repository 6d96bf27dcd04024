package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
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

func file(n int, variant string) string {
	var sb strings.Builder
	sb.WriteString("student_id,first_name,last_name,grade,school,guardian1_phone,homeroom\n")
	for i := range n {
		fmt.Fprintf(&sb, "S%07d,First%d,Last%d,%d,School %d,612-555-%04d,Room %s%d\n", i, i, i, i%12+1, i%7, i%10000, variant, i%40)
	}
	return sb.String()
}

func waitRun(t *testing.T, b *bundle, id int64, done func(*imports.Run) bool) *imports.Run {
	t.Helper()
	var run *imports.Run
	require.Eventually(t, func() bool {
		var err error
		run, err = imports.GetRun(b.ctx, b.d, id)
		require.NoError(t, err)
		return done(run)
	}, 60*time.Second, 10*time.Millisecond)
	return run
}

func finished(r *imports.Run) bool { return !r.Status.Active() }

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
	_, run, err := svc.Imports.Upload(b.ctx, imp.ID, "a.csv", strings.NewReader(file(1000, "A")), true)
	require.NoError(t, err)
	require.Equal(t, imports.StatusSucceeded, waitRun(t, b, run.ID, finished).Status)
	before := snapshot(t, b)

	// The run is held once it has read the file and comes to write
	// recipients, and the process stops there.
	hold := testdb.HoldWrites(t, b.d, "recipients")
	_, run, err = svc.Imports.Upload(b.ctx, imp.ID, "b.csv", strings.NewReader(file(100000, "B")), true)
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
	done := waitRun(t, b, run.ID, finished)
	require.Equal(t, imports.StatusSucceeded, done.Status, done.Message)
	require.Equal(t, 99000, done.Created)
	require.Equal(t, 1000, done.Updated)
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
	f, _, err := svc.Imports.Upload(b.ctx, imp.ID, "a.csv", strings.NewReader(file(50, "A")), false)
	require.NoError(t, err)
	stale := time.Now().Add(-10 * time.Minute)
	job := int64(424242)
	run := &imports.Run{ImportID: imp.ID, FileID: f.ID, Status: imports.StatusRunning, Trigger: imports.TriggerManual,
		HeartbeatAt: &stale, JobID: &job, Attempts: 1, Warnings: []string{}}
	_, err = b.d.NewInsert().Model(run).Returning("*").Exec(b.ctx)
	require.NoError(t, err)

	a := start(t, b) // its periodic recovery runs at start
	defer func() { _ = a.Stop(context.Background()) }()
	done := waitRun(t, b, run.ID, finished)
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
