package oneroster

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/importfile"
)

// classes keeps the export's courses, classes and enrollments as records
// (RecipientFilter.class and Recipient.classes read them). A class at an
// org the import does not hold, and an enrollment naming a person or a
// class it does not hold, are row errors of their file, and left out.
func classes(ctx context.Context, c *pgx.Conn, a *Archive, m *Manifest, t Target, notes *importfile.Notes, limits importfile.Limits) error {
	for _, e := range []*entity{&coursesEntity, &classesEntity, &enrollmentsEntity} {
		mode := m.Mode(e.name)
		if mode == Absent {
			continue // the records stay as they are
		}
		s, err := stage(ctx, c, a, e, mode, m.Version, notes, limits)
		if err != nil {
			return err
		}
		var refs []reference
		switch e {
		case &classesEntity:
			refs = []reference{{"schoolSourcedId", "orgs", "org", "orgs.csv"}}
		case &enrollmentsEntity:
			refs = []reference{{"userSourcedId", "users", "user", "users.csv"}, {"classSourcedId", "classes", "class", "classes.csv"}}
		}
		for _, ref := range refs {
			if err := checkReference(ctx, c, t, e, ref, notes); err != nil {
				return err
			}
		}
		if err := merge(ctx, c, t, s, notes); err != nil {
			return err
		}
	}
	return nil
}

// reference is a column of one entity naming a record of another.
type reference struct {
	column, entity, what, file string
}

// checkReference rejects the rows of e's file (not those removing their
// record) whose ref column names a record the import does not hold once
// this export applies: an error of e's file naming the line and column.
func checkReference(ctx context.Context, c *pgx.Conn, t Target, e *entity, ref reference, notes *importfile.Notes) error {
	rows, err := c.Query(ctx, fmt.Sprintf(`UPDATE %s f SET err_column = $3, err_value = f.data->>$3,
			err_message = format('%%s names %s %%s, which is not in %s', $3::text, f.data->>$3)
		WHERE f.err_message IS NULL AND f.status IS DISTINCT FROM 'tobedeleted' AND f.data->>$3 IS NOT NULL
			AND NOT EXISTS (SELECT FROM oneroster_records r WHERE r.import_id = $1 AND r.entity = $2 AND r.to_run IS NULL AND r.sourced_id = f.data->>$3)
		RETURNING f.line, f.err_column, f.err_value, f.err_message`, fileTable(e), ref.what, ref.file),
		t.ImportID, ref.entity, ref.column)
	if err != nil {
		return fmt.Errorf("oneroster: check %s: %w", e.file(), err)
	}
	errs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (importfile.RowError, error) {
		e := importfile.RowError{File: e.file()}
		return e, row.Scan(&e.Line, &e.Column, &e.Value, &e.Message)
	})
	if err != nil {
		return fmt.Errorf("oneroster: check %s: %w", e.file(), err)
	}
	for _, re := range sortByLine(errs) {
		notes.Reject(re)
	}
	return nil
}

func sortByLine(errs []importfile.RowError) []importfile.RowError {
	slices.SortFunc(errs, func(a, b importfile.RowError) int { return a.Line - b.Line })
	return errs
}

// keepGuardians keeps the links between students and their guardians
// (oneroster_guardian, which check built) as the import's current
// "guardians" records: each run derives them all again from the people
// the import holds.
func keepGuardians(ctx context.Context, c *pgx.Conn, t Target, notes *importfile.Notes) error {
	e := &guardiansEntity
	if err := emptyFile(ctx, c, e); err != nil {
		return err
	}
	if err := run(ctx, c, "link guardians", fmt.Sprintf(`INSERT INTO %s (line, "sourcedId", data)
		SELECT 0, jsonb_build_array(s."sourcedId", g."sourcedId")::text,
			jsonb_build_object('student', s."sourcedId", 'guardian', g."sourcedId", 'relation', gp.guardian_role,
				'ord', row_number() OVER (PARTITION BY l.student ORDER BY l.ord, g."sourcedId"))
		FROM oneroster_guardian l
		JOIN oneroster_users s ON s.k = l.student
		JOIN oneroster_users g ON g.k = l.guardian
		JOIN oneroster_person gp ON gp.k = l.guardian`, fileTable(e)), "ANALYZE "+fileTable(e)); err != nil {
		return err
	}
	return merge(ctx, c, t, &staged{e: e, mode: Bulk}, notes)
}
