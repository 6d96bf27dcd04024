package migrations

import (
	"context"
	"fmt"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"
)

// RiverSchemaVersion is the River schema version this migration installs.
// Upgrading River to a release with a newer schema means adding a migration
// that calls migrateRiver with the new version, so the job queue's schema is
// versioned in the same history as ours.
const RiverSchemaVersion = 8

func init() {
	Migrations.MustRegister(
		func(ctx context.Context, db *bun.DB) error { return migrateRiver(ctx, db, RiverSchemaVersion) },
		func(ctx context.Context, db *bun.DB) error { return migrateRiver(ctx, db, -1) },
	)
}

// migrateRiver moves River's schema to version (up) or removes it (-1).
// River applies each of its versions in a transaction of its own (one cannot
// hold them all: a later version uses an enum value an earlier one adds) and
// records each, so an interrupted run resumes where it stopped.
func migrateRiver(ctx context.Context, db *bun.DB, version int) error {
	migrator, err := rivermigrate.New(riverdatabasesql.New(db.DB), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	direction := rivermigrate.DirectionUp
	if version < 0 {
		direction = rivermigrate.DirectionDown
	}
	if _, err := migrator.Migrate(ctx, direction, &rivermigrate.MigrateOpts{TargetVersion: version}); err != nil {
		return fmt.Errorf("river schema to version %d: %w", version, err)
	}
	return nil
}
