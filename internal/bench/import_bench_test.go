package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/districtgen"
)

// BenchmarkImport measures, on ROLLCALL_BENCH_ROWS rows (1,000,000 by
// default), medians of ROLLCALL_BENCH_REPS repetitions (3), each on fresh
// databases of the same cluster, side by side with what PostgreSQL alone
// needs for the same work:
//
//   - first load: upload (POST /imports/{id}/file?run=true) plus run,
//     against the floor: the same run's rows copied into an index-less
//     copy of recipients, then its indexes, foreign keys and ANALYZE built
//     in bulk (floor_bench_test.go);
//   - re-run: runImport of the same file (nothing changes), against a
//     plain COPY of that file into a table of text columns;
//   - next day: upload plus run of the next day's file (about 2% changed,
//     0.5% removed, 0.5% new), against a plain COPY of that file;
//   - the server's resident memory growth during each.
//
// Ratios are each repetition's, then their median. Each timed step starts
// after a CHECKPOINT, so that none pays for the writes of the one before.
// With ROLLCALL_BENCH_BASELINE=1 it also measures the earlier yardstick, a
// hand-written loader (COPY plus one INSERT … ON CONFLICT into recipients).
//
// Run it with make bench.
func BenchmarkImport(b *testing.B) {
	rows := envInt("ROLLCALL_BENCH_ROWS", 1_000_000)
	reps := envInt("ROLLCALL_BENCH_REPS", 3)
	withBaseline := os.Getenv("ROLLCALL_BENCH_BASELINE") == "1"
	e := setupEnv(b)
	opts := districtgen.Options{Rows: rows, Seed: 20261125}
	day0 := filepath.Join(e.dir, "day0.csv")
	day1 := filepath.Join(e.dir, "day1.csv")
	rowsFile := filepath.Join(e.dir, "rows.copy")
	writeFile(b, day0, func(f *os.File) error { return districtgen.Write(f, opts) })
	writeFile(b, day1, func(f *os.File) error { return districtgen.NextDay(f, opts, districtgen.Change{Day: 1}) })
	st0, _ := os.Stat(day0)
	st1, _ := os.Stat(day1)
	b.Logf("machine: %s", machine())
	b.Logf("files: %d rows, %.1f MB; next day %.1f MB", rows, float64(st0.Size())/1e6, float64(st1.Size())/1e6)

	t := timings{}
	var plan *floorPlan
	for b.Loop() {
		for i := range reps {
			b.Logf("repetition %d of %d, started %s", i+1, reps, time.Now().Format("15:04:05 MST"))
			rollcallDB, floorDB := fmt.Sprintf("rollcall_%d", i), fmt.Sprintf("floor_%d", i)
			rollcallURL := e.database(b, rollcallDB)
			plan = pipeline(b, e, t, rollcallURL, day0, day1, rowsFile)
			floorURL := e.database(b, floorDB)
			copyBaseline(b, t, floorURL, day0, day1)
			measureFloor(b, t, plan, rollcallURL, floorURL, rowsFile)
			if withBaseline {
				baseline(b, e, t, fmt.Sprintf("baseline_%d", i), day0)
				t.add("first/baseline", lastRep(t, "first")/(lastRep(t, "baseline_copy")+lastRep(t, "insert")))
			}
			t.add("first/floor", lastRep(t, "first")/lastRep(t, "floor"))
			t.add("rerun/copy", lastRep(t, "rerun")/lastRep(t, "copy"))
			t.add("next_day/copy", lastRep(t, "next")/lastRep(t, "copy_next"))
			b.Logf("repetition %d: first load %.2f s / floor %.2f s = %.2f; re-run %.2f s / COPY %.2f s = %.2f; "+
				"next day %.2f s / COPY %.2f s = %.2f; RSS growth %.0f, %.0f, %.0f MB",
				i+1, lastRep(t, "first"), lastRep(t, "floor"), lastRep(t, "first/floor"), lastRep(t, "rerun"), lastRep(t, "copy"),
				lastRep(t, "rerun/copy"), lastRep(t, "next"), lastRep(t, "copy_next"), lastRep(t, "next_day/copy"),
				lastRep(t, "rss"), lastRep(t, "rss_rerun"), lastRep(t, "rss_next"))
			_ = os.Remove(rowsFile)
			dropBenchDatabase(b, e, floorDB)
			dropBenchDatabase(b, e, rollcallDB)
		}
	}
	reportImport(b, t, plan, rows, reps, withBaseline)
}

