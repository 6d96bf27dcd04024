package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
)

type adminCmd struct {
	Create adminCreateCmd `cmd:"" help:"Create (or re-enable) a system administrator and print a new API token."`
}

type adminCreateCmd struct {
	config.Database `embed:""`
	Email           string `required:"" help:"The administrator's email address."`
	Name            string `help:"Display name (defaults to the part of the email before @)."`
}

// Run prints only the token on stdout, so that scripts can capture it:
// TOKEN=$(rollcall admin create --email admin@district.org).
func (a *adminCreateCmd) Run(ctx context.Context, logger *slog.Logger, out stdout) error {
	if a.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
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
