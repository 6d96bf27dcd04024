package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/db"
)

// apply writes the staged changes and the removals, set-based, and returns
// a sample of the changes. Counts come from what the statements touched.
func (p *pipeline) apply(ctx context.Context, removals []removal) ([]Change, error) {
	var sample []Change
	// Each statement's time goes to the run's log line, as apply_<step>.
	mark := time.Now()
	step := func(name string) {
		p.timings = append(p.timings, slog.Duration("apply_"+name, time.Since(mark)))
		mark = time.Now()
	}
	err := p.tx.Pgx(func(c *pgx.Conn) error {
		if len(p.conflicts) > 0 {
			// Rows of a key that later turned out to conflict were written
			// before the conflict showed; take them back.
			q := `DELETE FROM import_stage WHERE external_id = ANY($1)`
			args := []any{p.conflicts}
			if p.direct {
				q = `DELETE FROM ` + pgx.Identifier{segmentTable(p.segment)}.Sanitize() + ` WHERE import_id = $2 AND external_id = ANY($1)`
				args = append(args, p.spec.ImportID)
			}
			if _, err := c.Exec(ctx, q, args...); err != nil {
				return fmt.Errorf("drop conflicting rows: %w", err)
			}
		}
		if p.direct {
			p.counts.Created = p.createdCount()
			sample = p.created
			// A dry run's counts are final once repeated keys are
			// resolved: it builds and attaches nothing.
			if p.newSegment && !p.spec.DryRun {
				mark := time.Now()
				defer func() { p.timings = append(p.timings, slog.Duration("apply_segment", time.Since(mark))) }()
				return attachSegment(ctx, c, p.ddl, p.spec.ImportID, p.spec.RunID)
			}
			return nil
		}
		// Without statistics the planner guesses a tiny staging table and
		// may pick nested loops over a million rows. And the joins below
		// look up a few thousand of a million recipients by primary key: on
		// the SSDs databases run on, index lookups cost close to sequential
		// reads, which the default random_page_cost (meant for spinning
		// disks) does not know, so the planner would scan every recipient
		// three times instead.
		if _, err := c.Exec(ctx, `ANALYZE import_stage (op, id)`); err != nil {
			return fmt.Errorf("analyze staging: %w", err)
		}
		if _, err := c.Exec(ctx, `SET LOCAL random_page_cost = 1.1`); err != nil {
			return fmt.Errorf("tune planner: %w", err)
		}
		var err error
		if sample, err = p.sampleUpdates(ctx, c); err != nil {
			return err
		}
		sample = append(p.created, sample...)
		step("sample")

		tag, err := c.Exec(ctx, `INSERT INTO recipients (segment_id, import_id, external_id, type, first_name, last_name, grade, grade_rank,
				school, language, phones, emails, custom_fields, row_hash,
				first_name_key, last_name_key, school_key, language_key, custom_fields_key)
			SELECT $2, $1, external_id, type, first_name, last_name, grade, grade_rank,
				school, language, phones, emails, custom_fields, row_hash,
				first_name_key, last_name_key, school_key, language_key, custom_fields_key
			FROM import_stage WHERE op = 'I'`, p.spec.ImportID, p.segment)
		if err != nil {
			return fmt.Errorf("insert recipients: %w", err)
		}
		p.counts.Created = int(tag.RowsAffected())
		step("insert")

		// Updates and restores in one statement. A row whose file text
		// changed but whose values did not (a phone written differently,
		// say) takes only the new hash and keeps its updated_at; it counts
		// as unchanged. The rows' before-images, for revertImportRun, are
		// kept from the same read of the old rows.
		rows, err := c.Query(ctx, `WITH changed AS MATERIALIZED (
				SELECT s.*, (s.type, s.first_name, s.last_name, s.grade, s.grade_rank, s.school, s.language,
					s.phones, s.emails, s.custom_fields) IS DISTINCT FROM (r.type, r.first_name, r.last_name, r.grade,
					r.grade_rank, r.school, r.language, r.phones, r.emails, r.custom_fields) AS differs,
					r.type AS old_type, r.first_name AS old_first_name, r.last_name AS old_last_name, r.grade AS old_grade,
					r.grade_rank AS old_grade_rank, r.school AS old_school, r.language AS old_language,
					r.phones AS old_phones, r.emails AS old_emails, r.custom_fields AS old_custom_fields,
					r.row_hash AS old_row_hash, r.updated_at AS old_updated_at, r.removed_at AS old_removed_at,
					r.removed_by_run_id AS old_removed_by_run_id, r.first_name_key AS old_first_name_key,
					r.last_name_key AS old_last_name_key, r.school_key AS old_school_key,
					r.language_key AS old_language_key, r.custom_fields_key AS old_custom_fields_key
				FROM import_stage AS s JOIN recipients AS r ON r.id = s.id AND r.segment_id = $2
				WHERE s.op IN ('U', 'R')),
			undo AS (
				INSERT INTO import_run_undo (run_id, recipient_id, op, type, first_name, last_name, grade, grade_rank,
					school, language, phones, emails, custom_fields, row_hash, updated_at, removed_at, removed_by_run_id,
					first_name_key, last_name_key, school_key, language_key, custom_fields_key)
				SELECT $1, id, 'U', old_type, old_first_name, old_last_name, old_grade, old_grade_rank, old_school,
					old_language, old_phones, old_emails, old_custom_fields, old_row_hash, old_updated_at, old_removed_at,
					old_removed_by_run_id, old_first_name_key, old_last_name_key, old_school_key, old_language_key,
					old_custom_fields_key
				FROM changed)
			UPDATE recipients AS r SET
				type = c.type, first_name = c.first_name, last_name = c.last_name, grade = c.grade,
				grade_rank = c.grade_rank, school = c.school, language = c.language, phones = c.phones,
				emails = c.emails, custom_fields = c.custom_fields, row_hash = c.row_hash,
				first_name_key = c.first_name_key, last_name_key = c.last_name_key, school_key = c.school_key,
				language_key = c.language_key, custom_fields_key = c.custom_fields_key,
				updated_at = CASE WHEN c.differs OR c.op = 'R' THEN now() ELSE r.updated_at END,
				removed_at = NULL, removed_by_run_id = NULL
			FROM changed AS c
			WHERE r.id = c.id AND r.segment_id = $2
			RETURNING c.op, c.differs`, p.spec.RunID, p.segment)
		if err != nil {
			return fmt.Errorf("update recipients: %w", err)
		}
		var (
			op      string
			differs bool
		)
		if _, err := pgx.ForEachRow(rows, []any{&op, &differs}, func() error {
			switch {
			case op == opRestore:
				p.counts.Restored++
			case differs:
				p.counts.Updated++
			default:
				p.counts.Unchanged++
			}
			return nil
		}); err != nil {
			return fmt.Errorf("update recipients: %w", err)
		}
		step("update")
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(removals) > 0 {
		ids := make([]int64, len(removals))
		for i, r := range removals {
			ids[i] = r.id
		}
		err := p.tx.Pgx(func(c *pgx.Conn) error {
			// A removal overwrites only updated_at (and the removal marks):
			// that is all its before-image keeps. Statements of one query
			// see the same snapshot: the CTE reads updated_at as it was.
			_, err := c.Exec(ctx, `WITH undo AS (
					INSERT INTO import_run_undo (run_id, recipient_id, op, updated_at)
					SELECT $2, id, 'D', updated_at FROM recipients WHERE id = ANY($1) AND segment_id = $3)
				UPDATE recipients SET removed_at = now(), removed_by_run_id = $2, updated_at = now() WHERE id = ANY($1) AND segment_id = $3`,
				ids, p.spec.RunID, p.segment)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("remove recipients: %w", err)
		}
		step("remove")
		for i := 0; i < len(removals) && len(sample) < maxSampleChanges; i++ {
			sample = append(sample, Change{ExternalID: removals[i].key, Action: ActionRemove})
		}
	}
	if len(sample) > maxSampleChanges {
		sample = sample[:maxSampleChanges]
	}
	if err := p.refreshStatistics(ctx); err != nil {
		return nil, err
	}
	step("analyze")
	return sample, nil
}

// refreshStatistics analyzes recipients after a run that changed much of
// them: until then the planner would plan the next run's joins for a tiny
// table and scan a million rows where it should look up a few thousand.
// Autovacuum analyzes the segments, but never the partitioned table as a
// whole, whose statistics the planner uses for joins: ANALYZE of recipients
// updates both. A new segment was analyzed as it was built (segment.go).
func (p *pipeline) refreshStatistics(ctx context.Context) error {
	c := p.counts
	changed := c.Created + c.Updated + c.Removed + c.Restored
	if p.newSegment || p.spec.DryRun || p.held != "" || changed < 10000 || changed*10 < p.active {
		return nil
	}
	if _, err := p.tx.ExecContext(ctx, "ANALYZE recipients"); err != nil {
		return fmt.Errorf("analyze recipients: %w", err)
	}
	return nil
}

// createdCount is the number of rows copied straight into recipients,
// less those taken back for conflicts (repeats, for a new segment).
func (p *pipeline) createdCount() int {
	if p.newSegment {
		return p.copied - p.repeats
	}
	n := 0
	for i := range p.entries {
		if p.entries[i].flags&(flagStaged|flagConflict) == flagStaged {
			n++
		}
	}
	return n
}

// sampleUpdates compares staged updates and restores with the rows they
// replace, field by field, for the run's sample of changes.
func (p *pipeline) sampleUpdates(ctx context.Context, c *pgx.Conn) ([]Change, error) {
	rows, err := c.Query(ctx, `SELECT s.line, s.external_id, s.op,
			r.type, s.type, r.first_name, s.first_name, r.last_name, s.last_name, r.grade, s.grade,
			r.school, s.school, r.language, s.language, r.phones::text, s.phones::text,
			r.emails::text, s.emails::text, r.custom_fields::text, s.custom_fields::text
		FROM (SELECT * FROM import_stage WHERE op IN ('U', 'R') ORDER BY line LIMIT $1) AS s
		JOIN recipients AS r ON r.id = s.id AND r.segment_id = $2
		ORDER BY s.line`, maxSampleChanges, p.segment)
	if err != nil {
		return nil, fmt.Errorf("sample changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	fields := []string{"type", "firstName", "lastName", "grade", "school", "language", "phones", "emails", "customFields"}
	for rows.Next() {
		var (
			line       int32
			key, op    string
			vals       [18]*string
			scanTarget = []any{&line, &key, &op}
		)
		for i := range vals {
			scanTarget = append(scanTarget, &vals[i])
		}
		if err := rows.Scan(scanTarget...); err != nil {
			return nil, fmt.Errorf("sample changes: %w", err)
		}
		l := int(line)
		action := ActionUpdate
		if op == opRestore {
			action = ActionRestore
			out = append(out, Change{Line: &l, ExternalID: key, Action: action})
		}
		for i, f := range fields {
			old, cur := vals[2*i], vals[2*i+1]
			if sameJSONOrText(old, cur) {
				continue
			}
			field := f
			out = append(out, Change{Line: &l, ExternalID: key, Action: action, Field: &field, OldValue: old, NewValue: cur})
		}
	}
	return out, rows.Err()
}

// sameJSONOrText compares two column values, JSON by meaning (jsonb may
// reorder keys).
func sameJSONOrText(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if *a == *b {
		return true
	}
	var x, y any
	if json.Unmarshal([]byte(*a), &x) != nil || json.Unmarshal([]byte(*b), &y) != nil {
		return false
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

// AnalyzeRecipients gathers the statistics of recipients as a whole and of
// each segment, outside any run's transaction (Result.AnalyzeRecipients).
func AnalyzeRecipients(ctx context.Context, d *db.DB) error {
	if _, err := d.ExecContext(ctx, "ANALYZE recipients"); err != nil {
		return fmt.Errorf("analyze recipients: %w", err)
	}
	return nil
}
