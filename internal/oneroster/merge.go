package oneroster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/importfile"
)

// Target is the import and run an export applies to.
type Target struct {
	ImportID, RunID int64
}

// merge brings the import's current records of s's entity up to date with
// its file, as the run target.RunID: a bulk file is the complete set (a
// current record it lacks is closed), a delta file changes the records it
// has (status tobedeleted closes one). A record whose row the file has
// but could not read is left as it is. Rows repeating a sourcedId: the
// first stands; a later one with other values is rejected (users.csv: all
// of them, and the person stays as they were, as a flat file's
// conflicting rows do).
func merge(ctx context.Context, c *pgx.Conn, t Target, s *staged, notes *importfile.Notes) error {
	file := fileTable(s.e)
	// Repeated sourcedIds.
	if s.e.name == "users" {
		if err := run(ctx, c, "check "+s.e.file(), fmt.Sprintf(`
			UPDATE %[1]s f SET err_column = 'sourcedId', err_value = f."sourcedId",
				err_message = CASE WHEN f.line = d.lines[1]
					THEN format('key %%s appears again on line %%s with different values; neither row was applied', to_json(f."sourcedId"), d.lines[2])
					ELSE format('key %%s already appeared on line %%s with different values; neither row was applied', to_json(f."sourcedId"), d.lines[1]) END
			FROM (SELECT "sourcedId", array_agg(line ORDER BY line) AS lines FROM %[1]s
				WHERE err_message IS NULL AND "sourcedId" IS NOT NULL
				GROUP BY "sourcedId" HAVING count(DISTINCT (status, data)) > 1) d
			WHERE f."sourcedId" = d."sourcedId" AND f.err_message IS NULL`, file)); err != nil {
			return err
		}
		var repeats int
		if err := c.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) - count(DISTINCT "sourcedId") FROM %s WHERE err_message IS NULL AND "sourcedId" IS NOT NULL`, file)).Scan(&repeats); err != nil {
			return fmt.Errorf("oneroster: check %s: %w", s.e.file(), err)
		}
		if repeats > 0 {
			notes.Warn(fmt.Sprintf("users.csv: %d row(s) repeated an earlier row exactly (same sourcedId and values) and were counted once", repeats))
		}
	} else if s.e != &guardiansEntity { // derived: one link per student and guardian
		dups := fmt.Sprintf(`
		SELECT line, 'sourcedId', "sourcedId", format('sourcedId %%s already appears on line %%s; this row is ignored', "sourcedId", first)
		FROM (SELECT line, "sourcedId", status, data, first_value(line) OVER w AS first,
				first_value((status, data)) OVER w AS first_values
			FROM %[1]s WHERE err_message IS NULL AND "sourcedId" IS NOT NULL
			WINDOW w AS (PARTITION BY "sourcedId" ORDER BY line)) o
		WHERE line <> first AND (status, data) IS DISTINCT FROM first_values ORDER BY line`, file)
		if err := rowErrors(ctx, c, s.e.file(), dups, notes); err != nil {
			return err
		}
	}
	in := fmt.Sprintf(`(SELECT DISTINCT ON ("sourcedId") "sourcedId", status, data, match FROM %s
		WHERE err_message IS NULL AND "sourcedId" IS NOT NULL ORDER BY "sourcedId", line)`, file)
	// Closed: current records the file replaces, removes, or (bulk) lacks;
	// not those of rows it could not read.
	var replaced string
	switch s.mode {
	case Bulk:
		replaced = `NOT EXISTS (SELECT FROM in_rows i WHERE i."sourcedId" = r.sourced_id AND i.data = r.data AND i.status IS DISTINCT FROM 'tobedeleted')`
	default:
		replaced = `EXISTS (SELECT FROM in_rows i WHERE i."sourcedId" = r.sourced_id AND (i.data <> r.data OR i.status = 'tobedeleted'))`
	}
	_, err := c.Exec(ctx, fmt.Sprintf(`WITH in_rows AS %[1]s
		UPDATE oneroster_records r SET to_run = $3
		WHERE r.import_id = $1 AND r.entity = $2 AND r.to_run IS NULL AND %[2]s
			AND NOT EXISTS (SELECT FROM %[3]s f WHERE f."sourcedId" = r.sourced_id AND f.err_message IS NOT NULL)`, in, replaced, file),
		t.ImportID, s.e.name, t.RunID)
	if err != nil {
		return fmt.Errorf("oneroster: keep %s: %w", s.e.file(), err)
	}
	_, err = c.Exec(ctx, fmt.Sprintf(`INSERT INTO oneroster_records (import_id, entity, sourced_id, data, match, from_run)
		SELECT $1, $2, i."sourcedId", i.data, i.match, $3 FROM %s i
		WHERE i.status IS DISTINCT FROM 'tobedeleted'
			AND NOT EXISTS (SELECT FROM oneroster_records r WHERE r.import_id = $1 AND r.entity = $2 AND r.sourced_id = i."sourcedId" AND r.to_run IS NULL)
			AND NOT EXISTS (SELECT FROM %s f WHERE f."sourcedId" = i."sourcedId" AND f.err_message IS NOT NULL)
		ORDER BY i."sourcedId"`, in, file),
		t.ImportID, s.e.name, t.RunID)
	if err != nil {
		return fmt.Errorf("oneroster: keep %s: %w", s.e.file(), err)
	}
	return nil
}

// Undo puts an import's records back as they were before run runID, the
// import's latest applied run (internal/apply's Undo calls it).
func Undo(ctx context.Context, idb bun.IDB, importID, runID int64) error {
	if _, err := idb.NewRaw(`DELETE FROM oneroster_records WHERE import_id = ? AND from_run = ?`, importID, runID).Exec(ctx); err != nil {
		return fmt.Errorf("oneroster: undo run %d: %w", runID, err)
	}
	if _, err := idb.NewRaw(`UPDATE oneroster_records SET to_run = NULL WHERE import_id = ? AND to_run = ?`, importID, runID).Exec(ctx); err != nil {
		return fmt.Errorf("oneroster: undo run %d: %w", runID, err)
	}
	return nil
}

// Prune drops the records that runs closed, once those runs can no longer
// be reverted.
func Prune(ctx context.Context, idb bun.IDB, runIDs []int64) error {
	if len(runIDs) == 0 {
		return nil
	}
	if _, err := idb.NewRaw(`DELETE FROM oneroster_records WHERE to_run IN (?)`, bun.In(runIDs)).Exec(ctx); err != nil {
		return fmt.Errorf("oneroster: prune: %w", err)
	}
	return nil
}
