package apply

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/importfile"
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
// Such a run keeps nothing per key in memory either: every row goes to the
// table with its line number, and the rows whose key repeats are found
// there once all are in (resolveRepeats): building the unique key finds
// them at no extra cost when there are none.
//
// The indexes, keys and statistics objects are read from the partitioned
// table's catalog, so a migration that adds an index to recipients needs
// nothing here.

// segmentTable is the partition holding segment seg.
func segmentTable(seg int64) string { return fmt.Sprintf("recipients_s%d", seg) }

// segmentDDL is what makes a new segment's table look like recipients'
// partitions, read from the catalog.
type segmentDDL struct {
	seg         int64
	name, table string   // the table's name, and as an SQL identifier
	unique      []string // the unique keys (built first: they find repeated keys)
	build       []string // primary key, indexes, statistics objects
	locked      []string // the tables on the other end of recipients' foreign keys
}

// createSegment creates the table for a new segment: recipients' columns,
// defaults and checks, no indexes, and the line number of each row while
// the run needs it; its ids come from recipients' identity sequence, as
// rows inserted through recipients take theirs.
func createSegment(ctx context.Context, c *pgx.Conn) (int64, *segmentDDL, error) {
	d := &segmentDDL{}
	var sequence string
	if err := c.QueryRow(ctx, `SELECT nextval('recipient_segments_seq'), pg_get_serial_sequence('recipients', 'id')`).Scan(&d.seg, &sequence); err != nil {
		return 0, nil, fmt.Errorf("new segment: %w", err)
	}
	d.name = segmentTable(d.seg)
	d.table = pgx.Identifier{d.name}.Sanitize()
	err := c.QueryRow(ctx, `SELECT
			ARRAY(SELECT format('ALTER TABLE %s ADD %s', $1::text, pg_get_constraintdef(c.oid))
				FROM pg_constraint AS c WHERE c.conrelid = 'recipients'::regclass AND c.contype = 'u' ORDER BY c.conname),
			ARRAY(SELECT format('ALTER TABLE %s ADD %s', $1::text, pg_get_constraintdef(c.oid))
				FROM pg_constraint AS c WHERE c.conrelid = 'recipients'::regclass AND c.contype = 'p')
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
		d.table, d.name).Scan(&d.unique, &d.build, &d.locked)
	if err != nil {
		return 0, nil, fmt.Errorf("new segment: read recipients' indexes: %w", err)
	}
	for _, q := range []string{
		fmt.Sprintf(`CREATE TABLE %s (LIKE recipients INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`, d.table),
		// The check lets ATTACH PARTITION skip its scan of the rows.
		fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN id SET DEFAULT nextval(%s::regclass),
			ADD CONSTRAINT %s CHECK (segment_id = %d), ADD COLUMN line integer`,
			d.table, quoteLiteral(sequence), pgx.Identifier{d.name + "_segment"}.Sanitize(), d.seg),
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return 0, nil, fmt.Errorf("new segment: %w", err)
		}
	}
	return d.seg, d, nil
}

// keyedRow is a row of a new segment's file that was rejected but has a
// key: another row with that key may repeat it (resolveRepeats).
type keyedRow struct {
	key        string
	line       int32
	hash       int64
	unreadable bool // rejected before its fields were read (rejectUnreadable)
	copied     bool // copied into the table (else rejected)
	// refused: why its values were refused, recorded once its key is
	// known not to repeat an earlier row (replayKey): a run with a key
	// index never reads a repeated row's values.
	refused *importfile.RowError
}

// prepareFlat is prepare for a new segment: every row that normalizes is
// copied, whatever its key.
func (p *pipeline) prepareFlat(rec []string, line int, key string, hash int64) bool {
	if rerr := p.plan.Normalize(rec, line, p.spec.DefaultType, p.notes, &p.row); rerr != nil {
		p.keepRejected(keyedRow{key: key, line: int32(line), hash: hash, refused: rerr})
		return false
	}
	if len(p.created) < maxSampleChanges/2 {
		l := line
		p.created = append(p.created, Change{Line: &l, ExternalID: key, Action: ActionCreate})
	}
	p.copied++
	p.appendRow(opInsert, line, 0, hash)
	return true
}

// keepRejected remembers a rejected row with a key, for resolveRepeats. A
// run whose rejected rows already exceed the rejection limit fails
// whatever its keys: their rows are not kept, so that a file of bad rows
// costs no memory. Within that, they count against the run's memory budget
// as a key index's keys do.
func (p *pipeline) keepRejected(r keyedRow) {
	if p.err != nil {
		return
	}
	limit := p.spec.RejectionThreshold / 100 * float64(p.progress.total.Load())
	if float64(len(p.unkept)) > limit {
		if r.refused != nil {
			p.notes.Reject(*r.refused)
		}
		return
	}
	p.unkeptBytes += int64(len(r.key)) + int64(unsafe.Sizeof(r))
	if r.refused != nil {
		p.unkeptBytes += int64(unsafe.Sizeof(*r.refused)) + int64(len(r.refused.Value)+len(r.refused.Message))
	}
	if budget := p.spec.Limits.RunMemoryBytes; budget > 0 && p.unkeptBytes > budget && p.err == nil {
		p.err = &importfile.FileError{Message: fmt.Sprintf("the file's rejected rows hold more than %s of keys, more than a run may keep in memory (ROLLCALL_RUN_MEMORY_BYTES): nothing was applied",
			importfile.FormatBytes(budget))}
		return
	}
	r.key = strings.Clone(r.key)
	p.unkept = append(p.unkept, r)
}

