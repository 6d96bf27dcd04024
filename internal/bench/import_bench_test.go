package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/districtgen"
)

// BenchmarkImport measures, on ROLLCALL_BENCH_ROWS rows (1,000,000 by
// default), medians of ROLLCALL_BENCH_REPS repetitions (3), each on a fresh
// database:
//
//   - baseline: COPY of the file into a table plus one INSERT … ON CONFLICT
//     into recipients (what a hand-written loader does);
//   - copy: the plain COPY alone;
//   - first load: upload (POST /imports/{id}/file?run=true) plus run;
//   - re-run: runImport of the same file (nothing changes);
//   - next day: upload plus run of the next day's file (about 2% changed,
//     0.5% removed, 0.5% new);
//   - the server's resident memory growth during the first load.
//
// Run it with make bench.
func BenchmarkImport(b *testing.B) {
	rows := envInt("ROLLCALL_BENCH_ROWS", 1_000_000)
	reps := envInt("ROLLCALL_BENCH_REPS", 3)
	e := setupEnv(b)
	opts := districtgen.Options{Rows: rows, Seed: 20261125}
	day0 := filepath.Join(e.dir, "day0.csv")
	day1 := filepath.Join(e.dir, "day1.csv")
	writeFile(b, day0, func(f *os.File) error { return districtgen.Write(f, opts) })
	writeFile(b, day1, func(f *os.File) error { return districtgen.NextDay(f, opts, districtgen.Change{Day: 1}) })
	st, _ := os.Stat(day0)
	b.Logf("machine: %s", machine())
	b.Logf("file: %d rows, %.1f MB", rows, float64(st.Size())/1e6)

	t := timings{}
	for b.Loop() {
		for i := range reps {
			baseline(b, e, t, fmt.Sprintf("baseline_%d", i), day0)
			pipeline(b, e, t, fmt.Sprintf("rollcall_%d", i), day0, day1)
		}
	}
	copyMed, base := t.median("copy"), t.median("copy")+t.median("insert")
	report := []struct {
		name, unit string
		v          float64
	}{
		{"copy_s", "COPY alone", copyMed},
		{"baseline_s", "COPY + INSERT ON CONFLICT", base},
		{"first_load_s", "upload + run", t.median("first")},
		{"rerun_s", "run, unchanged", t.median("rerun")},
		{"next_day_s", "upload + run", t.median("next")},
		{"first/baseline", "ratio (target ≤ 1.5)", t.median("first") / base},
		{"rerun/copy", "ratio (target ≤ 2)", t.median("rerun") / copyMed},
		{"next_day/copy", "ratio (target ≤ 3)", t.median("next") / copyMed},
		{"rss_growth_MB", "first load (target ≤ 150)", t.median("rss")},
		{"rss_rerun_MB", "re-run (target ≤ 150)", t.median("rss_rerun")},
		{"rss_next_day_MB", "next day (target ≤ 150)", t.median("rss_next")},
	}
	for _, r := range report {
		b.ReportMetric(r.v, r.name)
		b.Logf("%-16s %8.2f  %s", r.name, r.v, r.unit)
	}
	for _, name := range []string{"copy", "insert", "upload", "first", "rerun", "next", "rss", "rss_rerun", "rss_next"} {
		b.Logf("all %-7s %s", name, t.all(name))
	}
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

// baseline loads the file the way a hand-written loader would.
func baseline(b *testing.B, e *env, t timings, name, file string) {
	b.Helper()
	ctx := context.Background()
	url := e.database(b, name)
	e.run(b, url, "migrate")
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	mustExec(b, conn, `CREATE TABLE copy_stage (student_id text, first_name text, last_name text, grade text, school text,
		home_language text, guardian1_name text, guardian1_phone text, guardian1_email text, guardian2_name text,
		guardian2_phone text, guardian2_email text, student_email text, homeroom text, birth_date text)`)
	mustExec(b, conn, `INSERT INTO imports (name, method) VALUES ('baseline', 'FULL')`)
	d, err := copyFile(ctx, conn, file, `COPY copy_stage FROM STDIN WITH (FORMAT csv, HEADER)`)
	if err != nil {
		b.Fatal(err)
	}
	t.add("copy", d.Seconds())
	start := time.Now()
	// The folded keys Rollcall stores are approximated with lower(): the
	// floor is the cost of loading as many columns, not their exact text.
	mustExec(b, conn, `INSERT INTO recipients (import_id, external_id, type, first_name, last_name, grade, school, language,
			phones, emails, custom_fields, row_hash, first_name_key, last_name_key, school_key, language_key, custom_fields_key)
		SELECT 1, s.student_id, 'STUDENT', s.first_name, s.last_name, s.grade, s.school, s.home_language,
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

// pipeline runs the three scenarios through the server.
func pipeline(b *testing.B, e *env, t timings, name, day0, day1 string) {
	b.Helper()
	s := e.serve(b, e.database(b, name))
	defer s.stop()
	var created struct{ CreateImport struct{ ID string } }
	s.graphql(b, `mutation { createImport(input: {name: "SIS students", method: FULL}) { id } }`, nil, &created)
	id := created.CreateImport.ID

	time.Sleep(500 * time.Millisecond) // let the server settle before measuring memory
	before := s.rss()
	peak := s.peakRSS()
	start := time.Now()
	runID, uploaded := upload(b, s, id, day0)
	t.add("upload", uploaded.Seconds())
	s.wait(b, runID, 1_000_000_000)
	t.add("first", time.Since(start).Seconds())
	t.add("rss", float64(peak()-before)/(1<<20))

	before = s.rss()
	peak = s.peakRSS()
	start = time.Now()
	var run struct{ RunImport struct{ ID string } }
	s.graphql(b, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id}, &run)
	s.wait(b, run.RunImport.ID, 0)
	t.add("rerun", time.Since(start).Seconds())
	t.add("rss_rerun", float64(peak()-before)/(1<<20))

	before = s.rss()
	peak = s.peakRSS()
	start = time.Now()
	runID, _ = upload(b, s, id, day1)
	s.wait(b, runID, -1)
	t.add("next", time.Since(start).Seconds())
	t.add("rss_next", float64(peak()-before)/(1<<20))
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
