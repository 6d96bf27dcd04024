package db

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/rollcall/rollcall/migrations"
)

// migrationLockKey is the advisory lock that serializes migrations across
// processes. Bun's own lock is a table row, which a crashed process would
// leave held forever; an advisory lock dies with its session.
var migrationLockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("rollcall:migrations"))
	return int64(h.Sum64())
}()

// NewMigrator returns Bun's migrator over Rollcall's migrations.
func NewMigrator(db *bun.DB) *migrate.Migrator {
	return migrate.NewMigrator(db, migrations.Migrations, migrate.WithMarkAppliedOnSuccess(true))
}

// Migrate applies every pending migration and returns their names. Several
// processes may call it at once: one applies, the others wait and find
// nothing left to do.
func Migrate(ctx context.Context, db *bun.DB) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrationLockKey); err != nil {
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even if ctx is done.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockKey)
	}()

	m := NewMigrator(db)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate: init: %w", err)
	}
	group, err := m.Migrate(ctx)
	names := make([]string, 0, len(group.Migrations))
	for _, mig := range group.Migrations {
		names = append(names, mig.String())
	}
	if err != nil {
		return names, fmt.Errorf("migrate: %w", err)
	}
	return names, nil
}

// PendingMigrations returns the migrations not yet applied. It fails when
// the migrations table does not exist yet.
func PendingMigrations(ctx context.Context, db *bun.DB) ([]string, error) {
	missing, err := NewMigrator(db).MissingMigrations(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(missing))
	for _, mig := range missing {
		names = append(names, mig.String())
	}
	return names, nil
}
