// Package migrations holds Rollcall's database schema as SQL files applied in
// order by Bun's migrator, plus River's own schema pinned to a version (see
// 0001_river_queue.go), so one `rollcall migrate` brings a database fully up
// to date.
package migrations

import (
	"embed"

	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var sqlFiles embed.FS

// Migrations is every migration, SQL and Go, keyed by its numeric prefix.
var Migrations = migrate.NewMigrations()

func init() {
	if err := Migrations.Discover(sqlFiles); err != nil {
		panic(err)
	}
}

// Files exposes the embedded SQL files, for hashing the schema (test
// templates are rebuilt when it changes).
func Files() embed.FS { return sqlFiles }
