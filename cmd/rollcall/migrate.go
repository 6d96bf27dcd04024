package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
)

type migrateCmd struct {
	config.Database `embed:""`
}

func (m *migrateCmd) Run(ctx context.Context, logger *slog.Logger, out stdout) error {
	if m.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	d, err := db.Open(ctx, m.DatabaseURL, db.Options{MaxConns: 2, ApplicationName: "rollcall migrate"})
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := db.Migrate(ctx, d.DB)
	for _, name := range applied {
		logger.Info("migration applied", slog.String("migration", name))
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(out, "database is up to date")
	}
	return nil
}
