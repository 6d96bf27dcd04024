// Package app assembles Rollcall's domain services and background workers
// over one database, so that the server, the command line and the tests
// build them the same way.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/rollcall/rollcall/internal/attention"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/importjobs"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/lists"
	"github.com/rollcall/rollcall/internal/metrics"
	"github.com/rollcall/rollcall/internal/notify"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// Options are what the services depend on besides the database.
type Options struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// Imports tunes imports; zero means imports.DefaultConfig().
	Imports imports.Config
	// ImportWorkers is how many runs this process executes at once; 0 makes
	// an API-only process (runs execute on other nodes).
	ImportWorkers int
}

// Services are the domain services.
type Services struct {
	Users      *users.Service
	Imports    *imports.Service
	Attention  *attention.Service
	Recipients *recipients.Service
	Lists      *lists.Service
	Audit      *audit.Service
}

// App is the services plus the job queue's workers.
type App struct {
	Services *Services
	workers  *river.Client[pgx.Tx] // nil for an API-only process
	hub      *notify.Hub
	logger   *slog.Logger
}

// New builds the services over d. Background work starts with Start.
func New(d *db.DB, opts Options) (*App, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Imports == (imports.Config{}) {
		opts.Imports = imports.DefaultConfig()
	}
	workers := river.NewWorkers()
	// Services insert jobs inside their own (Bun, database/sql)
	// transactions, through this insert-only client.
	riverLogger := slog.New(quietInfo{opts.Logger.Handler()})
	jobs, err := river.NewClient(riverdatabasesql.New(d.SQL()), &river.Config{Workers: workers, Logger: riverLogger})
	if err != nil {
		return nil, fmt.Errorf("job queue client: %w", err)
	}
	recipientsSvc := recipients.NewService(d)
	svc := &Services{
		Users:      users.NewService(d, opts.Now),
		Imports:    imports.NewService(d, jobs, opts.Imports, opts.Now, opts.Logger),
		Audit:      audit.NewService(d),
		Recipients: recipientsSvc,
		Lists:      lists.NewService(d, recipientsSvc, opts.Now),
	}
	svc.Attention = attention.NewService(d, svc.Imports, opts.Now)
	importjobs.Register(workers, importjobs.NewRunner(svc.Imports, d, opts.Logger, opts.Metrics))

	// Every process listens for run changes, so that a subscription held
	// here follows a run executing on any node, and for changes of users'
	// access, so that a WebSocket session held here ends when its token is
	// revoked on any node.
	hub := notify.NewHub(d.Pool, opts.Logger, imports.RunChannel, users.AccessChannel)
	svc.Imports.UseNotifications(hub)
	svc.Users.UseNotifications(hub)

	a := &App{Services: svc, hub: hub, logger: opts.Logger}
	if need := int32(2*opts.ImportWorkers + 5); opts.ImportWorkers > 0 && d.Pool.Config().MaxConns < need {
		// A run holds two connections (the file's and its transaction's);
		// the notification listener holds one; the API, heartbeats and the
		// job queue need some too.
		return nil, fmt.Errorf("a pool of %d database connections is too small for %d import workers: allow at least %d (ROLLCALL_DB_MAX_CONNS) or fewer workers (ROLLCALL_WORKERS)",
			d.Pool.Config().MaxConns, opts.ImportWorkers, need)
	}
	if opts.ImportWorkers > 0 {
		// The working client needs pgx for LISTEN/NOTIFY; it shares the pool.
		a.workers, err = river.NewClient(riverpgxv5.New(d.Pool), &river.Config{
			Logger:  riverLogger,
			Workers: workers,
			Queues: map[string]river.QueueConfig{
				imports.QueueImports: {MaxWorkers: opts.ImportWorkers},
				river.QueueDefault:   {MaxWorkers: 2},
			},
			// Runs have their own, much faster recovery (heartbeats); River's
			// rescue of stuck jobs must never fire while one is still working.
			RescueStuckJobsAfter: opts.Imports.RunTimeout + 30*time.Minute,
			PeriodicJobs:         importjobs.Periodic(opts.Imports),
		})
		if err != nil {
			return nil, fmt.Errorf("job queue workers: %w", err)
		}
	}
	return a, nil
}

// Start begins background work: listening for notifications, and the
// workers if this process has any.
func (a *App) Start(ctx context.Context) error {
	a.hub.Start(ctx)
	if a.workers == nil {
		return nil
	}
	if err := a.workers.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	return nil
}

// Stop lets running jobs finish until ctx ends, then cancels them (a
// canceled run rolls back and is retried elsewhere).
func (a *App) Stop(ctx context.Context) error {
	defer a.hub.Stop()
	if a.workers == nil {
		return nil
	}
	err := a.workers.Stop(ctx)
	if err != nil {
		a.logger.Warn("workers did not finish in time; canceling them", slog.String("error", err.Error()))
		cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return a.workers.StopAndCancel(cancelCtx)
	}
	return nil
}

// quietInfo logs River's Info records at Debug: they are its own
// bookkeeping ("Producer job counts" every few seconds while jobs run,
// "River client started", "entering poll only mode"), not what an operator
// reads; Rollcall logs its runs itself. Warnings and errors pass as they are.
type quietInfo struct{ slog.Handler }

func (q quietInfo) Enabled(ctx context.Context, level slog.Level) bool {
	if level == slog.LevelInfo {
		level = slog.LevelDebug
	}
	return q.Handler.Enabled(ctx, level)
}

func (q quietInfo) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietInfo) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietInfo{q.Handler.WithAttrs(attrs)}
}

func (q quietInfo) WithGroup(name string) slog.Handler { return quietInfo{q.Handler.WithGroup(name)} }
