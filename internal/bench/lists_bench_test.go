package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/districtgen"
)

// BenchmarkListQueries measures Rollcall side by side with its peer,
// PostGraphile 5.1.5 with postgraphile-plugin-connection-filter 4.0.1
// (tools/postgraphile-peer, peer_bench_test.go), on ROLLCALL_BENCH_ROWS
// recipients (1M by default) of the same district file: Rollcall's imported
// through the server, the peer's copied into a plain table of another
// database of the same cluster. Both are VACUUM ANALYZEd after their load.
// Over HTTP, with the same client code, it asks:
//
//   - a. the count of grade 5 at the three schools with the most grade-5
//     students (Rollcall: memberCount of a list with that rule);
//   - b. the first 50 of them (id, first name, last name), in each one's
//     natural order (Rollcall: by name; PostGraphile: by primary key);
//   - c. the count of one custom-field value (the homeroom whose count is
//     nearest the median of all homerooms' counts);
//   - d. (b)'s throughput with 10 concurrent clients for 10 s.
//
// One server at a time: each question goes to Rollcall then the peer (the
// peer first in odd rounds), warm-up requests and then sequential timed
// ones; ROLLCALL_BENCH_REPS rounds (3) of the whole; the figures are the
// medians of the rounds' medians (and of their p90s), the ratios
// Rollcall/PostGraphile of those. Without the installed peer (or with
// ROLLCALL_BENCH_PEER=0) it reports Rollcall's figures alone.
func BenchmarkListQueries(b *testing.B) {
	rows := envInt("ROLLCALL_BENCH_ROWS", 1_000_000)
	reps := envInt("ROLLCALL_BENCH_REPS", 3)
	const warm, sequential, clients, window = 100, 300, 10, 10 * time.Second
	ctx := context.Background()
	e := setupEnv(b)
	b.Logf("machine: %s; started %s, load average %s", machine(), time.Now().Format("2006-01-02 15:04:05 MST"), loadAverage())
	opts := districtgen.Options{Rows: rows, Seed: 20261125}
	file := filepath.Join(e.dir, "district.csv")
	writeFile(b, file, func(f *os.File) error { return districtgen.Write(f, opts) })
	url := e.database(b, "lists")
	s := e.serve(b, url)

	var created struct{ CreateImport struct{ ID string } }
	s.graphql(b, `mutation { createImport(input: {name: "SIS", method: FULL}) { id } }`, nil, &created)
	start := time.Now()
	runID, _ := upload(b, s, created.CreateImport.ID, file)
	s.wait(b, runID, -1)
	loaded := time.Since(start)

	// As autovacuum would soon after a load: statistics and the visibility
	// map (for index-only counts). The peer's table gets the same.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	mustExec(b, conn, "VACUUM ANALYZE recipients")
	b.Logf("rollcall: %d rows imported (upload + run) in %.1f s, then VACUUM ANALYZE recipients %.1f s", rows, loaded.Seconds(), time.Since(start).Seconds())
	r, err := conn.Query(ctx, `SELECT school FROM recipients WHERE grade_rank = 5 GROUP BY school ORDER BY count(*) DESC, school LIMIT 3`)
	if err != nil {
		b.Fatal(err)
	}
	schools, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil || len(schools) < 3 {
		b.Fatalf("schools: %v %v", schools, err)
	}
	// A homeroom of middling frequency: the value whose count is nearest
	// the median of the homeroom values' counts.
	var homeroom string
	var homeroomCount, homerooms int
	var medianCount float64
	if err := conn.QueryRow(ctx, `
		WITH c AS (SELECT custom_fields->>'homeroom' AS v, count(*) AS n FROM recipients
			WHERE custom_fields ? 'homeroom' GROUP BY 1),
		m AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS med, count(*) AS values FROM c)
		SELECT v, n, med, values FROM c, m ORDER BY abs(n - med), v LIMIT 1`).Scan(&homeroom, &homeroomCount, &medianCount, &homerooms); err != nil {
		b.Fatal(err)
	}
	conn.Close(ctx)

	var list struct {
		CreateList struct {
			ID          string
			MemberCount int
		}
	}
	s.graphql(b, `mutation($s: [String!]!) { createList(input: {name: "Grade 5 at three schools",
		filter: {grade: {in: ["5"]}, school: {in: $s}}}) { id memberCount } }`, map[string]any{"s": schools}, &list)
	b.Logf("list: %d members (grade 5 at %v); homeroom %q: %d recipients (median count of the %d homeroom values: %.1f)",
		list.CreateList.MemberCount, schools, homeroom, homeroomCount, homerooms, medianCount)

	rollcall := endpoint{name: "rollcall", url: s.url + "/graphql", headers: map[string]string{"Authorization": "Bearer " + s.token}}
	type question struct {
		key, name      string
		rollcall, peer []byte // the request's body to each
	}
	questions := []question{
		{key: "a", name: "member_count",
			rollcall: gqlBody(`query($id: ID!) { list(id: $id) { memberCount } }`, map[string]any{"id": list.CreateList.ID}),
			peer:     gqlBody(`query($s: [String!]!) { allRecipients(filter: {grade: {equalTo: "5"}, school: {in: $s}}) { totalCount } }`, map[string]any{"s": schools})},
		{key: "b", name: "first_page_50",
			rollcall: gqlBody(`query($id: ID!) { list(id: $id) { members(first: 50) { nodes { id firstName lastName } } } }`, map[string]any{"id": list.CreateList.ID}),
			peer:     gqlBody(`query($s: [String!]!) { allRecipients(first: 50, filter: {grade: {equalTo: "5"}, school: {in: $s}}) { nodes { rowId firstName lastName } } }`, map[string]any{"s": schools})},
		{key: "c", name: "custom_field_count",
			rollcall: gqlBody(`query($v: String!) { recipientCount(filter: {customFields: [{key: "homeroom", eq: $v}]}) }`, map[string]any{"v": homeroom}),
			peer:     gqlBody(`query($c: JSON!) { allRecipients(filter: {customFields: {contains: $c}}) { totalCount } }`, map[string]any{"c": map[string]string{"homeroom": homeroom}})},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

	// The peer, when it can run: loaded after Rollcall, from the same file.
	var peer *endpoint
	node, dir, why := findPeer(b)
	if why != "" {
		b.Logf("PostGraphile peer skipped (%s): Rollcall's figures only", why)
	} else {
		peerURL := loadPeer(b, e, "peer", file)
		p := startPeer(b, node, dir, peerURL)
		peer = &endpoint{name: "postgraphile", url: p.url}
		checkSameAnswers(b, client, rollcall, *peer, questions[0].rollcall, questions[0].peer, questions[1].rollcall, questions[1].peer,
			questions[2].rollcall, questions[2].peer)
	}

	t := timings{}
	for b.Loop() {
		for round := range reps {
			sides := []*endpoint{&rollcall, peer}
			if round%2 == 1 && peer != nil {
				sides = []*endpoint{peer, &rollcall}
			}
			b.Logf("round %d/%d at %s, load average %s; %s first", round+1, reps, time.Now().Format("15:04:05"), loadAverage(), sides[0].name)
			for _, q := range questions {
				for _, side := range sides {
					if side == nil {
						continue
					}
					body := q.rollcall
					if side != &rollcall {
						body = q.peer
					}
					lat := sequentialLatency(b, client, *side, body, warm, sequential)
					t.add(q.key+"/"+side.name+"/med", latencyQuantile(lat, 0.5))
					t.add(q.key+"/"+side.name+"/p90", latencyQuantile(lat, 0.9))
				}
			}
			for _, side := range sides {
				if side == nil {
					continue
				}
				body := questions[1].rollcall
				if side != &rollcall {
					body = questions[1].peer
				}
				t.add("d/"+side.name+"/rps", concurrentThroughput(b, client, *side, body, clients, window))
			}
		}
	}
	b.Logf("finished %s, load average %s", time.Now().Format("15:04:05"), loadAverage())

	// The side-by-side table.
	peerName := "postgraphile"
	var lines []string
	title := "Rollcall vs PostGraphile 5.1.5 + connection-filter 4.0.1"
	if peer == nil {
		title = "Rollcall alone (PostGraphile peer skipped: " + why + ")"
	}
	lines = append(lines, fmt.Sprintf("List questions on %d recipients, %s, medians of %d round(s)", rows, title, reps),
		fmt.Sprintf("(each round: per question %d warm-up then %d sequential requests per server, alternating; d: %d clients, keep-alive, %s per server; each table VACUUM ANALYZEd after its load)", warm, sequential, clients, window),
		fmt.Sprintf("%-22s %10s %10s %10s %10s %8s %8s  %s", "question", "Rollcall", "p90", "PostGraph", "p90", "ratio", "target", ""))
	for _, q := range questions {
		rMed, rP90 := t.median(q.key+"/rollcall/med"), t.median(q.key+"/rollcall/p90")
		b.ReportMetric(rMed, q.name+"_ms")
		b.ReportMetric(rP90, q.name+"_p90_ms")
		line := fmt.Sprintf("%-22s %7.2f ms %7.2f ms", q.key+" "+q.name, rMed, rP90)
		if peer != nil {
			pMed, pP90 := t.median(q.key+"/"+peerName+"/med"), t.median(q.key+"/"+peerName+"/p90")
			ratio := rMed / pMed
			b.ReportMetric(pMed, q.name+"_peer_ms")
			b.ReportMetric(pP90, q.name+"_peer_p90_ms")
			b.ReportMetric(ratio, q.name+"_ratio")
			line += fmt.Sprintf(" %7.2f ms %7.2f ms %8.2f %8s  %s", pMed, pP90, ratio, "≤ 0.50", targetMet(ratio <= 0.5))
		}
		lines = append(lines, line)
	}
	rRPS := t.median("d/rollcall/rps")
	b.ReportMetric(rRPS, "first_page_req/s")
	line := fmt.Sprintf("%-22s %6.0f rps %10s", "d first_page_50 ×10", rRPS, "")
	if peer != nil {
		pRPS := t.median("d/" + peerName + "/rps")
		ratio := rRPS / pRPS
		b.ReportMetric(pRPS, "first_page_peer_req/s")
		b.ReportMetric(ratio, "first_page_rps_ratio")
		line += fmt.Sprintf(" %6.0f rps %10s %8.2f %8s  %s", pRPS, "", ratio, "≥ 1.50", targetMet(ratio >= 1.5))
	}
	lines = append(lines, line)
	b.Log("\n" + strings.Join(lines, "\n"))

	names := []string{"rollcall"}
	if peer != nil {
		names = append(names, peerName)
	}
	for _, q := range questions {
		for _, n := range names {
			b.Logf("rounds %s %-13s median %s ms; p90 %s ms", q.key, n, t.all(q.key+"/"+n+"/med"), t.all(q.key+"/"+n+"/p90"))
		}
	}
	for _, n := range names {
		b.Logf("rounds d %-13s %s req/s", n, t.all("d/"+n+"/rps"))
	}
}

func targetMet(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

// checkSameAnswers asks both servers each question once and checks they
// agree: the same counts (a, c) and 50 rows each (b).
func checkSameAnswers(b *testing.B, client *http.Client, rollcall, peer endpoint, aR, aP, bR, bP, cR, cP []byte) {
	b.Helper()
	var ra struct{ List struct{ MemberCount int } }
	var pa, pc struct{ AllRecipients struct{ TotalCount int } }
	var rb struct {
		List struct {
			Members struct{ Nodes []struct{ ID string } }
		}
	}
	var pb struct {
		AllRecipients struct{ Nodes []struct{ RowID string } }
	}
	var rc struct{ RecipientCount int }
	for _, c := range []struct {
		ep   endpoint
		body []byte
		out  any
	}{{rollcall, aR, &ra}, {peer, aP, &pa}, {rollcall, bR, &rb}, {peer, bP, &pb}, {rollcall, cR, &rc}, {peer, cP, &pc}} {
		if err := gqlPost(client, c.ep, c.body, c.out); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("answers: a rollcall %d, postgraphile %d; b %d and %d rows; c rollcall %d, postgraphile %d",
		ra.List.MemberCount, pa.AllRecipients.TotalCount, len(rb.List.Members.Nodes), len(pb.AllRecipients.Nodes),
		rc.RecipientCount, pc.AllRecipients.TotalCount)
	if ra.List.MemberCount != pa.AllRecipients.TotalCount || rc.RecipientCount != pc.AllRecipients.TotalCount ||
		len(rb.List.Members.Nodes) != 50 || len(pb.AllRecipients.Nodes) != 50 {
		b.Errorf("the two servers do not answer the same questions (see the answers above)")
	}
}
