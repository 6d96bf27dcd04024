package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/migrate"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/fold"
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

// TestFoldedKeysMigrationFillsExistingRows: recipients (and before-images)
// already there when the folded keys arrive get them, computed by Go, as an
// import computes them for new rows.
func TestFoldedKeysMigrationFillsExistingRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := testdb.Open(t, testdb.Empty(t))
	before := migrate.NewMigrations()
	for _, m := range migrations.Migrations.Sorted() {
		if m.Name < "0008" {
			before.Add(m)
		}
	}
	m := migrate.NewMigrator(d.DB, before, migrate.WithMarkAppliedOnSuccess(true))
	require.NoError(t, m.Init(ctx))
	_, err := m.Migrate(ctx)
	require.NoError(t, err)
	mustExec := func(q string, args ...any) {
		t.Helper()
		_, err := d.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	mustExec(`INSERT INTO imports (id, name, method) OVERRIDING SYSTEM VALUE VALUES (1, 'SIS', 'FULL')`)
	mustExec(`INSERT INTO import_files (id, import_id, name, size, sha256, line_count, header) OVERRIDING SYSTEM VALUE VALUES (1, 1, 'a.csv', 1, sha256(''), 1, '{}')`)
	mustExec(`INSERT INTO import_runs (id, import_id, file_id, status, trigger, queued_at) OVERRIDING SYSTEM VALUE VALUES (1, 1, 1, 'SUCCEEDED', 'MANUAL', now())`)
	// More than one batch of rows, with accents and a decomposed é.
	mustExec(`INSERT INTO recipients (import_id, external_id, type, first_name, last_name, school, language, phones, emails, custom_fields, row_hash)
		SELECT 1, 'S' || i, 'STUDENT', 'Élodie' || i, 'NÚÑEZ', CASE WHEN i % 2 = 0 THEN 'E' || U&'\0301' || 'cole Nord' END,
			CASE WHEN i % 3 = 0 THEN 'Français' END, '[]', '[]', jsonb_build_object('club', 'Élan ' || i), i
		FROM generate_series(1, 12000) AS i`)
	mustExec(`INSERT INTO import_run_undo (run_id, recipient_id, op, first_name, last_name, custom_fields, updated_at)
		VALUES (1, 1, 'U', 'ÀNGEL', 'Ünal', '{"x":"Ÿ"}', now()), (1, 2, 'D', NULL, NULL, NULL, now())`)

	_, err = db.Migrate(ctx, d.DB)
	require.NoError(t, err)

	type row struct {
		FirstName, FirstNameKey, LastNameKey string
		School, SchoolKey, Language          *string
		LanguageKey                          *string
		CustomFieldsKey                      map[string]string
	}
	var rows []row
	require.NoError(t, d.NewRaw(`SELECT first_name, first_name_key, last_name_key, school, school_key, language, language_key,
		custom_fields_key FROM recipients ORDER BY id`).Scan(ctx, &rows))
	require.Len(t, rows, 12000)
	for i, r := range rows {
		n := i + 1
		require.Equal(t, fold.Key(r.FirstName), r.FirstNameKey)
		require.Equal(t, "núñez", r.LastNameKey)
		require.Equal(t, fold.Optional(r.School), r.SchoolKey)
		if n%2 == 0 {
			require.Equal(t, "école nord", *r.SchoolKey, "decomposed é is composed")
		}
		require.Equal(t, fold.Optional(r.Language), r.LanguageKey)
		require.Equal(t, map[string]string{"club": fmt.Sprintf("élan %d", n)}, r.CustomFieldsKey)
	}
	var undo []struct {
		Op                        string
		FirstNameKey, LastNameKey *string
		CustomFieldsKey           map[string]string
	}
	require.NoError(t, d.NewRaw(`SELECT op, first_name_key, last_name_key, custom_fields_key FROM import_run_undo ORDER BY recipient_id`).Scan(ctx, &undo))
	require.Equal(t, "àngel", *undo[0].FirstNameKey)
	require.Equal(t, "ünal", *undo[0].LastNameKey)
	require.Equal(t, map[string]string{"x": "ÿ"}, undo[0].CustomFieldsKey)
	require.Nil(t, undo[1].FirstNameKey, "a removal's before-image keeps no values")
}
