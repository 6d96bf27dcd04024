// Package servertest runs Rollcall's real HTTP handler over a real, private
// test database, and speaks GraphQL to it the way a front end does.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/metrics"
	"github.com/rollcall/rollcall/internal/testkit/clock"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/internal/users"
	"github.com/rollcall/rollcall/server"
)

// Server is a running Rollcall over its own database.
type Server struct {
	URL      string
	DB       *db.DB
	Services *app.Services
	Metrics  *metrics.Metrics
	Clock    *clock.Clock
	Logs     *LogBuffer    // everything the server logged (JSON lines)
	Queries  *QueryCounter // every SQL statement the server ran
	client   *http.Client
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
	ic := imports.DefaultConfig()
	ic.MaxUploadBytes = cfg.MaxUploadBytes
	ic.Limits = importfile.LimitsFor(cfg.MaxUploadBytes, cfg.MaxDecompressed, cfg.MaxCompression, cfg.RunMemoryBytes)
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
	return &Server{URL: hs.URL, DB: d, Services: services, Metrics: m, Clock: clock, Logs: logs, Queries: queries, client: hs.Client()}
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
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Response is a GraphQL response with its HTTP status.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
	Body   []byte
}

// Decode unmarshals data into v, failing t if the response had errors.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %s", r.Body)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v in %s", err, r.Body)
	}
}

// FirstCode returns the code of the first error ("" if none).
func (r *Response) FirstCode() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// Query posts a GraphQL request with token (none if empty).
func (s *Server) Query(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.Do(t, req)
}

// MustQuery is Query that fails t on any error and decodes data into v.
func (s *Server) MustQuery(t testing.TB, token, query string, vars map[string]any, v any) {
	t.Helper()
	r := s.Query(t, token, query, vars)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	r.Decode(t, v)
}

// Do sends req and reads a GraphQL-shaped response.
func (s *Server) Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	r := &Response{Status: resp.StatusCode, Body: b}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, r); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, b)
		}
	}
	return r
}

// Get fetches path and returns the status and body.
func (s *Server) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := s.client.Get(s.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
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

// Upload sends a GraphQL multipart request (the multipart request spec)
// with one file bound to the variable "file", and returns the response.
func (s *Server) Upload(t testing.TB, token, query string, vars map[string]any, filename string, content []byte) *Response {
	t.Helper()
	if vars == nil {
		vars = map[string]any{}
	}
	vars["file"] = nil
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("operations", string(ops))
	_ = w.WriteField("map", `{"0": ["variables.file"]}`)
	part, err := w.CreateFormFile("0", filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(content)
	_ = w.Close()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Apollo-Require-Preflight", "true") // as apollo-upload-client sends
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.Do(t, req)
}

// RunState is what WaitRun reports.
type RunState struct {
	ID         string
	Status     string
	DryRun     bool
	RowsRead   int
	Created    int
	Updated    int
	Unchanged  int
	Removed    int
	Restored   int
	Rejected   int
	Message    string
	Warnings   []string
	FinishedAt *string
}

// WaitRun polls a run until it is neither QUEUED nor RUNNING.
func (s *Server) WaitRun(t testing.TB, token, runID string) RunState {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var out struct{ ImportRun RunState }
		s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { id status dryRun rowsRead created updated unchanged
			removed restored rejected message warnings finishedAt } }`, map[string]any{"id": runID}, &out)
		if out.ImportRun.Status != "QUEUED" && out.ImportRun.Status != "RUNNING" {
			return out.ImportRun
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after 60s", runID, out.ImportRun.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// QueryCounter counts the SQL statements sent to the database.
type QueryCounter struct{ n atomic.Int64 }

// TraceQueryStart counts a statement.
func (c *QueryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

// TraceQueryEnd does nothing.
func (c *QueryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Count returns the statements so far.
func (c *QueryCounter) Count() int64 { return c.n.Load() }