// resolveRepeats finds the keys of a new segment's file that appear more
// than once, and treats their rows as a run that keeps a key index does
// (pipeline.repeated), but after the copy: an exact repeat is counted once
// and its copy taken back; a key with different values rejects all its
// rows, which are taken back; refused rows' errors are recorded as that
// run would (replayKey). Then the table has its unique keys.
func (p *pipeline) resolveRepeats(ctx context.Context, c *pgx.Conn) error {
	d := p.ddl
	// Building the unique keys fails if a key repeats among the copied
	// rows; that is the common case's only cost.
	_, err := c.Exec(ctx, `SAVEPOINT segment_unique; `+strings.Join(d.unique, "; ")+`; RELEASE SAVEPOINT segment_unique`)
	repeats := err != nil
	if repeats {
		if !db.IsUniqueViolation(err, "") {
			return fmt.Errorf("segment %d: unique keys: %w", d.seg, err)
		}
		if _, err := c.Exec(ctx, `ROLLBACK TO SAVEPOINT segment_unique; RELEASE SAVEPOINT segment_unique`); err != nil {
			return fmt.Errorf("segment %d: %w", d.seg, err)
		}
	}
	if !repeats && len(p.unkept) == 0 {
		return nil
	}
	// The rows of those keys come back a batch at a time, in key order,
	// and each key's are resolved as its last one arrives: memory holds one
	// batch and one key's rows, however many keys repeat.
	sort.Slice(p.unkept, func(i, j int) bool {
		a, b := p.unkept[i], p.unkept[j]
		return a.key < b.key || a.key == b.key && a.line < b.line
	})
	keys := make([]string, len(p.unkept))
	for i, r := range p.unkept {
		keys[i] = r.key
	}
	where := `external_id IN (SELECT key FROM segment_repeat_keys)`
	if repeats {
		where += ` OR external_id IN (SELECT external_id FROM ` + d.table + ` GROUP BY external_id HAVING count(*) > 1)`
	}
	for _, q := range []string{
		`CREATE TEMP TABLE segment_repeat_keys (key text) ON COMMIT DROP`,
		`INSERT INTO segment_repeat_keys SELECT unnest($1::text[])`,
		`DECLARE segment_repeats NO SCROLL CURSOR FOR SELECT external_id, line, row_hash FROM ` + d.table + ` WHERE ` + where + ` ORDER BY external_id, line`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{keys}
		}
		if _, err := c.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("segment %d: find repeated keys: %w", d.seg, err)
		}
	}
	var group []keyedRow // the current key's rows
	consumed := make([]bool, len(p.unkept))
	flush := func(drop []keyedRow) []keyedRow {
		if len(group) == 0 {
			return drop
		}
		key := group[0].key
		i := sort.Search(len(p.unkept), func(i int) bool { return p.unkept[i].key >= key })
		for ; i < len(p.unkept) && p.unkept[i].key == key; i++ {
			group = append(group, p.unkept[i])
			consumed[i] = true
		}
		drop = append(drop, p.replayKey(key, group)...)
		group = group[:0]
		return drop
	}
	for {
		rows, err := c.Query(ctx, `FETCH 10000 FROM segment_repeats`)
		if err != nil {
			return fmt.Errorf("segment %d: find repeated keys: %w", d.seg, err)
		}
		var (
			r     keyedRow
			drop  []keyedRow
			count int
		)
		if _, err := pgx.ForEachRow(rows, []any{&r.key, &r.line, &r.hash}, func() error {
			count++
			if len(group) > 0 && group[0].key != r.key {
				drop = flush(drop)
			}
			group = append(group, keyedRow{key: r.key, line: r.line, hash: r.hash, copied: true})
			return nil
		}); err != nil {
			return fmt.Errorf("segment %d: find repeated keys: %w", d.seg, err)
		}
		if count == 0 {
			drop = flush(drop)
		}
		if len(drop) > 0 {
			dropKeys, dropLines := make([]string, len(drop)), make([]int32, len(drop))
			for i, r := range drop {
				dropKeys[i], dropLines[i] = r.key, r.line
			}
			tag, err := c.Exec(ctx, `DELETE FROM `+d.table+` AS t USING unnest($1::text[], $2::integer[]) AS x (key, line)
				WHERE t.external_id = x.key AND t.line = x.line`, dropKeys, dropLines)
			if err != nil {
				return fmt.Errorf("segment %d: take back repeated rows: %w", d.seg, err)
			}
			p.repeats += int(tag.RowsAffected())
		}
		if count == 0 {
			break
		}
	}
	if _, err := c.Exec(ctx, `CLOSE segment_repeats`); err != nil {
		return fmt.Errorf("segment %d: %w", d.seg, err)
	}
	// Keys no copied row has: only rejected rows, whose errors are
	// recorded as a key index would have.
	for i := 0; i < len(p.unkept); {
		j := i
		for j < len(p.unkept) && p.unkept[j].key == p.unkept[i].key {
			j++
		}
		if !consumed[i] {
			p.replayKey(p.unkept[i].key, p.unkept[i:j])
		}
		i = j
	}
	p.unkept = nil
	if repeats {
		if _, err := c.Exec(ctx, strings.Join(d.unique, "; ")); err != nil {
			return fmt.Errorf("segment %d: unique keys: %w", d.seg, err)
		}
	}
	return nil
}

