package oneroster

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/recipients"
)

// maxGuardians bounds the guardians whose contact points a student's
// record carries (in the order the export lists them); more are warned of.
const maxGuardians = 8

// People is an export's people, one record per row of users.csv, in its
// order, for the apply pipeline: Header, then Read until io.EOF. The
// records live in a temporary file (PostgreSQL writes it from the joined
// staging tables), removed by Finish.
type People struct {
	Manifest  *Manifest
	header    []string
	mapping   mapping.Mapping
	file      *os.File
	cr        *csv.Reader
	ctx       context.Context
	lines     *atomic.Int64
	rows      int
	guardians int // guardians' columns in a record
	notes     *importfile.Notes
}

// fixedHeader are the columns of a person's record before the guardians
// and custom fields, in order: users.csv's line (not part of the record),
// then the fields, named as users.csv names them where the value is
// users.csv's, so that a row error names the column as the district's
// file does.
var fixedHeader = []string{"line", "sourcedId", "role", "givenName", "familyName", "grades", "school", "language", "email", "sms", "phone"}

// colLine is the line's column; numFixed the number of fixed columns.
const colLine = 0

var numFixed = len(fixedHeader)

// The trailing columns of an error: a row rejected before the pipeline.
const numErrCols = 3

// languageArray are the extension columns read as a person's language
// (OneRoster has no such field; exports add one), lower-cased, in order
// of preference, as an SQL array.
const languageArray = `ARRAY['metadata.language', 'metadata.homelanguage', 'metadata.primarylanguage',
	'metadata.preferredlanguage', 'language', 'homelanguage', 'primarylanguage', 'preferredlanguage']`

// extensionsColumn is the records' column of extension columns (a JSON
// object). Its name cannot be a column of the standard.
const extensionsColumn = "(extension columns)"

// Prepare reads the export (size bytes at r) into temporary tables of c's
// transaction, keeps the import's records current with it as run
// t.RunID (merge.go), checks their references, and returns the people
// the import holds after the export: one record each, whatever the
// export carried of them (a delta export changes a few; the others are
// as an earlier export left them). Row errors of files other than
// users.csv go to notes; a problem with the export as a whole is an
// *importfile.FileError.
func Prepare(ctx context.Context, c *pgx.Conn, r io.ReaderAt, size int64, t Target, notes *importfile.Notes, limits importfile.Limits) (*People, error) {
	a, err := OpenArchive(r, size, limits)
	if err != nil {
		return nil, err
	}
	m, err := ReadManifest(a, limits)
	if err != nil {
		return nil, err
	}
	p := &People{Manifest: m, ctx: ctx, notes: notes}
	users := &users11Entity
	ents := []*entity{&orgsEntity, users, &demographicsEntity}
	if m.Version == V12 {
		users = &users12Entity
		ents = []*entity{&orgsEntity, users, &rolesEntity, &demographicsEntity}
	}
	for _, e := range ents {
		mode := m.Mode(e.name)
		if mode == Absent {
			if err := emptyFile(ctx, c, e); err != nil {
				return nil, err
			}
			continue
		}
		s, err := stage(ctx, c, a, e, mode, m.Version, notes, limits)
		if err != nil {
			return nil, err
		}
		if err := merge(ctx, c, t, s, notes); err != nil {
			return nil, err
		}
	}
	// The records' statistics (a first load found none) before the joins
	// that read them.
	if err := run(ctx, c, "analyze the records", "ANALYZE oneroster_records"); err != nil {
		return nil, err
	}
	for _, e := range ents {
		if err := current(ctx, c, t, e); err != nil {
			return nil, err
		}
	}
	if err := check(ctx, c, m.Version, notes); err != nil {
		return nil, err
	}
	if err := keepGuardians(ctx, c, t, notes); err != nil {
		return nil, err
	}
	if err := classes(ctx, c, a, m, t, notes, limits); err != nil {
		return nil, err
	}
	if err := p.export(ctx, c, m.Version); err != nil {
		p.Finish()
		return nil, err
	}
	return p, nil
}

