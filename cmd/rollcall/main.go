// Command rollcall is the Rollcall server and its administration tool.
//
//	rollcall serve                 run the API (and background workers)
//	rollcall migrate               apply database migrations
//	rollcall admin create --email  create a system administrator, print a token
//	rollcall dev                   development server: private PostgreSQL, demo data (make run)
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/rollcall/rollcall/internal/config"
)

// cli is the command line. Settings come from flags or the environment
// variables named in internal/config.
type cli struct {
	config.Log `embed:""`

	Serve      serveCmd      `cmd:"" help:"Run the API server and background workers."`
	Migrate    migrateCmd    `cmd:"" help:"Apply pending database migrations."`
	Admin      adminCmd      `cmd:"" help:"Manage system administrators."`
	Dev        devCmd        `cmd:"" help:"Run a development server with a private PostgreSQL and demo data (make run)."`
	WithTempDB withTempDBCmd `cmd:"" name:"with-temp-db" hidden:"" help:"Run a command with DATABASE_URL pointing at a temporary PostgreSQL (make test)."`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// stdout is where commands print their results (tokens, banners), bound by
// type so that tests can capture it; logs go to stderr.
type stdout struct{ io.Writer }

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, out, errOut io.Writer) (status int) {
	var c cli
	exited := false
	parser, err := kong.New(&c,
		kong.Name("rollcall"),
		kong.Description("Rollcall: the recipient-data service (imports, recipients, lists) behind a GraphQL API."),
		kong.UsageOnError(),
		kong.Writers(out, errOut),
		kong.Exit(func(code int) { exited, status = true, code }),
	)
	if err != nil {
		fmt.Fprintln(errOut, "rollcall:", err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if exited {
		return status // --help
	}
	if err != nil {
		parser.Errorf("%s", err)
		return 2
	}
	logger := newLogger(c.Log, errOut)
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(logger, stdout{out})
	if err := kctx.Run(); err != nil {
		if code, ok := err.(exitCode); ok {
			return int(code)
		}
		fmt.Fprintln(errOut, "rollcall:", err)
		return 1
	}
	return 0
}

// exitCode ends the program with a status and no message (the command
// already said what happened).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
