package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MinMajorVersion is the oldest PostgreSQL major version pgcluster accepts.
const MinMajorVersion = 15

// installHint ends every "binaries not found" error.
const installHint = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@16) or set DATABASE_URL to an existing PostgreSQL 15+ server"

// versionedGlobs are the places searched after PATH, each with one "*" that
// stands for the version. Newest version first within each pattern.
var versionedGlobs = []string{
	"/usr/lib/postgresql/*/bin",                          // Debian, Ubuntu
	"/usr/pgsql-*/bin",                                   // RHEL, Fedora (PGDG)
	"/opt/homebrew/opt/postgresql@*/bin",                 // Homebrew, Apple silicon
	"/usr/local/opt/postgresql@*/bin",                    // Homebrew, Intel
	"/Applications/Postgres.app/Contents/Versions/*/bin", // Postgres.app
}

// FindBinaries returns the directory holding initdb, pg_ctl and postgres of
// PostgreSQL 15 or newer. It looks at postgres on PATH first (following
// symlinks to the real bin directory, which must also hold initdb and
// pg_ctl), then the newest /usr/lib/postgresql/*/bin (and the usual Homebrew
// and RHEL places). The error, when none is found, is one line saying how to
// install them.
func FindBinaries() (string, error) {
	return findBinaries(0)
}

// findBinaries is FindBinaries; with want > 0 it returns only binaries of
// exactly that major version (to run an existing cluster).
func findBinaries(want int) (string, error) {
	var found []string // "PostgreSQL N in DIR", for the error
	seen := map[string]bool{}
	for _, dir := range candidateDirs() {
		if seen[dir] || !hasBinaries(dir) {
			continue
		}
		seen[dir] = true
		major, err := binMajorVersion(dir)
		if err != nil {
			found = append(found, fmt.Sprintf("unusable %s (%v)", dir, err))
			continue
		}
		if (want == 0 && major >= MinMajorVersion) || (want > 0 && major == want) {
			return dir, nil
		}
		found = append(found, fmt.Sprintf("PostgreSQL %d in %s", major, dir))
	}
	what := fmt.Sprintf("PostgreSQL %d+ server binaries (initdb, pg_ctl, postgres) not found", MinMajorVersion)
	if want > 0 {
		what = fmt.Sprintf("PostgreSQL %d server binaries (initdb, pg_ctl, postgres) not found", want)
	}
	if len(found) > 0 {
		what += " (found only " + strings.Join(found, ", ") + ")"
	}
	return "", errors.New("pgcluster: " + what + ": " + installHint)
}

// candidateDirs lists the directories to look at, in order of preference.
func candidateDirs() []string {
	var dirs []string
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if real, err = filepath.Abs(real); err == nil {
				dirs = append(dirs, filepath.Dir(real))
			}
		}
	}
	for _, pattern := range versionedGlobs {
		dirs = append(dirs, globNewestFirst(pattern)...)
	}
	return dirs
}

// globNewestFirst expands pattern (one "*" standing for a version) and sorts
// the matches by that version, newest first, numerically (16 > 15 > 9.6).
// Matches whose "*" part is not a version come last.
func globNewestFirst(pattern string) []string {
	matches, _ := filepath.Glob(pattern)
	star := strings.Index(pattern, "*")
	prefix, suffix := pattern[:star], pattern[star+1:]
	version := func(m string) []int {
		return parseVersion(strings.TrimSuffix(strings.TrimPrefix(m, prefix), suffix))
	}
	sort.SliceStable(matches, func(i, j int) bool {
		return compareVersions(version(matches[i]), version(matches[j])) > 0
	})
	return matches
}

// parseVersion parses "16", "9.6" or "15.4" into its numbers; nil if s does
// not start with a number.
func parseVersion(s string) []int {
	var v []int
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			break
		}
		v = append(v, n)
	}
	return v
}

// compareVersions compares like strings.Compare; nil sorts lowest.
func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		switch {
		case i >= len(a):
			return -1
		case i >= len(b):
			return 1
		case a[i] != b[i]:
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)`)

// binMajorVersion runs `postgres --version` from dir (allowed as root) and
// returns the major version.
func binMajorVersion(dir string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version")
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("postgres --version: %w", err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("postgres --version printed %q", strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(string(m[1]))
}

// cleanEnv is the environment for the PostgreSQL programs: ours without the
// PG* variables (PGDATA, PGPORT, PGHOST, ...), which would change what they
// do behind our back.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}
