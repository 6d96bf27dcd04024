package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options says where and how to run the cluster.
type Options struct {
	// Dir is the data folder the project owns: the PostgreSQL data directory
	// itself. It is created if missing, and initdb runs if it is empty. A
	// non-empty folder that is not a cluster is an error.
	Dir string
	// Port is the TCP port on 127.0.0.1. With 0, the port the cluster used
	// last time is kept if free, else a free one is picked.
	Port int
	// Ephemeral is for tests: durability off (fsync, synchronous_commit,
	// full_page_writes) for speed, and max_connections = 300.
	Ephemeral bool
	// Logf, if set, gets progress messages.
	Logf func(format string, args ...any)
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dir   string // absolute, symlinks resolved
	name  string // Dir as given, for messages
	port  int
	owned bool
	pgCtl string
	acct  *account
	logf  func(format string, args ...any)

	mu      sync.Mutex
	stopped bool
}

const (
	confName = "pgcluster.conf"
	logName  = "server.log"
	pidName  = "postmaster.pid"

	// includeLine, appended to postgresql.conf, loads confName.
	includeLine = "include = '" + confName + "'"

	// startTimeout bounds pg_ctl start and stop, and waiting for a server
	// that some other process is starting or stopping.
	startTimeout = 60 * time.Second
)

// Start initializes (if needed) and starts the server for opts.Dir, and
// waits until it accepts connections. It creates no database; see
// CreateDatabase.
//
// If a server for Dir is already running (postmaster.pid names a live
// process that answers for this data directory), Start returns it without
// starting anything (the other Options are then ignored: its port and
// settings are those it runs with), and that Cluster's Stop leaves it
// running. A stale postmaster.pid (from a crash) is removed.
//
// Start calls on the same Dir are serialized (see the package doc), so of
// several processes starting the same Dir at once, one starts the server and
// the others reuse it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is empty")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgcluster: Options.Port %d is not a TCP port", opts.Port)
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}

	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()

	port, running, err := runningServer(ctx, dir, logf)
	if err != nil {
		return nil, err
	}
	if running {
		logf("reusing the PostgreSQL server already running on 127.0.0.1:%d for %s (it stays up when we exit)", port, opts.Dir)
		return &Cluster{dir: dir, name: opts.Dir, port: port, logf: logf}, nil
	}

	if opts.Port != 0 {
		if err := checkPortFree(opts.Port); err != nil { // fail before initdb
			return nil, err
		}
	}
	acct, err := runAccount()
	if err != nil {
		return nil, err
	}
	if err := acct.makeReachable(dir, logf); err != nil {
		return nil, err
	}
	major, isCluster, err := clusterMajor(dir)
	if err != nil {
		return nil, err
	}
	var bin string
	if isCluster {
		if bin, err = findBinaries(major); err != nil {
			return nil, fmt.Errorf("%w (%s holds a PostgreSQL %d cluster; delete it to start afresh with another version)", err, opts.Dir, major)
		}
		if !acct.owns(dir) {
			logf("giving %s to user %s", opts.Dir, acct.name)
			if err := acct.own(dir, true); err != nil {
				return nil, err
			}
		}
	} else {
		if err := ensureEmpty(dir); err != nil {
			return nil, err
		}
		if bin, err = FindBinaries(); err != nil {
			return nil, err
		}
		if err := acct.own(dir, false); err != nil {
			return nil, err
		}
		logf("initializing PostgreSQL cluster in %s", opts.Dir)
		if err := initdb(ctx, acct, bin, dir, opts.Ephemeral); err != nil {
			return nil, err
		}
	}
	if err := ensureInclude(dir); err != nil {
		return nil, err
	}

	c := &Cluster{
		dir:   dir,
		name:  opts.Dir,
		owned: true,
		pgCtl: filepath.Join(bin, "pg_ctl"),
		acct:  acct,
		logf:  logf,
	}
	if err := c.start(ctx, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// Port returns the server's TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Dir returns the data directory (absolute, symlinks resolved).
func (c *Cluster) Dir() string { return c.dir }

// Owned reports whether this Cluster started the server, and so whether Stop
// stops it.
func (c *Cluster) Owned() bool { return c.owned }

// URL returns a postgres:// URL for database dbname: user postgres (trust
// authentication, no password), host 127.0.0.1, sslmode=disable.
func (c *Cluster) URL(dbname string) string { return urlFor(c.port, dbname) }

func urlFor(port int, dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database dbname unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, dbname string) error {
	if dbname == "" {
		return errors.New("pgcluster: empty database name")
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", dbname).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbname}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgcluster: creating database %q: %w", dbname, err)
	}
	return nil
}

