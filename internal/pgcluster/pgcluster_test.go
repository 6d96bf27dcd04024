package pgcluster

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// These tests run real PostgreSQL servers (no mocks), each in its own
// t.TempDir() on its own free port, so they run in parallel.

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start starts an ephemeral cluster in dir and stops it when the test ends.
func start(t *testing.T, dir string) *Cluster {
	t.Helper()
	c, err := Start(testContext(t), Options{Dir: dir, Ephemeral: true, Logf: t.Logf})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Stop()) })
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	require.NoError(t, conn.QueryRow(testContext(t), sql).Scan(&s))
	return s
}

// down reports whether nothing accepts connections on port any more.
func down(port int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := dataDirectory(ctx, port)
	return err != nil
}

func TestFindBinaries(t *testing.T) {
	t.Parallel()
	dir, err := FindBinaries()
	require.NoError(t, err)
	require.True(t, hasBinaries(dir), "initdb, pg_ctl and postgres in %s", dir)
	major, err := binMajorVersion(dir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, major, MinMajorVersion)

	// On this project's machines postgres on PATH is a symlink into
	// /usr/lib/postgresql/15/bin: the real directory must come back.
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && filepath.Dir(real) == "/usr/lib/postgresql/15/bin" {
			require.Equal(t, "/usr/lib/postgresql/15/bin", dir)
		}
	}
}

func TestGlobNewestFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "16", "10", "latest"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, v, "bin"), 0o755))
	}
	got := globNewestFirst(filepath.Join(root, "*", "bin"))
	var versions []string
	for _, g := range got {
		versions = append(versions, filepath.Base(filepath.Dir(g)))
	}
	require.Equal(t, []string{"16", "15", "10", "9.6", "latest"}, versions)
}

func TestFindBinariesErrorIsOneLine(t *testing.T) {
	t.Parallel()
	_, err := findBinaries(1) // no PostgreSQL 1 anywhere
	require.Error(t, err)
	require.NotContains(t, err.Error(), "\n")
	require.Contains(t, err.Error(), "apt-get install postgresql")
	require.Contains(t, err.Error(), "DATABASE_URL")
}