// Rows is the number of records (users.csv's rows).
func (p *People) Rows() int { return p.rows }

// Mapping is how the records' columns feed recipients' fields.
func (p *People) Mapping() mapping.Mapping { return p.mapping }

// run executes statements in order.
func run(ctx context.Context, c *pgx.Conn, what string, stmts ...string) error {
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("oneroster: %s: %w", what, err)
		}
	}
	return nil
}

// rowErrors reports the rows a query returns (line, column, value,
// message) as row errors of file.
func rowErrors(ctx context.Context, c *pgx.Conn, file, q string, notes *importfile.Notes) error {
	rows, err := c.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("oneroster: check %s: %w", file, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e importfile.RowError
		var col, val *string
		if err := rows.Scan(&e.Line, &col, &val, &e.Message); err != nil {
			return fmt.Errorf("oneroster: check %s: %w", file, err)
		}
		e.File = file
		if col != nil {
			e.Column = *col
		}
		if val != nil {
			e.Value = *val
		}
		notes.Reject(e)
	}
	return rows.Err()
}

// roleTypes are the roles (both versions, lower-cased) and the recipient
// type each makes a person: student a STUDENT, a guardian's a CONTACT, a
// school's staff's STAFF.
var roleTypes = map[string]string{
	"student": "STUDENT",
	"parent":  "CONTACT", "guardian": "CONTACT", "relative": "CONTACT",
	"teacher": "STAFF", "aide": "STAFF", "administrator": "STAFF", "proctor": "STAFF", "counselor": "STAFF",
	"principal": "STAFF", "districtadministrator": "STAFF", "siteadministrator": "STAFF", "systemadministrator": "STAFF",
}

// RoleType is the recipient type (STUDENT, STAFF or CONTACT) a OneRoster
// role makes a person, whatever its case; "" for a role the standard does
// not have.
func RoleType(role string) string { return roleTypes[strings.ToLower(strings.TrimSpace(role))] }

// staffRoles and guardianRoles are the roles making STAFF and CONTACT, as
// SQL lists of string literals.
var (
	staffRoles    = rolesOf("STAFF")
	guardianRoles = rolesOf("CONTACT")
)

func rolesOf(typ string) string {
	var roles []string
	for role, t := range roleTypes {
		if t == typ {
			roles = append(roles, quoteLiteral(role))
		}
	}
	slices.Sort(roles)
	return strings.Join(roles, ", ")
}

