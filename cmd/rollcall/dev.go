package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/demo"
	"github.com/rollcall/rollcall/internal/pgcluster"
)

type devCmd struct {
	config.Database `embed:""`
	config.Server   `embed:""`
	DataDir         string `name:"data-dir" env:"ROLLCALL_DEV_DATA_DIR" default:".data" help:"Folder for the private PostgreSQL and the saved admin token."`
	PGPort          int    `name:"pg-port" env:"ROLLCALL_DEV_PG_PORT" default:"54329" help:"Port of the private PostgreSQL (127.0.0.1 only)."`
	AdminEmail      string `name:"admin-email" env:"ROLLCALL_DEV_ADMIN_EMAIL" default:"admin@demo.rollcall.test" help:"The demo administrator."`
}

// Run starts the private database when DATABASE_URL is unset, seeds the demo
// district once, prints where to go and a working token, and serves.
func (d *devCmd) Run(ctx context.Context, logger *slog.Logger, out stdout) error {
	if d.DatabaseURL == "" {
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{
			Dir:  filepath.Join(d.DataDir, "pg"),
			Port: d.PGPort,
			Logf: func(format string, args ...any) { logger.Info(fmt.Sprintf(format, args...)) },
		})
		if err != nil {
			return err
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				logger.Error("stop private PostgreSQL", slog.String("error", err.Error()))
			}
		}()
		if err := cluster.CreateDatabase(ctx, devDatabaseName); err != nil {
			return err
		}
		d.DatabaseURL = cluster.URL(devDatabaseName)
		logger.Info("private PostgreSQL ready", slog.String("dir", cluster.Dir()), slog.Int("port", cluster.Port()))
	}
	// The demo data and the token come before the router, so that
	// GraphiQL's Headers tab can hold the token.
	var token string
	return serve(ctx, logger, d.Database, d.Server, &devHooks{
		prepare: func(svc *app.Services) (string, error) {
			if err := demo.Seed(ctx, svc, d.AdminEmail); err != nil {
				return "", fmt.Errorf("seed demo data: %w", err)
			}
			var err error
			if token, err = d.adminToken(ctx, svc); err != nil {
				return "", err
			}
			return graphiqlHeaders(token), nil
		},
		ready: func(addr string) error {
			printBanner(out, addr, token)
			return nil
		},
	})
}

// graphiqlHeaders returns the JSON for GraphiQL's Headers tab that sends
// token.
func graphiqlHeaders(token string) string {
	quoted, _ := json.Marshal("Bearer " + token) // a string always marshals
	return `{"Authorization": ` + string(quoted) + `}`
}

// adminToken reuses the token saved by an earlier run while it still works,
// so that a developer's GraphiQL headers keep working across restarts.
func (d *devCmd) adminToken(ctx context.Context, svc *app.Services) (string, error) {
	path := filepath.Join(d.DataDir, "admin-token")
	if b, err := os.ReadFile(path); err == nil {
		token := strings.TrimSpace(string(b))
		if _, err := svc.Users.Authenticate(ctx, token); err == nil {
			return token, nil
		} else if !errors.Is(err, apperr.ErrUnauthenticated) {
			return "", err
		}
	}
	_, token, err := svc.Users.BootstrapAdmin(ctx, d.AdminEmail, "Demo Administrator", "make run")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(d.DataDir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save admin token: %w", err)
	}
	return token, nil
}

func printBanner(out io.Writer, addr, token string) {
	_, port, _ := net.SplitHostPort(addr)
	base := "http://localhost:" + port
	fmt.Fprintf(out, `
Rollcall is running.

  GraphiQL     %[1]s/
  GraphQL      %[1]s/graphql
  Admin token  %[2]s

GraphiQL's Headers tab holds this token already (a browser keeps headers you
changed there). From a shell:
  TOKEN=%[2]s
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"query":"{ me { email role } }"}' %[1]s/graphql

Press Ctrl-C to stop.
`, base, token)
}

type withTempDBCmd struct {
	Command []string `arg:"" passthrough:"" help:"The command to run, e.g. go test ./..."`
}

// Run starts a throwaway PostgreSQL (fast, unsafe settings), runs the command
// with DATABASE_URL pointing at it, and removes it afterwards. Tests clone a
// template database per test from it.
func (w *withTempDBCmd) Run(ctx context.Context, logger *slog.Logger) error {
	dir, err := os.MkdirTemp("", "rollcall-pg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{
		Dir:       filepath.Join(dir, "pg"),
		Ephemeral: true,
		Logf:      func(format string, args ...any) { logger.Debug(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return err
	}
	defer func() { _ = cluster.Stop() }()
	logger.Info("temporary PostgreSQL ready", slog.Int("port", cluster.Port()))

	args := w.Command
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("with-temp-db: no command given")
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DATABASE_URL="+cluster.URL("postgres"))
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitCode(exitErr.ExitCode())
		}
		return err
	}
	return nil
}