// Stop stops the server (pg_ctl stop -m fast) if this Cluster started it;
// a Cluster that reused a running server leaves it running. Stop is
// idempotent.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.owned || c.stopped {
		return nil
	}
	c.logf("stopping PostgreSQL (%s)", c.name)
	out, err := c.stopServer("fast")
	if err != nil && !serverGone(c.dir) {
		return fmt.Errorf("pgcluster: stopping PostgreSQL in %s: %v: %s", c.dir, err, strings.TrimSpace(string(out)))
	}
	c.stopped = true
	return nil
}

func (c *Cluster) stopServer(mode string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout+10*time.Second)
	defer cancel()
	t := strconv.Itoa(int(startTimeout / time.Second))
	return c.acct.command(ctx, c.pgCtl, "stop", "-D", c.dir, "-m", mode, "-w", "-t", t, "-s").CombinedOutput()
}

// errPortTaken marks a start that failed because the port was in use.
var errPortTaken = errors.New("port already in use")

// start picks the port, writes the configuration and starts the server.
func (c *Cluster) start(ctx context.Context, opts Options) error {
	port, auto := opts.Port, opts.Port == 0
	if auto {
		stored := confPort(c.dir)
		if stored > 0 && portFree(stored) {
			port = stored
		} else {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
			if stored > 0 {
				c.logf("port %d, used last time, is taken: moving to %d", stored, port)
			}
		}
	} else if err := checkPortFree(port); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		if err := writeConf(c.dir, c.acct, port, opts.Ephemeral); err != nil {
			return err
		}
		c.logf("starting PostgreSQL on 127.0.0.1:%d (%s)", port, c.name)
		err := c.pgCtlStart(ctx)
		if err == nil {
			break
		}
		// Someone took the free port between our check and the server's bind.
		if auto && attempt < 3 && errors.Is(err, errPortTaken) && ctx.Err() == nil {
			var perr error
			if port, perr = freePort(); perr != nil {
				return err
			}
			continue
		}
		return err
	}
	c.port = port
	if err := waitReady(ctx, port, c.dir); err != nil {
		_, _ = c.stopServer("immediate")
		return err
	}
	return nil
}

func (c *Cluster) pgCtlStart(ctx context.Context) error {
	logPath := filepath.Join(c.dir, logName)
	var offset int64
	if fi, err := os.Stat(logPath); err == nil {
		offset = fi.Size()
	}
	t := strconv.Itoa(int(startTimeout / time.Second))
	out, err := c.acct.command(ctx, c.pgCtl, "start", "-D", c.dir, "-l", logPath, "-w", "-t", t, "-s").CombinedOutput()
	if err == nil {
		return nil
	}
	// Don't leave a half-started server behind (pg_ctl timed out or ctx ended).
	_, _ = c.stopServer("immediate")
	tail := logTail(logPath, offset, 30)
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	msg := strings.TrimSpace(string(out))
	if msg != "" {
		msg = ": " + msg
	}
	err = fmt.Errorf("pgcluster: starting PostgreSQL in %s failed: %w%s\n--- last lines of %s ---\n%s", c.dir, err, msg, logPath, tail)
	if strings.Contains(tail, "Address already in use") || strings.Contains(tail, "could not bind") {
		err = fmt.Errorf("%w: %w", errPortTaken, err)
	}
	return err
}