// check indexes and analyzes the staging tables and finds what does not
// resolve: a duplicate org, a role (1.2) naming a person or org that does
// not exist (row errors of orgs.csv and roles.csv), and a person naming an
// org that does not exist, with an unknown role or none (their rows are
// marked, and rejected as the pipeline reads them). It also builds
// oneroster_person: each person's role and school org.
func check(ctx context.Context, c *pgx.Conn, v Version, notes *importfile.Notes) error {
	if v == V12 {
		// Roles of this export naming a person or an org the import does
		// not hold (roles of earlier exports that no longer resolve are
		// left out quietly).
		if err := rowErrors(ctx, c, "roles.csv", `SELECT r.line, CASE WHEN u."sourcedId" IS NULL THEN 'userSourcedId' ELSE 'orgSourcedId' END,
				CASE WHEN u."sourcedId" IS NULL THEN r."userSourcedId" ELSE r."orgSourcedId" END,
				CASE WHEN u."sourcedId" IS NULL THEN format('userSourcedId names user %s, which is not in users.csv', r."userSourcedId")
					ELSE format('orgSourcedId names org %s, which is not in orgs.csv', r."orgSourcedId") END
			FROM oneroster_roles r
			LEFT JOIN oneroster_users u ON u."sourcedId" = r."userSourcedId"
			LEFT JOIN oneroster_orgs o ON o."sourcedId" = r."orgSourcedId"
			WHERE (u."sourcedId" IS NULL OR o."sourcedId" IS NULL) AND r.line IS NOT NULL
			ORDER BY r.line`, notes); err != nil {
			return err
		}
		// A person's role and school: their primary role (a school's
		// first), else another; users.csv's primaryOrgSourcedId decides
		// between a person's roles of one kind.
		if err := run(ctx, c, "read roles",
			// A parent who also works at a school is a guardian all the
			// same: each person's guardian role, if any (one pass).
			`CREATE TEMP TABLE oneroster_guardian_role ON COMMIT DROP AS
			SELECT DISTINCT ON ("userSourcedId") "userSourcedId", lower(role) AS role
			FROM oneroster_roles WHERE lower(role) IN (`+guardianRoles+`)
			ORDER BY "userSourcedId", ("roleType" = 'primary') DESC NULLS LAST, k`,
			`ANALYZE oneroster_guardian_role`,
			`CREATE TEMP TABLE oneroster_person ON COMMIT DROP AS
			SELECT DISTINCT ON (u.k) u.k, lower(r.role) AS role, o.name AS school, gr.role AS guardian_role
			FROM oneroster_users u
			JOIN oneroster_roles r ON r."userSourcedId" = u."sourcedId"
			JOIN oneroster_orgs o ON o."sourcedId" = r."orgSourcedId"
			LEFT JOIN oneroster_guardian_role gr ON gr."userSourcedId" = u."sourcedId"
			WHERE u.err_message IS NULL
			ORDER BY u.k, (r."roleType" = 'primary') DESC NULLS LAST, (r."orgSourcedId" = u."primaryOrgSourcedId") DESC NULLS LAST,
				(o.type = 'school') DESC NULLS LAST, r.k`,
			`UPDATE oneroster_users u SET err_column = 'sourcedId', err_value = u."sourcedId",
				err_message = format('user %s has no role in roles.csv (at an org of orgs.csv): their role and school cannot be told', u."sourcedId")
			WHERE u.err_message IS NULL AND NOT EXISTS (SELECT FROM oneroster_person p WHERE p.k = u.k)`,
		); err != nil {
			return err
		}
	} else {
		if err := run(ctx, c, "read users' orgs",
			`UPDATE oneroster_users u SET err_column = 'orgSourcedIds', err_value = m.id,
				err_message = format('orgSourcedIds names org %s, which is not in orgs.csv', m.id)
			FROM (SELECT DISTINCT ON (u.k) u.k, btrim(x.id) AS id
				FROM oneroster_users u, unnest(string_to_array(u."orgSourcedIds", ',')) WITH ORDINALITY x(id, n)
				WHERE btrim(x.id) <> '' AND NOT EXISTS (SELECT FROM oneroster_orgs o WHERE o."sourcedId" = btrim(x.id))
				ORDER BY u.k, x.n) m
			WHERE u.k = m.k AND u.err_message IS NULL`,
			`CREATE TEMP TABLE oneroster_person ON COMMIT DROP AS
			SELECT DISTINCT ON (u.k) u.k, lower(u.role) AS role, o.name AS school,
				CASE WHEN lower(u.role) IN (`+guardianRoles+`) THEN lower(u.role) END AS guardian_role
			FROM oneroster_users u
			LEFT JOIN LATERAL unnest(string_to_array(u."orgSourcedIds", ',')) WITH ORDINALITY x(id, n) ON true
			LEFT JOIN oneroster_orgs o ON o."sourcedId" = btrim(x.id)
			WHERE u.err_message IS NULL
			ORDER BY u.k, (o.type = 'school') DESC NULLS LAST, x.n`,
		); err != nil {
			return err
		}
	}
	return run(ctx, c, "check roles",
		`CREATE INDEX ON oneroster_person (k)`,
		`ANALYZE oneroster_person`,
		`UPDATE oneroster_users u SET err_column = 'role', err_value = p.role,
			err_message = CASE WHEN p.role IS NULL THEN 'the role is empty' ELSE format('unknown role %s: OneRoster roles are student, teacher, aide, administrator, proctor, parent, guardian, relative (and in 1.2 counselor, principal, siteAdministrator, districtAdministrator, systemAdministrator)', p.role) END
		FROM oneroster_person p
		WHERE p.k = u.k AND u.err_message IS NULL
			AND (p.role IS NULL OR p.role NOT IN ('student', `+guardianRoles+`, `+staffRoles+`))`,
		// Guardians linked to students, either way round: a student's
		// agentSourcedIds name their guardians, a guardian's name their
		// students. ord keeps the student's own order first. One pass
		// over the lists: each named person is looked up once, and the
		// link read in whichever direction the two people's roles make
		// it (both, should each be a student and a guardian).
		`CREATE TEMP TABLE oneroster_guardian ON COMMIT DROP AS
		SELECT DISTINCT ON (student, guardian) student, guardian, ord
		FROM (
			SELECT a.k AS a, o.k AS o, x.n, a.err_message IS NULL AS a_ok, o.err_message IS NULL AS o_ok
			FROM oneroster_users a, unnest(string_to_array(a."agentSourcedIds", ',')) WITH ORDINALITY x(id, n)
			JOIN oneroster_users o ON o."sourcedId" = btrim(x.id)
		) l
		JOIN oneroster_person pa ON pa.k = l.a
		JOIN oneroster_person po ON po.k = l.o
		CROSS JOIN LATERAL (VALUES
			(l.a, l.o, l.n, pa.role = 'student' AND po.guardian_role IS NOT NULL AND l.o_ok),
			(l.o, l.a, 1000000 + l.n, po.role = 'student' AND pa.guardian_role IS NOT NULL AND l.a_ok)) v(student, guardian, ord, linked)
		WHERE v.linked
		ORDER BY student, guardian, ord`,
		`CREATE INDEX ON oneroster_guardian (student)`,
		`ANALYZE oneroster_guardian`,
	)
}

