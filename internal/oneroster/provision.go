package oneroster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// Teachers' accounts (an import with provisionTeacherAccounts): each
// current teacher of the import's records with an e-mail address, and not
// disabled in the export (enabledUser false), gets a USER account that the
// import manages (users.import_id), named as the export names them, and
// restricted to the students of the classes they teach and those
// students' guardians: their external ids, in this import. The import
// keeps the accounts up to date at each run:
//   - a new teacher's account is created; an account made by hand (no
//     import) with their e-mail is taken over, keeping a restriction an
//     administrator gave it (and staying disabled if one disabled it);
//   - the restriction is rewritten while it is the import's
//     (users.restriction_from_import): an administrator who sets or clears
//     it makes it theirs, and the import never writes it again;
//   - an account of the import whose teacher is gone from the export (or
//     disabled there) is disabled; it is enabled again if they come back
//     (users.disabled_by_import), not when an administrator disabled it;
//   - administrators' accounts, and accounts another import manages, are
//     left alone.
// It works from the records alone (no staging table), so that a revert
// can call it again once the records are back.

// ProvisionCounts say what Provision did.
type ProvisionCounts struct {
	Created, Updated, Disabled, Skipped int
	// Invalid: teachers whose e-mail is not an address an account may
	// have (users.NormalizeEmail); they get none.
	Invalid int
}

// String says what Provision did, for a run's warnings.
func (c ProvisionCounts) String() string {
	msg := fmt.Sprintf("teachers' accounts: %d created, %d updated, %d disabled", c.Created, c.Updated, c.Disabled)
	if c.Skipped > 0 {
		msg += fmt.Sprintf("; %d teacher(s) share their e-mail with an administrator or an account another import manages, left as they are", c.Skipped)
	}
	if c.Invalid > 0 {
		msg += fmt.Sprintf("; %d teacher(s) have an e-mail that is not a valid address, and no account", c.Invalid)
	}
	return msg
}

// maxIDsPerCondition is how many external ids one `in` of a generated
// restriction holds (recipients.MaxFilterValues); more are or-ed.
const maxIDsPerCondition = recipients.MaxFilterValues

// teacherAccountsSQL computes, for each teacher, the account the import
// wants: e-mail, name and restriction (stored form, recipients.Filter
// version 1: this import's people with those external ids, in or-ed
// chunks; nobody for a teacher without students).
const teacherAccountsSQL = `
CREATE TEMP TABLE oneroster_teacher_accounts ON COMMIT DROP AS
WITH teacher AS (
	SELECT DISTINCT ON (lower(btrim(u.data->>'email'))) u.sourced_id, lower(btrim(u.data->>'email')) AS email,
		coalesce(nullif(left(btrim(concat_ws(' ', u.data->>'givenName', u.data->>'familyName')), 200), ''),
			lower(btrim(u.data->>'email'))) AS name
	FROM oneroster_records u
	WHERE u.import_id = ?0 AND u.entity = 'users' AND u.to_run IS NULL
		AND lower(coalesce(u.data->>'enabledUser', 'true')) NOT IN ('false', '0', 'no')
		AND lower(btrim(u.data->>'email')) LIKE '%_@_%'
		AND (lower(u.data->>'role') = 'teacher' OR EXISTS (SELECT FROM oneroster_records r
			WHERE r.import_id = ?0 AND r.entity = 'roles' AND r.to_run IS NULL
				AND r.data->>'userSourcedId' = u.sourced_id AND lower(r.data->>'role') = 'teacher'))
	ORDER BY lower(btrim(u.data->>'email')), u.sourced_id
), student AS (
	SELECT DISTINCT t.email, s.data->>'userSourcedId' AS id
	FROM teacher t
	JOIN oneroster_records e ON e.import_id = ?0 AND e.entity = 'enrollments' AND e.to_run IS NULL
		AND e.data->>'userSourcedId' = t.sourced_id AND lower(e.data->>'role') = 'teacher'
	JOIN oneroster_records s ON s.import_id = ?0 AND s.entity = 'enrollments' AND s.to_run IS NULL
		AND s.data->>'classSourcedId' = e.data->>'classSourcedId' AND lower(s.data->>'role') = 'student'
), person AS (
	SELECT email, id FROM student
	UNION
	SELECT s.email, g.data->>'guardian' FROM student s
	JOIN oneroster_records g ON g.import_id = ?0 AND g.entity = 'guardians' AND g.to_run IS NULL AND g.data->>'student' = s.id
), chunk AS (
	SELECT email, jsonb_build_object('externalId', jsonb_build_object('in', jsonb_agg(id ORDER BY id))) AS cond
	FROM (SELECT email, id, (row_number() OVER (PARTITION BY email ORDER BY id) - 1) / ?1 AS n FROM person) p
	GROUP BY email, n
)
SELECT t.email, t.name, jsonb_build_object('version', 1, 'filter',
		coalesce((SELECT jsonb_build_object('and', jsonb_build_array(
				jsonb_build_object('importId', jsonb_build_object('eq', ?0::bigint)),
				jsonb_build_object('or', jsonb_agg(c.cond ORDER BY c.cond::text))))
			FROM chunk c WHERE c.email = t.email),
			'{"not": {"all": true}}'::jsonb)) AS restriction
FROM teacher t`

