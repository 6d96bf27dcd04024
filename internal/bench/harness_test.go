package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/pgcluster"
)

// env is what every benchmark shares: a PostgreSQL cluster and the built
// server binary.
type env struct {
	cluster *pgcluster.Cluster
	binary  string
	dir     string
}

func setupEnv(b *testing.B) *env {
	b.Helper()
	dir := b.TempDir()
	ctx := context.Background()
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		b.Fatalf("start PostgreSQL: %v", err)
	}
	b.Cleanup(func() { _ = cluster.Stop() })
	applySettings(b, cluster)
	binary := filepath.Join(dir, "rollcall")
	root := moduleRoot(b)
	build := exec.Command("go", "build", "-o", binary, "./cmd/rollcall")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return &env{cluster: cluster, binary: binary, dir: dir}
}

// applySettings sets the cluster's settings named in
// ROLLCALL_BENCH_PG_SETTINGS ("name=value;name=value", e.g.
// "wal_compression=lz4", or auto_explain's to see the plans of slow
// statements), for measuring what a setting does; the figures then say so.
// The cluster's log is kept in the system's temporary folder when the
// benchmark ends.
func applySettings(b *testing.B, cluster *pgcluster.Cluster) {
	spec := os.Getenv("ROLLCALL_BENCH_PG_SETTINGS")
	if spec == "" {
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		b.Fatalf("settings: %v", err)
	}
	defer conn.Close(ctx)
	if strings.Contains(spec, "auto_explain") {
		// Its settings exist once the library is loaded.
		if _, err := conn.Exec(ctx, "LOAD 'auto_explain'"); err != nil {
			b.Fatalf("settings: %v", err)
		}
	}
	for _, kv := range strings.Split(spec, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			b.Fatalf("ROLLCALL_BENCH_PG_SETTINGS: %q is not name=value", kv)
		}
		q := fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", pgx.Identifier(strings.Split(strings.TrimSpace(name), ".")).Sanitize(), strings.ReplaceAll(strings.TrimSpace(value), "'", "''"))
		if _, err := conn.Exec(ctx, q); err != nil {
			b.Fatalf("settings: %s: %v", q, err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		b.Fatalf("settings: %v", err)
	}
	b.Logf("PostgreSQL settings changed for this run: %s", spec)
	kept := filepath.Join(os.TempDir(), "rollcall-bench-postgres.log")
	b.Cleanup(func() {
		if data, err := os.ReadFile(filepath.Join(cluster.Dir(), "server.log")); err == nil && os.WriteFile(kept, data, 0o644) == nil {
			fmt.Fprintf(os.Stderr, "PostgreSQL's log kept in %s\n", kept)
		}
	})
}

func moduleRoot(b *testing.B) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// database creates a fresh database and returns its URL.
func (e *env) database(b *testing.B, name string) string {
	b.Helper()
	if err := e.cluster.CreateDatabase(context.Background(), name); err != nil {
		b.Fatalf("create database: %v", err)
	}
	return e.cluster.URL(name)
}

// run runs the binary to completion and returns its stdout.
func (e *env) run(b *testing.B, url string, args ...string) string {
	b.Helper()
	cmd := exec.Command(e.binary, append(args, "--database-url", url)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		b.Fatalf("rollcall %v: %v\n%s", args, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// server is a running `rollcall serve`.
type server struct {
	cmd   *exec.Cmd
	url   string
	token string
}

func (e *env) serve(b *testing.B, dbURL string, extraEnv ...string) *server {
	b.Helper()
	port := freePort(b)
	token := e.run(b, dbURL, "admin", "create", "--email", "bench@rollcall.test")
	cmd := exec.Command(e.binary, "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "PORT="+strconv.Itoa(port), "ROLLCALL_LOG_LEVEL="+logLevel(),
		"ROLLCALL_MAX_UPLOAD_BYTES=4294967296", "ROLLCALL_MAX_COMPLEXITY=1000000")
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start server: %v", err)
	}
	s := &server{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), token: token}
	b.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop() {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

func freePort(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// graphql sends a query and decodes data into out.
func (s *server) graphql(b *testing.B, query string, vars map[string]any, out any) {
	b.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		b.Fatalf("decode: %v", err)
	}
	if len(r.Errors) > 0 {
		b.Fatalf("graphql: %s", r.Errors[0].Message)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			b.Fatal(err)
		}
	}
}

// rss returns the resident set size of the server in bytes.
func (s *server) rss() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// peakRSS samples the server's RSS until stop is called and returns the
// highest value seen.
func (s *server) peakRSS() (stop func() int64) {
	done := make(chan struct{})
	result := make(chan int64, 1)
	go func() {
		peak := s.rss()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				result <- max(peak, s.rss())
				return
			case <-t.C:
				peak = max(peak, s.rss())
			}
		}
	}()
	return func() int64 { close(done); return <-result }
}

// timings collects repeated measurements of named figures.
type timings map[string][]float64

func (t timings) add(name string, v float64) { t[name] = append(t[name], v) }

func (t timings) median(name string) float64 {
	v := append([]float64(nil), t[name]...)
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (t timings) all(name string) string {
	parts := make([]string, len(t[name]))
	for i, v := range t[name] {
		parts[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strings.Join(parts, ", ")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// copyFile streams a file into PostgreSQL with COPY.
func copyFile(ctx context.Context, conn *pgx.Conn, path, sql string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	_, err = conn.PgConn().CopyFrom(ctx, io.Reader(f), sql)
	return time.Since(start), err
}

// machine describes where the figures were taken.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		fields := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if len(fields) >= 2 {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s/%s, %s", runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// logLevel is the benchmarked server's log level: warn, unless
// ROLLCALL_BENCH_LOG_LEVEL says otherwise (info shows each run's phase
// timings in the "import run finished" line).
func logLevel() string {
	if l := os.Getenv("ROLLCALL_BENCH_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}
