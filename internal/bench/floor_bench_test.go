package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The floor of a first load: what PostgreSQL itself needs to hold a run's
// rows in recipients as the table stands, built in bulk. BenchmarkImport
// measures it in the same run, on the same cluster, from the rows
// Rollcall's own first load wrote:
//
//  1. copy: COPY of the run's normalized rows (exported from recipients
//     as COPY text, the form Rollcall sends them in) into an index-less,
//     constraint-less table with recipients' columns (names, types, NOT
//     NULL, defaults, extended statistics, storage options; not its
//     CHECK constraints, which cost little per row); every column is
//     copied, id and timestamps included (Rollcall leaves those to the
//     defaults: about 75 bytes of text per row more for the floor);
//  2. index: CREATE INDEX of each of recipients' indexes, one after the
//     other, from their pg_get_indexdef (those behind a primary key or
//     unique constraint then become that constraint, USING INDEX);
//  3. fk: ALTER TABLE … ADD CONSTRAINT … of each foreign key, from its
//     pg_get_constraintdef, against minimal copies of the referenced
//     tables (their referenced columns and rows only);
//  4. analyze: ANALYZE of the table.
//
// The floor is the sum. It runs in a database of its own, so that the
// table keeps its name (recipients) and the definitions apply verbatim;
// each step is a statement of its own (autocommit) on a connection with
// the settings the server's connections have (internal/db sets only
// application_name and timezone; the apply step's SET LOCAL
// random_page_cost is a planner setting for its joins, which a first load
// does not run): maintenance_work_mem, max_parallel_maintenance_workers
// and the rest are the cluster's defaults, as for the server.

// floorTable is the table whose floor is measured.
const floorTable = "recipients"

// floorPlan is what the floor replays, read from the database Rollcall
// loaded.
type floorPlan struct {
	create   string   // CREATE TABLE of the index-less copy
	columns  []string // quoted, in the order of the exported rows
	stats    []string // CREATE STATISTICS, before the load (ANALYZE computes them)
	indexes  []floorStep
	fks      []floorStep
	refs     []floorRef
	settings string // the cluster's settings that bear on a bulk load
}

type floorStep struct {
	name string
	sql  []string // run in order; timed together
}

// floorRef is a table a foreign key references: only the referenced
// columns, with a primary key on them, and their rows.
type floorRef struct {
	table  string // as the constraint definition names it
	create string
	cols   string
}