// replayKey goes through the rows of a key that may repeat (copied rows,
// and rejected rows that have the key) in file order, as pipeline.repeated
// would have as it read them, records the errors a run with a key index
// records, and returns the copied rows to take back. Like that run it
// never counts a repeated row's refused values: a repeat is a duplicate or
// a conflict before its values are read.
func (p *pipeline) replayKey(key string, list []keyedRow) (drop []keyedRow) {
	sort.Slice(list, func(i, j int) bool { return list[i].line < list[j].line })
	first := list[0]
	if first.refused != nil {
		p.notes.Reject(*first.refused)
	}
	column := p.plan.KeyColumn()
	firstRejected, conflict := !first.copied, false
	for _, o := range list[1:] {
		switch {
		case o.unreadable:
			// Its error is recorded; an unreadable row never repeats a key.
			continue
		case !conflict && o.hash == first.hash:
			p.dups++
			if o.copied {
				drop = append(drop, o)
			}
			continue
		}
		if !conflict {
			conflict = true
			if !firstRejected {
				p.notes.Reject(importfile.RowError{Line: int(first.line), Column: column, Value: key,
					Message: fmt.Sprintf("key %q appears again on line %d with different values; neither row was applied", key, o.line)})
				drop = append(drop, first)
				firstRejected = true
			}
		}
		p.notes.Reject(importfile.RowError{Line: int(o.line), Column: column, Value: key,
			Message: fmt.Sprintf("key %q already appeared on line %d with different values; neither row was applied", key, first.line)})
		if o.copied {
			drop = append(drop, o)
		}
	}
	return drop
}

// attachSegment finishes a new segment, whose unique keys are built
// (resolveRepeats): it builds the rest of recipients' indexes and keys and
// its statistics objects, analyzes it, attaches it to recipients and makes
// it the import's. Recipients as a whole is analyzed after the run
// commits (Result.AnalyzeRecipients): analyzing it here would wait on
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
func attachSegment(ctx context.Context, c *pgx.Conn, d *segmentDDL, importID, runID int64) error {
	exec := func(steps ...string) error {
		for _, q := range steps {
			if _, err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("segment %d: %s: %w", d.seg, strings.SplitN(q, " (", 2)[0], err)
			}
		}
		return nil
	}
	err := exec(append(d.build,
		fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN id DROP DEFAULT, DROP COLUMN line`, d.table),
		"ANALYZE "+d.table)...)
	if err != nil {
		return err
	}
	if err := lockForAttach(ctx, c, d.locked, importID, runID); err != nil {
		return fmt.Errorf("segment %d: %w", d.seg, err)
	}
	if err := exec(
		fmt.Sprintf(`ALTER TABLE recipients ATTACH PARTITION %s FOR VALUES IN (%d)`, d.table, d.seg),
		// The partition's own constraint says the same from now on.
		fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT %s`, d.table, pgx.Identifier{d.name + "_segment"}.Sanitize()),
	); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, `UPDATE imports SET segment_id = $1 WHERE id = $2`, d.seg, importID); err != nil {
		return fmt.Errorf("segment %d: %w", d.seg, err)
	}
	return nil
}

// lockForAttach takes the locks attaching a segment needs: recipients
// itself (ATTACH PARTITION's lock, which also keeps two attaches apart) and
// the tables its foreign keys join it to; and the rows of the import and
// the run, which the run writes before it commits (an administrator
// changing the import or canceling the run holds its row while it waits
// for the table). All at once or none: a lock that is not free at once
// gives back those taken and tries again a little later, so the run never
// waits while holding some of them. Past
// attachLockPatience it gives up (the run fails and is tried again): a
// transaction that holds one of them while it waits for this run would
// otherwise keep it trying for ever.
func lockForAttach(ctx context.Context, c *pgx.Conn, tables []string, importID, runID int64) error {
	lock := `LOCK TABLE ONLY recipients IN SHARE UPDATE EXCLUSIVE MODE NOWAIT`
	if len(tables) > 0 {
		lock += `; LOCK TABLE ` + strings.Join(tables, ", ") + ` IN SHARE ROW EXCLUSIVE MODE NOWAIT`
	}
	// Integers only: a multi-statement string takes no parameters.
	lock += fmt.Sprintf(`; SELECT FROM imports WHERE id = %d FOR NO KEY UPDATE NOWAIT; SELECT FROM import_runs WHERE id = %d FOR NO KEY UPDATE NOWAIT`, importID, runID)
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
