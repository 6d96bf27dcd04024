package db_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/migrations"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestMigrateEmptyDatabaseIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := testdb.Open(t, testdb.Empty(t))

	pending, err := db.PendingMigrations(ctx, d.DB)
	require.Error(t, err, "no migrations table yet")
	require.Nil(t, pending)

	applied, err := db.Migrate(ctx, d.DB)
	require.NoError(t, err)
	require.Len(t, applied, len(migrations.Migrations.Sorted()))

	pending, err = db.PendingMigrations(ctx, d.DB)
	require.NoError(t, err)
	require.Empty(t, pending)

	again, err := db.Migrate(ctx, d.DB)
	require.NoError(t, err)
	require.Empty(t, again)

	// River's tables are there, at the pinned version.
	var version int
	require.NoError(t, d.NewRaw("SELECT max(version) FROM river_migration").Scan(ctx, &version))
	require.Equal(t, migrations.RiverSchemaVersion, version)
	var tables []string
	require.NoError(t, d.NewRaw("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").Scan(ctx, &tables))
	require.Contains(t, tables, "river_job")
	require.Contains(t, tables, "users")
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.Empty(t)
	var wg sync.WaitGroup
	results := make([][]string, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := db.Open(ctx, url, db.Options{MaxConns: 2})
			if err != nil {
				errs[i] = err
				return
			}
			defer d.Close()
			results[i], errs[i] = db.Migrate(ctx, d.DB)
		}()
	}
	wg.Wait()
	total := 0
	for i := range results {
		require.NoError(t, errs[i])
		total += len(results[i])
	}
	require.Equal(t, len(migrations.Migrations.Sorted()), total, "each migration applied exactly once")
}

func TestMigrationsRollBackCleanly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := testdb.Open(t, testdb.Empty(t))
	_, err := db.Migrate(ctx, d.DB)
	require.NoError(t, err)
	m := db.NewMigrator(d.DB)
	group, err := m.Rollback(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, group.Migrations)
	var n int
	require.NoError(t, d.NewRaw("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'bun_%'").Scan(ctx, &n))
	require.Zero(t, n, "down migrations remove every table")
	again, err := db.Migrate(ctx, d.DB)
	require.NoError(t, err)
	require.NotEmpty(t, again)
}
