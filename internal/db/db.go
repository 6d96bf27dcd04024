// Package db opens Rollcall's PostgreSQL connection pool and gives it to the
// rest of the program in the two forms it needs: Bun for the domain's queries
// and the raw pgx pool for COPY, LISTEN/NOTIFY and River. Both share one pool,
// so the connection limit is one number.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// DB is the database handle passed to services.
type DB struct {
	*bun.DB
	Pool *pgxpool.Pool
}

// Options tune the pool.
type Options struct {
	// MaxConns caps open connections (0: pgx's default, max(4, CPUs)).
	MaxConns int32
	// ApplicationName shows in pg_stat_activity.
	ApplicationName string
	// Tracer, if set, sees every query (tests count them).
	Tracer pgx.QueryTracer
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	}
	// Everything is stored and compared in UTC; clients get RFC 3339 times.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redact(cfg), err)
	}
	sqldb := stdlib.OpenDBFromPool(pool)
	return &DB{DB: bun.NewDB(sqldb, pgdialect.New()), Pool: pool}, nil
}

// Close closes Bun's handle and the pool under it.
func (d *DB) Close() {
	_ = d.DB.Close()
	d.Pool.Close()
}

// SQL returns the database/sql handle (for libraries that take one).
func (d *DB) SQL() *sql.DB { return d.DB.DB }

func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