// readFloorPlan reads recipients' definition from the database Rollcall
// loaded.
func readFloorPlan(ctx context.Context, src *pgx.Conn) (*floorPlan, error) {
	p := &floorPlan{}
	rows, err := src.Query(ctx, `SELECT quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), a.attnotnull,
			a.attgenerated::text, coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
			CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
				THEN ' COLLATE ' || quote_ident(n.nspname) || '.' || quote_ident(co.collname) ELSE '' END
		FROM pg_attribute a
		JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_collation co ON co.oid = a.attcollation
		LEFT JOIN pg_namespace n ON n.oid = co.collnamespace
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, floorTable)
	if err != nil {
		return nil, err
	}
	var defs []string
	for rows.Next() {
		var name, typ, generated, expr, collate string
		var notNull bool
		if err := rows.Scan(&name, &typ, &notNull, &generated, &expr, &collate); err != nil {
			rows.Close()
			return nil, err
		}
		def := name + " " + typ + collate
		switch {
		case generated == "s":
			// Computed by PostgreSQL, as in recipients: not exported.
			def += " GENERATED ALWAYS AS (" + expr + ") STORED"
		case expr != "":
			def += " DEFAULT " + expr
		}
		if notNull {
			def += " NOT NULL"
		}
		defs = append(defs, def)
		if generated != "s" {
			p.columns = append(p.columns, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var options string
	if err := src.QueryRow(ctx, `SELECT coalesce(array_to_string(reloptions, ', '), '') FROM pg_class WHERE oid = $1::regclass`,
		floorTable).Scan(&options); err != nil {
		return nil, err
	}
	p.create = fmt.Sprintf("CREATE TABLE %s (\n\t%s\n)", floorTable, strings.Join(defs, ",\n\t"))
	if options != "" {
		p.create += " WITH (" + options + ")"
	}

	if p.stats, err = collectStrings(ctx, src, `SELECT pg_get_statisticsobjdef(oid) FROM pg_statistic_ext
		WHERE stxrelid = $1::regclass ORDER BY oid`, floorTable); err != nil {
		return nil, err
	}

	// Indexes in the order they were created; those behind a constraint
	// become it once built (a catalog change: the build is the cost).
	rows, err = src.Query(ctx, `SELECT quote_ident(ic.relname), pg_get_indexdef(i.indexrelid),
			coalesce(quote_ident(c.conname), ''), coalesce(c.contype::text, '')
		FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u')
		WHERE i.indrelid = $1::regclass
		ORDER BY i.indexrelid`, floorTable)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var index, def, con, contype string
		if err := rows.Scan(&index, &def, &con, &contype); err != nil {
			rows.Close()
			return nil, err
		}
		step := floorStep{name: index, sql: []string{def}}
		if con != "" {
			kind := map[string]string{"p": "PRIMARY KEY", "u": "UNIQUE"}[contype]
			step.sql = append(step.sql, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s", floorTable, con, kind, index))
		}
		p.indexes = append(p.indexes, step)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Foreign keys, and for each referenced table the columns they
	// reference.
	rows, err = src.Query(ctx, `SELECT quote_ident(c.conname), pg_get_constraintdef(c.oid), c.confrelid::regclass::text,
			(SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY k.n)
				FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum),
			(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
				FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum)
		FROM pg_constraint c
		WHERE c.conrelid = $1::regclass AND c.contype = 'f'
		ORDER BY c.oid`, floorTable)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for rows.Next() {
		var con, def, ref, colDefs, cols string
		if err := rows.Scan(&con, &def, &ref, &colDefs, &cols); err != nil {
			rows.Close()
			return nil, err
		}
		p.fks = append(p.fks, floorStep{name: con, sql: []string{fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", floorTable, con, def)}})
		if seen[ref] {
			// Two keys to one table: recipients' reference different
			// tables; say so rather than build a wrong copy.
			rows.Close()
			return nil, fmt.Errorf("floor: more than one foreign key references %s", ref)
		}
		seen[ref] = true
		p.refs = append(p.refs, floorRef{table: ref, cols: cols,
			create: fmt.Sprintf("CREATE TABLE %s (%s, PRIMARY KEY (%s))", ref, colDefs, cols)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	p.settings, err = collectLine(ctx, src, `SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name)
		FROM pg_settings WHERE name IN ('maintenance_work_mem', 'max_parallel_maintenance_workers', 'work_mem',
			'shared_buffers', 'max_wal_size', 'wal_level', 'synchronous_commit', 'fsync', 'gin_pending_list_limit')`)
	return p, err
}

func collectStrings(ctx context.Context, c *pgx.Conn, sql string, args ...any) ([]string, error) {
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func collectLine(ctx context.Context, c *pgx.Conn, sql string) (string, error) {
	var s string
	err := c.QueryRow(ctx, sql).Scan(&s)
	return s, err
}

// exportRunRows writes the rows an import holds, as COPY text, to path:
// streamed, whatever their number. It returns the rows and bytes written.
func exportRunRows(ctx context.Context, src *pgx.Conn, p *floorPlan, importID int64, path string) (int64, int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	tag, err := src.PgConn().CopyTo(ctx, w, fmt.Sprintf("COPY (SELECT %s FROM %s WHERE import_id = %d) TO STDOUT",
		strings.Join(p.columns, ", "), floorTable, importID))
	if err != nil {
		return 0, 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return tag.RowsAffected(), st.Size(), f.Close()
}

// floorConn connects as the server's connections are set up.
func floorConn(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = "rollcall-bench-floor"
	cfg.RuntimeParams["timezone"] = "UTC"
	return pgx.ConnectConfig(ctx, cfg)
}

// measureFloor builds the floor in the database at floorURL from the rows
// in rowsFile, copying the referenced rows from srcURL, and records each
// step's time in t as floor_copy, floor_index, floor_fk, floor_analyze
// (sums), floor (the total) and floor:<step> (each).
func measureFloor(b *testing.B, t timings, p *floorPlan, srcURL, floorURL, rowsFile string) {
	b.Helper()
	ctx := context.Background()
	src, err := pgx.Connect(ctx, srcURL)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close(ctx)
	c, err := floorConn(ctx, floorURL)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)

	// Untimed: the tables, and the referenced rows.
	mustExec(b, c, p.create)
	for _, s := range p.stats {
		mustExec(b, c, s)
	}
	for _, r := range p.refs {
		mustExec(b, c, r.create)
		if err := pipeCopy(ctx, src, c, fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", r.cols, r.table),
			fmt.Sprintf("COPY %s (%s) FROM STDIN", r.table, r.cols)); err != nil {
			b.Fatalf("floor: referenced rows of %s: %v", r.table, err)
		}
	}
	checkpoint(b, c)

	var total float64
	record := func(kind, name string, d time.Duration) {
		t.add("floor_"+kind, d.Seconds()) // summed below per repetition
		t.add("floor:"+kind+":"+name, d.Seconds())
		total += d.Seconds()
	}
	d, err := copyFile(ctx, c, rowsFile, fmt.Sprintf("COPY %s (%s) FROM STDIN", floorTable, strings.Join(p.columns, ", ")))
	if err != nil {
		b.Fatalf("floor: copy: %v", err)
	}
	record("copy", floorTable, d)
	timed := func(kind string, steps []floorStep) {
		var sum time.Duration
		for _, s := range steps {
			start := time.Now()
			for _, sql := range s.sql {
				mustExec(b, c, sql)
			}
			d := time.Since(start)
			sum += d
			t.add("floor:"+kind+":"+s.name, d.Seconds())
		}
		t.add("floor_"+kind, sum.Seconds())
		total += sum.Seconds()
	}
	timed("index", p.indexes)
	timed("fk", p.fks)
	start := time.Now()
	mustExec(b, c, "ANALYZE "+floorTable)
	record("analyze", floorTable, time.Since(start))
	t.add("floor", total)
}

// pipeCopy streams COPY … TO STDOUT on one connection into COPY … FROM
// STDIN on another.
func pipeCopy(ctx context.Context, from, to *pgx.Conn, out, in string) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := from.PgConn().CopyTo(ctx, pw, out)
		pw.CloseWithError(err)
		done <- err
	}()
	_, err := to.PgConn().CopyFrom(ctx, pr, in)
	pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if COPY FROM stopped early
	if werr := <-done; err == nil {
		err = werr
	}
	return err
}

// checkpoint flushes what earlier steps left dirty, so that a timed step
// starts from a clean slate and does not pay for its predecessor's writes.
func checkpoint(b *testing.B, c *pgx.Conn) {
	b.Helper()
	mustExec(b, c, "CHECKPOINT")
}

// dropBenchDatabase drops a database the benchmark is done with (its
// server must be stopped), to keep the disk used bounded at 5M rows.
func dropBenchDatabase(b *testing.B, e *env, name string) {
	b.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.cluster.URL("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	mustExec(b, c, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// selfPeakRSS is the benchmark process's own peak resident memory
// (VmHWM), in bytes: it must not grow with the rows (files are streamed).
func selfPeakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// lastRep is the latest repetition's value of a figure.
func lastRep(t timings, name string) float64 {
	v := t[name]
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

// reportImport prints BenchmarkImport's side-by-side tables (Markdown, for
// docs/benchmarks.md) and reports its figures as metrics.
func reportImport(b *testing.B, t timings, p *floorPlan, rows, reps int, withBaseline bool) {
	b.Helper()
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Import of %d rows: medians of %d repetitions (a ratio is the median of each repetition's ratio); finished %s\n\n",
		rows, reps, time.Now().Format("2006-01-02 15:04 MST"))
	sb.WriteString("| Figure | Rollcall | Yardstick | Ratio | Target | |\n|---|---|---|---|---|---|\n")
	ratioRow := func(label string, rollcall, yard, ratio float64, yardName string, target float64) {
		fmt.Fprintf(&sb, "| %s | %.2f s | %.2f s (%s) | **%.2f** | ≤ %g | %s |\n", label, rollcall, yard, yardName, ratio, target, met(ratio <= target))
	}
	ratioRow("First load: upload + run", t.median("first"), t.median("floor"), t.median("first/floor"), "floor", 1.25)
	ratioRow("Next day: upload + run", t.median("next"), t.median("copy_next"), t.median("next_day/copy"), "COPY of the next day's file", 2)
	ratioRow("Re-run, unchanged", t.median("rerun"), t.median("copy"), t.median("rerun/copy"), "COPY of the file", 1.2)
	for _, r := range []struct{ label, name string }{
		{"Server RSS growth, first load", "rss"}, {"Server RSS growth, re-run", "rss_rerun"}, {"Server RSS growth, next day", "rss_next"},
	} {
		fmt.Fprintf(&sb, "| %s | %.0f MB | | | ≤ 100 MB | %s |\n", r.label, t.median(r.name), met(t.median(r.name) <= 100))
	}
	if withBaseline {
		fmt.Fprintf(&sb, "| First load / earlier baseline (COPY + INSERT … ON CONFLICT) | %.2f s | %.2f s | %.2f | – | |\n",
			t.median("first"), t.median("baseline_copy")+t.median("insert"), t.median("first/baseline"))
	}
	fmt.Fprintf(&sb, "\nOf the first load, the upload: %.2f s (runs %s).\n", t.median("upload"), t.all("upload"))
	// For growth (issue 15): compare these between runs at 1M and 5M rows.
	perM := 1e6 / float64(rows)
	fmt.Fprintf(&sb, "Per million rows: first load %.2f s, floor %.2f s, re-run %.2f s, next day %.2f s.\n",
		t.median("first")*perM, t.median("floor")*perM, t.median("rerun")*perM, t.median("next")*perM)

	// The floor, step by step.
	sb.WriteString("\n| Floor step | Median | Runs |\n|---|---|---|\n")
	step := func(label, name string) {
		fmt.Fprintf(&sb, "| %s | %.2f s | %s |\n", label, t.median(name), t.all(name))
	}
	step("COPY of the run's rows into recipients without indexes or constraints", "floor:copy:"+floorTable)
	for _, s := range p.indexes {
		step("CREATE INDEX "+s.name, "floor:index:"+s.name)
	}
	for _, s := range p.fks {
		step("ADD FOREIGN KEY "+s.name, "floor:fk:"+s.name)
	}
	step("ANALYZE "+floorTable, "floor:analyze:"+floorTable)
	step("**Floor** (sum)", "floor")
	b.Log("\n" + sb.String())

	var stmts strings.Builder
	fmt.Fprintf(&stmts, "floor statements (cluster settings: %s):\n%s;\n", p.settings, p.create)
	for _, s := range p.stats {
		stmts.WriteString(s + ";\n")
	}
	fmt.Fprintf(&stmts, "-- timed: COPY %s (%s) FROM STDIN  -- the run's rows, exported as COPY text\n", floorTable, strings.Join(p.columns, ", "))
	for _, group := range [][]floorStep{p.indexes, p.fks} {
		for _, s := range group {
			for _, sql := range s.sql {
				fmt.Fprintf(&stmts, "-- timed: %s\n", sql)
			}
		}
	}
	fmt.Fprintf(&stmts, "-- timed: ANALYZE %s\n", floorTable)
	for _, r := range p.refs {
		fmt.Fprintf(&stmts, "-- referenced: %s, with the rows of SELECT %s FROM %s\n", r.create, r.cols, r.table)
	}
	b.Log(stmts.String())

	metrics := []struct {
		name string
		v    float64
	}{
		{"first_load_s", t.median("first")}, {"upload_s", t.median("upload")}, {"floor_s", t.median("floor")},
		{"floor_copy_s", t.median("floor_copy")}, {"floor_index_s", t.median("floor_index")},
		{"floor_fk_s", t.median("floor_fk")}, {"floor_analyze_s", t.median("floor_analyze")},
		{"first/floor", t.median("first/floor")},
		{"copy_s", t.median("copy")}, {"rerun_s", t.median("rerun")}, {"rerun/copy", t.median("rerun/copy")},
		{"copy_next_day_s", t.median("copy_next")}, {"next_day_s", t.median("next")}, {"next_day/copy", t.median("next_day/copy")},
		{"rss_growth_MB", t.median("rss")}, {"rss_rerun_MB", t.median("rss_rerun")}, {"rss_next_day_MB", t.median("rss_next")},
		{"bench_peak_rss_MB", float64(selfPeakRSS()) / (1 << 20)},
	}
	if withBaseline {
		metrics = append(metrics, struct {
			name string
			v    float64
		}{"first/baseline", t.median("first/baseline")})
	}
	for _, m := range metrics {
		b.ReportMetric(m.v, m.name)
	}
	names := []string{"first", "upload", "floor", "floor_copy", "floor_index", "floor_fk", "floor_analyze", "first/floor",
		"copy", "rerun", "rerun/copy", "copy_next", "next", "next_day/copy", "rss", "rss_rerun", "rss_next"}
	if withBaseline {
		names = append(names, "baseline_copy", "insert", "first/baseline")
	}
	for _, name := range names {
		b.Logf("all %-14s %s", name, t.all(name))
	}
	b.Logf("benchmark process peak RSS: %.0f MB", float64(selfPeakRSS())/(1<<20))
}