// export writes the people's records, one per row of users.csv in its
// order, to a temporary file with PostgreSQL's COPY, and opens it.
func (p *People) export(ctx context.Context, c *pgx.Conn, v Version) error {
	var most int
	if err := c.QueryRow(ctx, `SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM oneroster_guardian GROUP BY student) g`).Scan(&most); err != nil {
		return fmt.Errorf("oneroster: count guardians: %w", err)
	}
	if most > maxGuardians {
		p.notes.Warn(fmt.Sprintf("some students have %d guardians linked; the contact points of the first %d (in the order the export lists them) are kept", most, maxGuardians))
	}
	// The records' layout is the same whatever the export holds (always
	// maxGuardians guardians, the extension columns as one JSON object):
	// a row's hash depends on the layout, and a layout that moved with the
	// data would make a one-row delta rewrite every person.
	p.guardians = maxGuardians

	header := slices.Clone(fixedHeader)
	sel := []string{"coalesce(u.line, 0)", `u."sourcedId"`,
		`CASE WHEN p.role = 'student' THEN 'STUDENT' WHEN p.role IN (` + guardianRoles + `) THEN 'CONTACT' WHEN p.role IN (` + staffRoles + `) THEN 'STAFF' END`,
		`u."givenName"`, `u."familyName"`,
		// CEDS grade codes: KG is K, 01 to 09 lose the zero; PK, 10–13
		// and the rest stay (the pipeline warns of grades it cannot rank).
		// (An expression, not a subquery: that would run once a person.)
		`CASE btrim(split_part(u.grades, ',', 1)) WHEN 'KG' THEN 'K'` + gradeCodes + `
			ELSE btrim(split_part(u.grades, ',', 1)) END`,
		"p.school",
		// The extension column (of users.csv or demographics.csv) named
		// most like a language (ext, below).
		`ext.language`,
		"u.email", "nullif(u.sms, u.phone)", "u.phone"}
	m := mapping.Mapping{
		{Column: "sourcedId", Field: "externalId"},
		{Column: "role", Field: "type"},
		{Column: "givenName", Field: "firstName"},
		{Column: "familyName", Field: "lastName"},
		{Column: "grades", Field: "grade"},
		{Column: "school", Field: "school"},
		{Column: "language", Field: "language"},
		{Column: "email", Field: "email", Label: ptr("Email")},
		{Column: "sms", Field: "phone", Label: ptr("SMS")},
		{Column: "phone", Field: "phone", Label: ptr("Phone")},
	}
	// A student's guardians, in the order the export lists them (a
	// guardian's own list, for links made from that side, then their
	// sourcedId: the same order whatever a delta carries).
	// One pass over the links (aggregated by student, then joined), not
	// a lookup per person.
	if err := run(ctx, c, "gather guardians", `CREATE TEMP TABLE oneroster_guardian_contacts ON COMMIT DROP AS
		SELECT l.student,
			array_agg(initcap(gp.guardian_role) || ': ' || btrim(concat_ws(' ', g."givenName", g."familyName")) ORDER BY l.ord, g."sourcedId") AS label,
			array_agg(g.phone ORDER BY l.ord, g."sourcedId") AS phone, array_agg(nullif(g.sms, g.phone) ORDER BY l.ord, g."sourcedId") AS sms,
			array_agg(g.email ORDER BY l.ord, g."sourcedId") AS email
		FROM oneroster_guardian l JOIN oneroster_users g ON g.k = l.guardian JOIN oneroster_person gp ON gp.k = l.guardian
		GROUP BY l.student`, `ANALYZE oneroster_guardian_contacts`); err != nil {
		return err
	}
	lateral := `LEFT JOIN oneroster_guardian_contacts gs ON gs.student = u.k`
	for i := 1; i <= p.guardians; i++ {
		label := fmt.Sprintf("guardian%d", i)
		header = append(header, label, label+"_phone", label+"_sms", label+"_email")
		sel = append(sel, fmt.Sprintf("gs.label[%d]", i), fmt.Sprintf("gs.phone[%d]", i), fmt.Sprintf("gs.sms[%d]", i), fmt.Sprintf("gs.email[%d]", i))
		m = append(m,
			mapping.Entry{Column: label + "_phone", Field: "phone", LabelColumn: label},
			mapping.Entry{Column: label + "_sms", Field: "phone", LabelColumn: label},
			mapping.Entry{Column: label + "_email", Field: "email", LabelColumn: label})
	}
	// Custom fields: what users.csv and demographics.csv say of a person
	// beyond the fields above, named as the standard names them, then the
	// extension columns of both (users.csv's first) as one JSON object.
	custom := []string{"identifier", "middleName"}
	if v == V12 {
		custom = append(custom, "preferredGivenName", "preferredMiddleName", "preferredFamilyName", "pronouns")
	}
	for _, name := range custom {
		header = append(header, name)
		sel = append(sel, "u."+pgx.Identifier{name}.Sanitize())
		m = append(m, mapping.Entry{Column: name, Field: "custom:" + name})
	}
	join := `LEFT JOIN oneroster_demographics d ON d."sourcedId" = u."sourcedId"`
	for _, name := range demographicsEntity.columns[3:] {
		header = append(header, name)
		sel = append(sel, "d."+pgx.Identifier{name}.Sanitize())
		m = append(m, mapping.Entry{Column: name, Field: "custom:" + name})
	}
	header = append(header, extensionsColumn)
	sel = append(sel, `ext.extensions`)
	// A person's extension columns, read in one pass: the language, and
	// the others. (A person with none reads none.) Of two language
	// columns named alike but for case, users.csv's comes first, then
	// the name in byte order: the same one every run.
	join += ` LEFT JOIN LATERAL (SELECT
			(array_agg(x.value #>> '{}' ORDER BY array_position(` + languageArray + `, lower(x.key)),
				coalesce(u.extra ? x.key, false) DESC, x.key COLLATE "C")
				FILTER (WHERE lower(x.key) = ANY(` + languageArray + `) AND btrim(x.value #>> '{}') <> ''))[1] AS language,
			jsonb_object_agg(x.key, x.value) FILTER (WHERE NOT lower(x.key) = ANY(` + languageArray + `)) AS extensions
		FROM jsonb_each(coalesce(d.extra, '{}') || coalesce(u.extra, '{}')) x
		WHERE u.extra IS NOT NULL OR d.extra IS NOT NULL) ext ON true`
	m = append(m, mapping.Entry{Column: extensionsColumn, Field: "custom:" + extensionsColumn, CustomJSON: true})
	sel = append(sel, "u.err_column", "u.err_value", "u.err_message")
	q := fmt.Sprintf(`COPY (SELECT %s FROM oneroster_users u LEFT JOIN oneroster_person p ON p.k = u.k %s %s ORDER BY u.k) TO STDOUT (FORMAT csv)`,
		strings.Join(sel, ", "), lateral, join)

	f, err := os.CreateTemp("", "rollcall-oneroster-*.csv")
	if err != nil {
		return fmt.Errorf("oneroster: %w", err)
	}
	p.file = f
	tag, err := c.PgConn().CopyTo(ctx, f, q)
	if err != nil {
		return fmt.Errorf("oneroster: join the export's people: %w", err)
	}
	p.rows = int(tag.RowsAffected())
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("oneroster: %w", err)
	}
	p.header, p.mapping = header[1:], m
	p.cr = csv.NewReader(f)
	p.cr.FieldsPerRecord = len(header) + numErrCols
	p.cr.ReuseRecord = true
	return nil
}