func writeFile(b *testing.B, path string, write func(*os.File) error) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := write(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// copyStageSQL is a table of text columns for the district file: what a
// plain COPY of the file loads into.
const copyStageSQL = `CREATE TABLE %s (student_id text, first_name text, last_name text, grade text, school text,
	home_language text, guardian1_name text, guardian1_phone text, guardian1_email text, guardian2_name text,
	guardian2_phone text, guardian2_email text, student_email text, homeroom text, birth_date text)`

// copyBaseline times a plain COPY of each file (the first day's as copy,
// the next day's as copy_next) into a fresh table of text columns, in the
// database at url.
func copyBaseline(b *testing.B, t timings, url, day0, day1 string) {
	b.Helper()
	ctx := context.Background()
	conn, err := floorConn(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, f := range []struct{ table, file, figure string }{{"copy_stage", day0, "copy"}, {"copy_stage_next", day1, "copy_next"}} {
		mustExec(b, conn, fmt.Sprintf(copyStageSQL, f.table))
		checkpoint(b, conn)
		d, err := copyFile(ctx, conn, f.file, "COPY "+f.table+" FROM STDIN WITH (FORMAT csv, HEADER)")
		if err != nil {
			b.Fatal(err)
		}
		t.add(f.figure, d.Seconds())
		mustExec(b, conn, "DROP TABLE "+f.table)
	}
}

// baseline loads the file the way a hand-written loader would (the
// yardstick before the floor; ROLLCALL_BENCH_BASELINE=1).
func baseline(b *testing.B, e *env, t timings, name, file string) {
	b.Helper()
	ctx := context.Background()
	url := e.database(b, name)
	defer dropBenchDatabase(b, e, name)
	e.run(b, url, "migrate")
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	mustExec(b, conn, fmt.Sprintf(copyStageSQL, "copy_stage"))
	mustExec(b, conn, `INSERT INTO imports (name, method) VALUES ('baseline', 'FULL')`)
	checkpoint(b, conn)
	d, err := copyFile(ctx, conn, file, `COPY copy_stage FROM STDIN WITH (FORMAT csv, HEADER)`)
	if err != nil {
		b.Fatal(err)
	}
	t.add("baseline_copy", d.Seconds())
	start := time.Now()
	// The folded keys Rollcall stores are approximated with lower(): the
	// baseline is the cost of loading as many columns, not their exact text.
	mustExec(b, conn, `INSERT INTO recipients (segment_id, import_id, external_id, type, first_name, last_name, grade, school, language,
			phones, emails, custom_fields, row_hash, first_name_key, last_name_key, school_key, language_key, custom_fields_key)
		SELECT 0, 1, s.student_id, 'STUDENT', s.first_name, s.last_name, s.grade, s.school, s.home_language,
			jsonb_build_array(jsonb_build_object('number', s.guardian1_phone, 'label', 'Guardian 1'),
				jsonb_build_object('number', s.guardian2_phone, 'label', 'Guardian 2')),
			jsonb_build_array(jsonb_build_object('address', s.guardian1_email, 'label', 'Guardian 1'),
				jsonb_build_object('address', s.guardian2_email, 'label', 'Guardian 2'),
				jsonb_build_object('address', s.student_email, 'label', 'Student')),
			jsonb_build_object('guardian1_name', s.guardian1_name, 'guardian2_name', s.guardian2_name,
				'homeroom', s.homeroom, 'birth_date', s.birth_date),
			hashtextextended(s::text, 0), lower(s.first_name), lower(s.last_name), lower(s.school), lower(s.home_language),
			jsonb_build_object('guardian1_name', lower(s.guardian1_name), 'guardian2_name', lower(s.guardian2_name),
				'homeroom', lower(s.homeroom), 'birth_date', s.birth_date)
		FROM copy_stage s
		ON CONFLICT (import_id, external_id) DO UPDATE SET
			first_name = excluded.first_name, last_name = excluded.last_name, grade = excluded.grade,
			school = excluded.school, language = excluded.language, phones = excluded.phones,
			emails = excluded.emails, custom_fields = excluded.custom_fields, row_hash = excluded.row_hash,
			first_name_key = excluded.first_name_key, last_name_key = excluded.last_name_key,
			school_key = excluded.school_key, language_key = excluded.language_key,
			custom_fields_key = excluded.custom_fields_key
		WHERE recipients.row_hash IS DISTINCT FROM excluded.row_hash`)
	t.add("insert", time.Since(start).Seconds())
}

func mustExec(b *testing.B, conn *pgx.Conn, sql string) {
	b.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		b.Fatalf("%v: %s", err, sql)
	}
}

// pipeline runs the three scenarios through a server on the database at
// url. After the first load it reads recipients' definition and exports
// the run's rows to rowsFile, for the floor.
func pipeline(b *testing.B, e *env, t timings, url, day0, day1, rowsFile string) *floorPlan {
	b.Helper()
	ctx := context.Background()
	s := e.serve(b, url)
	defer s.stop()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var created struct{ CreateImport struct{ ID string } }
	s.graphql(b, `mutation { createImport(input: {name: "SIS students", method: FULL}) { id } }`, nil, &created)
	id := created.CreateImport.ID
	importID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		b.Fatalf("import id %q: %v", id, err)
	}

	checkpoint(b, conn)
	time.Sleep(500 * time.Millisecond) // let the server settle before measuring memory
	before := s.rss()
	peak := s.peakRSS()
	start := time.Now()
	runID, uploaded := upload(b, s, id, day0)
	t.add("upload", uploaded.Seconds())
	s.wait(b, runID, 1_000_000_000)
	t.add("first", time.Since(start).Seconds())
	t.add("rss", float64(peak()-before)/(1<<20))

	// The floor's input: the rows this run wrote, as they are stored.
	plan, err := readFloorPlan(ctx, conn)
	if err != nil {
		b.Fatalf("floor: read recipients' definition: %v", err)
	}
	start = time.Now()
	n, size, err := exportRunRows(ctx, conn, plan, importID, rowsFile)
	if err != nil {
		b.Fatalf("floor: export rows: %v", err)
	}
	b.Logf("floor input: %d rows, %.1f MB of COPY text (exported in %.1f s, not timed)", n, float64(size)/1e6, time.Since(start).Seconds())

	checkpoint(b, conn)
	before = s.rss()
	peak = s.peakRSS()
	start = time.Now()
	var run struct{ RunImport struct{ ID string } }
	s.graphql(b, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id}, &run)
	s.wait(b, run.RunImport.ID, 0)
	t.add("rerun", time.Since(start).Seconds())
	t.add("rss_rerun", float64(peak()-before)/(1<<20))

	checkpoint(b, conn)
	before = s.rss()
	peak = s.peakRSS()
	start = time.Now()
	runID, _ = upload(b, s, id, day1)
	s.wait(b, runID, -1)
	t.add("next", time.Since(start).Seconds())
	t.add("rss_next", float64(peak()-before)/(1<<20))
	// The run's outcome is visible once its transaction commits, a moment
	// before the worker hears so; stopping the server at once cancels that
	// wait (the worker then logs a failed attempt, and no "import run
	// finished" line).
	time.Sleep(time.Second)
	return plan
}