func TestStartCreateConnectStop(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	port := unassignedPort(t)
	var logs []string
	c, err := Start(ctx, Options{
		Dir:       filepath.Join(t.TempDir(), "pg data"), // a space, and missing
		Port:      port,
		Ephemeral: true,
		Logf: func(format string, args ...any) {
			t.Logf(format, args...)
			logs = append(logs, format)
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	require.True(t, c.Owned())
	require.Equal(t, port, c.Port())
	require.Contains(t, strings.Join(logs, "\n"), "initializing PostgreSQL cluster in")
	require.Equal(t, "postgres://postgres@127.0.0.1:"+strconv.Itoa(port)+"/app?sslmode=disable", c.URL("app"))

	require.NoError(t, c.CreateDatabase(ctx, "app"))
	require.NoError(t, c.CreateDatabase(ctx, "app"), "existing database is fine")
	require.NoError(t, c.CreateDatabase(ctx, `Odd "name"`))

	conn := connect(t, c.URL("app"))
	require.Equal(t, "app", queryString(t, conn, "SELECT current_database()"))
	require.Equal(t, "UTF8", queryString(t, conn, "SHOW server_encoding"))
	require.Equal(t, "off", queryString(t, conn, "SHOW fsync"))
	require.Equal(t, "off", queryString(t, conn, "SHOW synchronous_commit"))
	require.Equal(t, "off", queryString(t, conn, "SHOW full_page_writes"))
	require.Equal(t, "300", queryString(t, conn, "SHOW max_connections"))
	require.Equal(t, "127.0.0.1", queryString(t, conn, "SHOW listen_addresses"))
	require.Equal(t, "", queryString(t, conn, "SHOW unix_socket_directories"))
	_, err = conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	connect(t, c.URL(`Odd "name"`))

	require.FileExists(t, filepath.Join(c.Dir(), logName))
	require.NoError(t, c.Stop())
	require.NoError(t, c.Stop(), "Stop is idempotent")
	require.True(t, down(port), "server still up after Stop")
	require.NoFileExists(t, filepath.Join(c.Dir(), pidName))
}

func TestRestartKeepsDataAndPort(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "pg")

	c1, err := Start(ctx, Options{Dir: dir, Ephemeral: true, Logf: t.Logf})
	require.NoError(t, err)
	require.NoError(t, c1.CreateDatabase(ctx, "app"))
	conn := connect(t, c1.URL("app"))
	_, err = conn.Exec(ctx, "CREATE TABLE kept (s text); INSERT INTO kept VALUES ('still here')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, c1.Stop())

	var logs []string
	c2, err := Start(ctx, Options{Dir: dir, Ephemeral: true, Logf: func(format string, args ...any) {
		t.Logf(format, args...)
		logs = append(logs, format)
	}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c2.Stop()) })
	require.True(t, c2.Owned())
	require.Equal(t, c1.Port(), c2.Port(), "the port is kept in the cluster's configuration")
	require.NotContains(t, strings.Join(logs, "\n"), "initializing")
	require.Equal(t, "still here", queryString(t, connect(t, c2.URL("app")), "SELECT s FROM kept"))
}

func TestStartWhileRunningReuses(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	owner := start(t, dir)

	reuser, err := Start(ctx, Options{Dir: dir, Ephemeral: true, Logf: t.Logf})
	require.NoError(t, err)
	require.False(t, reuser.Owned())
	require.Equal(t, owner.Port(), reuser.Port())
	require.NoError(t, reuser.CreateDatabase(ctx, "shared"))

	require.NoError(t, reuser.Stop())
	require.False(t, down(owner.Port()), "Stop of a reusing Cluster must leave the server up")
	connect(t, owner.URL("shared"))

	// A reused server is found even when asked for another port.
	again, err := Start(ctx, Options{Dir: dir, Port: owner.Port() + 1})
	require.NoError(t, err)
	require.Equal(t, owner.Port(), again.Port())
	require.NoError(t, again.Stop())
}

func TestStalePIDFileDoesNotBlockStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	c := start(t, dir)
	port := c.Port()

	pidPath := filepath.Join(dir, pidName)
	restart := func(t *testing.T) {
		t.Helper()
		c2, err := Start(ctx, Options{Dir: dir, Ephemeral: true, Logf: t.Logf})
		require.NoError(t, err)
		require.True(t, c2.Owned())
		require.Equal(t, port, c2.Port())
		require.NoError(t, c2.CreateDatabase(ctx, "after"))
		require.NoError(t, c2.Stop())
	}
	// fakePIDFile writes a copy of the server's last postmaster.pid naming pid.
	var pidLines []string
	fakePIDFile := func(t *testing.T, pid int) {
		t.Helper()
		lines := append([]string{strconv.Itoa(pid)}, pidLines[1:]...)
		require.NoError(t, os.WriteFile(pidPath, []byte(strings.Join(lines, "\n")), 0o600))
	}

	t.Run("crash", func(t *testing.T) {
		data, err := os.ReadFile(pidPath)
		require.NoError(t, err)
		pidLines = strings.Split(string(data), "\n")
		pid, err := strconv.Atoi(pidLines[0])
		require.NoError(t, err)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		require.Eventually(t, func() bool { return !processAlive(pid) }, 10*time.Second, 20*time.Millisecond)
		require.FileExists(t, pidPath, "a crash leaves postmaster.pid behind")
		restart(t)
	})
	t.Run("dead PID", func(t *testing.T) {
		cmd := exec.Command("true")
		require.NoError(t, cmd.Run())
		fakePIDFile(t, cmd.Process.Pid) // exited and reaped
		restart(t)
	})
	t.Run("PID reused by another program", func(t *testing.T) {
		fakePIDFile(t, os.Getpid()) // alive, but this test, not a postmaster
		restart(t)
	})
}

func TestNonEmptyDirThatIsNoClusterFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
	_, err := Start(testContext(t), Options{Dir: dir})
	require.ErrorContains(t, err, "neither empty nor a PostgreSQL data directory")
}

