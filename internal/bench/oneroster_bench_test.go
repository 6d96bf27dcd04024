package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/districtgen"
)

// BenchmarkOneRoster measures the requirement for OneRoster
// imports: "a OneRoster export of the 1M-student district (students, two
// guardians each, classes and enrollments) loads in ≤ 2× the time of the
// flat file of the same students". On ROLLCALL_BENCH_ROWS students
// (1,000,000 by default), medians of ROLLCALL_BENCH_REPS repetitions (3),
// each on fresh databases of the same cluster, one server per database as
// BenchmarkImport runs them:
//
//   - flat: upload (POST /imports/{id}/file?run=true) plus run of
//     districtgen.Write's file into a new CSV import;
//   - people: upload plus run, into a new CSV import on a database of its
//     own, of a flat file of the people the OneRoster bulk export holds
//     (writePeople): the flat file's students as they are, then its
//     guardians (CONTACT) and teachers (STAFF) as rows of their own, with
//     a type column;
//   - OneRoster: upload plus run of districtgen.WriteOneRoster's 1.2 bulk
//     export of the same district into a new ONEROSTER import (FULL,
//     removalThreshold 100), on a database of its own;
//   - delta: upload plus run of the next day's 1.2 delta export
//     (Change{Day: 1}) into that import;
//   - the server's resident memory growth during each.
//
// The ratio OneRoster / flat is each repetition's, then their median
// (target ≤ 2). A OneRoster export makes its guardians and teachers
// recipients of their own, so its load puts about 2.5 times as many people
// through the recipient pipeline as the flat file of the students alone:
// people / flat (each repetition's, then their median) is what the
// pipeline alone costs for the same people, the floor that OneRoster /
// flat is to be judged against; what OneRoster / flat adds to it is the
// export's own cost (the zip, its staging and joins, the guardians'
// contacts on each student). Each timed step starts after a CHECKPOINT. With
// ROLLCALL_BENCH_LOG_LEVEL=info the server's "import run finished" lines
// give each run's phase timings.
func BenchmarkOneRoster(b *testing.B) {
	rows := envInt("ROLLCALL_BENCH_ROWS", 1_000_000)
	reps := envInt("ROLLCALL_BENCH_REPS", 3)
	e := setupEnv(b)
	opts := districtgen.Options{Rows: rows, Seed: 20261125}
	bulk := districtgen.OneRoster{Version: "1.2"}
	delta := districtgen.OneRoster{Version: "1.2", Delta: true, Change: districtgen.Change{Day: 1}}
	flatFile := filepath.Join(e.dir, "district.csv")
	bulkFile := filepath.Join(e.dir, "oneroster.zip")
	deltaFile := filepath.Join(e.dir, "oneroster-delta.zip")
	peopleFile := filepath.Join(e.dir, "people.csv")
	writeFile(b, flatFile, func(f *os.File) error { return districtgen.Write(f, opts) })
	writeFile(b, bulkFile, func(f *os.File) error { return districtgen.WriteOneRoster(f, opts, bulk) })
	writeFile(b, deltaFile, func(f *os.File) error { return districtgen.WriteOneRoster(f, opts, delta) })
	var pc peopleCounts
	writeFile(b, peopleFile, func(f *os.File) (err error) { pc, err = writePeople(f, flatFile, bulkFile); return err })
	bc := districtgen.OneRosterCountsOf(opts, bulk)
	dc := districtgen.OneRosterCountsOf(opts, delta)
	b.Logf("machine: %s", machine())
	b.Logf("files: flat %d rows, %.1f MB; OneRoster 1.2 bulk %.1f MB (%d students, %d guardians, %d teachers, %d schools, %d classes, %d enrollments); "+
		"delta %.1f MB (%d students, %d guardians, %d tobedeleted, %d enrollments)",
		rows, fileMB(flatFile), fileMB(bulkFile), bc.Students, bc.Guardians, bc.Teachers, bc.Schools, bc.Classes, bc.Enrollments,
		fileMB(deltaFile), dc.Students, dc.Guardians, dc.Deleted, dc.Enrollments)
	people := bc.Students + bc.Guardians + bc.Teachers
	if pc.Students != rows || pc.Contacts != bc.Guardians || pc.Staff != bc.Teachers {
		b.Fatalf("people file: %d students, %d contacts, %d staff; want %d, %d, %d", pc.Students, pc.Contacts, pc.Staff, rows, bc.Guardians, bc.Teachers)
	}
	b.Logf("people file: %d rows (%d students, %d guardians as CONTACT, %d teachers as STAFF), %.1f MB",
		pc.rows(), pc.Students, pc.Contacts, pc.Staff, fileMB(peopleFile))

	t := timings{}
	for b.Loop() {
		for i := range reps {
			b.Logf("repetition %d of %d, started %s", i+1, reps, time.Now().Format("15:04:05 MST"))

			firstFlatLoad(b, e, t, fmt.Sprintf("flat_%d", i), "flat", flatFile, rows)
			out := firstFlatLoad(b, e, t, fmt.Sprintf("people_%d", i), "people", peopleFile, pc.rows())
			b.Logf("people run: read %d, created %d (students %d + guardians %d + teachers %d), rejected %d",
				out.RowsRead, out.Created, pc.Students, pc.Contacts, pc.Staff, out.Rejected)

			orDB := fmt.Sprintf("oneroster_%d", i)
			func() {
				s, conn := serveFresh(b, e, orDB)
				defer conn.Close(context.Background())
				defer s.stop()
				id := createBenchImport(b, s, "SIS OneRoster", ", format: ONEROSTER, removalThreshold: 100")
				out := timedRun(b, s, conn, t, "oneroster", id, bulkFile)
				if out.Status != "SUCCEEDED" || out.Created != people {
					b.Fatalf("OneRoster first load: %s, created %d, want %d (students %d + guardians %d + teachers %d; rejected %d): %s",
						out.Status, out.Created, people, bc.Students, bc.Guardians, bc.Teachers, out.Rejected, out.Message)
				}
				settleRun()
				out = timedRun(b, s, conn, t, "delta", id, deltaFile)
				// A delta run applies every person the import holds; only the
				// removals are the delta's own (as TestOneRosterDistrictExports).
				if out.Status != "SUCCEEDED" || out.Removed != dc.Deleted {
					b.Fatalf("OneRoster delta: %s, removed %d, want %d (rejected %d): %s", out.Status, out.Removed, dc.Deleted, out.Rejected, out.Message)
				}
				b.Logf("delta run: read %d, created %d, updated %d, unchanged %d, removed %d", out.RowsRead, out.Created, out.Updated, out.Unchanged, out.Removed)
				settleRun()
			}()
			dropBenchDatabase(b, e, orDB)

			t.add("oneroster/flat", lastRep(t, "oneroster")/lastRep(t, "flat"))
			t.add("people/flat", lastRep(t, "people")/lastRep(t, "flat"))
			b.Logf("repetition %d: flat %.2f s, same people flat %.2f s (floor %.2f), OneRoster %.2f s, ratio %.2f (≤ 2), delta %.2f s (uploads %.2f, %.2f, %.2f, %.2f s); "+
				"RSS growth flat %.0f MB, people %.0f MB, OneRoster %.0f MB, delta %.0f MB",
				i+1, lastRep(t, "flat"), lastRep(t, "people"), lastRep(t, "people/flat"), lastRep(t, "oneroster"), lastRep(t, "oneroster/flat"), lastRep(t, "delta"),
				lastRep(t, "upload_flat"), lastRep(t, "upload_people"), lastRep(t, "upload_oneroster"), lastRep(t, "upload_delta"),
				lastRep(t, "rss_flat"), lastRep(t, "rss_people"), lastRep(t, "rss_oneroster"), lastRep(t, "rss_delta"))
		}
	}
	reportOneRoster(b, t, rows, reps)
}

