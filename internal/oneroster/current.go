package oneroster

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// currentTable is the name of the temporary table of e's current records.
func currentTable(e *entity) string { return "oneroster_" + strings.ToLower(e.name) }

// current builds e's current records, as the run leaves them, into a
// temporary table (currentTable) that the checks and joins read: k (a row
// key, in users.csv's order), line (in this export's file; null for a
// record it does not carry), "sourcedId", a text column per column of the
// standard, extra (the record's other columns, as JSON). For users, the
// rows of the file that could not be read, or were rejected, come instead
// of their record, with their error (err_column, err_value, err_message).
func current(ctx context.Context, c *pgx.Conn, t Target, e *entity) error {
	file := fileTable(e)
	cols := []string{`f.line`, `r.sourced_id AS "sourcedId"`}
	blank := []string{`e.line`, `e."sourcedId"`}
	var keys []string
	for _, name := range e.columns {
		if skipped[name] {
			continue
		}
		q := pgx.Identifier{name}.Sanitize()
		cols = append(cols, fmt.Sprintf("r.data->>%s AS %s", quoteLiteral(name), q))
		blank = append(blank, "NULL::text")
		keys = append(keys, quoteLiteral(name))
	}
	cols = append(cols, fmt.Sprintf("nullif(r.data - ARRAY[%s], '{}') AS extra", strings.Join(keys, ", ")),
		"NULL::text AS err_column", "NULL::text AS err_value", "NULL::text AS err_message")
	blank = append(blank, "NULL::jsonb", "e.err_column", "e.err_value", "e.err_message")
	q := fmt.Sprintf(`SELECT %s FROM oneroster_records r
		LEFT JOIN (SELECT "sourcedId", min(line) AS line FROM %s WHERE err_message IS NULL GROUP BY 1) f ON f."sourcedId" = r.sourced_id
		WHERE r.import_id = $1 AND r.entity = $2 AND r.to_run IS NULL`, strings.Join(cols, ", "), file)
	if e.name == "users" {
		q += fmt.Sprintf(` AND NOT EXISTS (SELECT FROM %[1]s e WHERE e.err_message IS NOT NULL AND e."sourcedId" = r.sourced_id)
			UNION ALL SELECT %[2]s FROM %[1]s e WHERE e.err_message IS NOT NULL`, file, strings.Join(blank, ", "))
	}
	table := currentTable(e)
	_, err := c.Exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE %s ON COMMIT DROP AS
		SELECT row_number() OVER (ORDER BY line NULLS LAST, "sourcedId") AS k, * FROM (%s) x`, table, q), t.ImportID, e.name)
	if err != nil {
		return fmt.Errorf("oneroster: read the current %s: %w", e.name, err)
	}
	stmts := []string{}
	for _, col := range lookedUpBy[e.name] {
		stmts = append(stmts, fmt.Sprintf(`CREATE INDEX ON %s (%s)`, table, col))
	}
	return run(ctx, c, "index "+table, append(stmts, fmt.Sprintf(`ANALYZE %s`, table))...)
}

// lookedUpBy are the columns by which the checks and joins (people.go)
// look an entity's current records up, one at a time, or walk them in
// order: those are indexed. (Roles are only ever joined whole.)
var lookedUpBy = map[string][]string{
	"users":        {"k", `"sourcedId"`},
	"orgs":         {`"sourcedId"`},
	"demographics": {`"sourcedId"`},
}

// emptyFile creates e's file table, empty, for an entity the export does
// not carry (the checks and joins read it all the same).
func emptyFile(ctx context.Context, c *pgx.Conn, e *entity) error {
	return run(ctx, c, "stage "+e.file(), fmt.Sprintf(`CREATE TEMP TABLE %s (line integer NOT NULL, "sourcedId" text, status text, data jsonb,
		err_column text, err_value text, err_message text, match text[]) ON COMMIT DROP`, fileTable(e)))
}
