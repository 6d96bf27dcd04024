// Package servertest runs Rollcall's real HTTP handler over a real, private
// test database, and speaks GraphQL to it the way a front end does.
package servertest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/metrics"
	"github.com/rollcall/rollcall/internal/testkit/clock"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/internal/users"
	"github.com/rollcall/rollcall/server"
)

// Server is a running Rollcall over its own database.
type Server struct {
	Client   // a GraphQL client of the server
	DB       *db.DB
	Services *app.Services
	Metrics  *metrics.Metrics
	Clock    *clock.Clock
	Logs     *LogBuffer    // everything the server logged (JSON lines)
	Queries  *QueryCounter // the SQL statements the server ran for requests
}

// Options change the server's configuration for one test.
type Options struct {
	// Configure edits the default server settings.
	Configure func(*config.Server)
	// Imports edits the imports settings.
	Imports func(*imports.Config)
}

// New starts a server for t on a fresh database.
func New(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	queries := &QueryCounter{}
	d := testdb.OpenWith(t, testdb.URL(t), db.Options{Tracer: queries})
	cfg := config.DefaultServer()
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	logs := &LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New()
	m.MustRegister(db.NewPoolCollector(d))
	clock := &clock.Clock{}
	ic := imports.ConfigFor(cfg)
	ic.SchedulerInterval = time.Hour // tests fire schedules themselves, with their own clock
	if opts.Imports != nil {
		opts.Imports(&ic)
	}
	a, err := app.New(d, app.Options{Logger: logger, Metrics: m, Now: clock.Now, Imports: ic, ImportWorkers: cfg.Workers})
	if err != nil {
		t.Fatalf("build app: %v", err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("start workers: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	})
	services := a.Services
	hs := httptest.NewServer(server.NewRouter(server.Deps{Config: cfg, Logger: logger, Metrics: m, DB: d, Services: services}))
	t.Cleanup(hs.Close)
	// A failed test shows what the server logged at warning and above
	// (a worker's failure is often only there).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log, warnings and errors:\n%s", logs.Severe())
		}
	})
	return &Server{Client: Client{URL: hs.URL, HTTP: hs.Client()}, DB: d, Services: services, Metrics: m, Clock: clock, Logs: logs, Queries: queries}
}

// LogBuffer holds what the server logs; it may be read while the server
// writes.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
// Severe returns the lines logged at WARN or ERROR.
func (l *LogBuffer) Severe() string {
	var out strings.Builder
	for _, line := range strings.SplitAfter(l.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			out.WriteString(line)
		}
	}
	return out.String()
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Admin creates a system administrator and returns it with a token.
func (s *Server) Admin(t testing.TB, email string) (*users.User, string) {
	t.Helper()
	u, token, err := s.Services.Users.BootstrapAdmin(context.Background(), email, "", "test")
	if err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return u, token
}

// User creates a USER (as the given admin) and returns it with a token.
func (s *Server) User(t testing.TB, adminToken, email string) (*users.User, string) {
	t.Helper()
	var out struct {
		CreateUser struct{ ID string } `json:"createUser"`
	}
	s.MustQuery(t, adminToken, `mutation($e: String!) { createUser(input: {email: $e, name: "Test User"}) { id } }`, map[string]any{"e": email}, &out)
	var tok struct {
		CreateAPIToken struct{ Token string } `json:"createApiToken"`
	}
	s.MustQuery(t, adminToken, `mutation($u: ID!) { createApiToken(userId: $u, name: "test") { token } }`, map[string]any{"u": out.CreateUser.ID}, &tok)
	u, err := users.GetUserByEmailForUpdate(context.Background(), s.DB, email)
	if err != nil {
		t.Fatalf("load user: %v", err)
	}
	return u, tok.CreateAPIToken.Token
}

// QueryCounter counts the SQL statements sent to the database for signed-in
// requests (their context carries a viewer): not the job queue's, the
// schedules' or the workers', which run at any moment and would make a
// count of a request's statements depend on the timing.
type QueryCounter struct{ n atomic.Int64 }

// TraceQueryStart counts a statement.
func (c *QueryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if authz.ViewerFrom(ctx) != nil {
		c.n.Add(1)
	}
	return ctx
}

// TraceQueryEnd does nothing.
func (c *QueryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Count returns the statements so far.
func (c *QueryCounter) Count() int64 { return c.n.Load() }
