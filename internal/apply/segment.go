package apply

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/db"
)

// Recipients are partitioned by segment (migration 0011): segment 0 is
// shared by the imports whose first load was small; a large first load
// gets a segment of its own. It copies its rows into a fresh table with no
// indexes, then builds recipients' indexes and keys on it in bulk and
// attaches it as a partition, all in the run's transaction: a crash or a
// failed run leaves no trace of it. Building an index over a million rows
// at once costs a fraction of keeping seven indexes and a foreign key up
// to date row by row, which is what a first load into an indexed table
// pays (docs/benchmarks.md, "Against the floor").
//
// The indexes, keys and statistics objects are read from the partitioned
// table's catalog, so a migration that adds an index to recipients needs
// nothing here.

// segmentTable is the partition holding segment seg.
func segmentTable(seg int64) string { return fmt.Sprintf("recipients_s%d", seg) }

// createSegment creates the table for a new segment: recipients' columns,
// defaults and checks, no indexes; its ids come from recipients' identity
// sequence, as rows inserted through recipients take theirs.
func createSegment(ctx context.Context, c *pgx.Conn) (int64, error) {
	var seg int64
	var sequence string
	if err := c.QueryRow(ctx, `SELECT nextval('recipient_segments_seq'), pg_get_serial_sequence('recipients', 'id')`).Scan(&seg, &sequence); err != nil {
		return 0, fmt.Errorf("new segment: %w", err)
	}
	table := pgx.Identifier{segmentTable(seg)}.Sanitize()
	for _, q := range []string{
		fmt.Sprintf(`CREATE TABLE %s (LIKE recipients INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`, table),
		// The check lets ATTACH PARTITION skip its scan of the rows.
		fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN id SET DEFAULT nextval(%s::regclass),
			ADD CONSTRAINT %s CHECK (segment_id = %d)`, table, quoteLiteral(sequence), pgx.Identifier{segmentTable(seg) + "_segment"}.Sanitize(), seg),
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("new segment: %w", err)
		}
	}
	return seg, nil
}

// attachSegment builds the new segment's indexes, keys and statistics
// objects as recipients has them, analyzes it, attaches it to recipients
// and makes it the import's. Recipients as a whole is analyzed after the
// run commits (Result.AnalyzeRecipients): analyzing it here would wait on
// other runs while holding the locks below.
//
// Attaching adds recipients' foreign keys to the segment (checking its
// rows) and locks the tables on both ends of them (imports, import_runs,
// the list tables) against writes until the run commits. Taken one by one,
// as ATTACH PARTITION would, those locks deadlock with a transaction that
// writes two of the tables in the other order (an upload records its file
// and queues a run): so they are all taken first, together, without
// waiting (lockForAttach), and the run writes none of those tables before.
// (Foreign keys added to the table before attaching would be merged into
// recipients' by dropping their triggers on imports, which takes a lock
// that waits for every reader of imports.)
func attachSegment(ctx context.Context, c *pgx.Conn, seg, importID int64) error {
	name := segmentTable(seg)
	table := pgx.Identifier{name}.Sanitize()
	var build, locked []string
	err := c.QueryRow(ctx, `SELECT
			ARRAY(SELECT format('ALTER TABLE %s ADD %s', $1::text, pg_get_constraintdef(c.oid))
				FROM pg_constraint AS c WHERE c.conrelid = 'recipients'::regclass AND c.contype IN ('p', 'u') ORDER BY c.conname)
			|| ARRAY(SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ USING ',
					'CREATE \1INDEX ON ' || $1 || ' USING ')
				FROM pg_index AS i WHERE i.indrelid = 'recipients'::regclass
					AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid)
				ORDER BY i.indexrelid)
			|| ARRAY(SELECT regexp_replace(pg_get_statisticsobjdef(s.oid), '^CREATE STATISTICS \S+ (.*) FROM \S+$',
					'CREATE STATISTICS ' || quote_ident($2 || '_' || s.stxname) || ' \1 FROM ' || $1)
				FROM pg_statistic_ext AS s WHERE s.stxrelid = 'recipients'::regclass ORDER BY s.oid),
			ARRAY(SELECT DISTINCT format('%I.%I', n.nspname, t.relname)
				FROM pg_constraint AS c
				JOIN pg_class AS t ON t.oid = CASE WHEN c.conrelid = 'recipients'::regclass THEN c.confrelid ELSE c.conrelid END
				JOIN pg_namespace AS n ON n.oid = t.relnamespace
				WHERE c.contype = 'f' AND c.conparentid = 0
					AND 'recipients'::regclass IN (c.conrelid, c.confrelid) AND t.oid <> 'recipients'::regclass)`,
		table, name).Scan(&build, &locked)
	if err != nil {
		return fmt.Errorf("segment %d: read recipients' indexes: %w", seg, err)
	}
	exec := func(steps ...string) error {
		for _, q := range steps {
			if _, err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("segment %d: %s: %w", seg, strings.SplitN(q, " (", 2)[0], err)
			}
		}
		return nil
	}
	if err := exec(append(build, "ANALYZE "+table, fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN id DROP DEFAULT`, table))...); err != nil {
		return err
	}
	if err := lockForAttach(ctx, c, locked); err != nil {
		return fmt.Errorf("segment %d: %w", seg, err)
	}
	if err := exec(
		fmt.Sprintf(`ALTER TABLE recipients ATTACH PARTITION %s FOR VALUES IN (%d)`, table, seg),
		// The partition's own constraint says the same from now on.
		fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT %s`, table, pgx.Identifier{name + "_segment"}.Sanitize()),
	); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, `UPDATE imports SET segment_id = $1 WHERE id = $2`, seg, importID); err != nil {
		return fmt.Errorf("segment %d: %w", seg, err)
	}
	return nil
}

// lockForAttach takes the locks attaching a segment needs: recipients
// itself (ATTACH PARTITION's lock, which also keeps two attaches apart) and
// the tables its foreign keys join it to. All at once or none: a lock that
// is not free at once gives back those taken and tries again a little
// later, so the run never waits while holding some of them. Past
// attachLockPatience it gives up (the run fails and is tried again): a
// transaction that holds one of them while it waits for this run would
// otherwise keep it trying for ever.
func lockForAttach(ctx context.Context, c *pgx.Conn, tables []string) error {
	lock := `LOCK TABLE ONLY recipients IN SHARE UPDATE EXCLUSIVE MODE NOWAIT`
	if len(tables) > 0 {
		lock += `; LOCK TABLE ` + strings.Join(tables, ", ") + ` IN SHARE ROW EXCLUSIVE MODE NOWAIT`
	}
	wait := 5 * time.Millisecond
	deadline := time.Now().Add(attachLockPatience)
	for {
		if _, err := c.Exec(ctx, `SAVEPOINT segment_locks; `+lock+`; RELEASE SAVEPOINT segment_locks`); err == nil {
			return nil
		} else if !db.IsLockNotAvailable(err) {
			return fmt.Errorf("lock for attach: %w", err)
		}
		if _, err := c.Exec(ctx, `ROLLBACK TO SAVEPOINT segment_locks; RELEASE SAVEPOINT segment_locks`); err != nil {
			return fmt.Errorf("lock for attach: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lock for attach: %s stayed busy for %s", strings.Join(append([]string{"recipients"}, tables...), ", "), attachLockPatience)
		}
		// Jittered, so that two runs attaching at once do not try in step.
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock for attach: %w", context.Cause(ctx))
		case <-time.After(wait/2 + rand.N(wait)):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// attachLockPatience is how long lockForAttach tries.
const attachLockPatience = 2 * time.Minute

// quoteLiteral quotes s as an SQL string literal (DDL takes no
// parameters).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
