package importjobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/testkit/clock"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/internal/users"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// fixture is an import on a fresh database, with an administrator's
// context, that runs files synchronously (no job queue).
type fixture struct {
	t      *testing.T
	ctx    context.Context
	db     *db.DB
	jobs   *river.Client[*sql.Tx]
	svc    *imports.Service
	runner *Runner
	imp    *imports.Import
	clock  *clock.Clock // nil: the service reads time.Now
}

func newFixture(t *testing.T, in imports.CreateImportInput) *fixture {
	t.Helper()
	d := testdb.New(t)
	ctx := context.Background()
	admin, err := users.NewService(d, nil).EnsureAdmin(ctx, "admin@district.test", "Admin")
	require.NoError(t, err)
	ctx = authz.WithViewer(ctx, users.AsViewer(admin))
	// Jobs are inserted (an insert-only client) but not worked: tests run
	// runs themselves.
	jobs, err := river.NewClient(riverdatabasesql.New(d.SQL()), &river.Config{})
	require.NoError(t, err)
	clock := &clock.Clock{}
	f := &fixture{t: t, ctx: ctx, db: d, jobs: jobs, clock: clock}
	f.configure(func(*imports.Config) {})
	if in.Name == "" {
		in.Name = "SIS students"
	}
	if in.Method == "" {
		in.Method = imports.MethodFull
	}
	f.imp, err = f.svc.Create(ctx, in)
	require.NoError(t, err)
	return f
}

// configure replaces the fixture's service by one with the default
// configuration changed by change.
func (f *fixture) configure(change func(*imports.Config)) {
	cfg := imports.DefaultConfig()
	change(&cfg)
	logger := slog.New(slog.DiscardHandler)
	now := time.Now
	if f.clock != nil {
		now = f.clock.Now
	}
	f.svc = imports.NewService(f.db, f.jobs, cfg, now, logger)
	f.runner = NewRunner(f.svc, f.db, logger, nil)
}

// runFile uploads content and applies it as a run would, returning the
// finished run.
func (f *fixture) runFile(content string, opts ...func(*imports.Run)) *imports.Run {
	f.t.Helper()
	file, _, err := f.svc.Upload(f.ctx, f.imp.ID, "students.csv", strings.NewReader(content), false)
	require.NoError(f.t, err)
	return f.runStored(file.ID, opts...)
}

func (f *fixture) runStored(fileID int64, opts ...func(*imports.Run)) *imports.Run {
	f.t.Helper()
	imp, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
	require.NoError(f.t, err)
	f.imp = imp
	run := &imports.Run{ImportID: f.imp.ID, FileID: fileID, Status: imports.StatusRunning, Trigger: imports.TriggerManual, Warnings: []string{}}
	for _, o := range opts {
		o(run)
	}
	_, err = f.db.NewInsert().Model(run).Returning("*").Exec(f.ctx)
	require.NoError(f.t, err)
	_, err = f.runner.Process(f.ctx, run, f.imp)
	require.NoError(f.t, err)
	return f.reload(run.ID)
}

// reload reads a run and the import again.
func (f *fixture) reload(runID int64) *imports.Run {
	f.t.Helper()
	out, err := imports.GetRun(f.ctx, f.db, runID)
	require.NoError(f.t, err)
	f.imp, err = imports.GetImport(f.ctx, f.db, f.imp.ID)
	require.NoError(f.t, err)
	return out
}

// approve applies a held run the way approval does: same run, past the
// removal guard.
func (f *fixture) approve(run *imports.Run) *imports.Run {
	f.t.Helper()
	now := time.Now()
	run.Status, run.ApprovedAt = imports.StatusRunning, &now
	_, err := f.db.NewUpdate().Model(run).Column("status", "approved_at").WherePK().Exec(f.ctx)
	require.NoError(f.t, err)
	_, err = f.runner.Process(f.ctx, run, f.imp)
	require.NoError(f.t, err)
	return f.reload(run.ID)
}

func dryRun(r *imports.Run) { r.DryRun = true }

// snapshot is every recipient of the database as comparable text, by key.
func (f *fixture) snapshot() map[string]string {
	f.t.Helper()
	var rows []struct {
		Key string `bun:"external_id"`
		Row string `bun:"row"`
	}
	err := f.db.NewRaw(`SELECT external_id, jsonb_build_object('type', type, 'first', first_name, 'last', last_name,
		'grade', grade, 'rank', grade_rank, 'school', school, 'language', language, 'phones', phones,
		'emails', emails, 'custom', custom_fields, 'removed', removed_at IS NOT NULL, 'hash', row_hash,
		'updated', updated_at)::text AS row FROM recipients WHERE import_id = ?`, f.imp.ID).Scan(f.ctx, &rows)
	require.NoError(f.t, err)
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Key] = r.Row
	}
	return out
}

// recipient returns one recipient's columns decoded.
func (f *fixture) recipient(key string) map[string]any {
	f.t.Helper()
	var row string
	err := f.db.NewRaw(`SELECT jsonb_build_object('type', type, 'first', first_name, 'last', last_name,
		'grade', grade, 'rank', grade_rank, 'school', school, 'language', language, 'phones', phones,
		'emails', emails, 'custom', custom_fields, 'removed', removed_at IS NOT NULL,
		'keys', jsonb_build_array(first_name_key, last_name_key, school_key, language_key), 'customKey', custom_fields_key)::text
		FROM recipients WHERE import_id = ? AND external_id = ?`, f.imp.ID, key).Scan(f.ctx, &row)
	require.NoError(f.t, err)
	var m map[string]any
	require.NoError(f.t, json.Unmarshal([]byte(row), &m))
	return m
}

func (f *fixture) errors(run *imports.Run) []imports.RunError {
	f.t.Helper()
	var out []imports.RunError
	require.NoError(f.t, f.db.NewSelect().Model(&out).Where("run_id = ?", run.ID).OrderExpr("seq").Scan(f.ctx))
	return out
}

func counts(r *imports.Run) apply.Counts {
	return apply.Counts{RowsRead: r.RowsRead, Created: r.Created, Updated: r.Updated, Unchanged: r.Unchanged,
		Removed: r.Removed, Restored: r.Restored, Rejected: r.Rejected}
}

func asAppErr(t *testing.T, err error) *apperr.Error {
	t.Helper()
	ae, ok := apperr.As(err)
	require.True(t, ok, "%v is not an apperr", err)
	return ae
}
