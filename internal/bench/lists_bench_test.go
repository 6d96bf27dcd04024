package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/districtgen"
)

// BenchmarkListQueries measures, on ROLLCALL_BENCH_ROWS recipients (1M by
// default) imported through the server, GraphQL over HTTP:
//
//   - memberCount of a list "grade in [5] and school in [3 schools]";
//   - the first page of 50 of its members;
//   - a custom-field equality count;
//
// each as the median of sequential requests, and the first-page query's
// throughput with 10 concurrent clients.
func BenchmarkListQueries(b *testing.B) {
	rows := envInt("ROLLCALL_BENCH_ROWS", 1_000_000)
	e := setupEnv(b)
	opts := districtgen.Options{Rows: rows, Seed: 20261125}
	file := filepath.Join(e.dir, "district.csv")
	writeFile(b, file, func(f *os.File) error { return districtgen.Write(f, opts) })
	url := e.database(b, "lists")
	s := e.serve(b, url)

	var created struct{ CreateImport struct{ ID string } }
	s.graphql(b, `mutation { createImport(input: {name: "SIS", method: FULL}) { id } }`, nil, &created)
	runID, _ := upload(b, s, created.CreateImport.ID, file)
	s.wait(b, runID, -1)

	// As autovacuum would soon after a load: statistics and the visibility
	// map (for index-only counts).
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	mustExec(b, conn, "VACUUM ANALYZE recipients")
	var schools []string
	r, err := conn.Query(context.Background(), `SELECT school FROM recipients WHERE grade_rank = 5 GROUP BY school ORDER BY count(*) DESC LIMIT 3`)
	if err != nil {
		b.Fatal(err)
	}
	schools, err = pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil || len(schools) < 3 {
		b.Fatalf("schools: %v %v", schools, err)
	}
	var homeroom string
	var homeroomCount int
	if err := conn.QueryRow(context.Background(), `SELECT custom_fields->>'homeroom' FROM recipients WHERE custom_fields ? 'homeroom' LIMIT 1`).Scan(&homeroom); err != nil {
		b.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM recipients WHERE custom_fields->>'homeroom' = $1`, homeroom).Scan(&homeroomCount); err != nil {
		b.Fatal(err)
	}
	conn.Close(context.Background())

	var list struct {
		CreateList struct {
			ID          string
			MemberCount int
		}
	}
	s.graphql(b, `mutation($s: [String!]!) { createList(input: {name: "Grade 5 at three schools",
		filter: {grade: {in: ["5"]}, school: {in: $s}}}) { id memberCount } }`, map[string]any{"s": schools}, &list)
	b.Logf("list: %d members (grade 5 at %v); homeroom %q: %d recipients", list.CreateList.MemberCount, schools, homeroom, homeroomCount)

	queries := []struct {
		name, query string
		vars        map[string]any
	}{
		{"member_count", `query($id: ID!) { list(id: $id) { memberCount } }`, map[string]any{"id": list.CreateList.ID}},
		{"first_page_50", `query($id: ID!) { list(id: $id) { members(first: 50) { nodes { id externalId firstName lastName grade school } pageInfo { endCursor } } } }`, map[string]any{"id": list.CreateList.ID}},
		{"custom_field_count", `query($v: String!) { recipientCount(filter: {customFields: [{key: "homeroom", eq: $v}]}) }`, map[string]any{"v": homeroom}},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	for b.Loop() {
		for _, q := range queries {
			body, _ := json.Marshal(map[string]any{"query": q.query, "variables": q.vars})
			for range 20 { // warm up
				post(b, client, s, body)
			}
			lat := make([]time.Duration, 300)
			for i := range lat {
				start := time.Now()
				post(b, client, s, body)
				lat[i] = time.Since(start)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			med, p95 := lat[len(lat)/2], lat[len(lat)*95/100]
			b.ReportMetric(float64(med.Microseconds())/1000, q.name+"_ms")
			b.Logf("%-20s median %6.2f ms  p95 %6.2f ms  (target median ≤ 10 ms)", q.name, float64(med.Microseconds())/1000, float64(p95.Microseconds())/1000)
		}
		// Throughput of the first-page query with 10 concurrent clients.
		body, _ := json.Marshal(map[string]any{"query": queries[1].query, "variables": queries[1].vars})
		var done atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var wg sync.WaitGroup
		start := time.Now()
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					post(b, client, s, body)
					done.Add(1)
				}
			}()
		}
		wg.Wait()
		cancel()
		rps := float64(done.Load()) / time.Since(start).Seconds()
		b.ReportMetric(rps, "first_page_req/s")
		b.Logf("%-20s %6.0f requests/s with 10 clients (target ≥ 1000)", "first_page_50", rps)
	}
}

func post(b *testing.B, client *http.Client, s *server, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	var out struct {
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
		b.Errorf("response: %v %v", err, out.Errors)
	}
	resp.Body.Close()
}