// upload posts a file with ?run=true and returns the run's id and the time
// the upload itself took.
func upload(b *testing.B, s *server, importID, path string) (string, time.Duration) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/imports/"+importID+"/file?run=true&name="+filepath.Base(path), f)
	req.ContentLength = st.Size()
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "text/csv")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Run struct{ ID string }
	}
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("upload: %s", resp.Status)
	}
	if err := jsonDecode(resp, &out); err != nil {
		b.Fatal(err)
	}
	return out.Run.ID, time.Since(start)
}

// wait polls a run until it ends and checks it succeeded (and, when
// wantCreated ≥ 0, how many it created: 1e9 means "all rows").
func (s *server) wait(b *testing.B, runID string, wantCreated int) {
	b.Helper()
	for {
		var out struct {
			ImportRun struct {
				Status  string
				Created int
				Message string
			}
		}
		s.graphql(b, `query($id: ID!) { importRun(id: $id) { status created message } }`, map[string]any{"id": runID}, &out)
		switch out.ImportRun.Status {
		case "QUEUED", "RUNNING":
			time.Sleep(20 * time.Millisecond)
			continue
		case "SUCCEEDED", "SUCCEEDED_WITH_ERRORS":
			if wantCreated == 0 && out.ImportRun.Created != 0 {
				b.Fatalf("re-run created %d", out.ImportRun.Created)
			}
			return
		}
		b.Fatalf("run %s: %s %s", runID, out.ImportRun.Status, out.ImportRun.Message)
	}
}

func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