func TestPortInUseFails(t *testing.T) {
	t.Parallel()
	// Take a port by listening on it at once (a port found free and then
	// listened on may be taken in between by another test's process).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(testContext(t), Options{Dir: t.TempDir(), Port: port})
	require.ErrorContains(t, err, "already in use")
}

func TestRunAsPostgresUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root")
	}
	t.Parallel()
	a, err := runAccount()
	require.NoError(t, err)
	require.True(t, a.switchUser)
	require.NotEmpty(t, a.runuser, "runuser is on this project's machines")

	direct := *a
	direct.runuser = "" // the fallback: switch credentials without runuser
	for name, acct := range map[string]*account{"runuser": a, "credentials": &direct} {
		out, err := acct.command(testContext(t), "id", "-u").Output()
		require.NoError(t, err, name)
		require.Equal(t, strconv.Itoa(a.uid), strings.TrimSpace(string(out)), name)
	}
}

func TestMakeReachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root")
	}
	t.Parallel()
	a, err := runAccount()
	require.NoError(t, err)
	root := t.TempDir()
	closed := filepath.Join(root, "closed")
	require.NoError(t, os.Mkdir(closed, 0o700))
	group := filepath.Join(closed, "group")
	require.NoError(t, os.Mkdir(group, 0o710))
	require.NoError(t, os.Chown(group, 0, a.gid)) // postgres's group may enter
	dir := filepath.Join(group, "pg")
	require.NoError(t, os.Mkdir(dir, 0o700))

	var logs []string
	require.NoError(t, a.makeReachable(dir, func(format string, args ...any) { logs = append(logs, format) }))
	for p, want := range map[string]os.FileMode{closed: 0o701, group: 0o710} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, want, fi.Mode().Perm(), p)
	}
	require.NotEmpty(t, logs)
	out, err := a.command(testContext(t), "test", "-e", dir).CombinedOutput()
	require.NoError(t, err, "postgres user cannot reach %s: %s", dir, out)
}

func TestConcurrentStartsShareOneServer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	const n = 3
	clusters := make([]*Cluster, n)
	errs := make([]error, n)
	done := make(chan int)
	for i := range n {
		go func() {
			clusters[i], errs[i] = Start(ctx, Options{Dir: dir, Ephemeral: true})
			done <- i
		}()
	}
	for range n {
		<-done
	}
	owners := 0
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, clusters[0].Port(), clusters[i].Port())
		if clusters[i].Owned() {
			owners++
			t.Cleanup(func() { require.NoError(t, clusters[i].Stop()) })
		}
	}
	require.Equal(t, 1, owners, "exactly one Start starts the server; the others reuse it")
}

func TestStartFailureShowsServerLog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	c := start(t, dir)
	require.NoError(t, c.Stop())

	f, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("shared_buffers = 'lots'\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	_, err = Start(ctx, Options{Dir: dir, Ephemeral: true, Logf: t.Logf})
	t.Logf("the error, as a user sees it:\n%v", err)
	require.ErrorContains(t, err, "last lines of "+filepath.Join(dir, logName))
	require.ErrorContains(t, err, `invalid value for parameter "shared_buffers"`)
	require.True(t, serverGone(dir))
}

// unassignedPort returns a free port below Linux's ephemeral range
// (32768–60999), which the kernel never hands out by itself: a port from
// that range, found free, could be given to another test's connection
// during the seconds initdb takes, before the server listens on it.
func unassignedPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		if p := 20000 + rand.IntN(12000); portFree(p) {
			return p
		}
	}
	t.Fatal("no free port in 20000–31999")
	return 0
}
