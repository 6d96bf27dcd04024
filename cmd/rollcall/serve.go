package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"time"

	"github.com/bytedance/gopkg/util/gctuner"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/metrics"
	"github.com/rollcall/rollcall/server"
)

type serveCmd struct {
	config.Database `embed:""`
	config.Server   `embed:""`
}

func (s *serveCmd) Run(ctx context.Context, logger *slog.Logger) error {
	if s.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set: point it at a PostgreSQL 15+ database, or use `make run` for a development server with a private database")
	}
	// No devHooks: nothing of `rollcall dev` (demo data, a token in the
	// GraphiQL page) can happen in production.
	return serve(ctx, logger, s.Database, s.Server, nil)
}

// devHooks are how `rollcall dev` takes part in serve.
type devHooks struct {
	// prepare, when not nil, runs once the services have started and
	// before the router is built (so before the server listens). It
	// returns the JSON that pre-fills GraphiQL's Headers tab
	// (server.Deps.GraphiQLHeaders), e.g. with the token of the demo
	// administrator it created.
	prepare func(svc *app.Services) (graphiqlHeaders string, err error)
	// ready, when not nil, runs once the server listens.
	ready func(addr string) error
}

// serve runs the HTTP server until ctx ends, then shuts down gracefully.
// dev is nil but for `rollcall dev`.
func serve(ctx context.Context, logger *slog.Logger, dbCfg config.Database, cfg config.Server, dev *devHooks) error {
	tuneGC(cfg.GCThreshold, logger)
	// The process id in application_name tells an operator (and the tests)
	// which node a database session belongs to.
	d, err := db.Open(ctx, dbCfg.DatabaseURL, db.Options{MaxConns: dbCfg.DBMaxConns, ApplicationName: fmt.Sprintf("rollcall/%d", os.Getpid())})
	if err != nil {
		return err
	}
	defer d.Close()

	if cfg.Migrate {
		applied, err := db.Migrate(ctx, d.DB)
		if err != nil {
			return err
		}
		for _, name := range applied {
			logger.Info("migration applied", slog.String("migration", name))
		}
	}

	m := metrics.New()
	m.MustRegister(db.NewPoolCollector(d))
	a, err := app.New(d, appOptions(cfg, logger, m))
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := a.Stop(stopCtx); err != nil {
			logger.Error("stop workers", slog.String("error", err.Error()))
		}
	}()

	deps := server.Deps{Config: cfg, Logger: logger, Metrics: m, DB: d, Services: a.Services}
	if dev != nil && dev.prepare != nil {
		if deps.GraphiQLHeaders, err = dev.prepare(a.Services); err != nil {
			return err
		}
	}
	handler := server.NewRouter(deps)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()), slog.Int("workers", cfg.Workers))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.DebugAddr != "" {
		dbg, err := serveDebug(cfg.DebugAddr, logger)
		if err != nil {
			_ = srv.Close()
			return err
		}
		defer dbg.Close()
	}
	if dev != nil && dev.ready != nil {
		if err := dev.ready(ln.Addr().String()); err != nil {
			_ = srv.Close()
			return err
		}
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// appOptions derives the services' options from the server settings.
func appOptions(cfg config.Server, logger *slog.Logger, m *metrics.Metrics) app.Options {
	return app.Options{Logger: logger, Metrics: m, Imports: imports.ConfigFor(cfg), ImportWorkers: cfg.Workers}
}

// serveDebug serves Go's profiles (net/http/pprof) on their own listener,
// so that they never share the API's port or its authentication-free paths.
func serveDebug(addr string, logger *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("debug listener", slog.String("addr", ln.Addr().String()))
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// tuneGC lets the heap grow to threshold bytes between collections while it
// is small. An API node's live heap is a few tens of MB, so with Go's
// default (GOGC=100) it collected every few tens of MB allocated: at list
// pages' rates, garbage collection took about a sixth of the CPU
// (docs/benchmarks.md). GOGC rises up to 500 while the heap is well under
// threshold and never falls under 100, so a large heap (an import's) is
// collected exactly as by default, and memory never exceeds the larger of
// threshold and Go's own target. An operator's GOGC wins.
func tuneGC(threshold int64, logger *slog.Logger) {
	if threshold <= 0 || os.Getenv("GOGC") != "" {
		return
	}
	gctuner.SetMinGCPercent(100)
	gctuner.SetMaxGCPercent(500)
	gctuner.Tuning(uint64(threshold))
	logger.Debug("garbage collection tuned", slog.Int64("threshold_bytes", threshold))
}