// waitReady waits until the server on port accepts connections, and checks
// that it serves dir.
func waitReady(ctx context.Context, port int, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		dd, err := dataDirectory(ctx, port)
		if err == nil {
			if !sameDir(dd, dir) {
				return fmt.Errorf("pgcluster: the server on 127.0.0.1:%d serves %s, not %s", port, dd, dir)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: PostgreSQL on 127.0.0.1:%d does not accept connections: %w", port, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dataDirectory connects to the server on port and returns its data
// directory.
func dataDirectory(ctx context.Context, port int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, urlFor(port, "postgres")+"&connect_timeout=2")
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var dd string
	err = conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dd)
	return dd, err
}

// pidFile is what postmaster.pid says.
type pidFile struct {
	pid, port int
	// shmemID is the server's System V shared memory segment (0: none).
	shmemID int
	modTime time.Time
}

// readPIDFile reads dir's postmaster.pid; nil if there is none.
func readPIDFile(dir string) (*pidFile, error) {
	path := filepath.Join(dir, pidName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	pf := &pidFile{}
	if fi, err := os.Stat(path); err == nil {
		pf.modTime = fi.ModTime()
	}
	// Line 1: PID; line 4: port; line 7: shared memory key and ID (see
	// PostgreSQL's pidfile.h).
	lines := strings.Split(string(data), "\n")
	pf.pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if len(lines) > 3 {
		pf.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if len(lines) > 6 {
		if f := strings.Fields(lines[6]); len(f) == 2 {
			pf.shmemID, _ = strconv.Atoi(f[1])
		}
	}
	return pf, nil
}

// serverGone reports whether no server process for dir is alive.
func serverGone(dir string) bool {
	pf, err := readPIDFile(dir)
	return err == nil && (pf == nil || !processAlive(pf.pid))
}

// runningServer looks for a live server for dir, and returns its port. It
// removes a stale postmaster.pid, and waits (up to startTimeout) for a
// server that is starting or stopping.
func runningServer(ctx context.Context, dir string, logf func(string, ...any)) (int, bool, error) {
	pidPath := filepath.Join(dir, pidName)
	removeStale := func(why string) error {
		logf("removing stale %s (%s)", pidPath, why)
		if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pgcluster: removing stale %s: %w", pidPath, err)
		}
		return nil
	}
	deadline := time.Now().Add(startTimeout)
	for {
		pf, err := readPIDFile(dir)
		if err != nil || pf == nil {
			return 0, false, err
		}
		switch {
		case pf.pid <= 0 && time.Since(pf.modTime) < 2*time.Second:
			// Being written right now: look again below.
		case !processAlive(pf.pid) && !orphansAttached(pf):
			return 0, false, removeStale(fmt.Sprintf("process %d is gone", pf.pid))
		case !processAlive(pf.pid):
			// The postmaster crashed and its children have not noticed
			// yet: they still hold its shared memory (and connections on
			// its port). Look again below; they exit within moments.
		default:
			if pf.port > 0 {
				if dd, err := dataDirectory(ctx, pf.port); err == nil && sameDir(dd, dir) {
					return pf.port, true, nil
				}
			}
			// A postmaster's working directory is its data directory: any
			// other means the PID was reused after a crash.
			if cwd, ok := processCwd(pf.pid); ok && !sameDir(cwd, dir) {
				return 0, false, removeStale(fmt.Sprintf("PID %d is now another program", pf.pid))
			}
		}
		if time.Now().After(deadline) && !processAlive(pf.pid) {
			return 0, false, fmt.Errorf("pgcluster: processes of the crashed server %d still hold its shared memory segment %d; stop them (ipcs -mp lists them)", pf.pid, pf.shmemID)
		}
		if time.Now().After(deadline) {
			return 0, false, fmt.Errorf("pgcluster: %s names process %d, which is alive but does not answer on 127.0.0.1:%d; stop that server, or delete %s if it is not PostgreSQL", pidPath, pf.pid, pf.port, pidPath)
		}
		select {
		case <-ctx.Done():
			return 0, false, fmt.Errorf("pgcluster: waiting for the server in %s: %w", dir, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// orphansAttached reports whether processes of a dead server are still
// attached to its shared memory, as they are for a moment after a crash.
func orphansAttached(pf *pidFile) bool {
	if pf.shmemID <= 0 {
		return false
	}
	inUse, known := shmemInUse(pf.shmemID)
	return known && inUse
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	return resolve(a) == resolve(b)
}

// clusterMajor returns the major version of the cluster in dir, if dir is
// one (it has PG_VERSION).
func clusterMajor(dir string) (major int, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("pgcluster: %w", err)
	}
	v := parseVersion(strings.TrimSpace(string(data)))
	if len(v) == 0 {
		return 0, false, fmt.Errorf("pgcluster: %s/PG_VERSION says %q", dir, bytes.TrimSpace(data))
	}
	return v[0], true, nil
}

func ensureEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("pgcluster: %s is neither empty nor a PostgreSQL data directory (it has no PG_VERSION): point Options.Dir at an empty or missing folder", dir)
	}
	return nil
}

// initdb creates the cluster in the empty dir: superuser postgres, trust
// authentication, UTF8, locale C.UTF-8 (or C where that is missing).
func initdb(ctx context.Context, acct *account, bin, dir string, ephemeral bool) error {
	run := func(locale string) ([]byte, error) {
		args := []string{"-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=" + locale, "--no-instructions"}
		if ephemeral {
			args = append(args, "--no-sync")
		}
		return acct.command(ctx, filepath.Join(bin, "initdb"), args...).CombinedOutput()
	}
	out, err := run("C.UTF-8")
	if err != nil && ctx.Err() == nil && bytes.Contains(out, []byte("locale")) && ensureEmpty(dir) == nil {
		out, err = run("C")
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("pgcluster: initdb in %s failed: %w: %s", dir, err, lastLines(string(out), 20))
	}
	return nil
}

// ensureInclude makes postgresql.conf include confName.
func ensureInclude(dir string) error {
	path := filepath.Join(dir, "postgresql.conf")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == includeLine {
			return nil
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Settings managed by pgcluster (port, listen address, test settings).\n%s\n", includeLine)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// writeConf writes confName, the settings pgcluster manages.
func writeConf(dir string, acct *account, port int, ephemeral bool) error {
	var b strings.Builder
	b.WriteString("# Written by pgcluster on every start: edit postgresql.conf, or use\n")
	b.WriteString("# ALTER SYSTEM, for settings of your own.\n")
	b.WriteString("listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "port = %d\n", port)
	b.WriteString("unix_socket_directories = ''  # TCP only: no clash with a system cluster's socket\n")
	if ephemeral {
		b.WriteString("\n# Ephemeral (test) cluster: speed over durability.\n")
		b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n")
	}
	return acct.writeFile(filepath.Join(dir, confName), []byte(b.String()))
}

var portRE = regexp.MustCompile(`(?m)^\s*port\s*=\s*(\d+)`)

// confPort returns the port in dir's confName, or 0.
func confPort(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, confName))
	if err != nil {
		return 0
	}
	m := portRE.FindSubmatch(data)
	if m == nil {
		return 0
	}
	port, _ := strconv.Atoi(string(m[1]))
	return port
}

func checkPortFree(port int) error {
	if !portFree(port) {
		return fmt.Errorf("pgcluster: port %d on 127.0.0.1 is already in use: choose another Options.Port, or 0 for a free one", port)
	}
	return nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last n lines of the file at path written after offset.
func logTail(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	size := offset
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	if size < offset {
		offset = 0 // truncated meanwhile
	}
	offset = max(offset, size-64<<10) // the end is enough
	data, err := io.ReadAll(io.NewSectionReader(f, offset, size-offset))
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	return lastLines(string(data), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
