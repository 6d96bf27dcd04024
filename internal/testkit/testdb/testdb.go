// Package testdb gives each test its own migrated PostgreSQL database,
// cloned from a template that is migrated once per schema version
// (pgtestdb), so tests run in parallel against real PostgreSQL and never
// share data.
//
// The server is the one DATABASE_URL points at (`make test` starts a
// temporary one for the whole run). Without DATABASE_URL, the first test
// that needs a database starts a private server for the test binary; call
// Main from TestMain so that it is stopped at the end.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for pgtestdb
	"github.com/peterldowns/pgtestdb"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/pgcluster"
	"github.com/rollcall/rollcall/migrations"
)

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
	cluster    *pgcluster.Cluster
	clusterDir string
)

// Main runs the tests and stops a private server if one was started.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
		_ = os.RemoveAll(clusterDir)
	}
	os.Exit(code)
}

// ServerURL returns the URL of the PostgreSQL server tests use (a superuser
// connection to its maintenance database).
func ServerURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			serverURL = u
			return
		}
		clusterDir, serverErr = os.MkdirTemp("", "rollcall-testdb-")
		if serverErr != nil {
			return
		}
		cluster, serverErr = pgcluster.Start(context.Background(), pgcluster.Options{Dir: filepath.Join(clusterDir, "pg"), Ephemeral: true})
		if serverErr == nil {
			serverURL = cluster.URL("postgres")
		}
	})
	if serverErr != nil {
		t.Fatalf("no PostgreSQL for tests: %v (set DATABASE_URL or run make test)", serverErr)
	}
	return serverURL
}

// Config returns pgtestdb's configuration for the test server.
func Config(t testing.TB) pgtestdb.Config {
	t.Helper()
	pc, err := pgconn.ParseConfig(ServerURL(t))
	if err != nil {
		t.Fatalf("parse DATABASE_URL: %v", err)
	}
	return pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      pc.Host,
		Port:                      strconv.Itoa(int(pc.Port)),
		User:                      pc.User,
		Password:                  pc.Password,
		Database:                  pc.Database,
		Options:                   "sslmode=disable",
		ForceTerminateConnections: true,
	}
}

// URL returns the URL of a new, fully migrated database for t, dropped
// when t ends (kept if t failed, for a look).
func URL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, Config(t), Migrator{}).URL()
}

// New returns an open handle to a new, fully migrated database for t.
func New(t testing.TB) *db.DB {
	t.Helper()
	return Open(t, URL(t))
}

// Open opens url for the duration of t.
func Open(t testing.TB, url string) *db.DB {
	t.Helper()
	return OpenWith(t, url, db.Options{})
}

// OpenWith opens url with options for the duration of t.
func OpenWith(t testing.TB, url string, opts db.Options) *db.DB {
	t.Helper()
	opts.MaxConns, opts.ApplicationName = 12, t.Name()
	d, err := db.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// Empty returns the URL of a new database with no schema at all, for
// testing migrations themselves.
func Empty(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, Config(t), pgtestdb.NoopMigrator{}).URL()
}

// Migrator builds the template with Rollcall's own migrations.
type Migrator struct{}

// Hash identifies the schema: every SQL migration's name and content, and
// the versions of the Go migrations (River's schema, the folded keys).
func (Migrator) Hash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "river:%d\nfolded-keys:%d\n", migrations.RiverSchemaVersion, migrations.FoldedKeysVersion)
	err := fs.WalkDir(migrations.Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Files(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s:%d\n", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// Migrate applies the migrations to the template.
func (Migrator) Migrate(ctx context.Context, sqldb *sql.DB, _ pgtestdb.Config) error {
	_, err := db.Migrate(ctx, bun.NewDB(sqldb, pgdialect.New()))
	return err
}

// NewInLocale returns an open handle to a new, fully migrated database for
// t whose LC_CTYPE and LC_COLLATE are locale ("C" is what a cluster falls
// back to where C.UTF-8 is missing), dropped when t ends. It is migrated on
// its own (a template cannot change locale), so it costs a second or two:
// for the tests that check that behaviour does not depend on the locale.
func NewInLocale(t testing.TB, locale string) *db.DB {
	t.Helper()
	ctx := context.Background()
	admin, err := db.Open(ctx, ServerURL(t), db.Options{MaxConns: 2})
	if err != nil {
		t.Fatalf("open test server: %v", err)
	}
	defer admin.Close()
	var name string
	if err := admin.NewRaw("SELECT 'testdb_locale_' || md5(random()::text)").Scan(ctx, &name); err != nil {
		t.Fatalf("name test database: %v", err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE ? TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE ? LC_CTYPE ?",
		bun.Ident(name), locale, locale); err != nil {
		t.Fatalf("create database in locale %s: %v", locale, err)
	}
	t.Cleanup(func() {
		admin, err := db.Open(context.Background(), ServerURL(t), db.Options{MaxConns: 1})
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name))
	})
	pc, err := pgconn.ParseConfig(ServerURL(t))
	if err != nil {
		t.Fatalf("parse DATABASE_URL: %v", err)
	}
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", pc.User, pc.Password, pc.Host, pc.Port, name)
	d := Open(t, url)
	if _, err := db.Migrate(ctx, d.DB); err != nil {
		t.Fatalf("migrate database in locale %s: %v", locale, err)
	}
	return d
}
