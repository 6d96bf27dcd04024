package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/pgcluster"
)

type adminCmd struct {
	Create adminCreateCmd `cmd:"" help:"Create (or re-enable) a system administrator and print a new API token."`
}

type adminCreateCmd struct {
	config.Database `embed:""`
	DataDir         string `name:"data-dir" env:"ROLLCALL_DEV_DATA_DIR" default:".data" help:"Without DATABASE_URL: the folder of the development database that 'make run' created."`
	Email           string `required:"" help:"The administrator's email address."`
	Name            string `help:"Display name (defaults to the part of the email before @)."`
}

// Run prints only the token on stdout, so that scripts can capture it:
// TOKEN=$(rollcall admin create --email admin@district.org).
//
// Without DATABASE_URL it uses the development database of 'make run' (the
// private PostgreSQL in --data-dir, started for the moment if it is not
// running), so that the README's steps work on a developer's machine.
func (a *adminCreateCmd) Run(ctx context.Context, logger *slog.Logger, out stdout) error {
	if a.DatabaseURL == "" {
		url, stop, err := existingDevDatabase(ctx, logger, a.DataDir)
		if err != nil {
			return err
		}
		defer stop()
		a.DatabaseURL = url
	}
	d, err := db.Open(ctx, a.DatabaseURL, db.Options{MaxConns: 2, ApplicationName: "rollcall admin"})
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := db.Migrate(ctx, d.DB); err != nil {
		return err
	}
	services, err := app.New(d, app.Options{Logger: logger})
	if err != nil {
		return err
	}
	u, token, err := services.Services.Users.BootstrapAdmin(ctx, a.Email, a.Name, "admin create "+time.Now().UTC().Format("2006-01-02 15:04"))
	if err != nil {
		return err
	}
	logger.Info("system administrator ready", slog.String("email", u.Email), slog.Int64("id", u.ID))
	fmt.Fprintln(out, token)
	return nil
}

// devDatabaseName is the database 'make run' keeps its data in.
const devDatabaseName = "rollcall"

// existingDevDatabase returns the URL of the development database in
// dataDir, starting its server if 'make run' is not running it; stop stops
// it again in that case (and leaves a running one alone).
func existingDevDatabase(ctx context.Context, logger *slog.Logger, dataDir string) (url string, stop func(), err error) {
	dir := filepath.Join(dataDir, "pg")
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		return "", nil, fmt.Errorf("DATABASE_URL is not set, and there is no development database in %s: set DATABASE_URL, or run `make run` once", dataDir)
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{
		Dir:  dir,
		Logf: func(format string, args ...any) { logger.Debug(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return "", nil, err
	}
	stop = func() {
		if err := cluster.Stop(); err != nil {
			logger.Error("stop private PostgreSQL", slog.String("error", err.Error()))
		}
	}
	return cluster.URL(devDatabaseName), stop, nil
}
