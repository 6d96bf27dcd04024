package imports

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// apply writes the staged changes and the removals, set-based, and returns
// a sample of the changes. Counts come from what the statements touched.
func (p *pipeline) apply(ctx context.Context, removals []removal) ([]RunChange, error) {
	imp, now := p.spec.imp, p.spec.now
	var sample []RunChange
	err := p.tx.Pgx(func(c *pgx.Conn) error {
		if len(p.conflicts) > 0 {
			// Rows of a key that later turned out to conflict were written
			// before the conflict showed; take them back.
			q := `DELETE FROM import_stage WHERE external_id = ANY($1)`
			args := []any{p.conflicts}
			if p.direct {
				q = `DELETE FROM recipients WHERE import_id = $2 AND external_id = ANY($1)`
				args = append(args, imp.ID)
			}
			if _, err := c.Exec(ctx, q, args...); err != nil {
				return fmt.Errorf("drop conflicting rows: %w", err)
			}
		}
		if p.direct {
			p.counts.Created = p.createdCount()
			sample = p.created
			return nil
		}
		// Without statistics the planner guesses a tiny staging table and
		// may pick nested loops over a million rows.
		if _, err := c.Exec(ctx, `ANALYZE import_stage`); err != nil {
			return fmt.Errorf("analyze staging: %w", err)
		}
		var err error
		if sample, err = p.sampleUpdates(ctx, c); err != nil {
			return err
		}
		sample = append(p.created, sample...)

		tag, err := c.Exec(ctx, `INSERT INTO recipients (import_id, external_id, type, first_name, last_name, grade, grade_rank,
				school, language, phones, emails, custom_fields, row_hash, created_at, updated_at)
			SELECT $1, external_id, type, first_name, last_name, grade, grade_rank,
				school, language, phones, emails, custom_fields, row_hash, $2, $2
			FROM import_stage WHERE op = 'I'`, imp.ID, now)
		if err != nil {
			return fmt.Errorf("insert recipients: %w", err)
		}
		p.counts.Created = int(tag.RowsAffected())

		rows, err := c.Query(ctx, `UPDATE recipients AS r SET
				type = s.type, first_name = s.first_name, last_name = s.last_name, grade = s.grade,
				grade_rank = s.grade_rank, school = s.school, language = s.language, phones = s.phones,
				emails = s.emails, custom_fields = s.custom_fields, row_hash = s.row_hash, updated_at = $2,
				removed_at = NULL, removed_by_run_id = NULL
			FROM import_stage AS s
			WHERE r.import_id = $1 AND r.external_id = s.external_id AND s.op IN ('U', 'R')
			  AND (s.op = 'R' OR (r.type, r.first_name, r.last_name, r.grade, r.grade_rank, r.school, r.language,
			       r.phones, r.emails, r.custom_fields) IS DISTINCT FROM (s.type, s.first_name, s.last_name, s.grade,
			       s.grade_rank, s.school, s.language, s.phones, s.emails, s.custom_fields))
			RETURNING s.op`, imp.ID, now)
		if err != nil {
			return fmt.Errorf("update recipients: %w", err)
		}
		var op string
		if _, err := pgx.ForEachRow(rows, []any{&op}, func() error {
			if op == opRestore {
				p.counts.Restored++
			} else {
				p.counts.Updated++
			}
			return nil
		}); err != nil {
			return fmt.Errorf("update recipients: %w", err)
		}

		// Rows whose file text changed but whose values did not (a phone
		// written differently, say) only take the new hash.
		tag, err = c.Exec(ctx, `UPDATE recipients AS r SET row_hash = s.row_hash
			FROM import_stage AS s
			WHERE r.import_id = $1 AND r.external_id = s.external_id AND s.op = 'U' AND r.row_hash <> s.row_hash`, imp.ID)
		if err != nil {
			return fmt.Errorf("update row hashes: %w", err)
		}
		p.counts.Unchanged += int(tag.RowsAffected())
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
			_, err := c.Exec(ctx, `UPDATE recipients SET removed_at = $2, removed_by_run_id = $3, updated_at = $2 WHERE id = ANY($1)`,
				ids, now, p.spec.run.ID)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("remove recipients: %w", err)
		}
		for i := 0; i < len(removals) && len(sample) < maxSampleChanges; i++ {
			sample = append(sample, RunChange{ExternalID: removals[i].key, Action: ActionRemove})
		}
	}
	if len(sample) > maxSampleChanges {
		sample = sample[:maxSampleChanges]
	}
	return sample, nil
}

// createdCount is the number of rows copied straight into recipients,
// less those taken back for conflicts.
func (p *pipeline) createdCount() int {
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
func (p *pipeline) sampleUpdates(ctx context.Context, c *pgx.Conn) ([]RunChange, error) {
	rows, err := c.Query(ctx, `SELECT s.line, s.external_id, s.op,
			r.type, s.type, r.first_name, s.first_name, r.last_name, s.last_name, r.grade, s.grade,
			r.school, s.school, r.language, s.language, r.phones::text, s.phones::text,
			r.emails::text, s.emails::text, r.custom_fields::text, s.custom_fields::text
		FROM import_stage AS s JOIN recipients AS r ON r.import_id = $1 AND r.external_id = s.external_id
		WHERE s.op IN ('U', 'R')
		ORDER BY s.line
		LIMIT $2`, p.spec.imp.ID, maxSampleChanges)
	if err != nil {
		return nil, fmt.Errorf("sample changes: %w", err)
	}
	defer rows.Close()
	var out []RunChange
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
			out = append(out, RunChange{Line: &l, ExternalID: key, Action: action})
		}
		for i, f := range fields {
			old, cur := vals[2*i], vals[2*i+1]
			if sameJSONOrText(old, cur) {
				continue
			}
			field := f
			out = append(out, RunChange{Line: &l, ExternalID: key, Action: action, Field: &field, OldValue: old, NewValue: cur})
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