// firstFlatLoad times (as figure) the upload and run of the flat file at
// path into a new CSV import on a fresh database name, dropped after; the
// run must create want rows.
func firstFlatLoad(b *testing.B, e *env, t timings, name, figure, path string, want int) runOutcome {
	b.Helper()
	s, conn := serveFresh(b, e, name)
	id := createBenchImport(b, s, "SIS "+figure, "")
	out := timedRun(b, s, conn, t, figure, id, path)
	if out.Status != "SUCCEEDED" || out.Created != want {
		b.Fatalf("%s first load: %s, created %d of %d rows (rejected %d): %s", figure, out.Status, out.Created, want, out.Rejected, out.Message)
	}
	settleRun()
	conn.Close(context.Background())
	s.stop()
	dropBenchDatabase(b, e, name)
	return out
}

func fileMB(path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / 1e6
}

// serveFresh creates database name, starts a server on it and connects to
// it (for CHECKPOINT).
func serveFresh(b *testing.B, e *env, name string) (*server, *pgx.Conn) {
	b.Helper()
	url := e.database(b, name)
	s := e.serve(b, url)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	return s, conn
}

// createBenchImport creates a FULL import; extra adds input fields
// (", format: ONEROSTER, …").
func createBenchImport(b *testing.B, s *server, name, extra string) string {
	b.Helper()
	var created struct{ CreateImport struct{ ID string } }
	s.graphql(b, `mutation($n: String!) { createImport(input: {name: $n, method: FULL`+extra+`}) { id } }`,
		map[string]any{"n": name}, &created)
	return created.CreateImport.ID
}