// gradeCodes are the WHEN clauses turning CEDS codes 01 to 09 into 1 to 9.
var gradeCodes = func() string {
	var b strings.Builder
	for g := 1; g <= 9; g++ {
		fmt.Fprintf(&b, " WHEN '0%d' THEN '%d'", g, g)
	}
	return b.String()
}()

func ptr(s string) *string { return &s }

// quoteLiteral quotes s, one of the standard's column names (constants,
// never a file's text), as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Header is the records' header (the mapping's columns and the custom
// fields).
func (p *People) Header() ([]string, error) { return p.header, nil }

// Watch makes Read stop with ctx's cause once ctx is done, and counts the
// records read in lines.
func (p *People) Watch(ctx context.Context, lines *atomic.Int64) { p.ctx, p.lines = ctx, lines }

// Read returns the next person's record and their line in users.csv;
// io.EOF after the last. A row rejected before the pipeline (unreadable,
// naming an org that does not exist, an unknown role) comes with its
// *importfile.RowError, its sourcedId still in the record.
func (p *People) Read() ([]string, int, error) {
	if err := context.Cause(p.ctx); err != nil {
		return nil, 0, err
	}
	rec, err := p.cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		return nil, 0, fmt.Errorf("oneroster: read the joined people: %w", err)
	}
	if p.lines != nil {
		p.lines.Add(1)
	}
	line, err := strconv.Atoi(rec[colLine])
	if err != nil {
		return nil, 0, fmt.Errorf("oneroster: read the joined people: line %q", rec[colLine])
	}
	n := len(rec)
	person := rec[1 : n-numErrCols]
	dropInvalid(person, p.guardians)
	if msg := rec[n-1]; msg != "" {
		return person, line, &importfile.RowError{File: "users.csv", Line: line, Column: rec[n-3], Value: rec[n-2], Message: msg}
	}
	return person, line, nil
}

// dropInvalid blanks a student's guardians' contact points that are not
// valid: the guardian's own row is rejected for them, the student's is
// not.
func dropInvalid(person []string, guardians int) {
	for g := range guardians {
		base := numFixed - 1 + 4*g // person has no line column
		for k, normalize := range []func(string) (string, bool){recipients.NormalizePhone, recipients.NormalizePhone, recipients.NormalizeEmail} {
			cell := &person[base+1+k]
			if *cell == "" {
				continue
			}
			for _, v := range strings.FieldsFunc(*cell, func(r rune) bool { return r == ';' || r == ',' }) {
				if _, ok := normalize(strings.TrimSpace(v)); !ok && strings.TrimSpace(v) != "" {
					*cell = ""
					break
				}
			}
		}
	}
}

// Finish removes the temporary file.
func (p *People) Finish() {
	if p.file != nil {
		p.file.Close()
		os.Remove(p.file.Name())
	}
}