// Provision keeps the accounts of import importID's teachers, as of its
// current records, in idb's transaction (see above).
func Provision(ctx context.Context, idb bun.IDB, importID int64, now time.Time) (ProvisionCounts, error) {
	var c ProvisionCounts
	if _, err := idb.NewRaw(`DROP TABLE IF EXISTS oneroster_teacher_accounts`).Exec(ctx); err != nil {
		return c, fmt.Errorf("oneroster: teachers' accounts: %w", err)
	}
	if _, err := idb.NewRaw(teacherAccountsSQL, importID, maxIDsPerCondition).Exec(ctx); err != nil {
		return c, fmt.Errorf("oneroster: teachers' accounts: %w", err)
	}
	// An account's e-mail is checked as createUser checks it (the SQL
	// above only asks for an @).
	var emails, invalid []string
	if err := idb.NewRaw(`SELECT email FROM oneroster_teacher_accounts`).Scan(ctx, &emails); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("oneroster: teachers' accounts: %w", err)
	}
	for _, e := range emails {
		if _, err := users.NormalizeEmail("email", e); err != nil {
			invalid = append(invalid, e)
		}
	}
	if len(invalid) > 0 {
		if _, err := idb.NewRaw(`DELETE FROM oneroster_teacher_accounts WHERE email IN (?)`, bun.In(invalid)).Exec(ctx); err != nil {
			return c, fmt.Errorf("oneroster: teachers' accounts: %w", err)
		}
		c.Invalid = len(invalid)
	}
	steps := []struct {
		n   *int
		sql string
	}{
		// The import's accounts and hand-made ones (taken over): name,
		// the restriction while it is the import's (a hand-made account
		// without one gets it; one an administrator cleared stays
		// cleared), enabled again when the import had disabled them (not
		// when an administrator did).
		{&c.Updated, `UPDATE users u SET name = t.name,
				restriction = CASE WHEN u.restriction_from_import OR (u.import_id IS NULL AND u.restriction IS NULL) THEN t.restriction ELSE u.restriction END,
				restriction_from_import = u.restriction_from_import OR (u.import_id IS NULL AND u.restriction IS NULL),
				disabled = CASE WHEN u.import_id = ?0 AND u.disabled_by_import THEN false ELSE u.disabled END,
				disabled_by_import = false,
				import_id = ?0, updated_at = ?1
			FROM oneroster_teacher_accounts t
			WHERE u.email = t.email AND u.role = 'USER' AND (u.import_id = ?0 OR u.import_id IS NULL)
				AND (u.import_id IS NULL OR u.name <> t.name OR u.disabled AND u.disabled_by_import
					OR u.restriction_from_import AND u.restriction IS DISTINCT FROM t.restriction)`},
		{&c.Created, `INSERT INTO users (email, name, role, restriction, restriction_from_import, import_id, created_at, updated_at)
			SELECT t.email, t.name, 'USER', t.restriction, true, ?0, ?1, ?1 FROM oneroster_teacher_accounts t
			WHERE NOT EXISTS (SELECT FROM users u WHERE u.email = t.email)`},
		// Teachers gone from the export.
		{&c.Disabled, `UPDATE users u SET disabled = true, disabled_by_import = true, updated_at = ?1
			WHERE u.import_id = ?0 AND u.role = 'USER' AND NOT u.disabled
				AND NOT EXISTS (SELECT FROM oneroster_teacher_accounts t WHERE t.email = u.email)`},
	}
	for _, s := range steps {
		res, err := idb.NewRaw(s.sql, importID, now).Exec(ctx)
		if err != nil {
			return c, fmt.Errorf("oneroster: teachers' accounts: %w", err)
		}
		n, _ := res.RowsAffected()
		*s.n = int(n)
	}
	// Administrators and other imports' accounts with a teacher's e-mail.
	if err := idb.NewRaw(`SELECT count(*) FROM users u JOIN oneroster_teacher_accounts t ON t.email = u.email
		WHERE u.role <> 'USER' OR u.import_id <> ?`, importID).Scan(ctx, &c.Skipped); err != nil {
		return c, fmt.Errorf("oneroster: teachers' accounts: %w", err)
	}
	return c, nil
}