// runOutcome is a finished run as the API reports it.
type runOutcome struct {
	Status                                                   string
	RowsRead, Created, Updated, Unchanged, Removed, Rejected int
	Message                                                  string
}

// timedRun uploads path with ?run=true to import id after a CHECKPOINT,
// waits for the run to end and records the time (figure), the upload's
// part of it (upload_<figure>) and the server's RSS growth (rss_<figure>,
// MB) in t.
func timedRun(b *testing.B, s *server, conn *pgx.Conn, t timings, figure, id, path string) runOutcome {
	b.Helper()
	checkpoint(b, conn)
	time.Sleep(500 * time.Millisecond) // let the server settle before measuring memory
	before := s.rss()
	peak := s.peakRSS()
	start := time.Now()
	runID, uploaded := upload(b, s, id, path)
	out := awaitRun(b, s, runID)
	t.add(figure, time.Since(start).Seconds())
	t.add("upload_"+figure, uploaded.Seconds())
	t.add("rss_"+figure, float64(peak()-before)/(1<<20))
	return out
}

// awaitRun polls a run until it ends and returns its outcome, whatever it
// is (server.wait accepts SUCCEEDED_WITH_ERRORS and returns no counts).
func awaitRun(b *testing.B, s *server, runID string) runOutcome {
	b.Helper()
	for {
		var out struct{ ImportRun runOutcome }
		s.graphql(b, `query($id: ID!) { importRun(id: $id) { status rowsRead created updated unchanged removed rejected message } }`,
			map[string]any{"id": runID}, &out)
		switch out.ImportRun.Status {
		case "QUEUED", "RUNNING":
			time.Sleep(20 * time.Millisecond)
			continue
		}
		return out.ImportRun
	}
}

// settleRun waits (untimed) for the worker to hear that the run it just
// committed is done: stopping the server, or starting the next run, at once
// would cancel that wait, and its "import run finished" line would be lost
// (see pipeline).
func settleRun() { time.Sleep(time.Second) }

// reportOneRoster prints the medians and reports them as metrics.
func reportOneRoster(b *testing.B, t timings, rows, reps int) {
	b.Helper()
	ratio := t.median("oneroster/flat")
	met := "met"
	if ratio > 2 {
		met = "**not met**"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "OneRoster import of %d students: medians of %d repetitions (the ratio is the median of each repetition's ratio); finished %s\n\n",
		rows, reps, time.Now().Format("2006-01-02 15:04 MST"))
	sb.WriteString("| Figure | Value | Target | |\n|---|---|---|---|\n")
	fmt.Fprintf(&sb, "| Flat file, first load: upload + run | %.2f s | | |\n", t.median("flat"))
	fmt.Fprintf(&sb, "| Flat file of the same people (students, guardians and teachers as rows): upload + run | %.2f s | | |\n", t.median("people"))
	fmt.Fprintf(&sb, "| Same people / flat (the pipeline's floor for the ratio) | %.2f | | |\n", t.median("people/flat"))
	fmt.Fprintf(&sb, "| OneRoster 1.2 bulk, first load: upload + run | %.2f s | | |\n", t.median("oneroster"))
	fmt.Fprintf(&sb, "| OneRoster / flat | **%.2f** | ≤ 2 | %s |\n", ratio, met)
	fmt.Fprintf(&sb, "| OneRoster 1.2 delta, next day: upload + run | %.2f s | | |\n", t.median("delta"))
	fmt.Fprintf(&sb, "| Server RSS growth: flat / same people / OneRoster / delta | %.0f / %.0f / %.0f / %.0f MB | | |\n",
		t.median("rss_flat"), t.median("rss_people"), t.median("rss_oneroster"), t.median("rss_delta"))
	fmt.Fprintf(&sb, "\nRepetitions: flat %s s; same people %s s; floor %s; OneRoster %s s; ratio %s; delta %s s; RSS OneRoster %s MB, delta %s MB\n",
		t.all("flat"), t.all("people"), t.all("people/flat"), t.all("oneroster"), t.all("oneroster/flat"), t.all("delta"), t.all("rss_oneroster"), t.all("rss_delta"))
	b.Log("\n" + sb.String())
	b.ReportMetric(t.median("flat"), "flat_s")
	b.ReportMetric(t.median("oneroster"), "oneroster_s")
	b.ReportMetric(ratio, "oneroster/flat")
	b.ReportMetric(t.median("people"), "people_s")
	b.ReportMetric(t.median("people/flat"), "people/flat")
	b.ReportMetric(t.median("delta"), "delta_s")
	b.ReportMetric(t.median("rss_oneroster"), "rss_oneroster_MB")
	b.ReportMetric(t.median("rss_delta"), "rss_delta_MB")
}
