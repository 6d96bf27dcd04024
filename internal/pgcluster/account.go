package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// account is the user that runs initdb, pg_ctl and so the server.
type account struct {
	switchUser bool   // we are root: run the programs as name, not as ourselves
	runuser    string // path of runuser; "" to switch credentials directly
	name       string
	home       string
	uid, gid   int
	gids       []int // every group of the user, for permission checks
}

// errNoPostgresUser is returned by Start when run as root on a machine with
// no "postgres" user.
var errNoPostgresUser = errors.New(`pgcluster: running as root, which PostgreSQL refuses, and there is no "postgres" user to run it as: create one (Debian/Ubuntu: apt-get install postgresql creates it; elsewhere: useradd --system --user-group postgres) or run as a non-root user`)

// runAccount returns who runs PostgreSQL: the current user, or the postgres
// user when we are root.
func runAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return &account{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errNoPostgresUser
	}
	a := &account{switchUser: true, name: u.Username, home: u.HomeDir}
	if a.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("pgcluster: user postgres has uid %q: %w", u.Uid, err)
	}
	if a.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("pgcluster: user postgres has gid %q: %w", u.Gid, err)
	}
	if a.uid == 0 {
		return nil, errors.New(`pgcluster: user "postgres" has uid 0, and PostgreSQL refuses to run as root`)
	}
	a.gids = []int{a.gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil && !slices.Contains(a.gids, g) {
				a.gids = append(a.gids, g)
			}
		}
	}
	if p, err := exec.LookPath("runuser"); err == nil {
		a.runuser = p
	}
	return a, nil
}

// command returns cmd for running program as the account, with a clean
// environment, and stopped by SIGTERM (then SIGKILL) if ctx ends. No shell is
// involved, so paths may contain anything.
func (a *account) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	switch {
	case !a.switchUser:
		cmd = exec.CommandContext(ctx, program, args...)
	case a.runuser != "":
		cmd = exec.CommandContext(ctx, a.runuser, append([]string{"-u", a.name, "--", program}, args...)...)
	default:
		cmd = exec.CommandContext(ctx, program, args...)
		setCredential(cmd, a.uid, a.gid, a.gids)
	}
	cmd.Env = cleanEnv()
	if a.switchUser && a.home != "" {
		cmd.Env = append(cmd.Env, "HOME="+a.home)
	}
	cmd.Dir = "/" // our working directory may be closed to the postgres user
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// canEnter reports whether the account (not root) may traverse the
// directory fi.
func (a *account) canEnter(fi fs.FileInfo) bool {
	uid, gid, ok := fileOwner(fi)
	if !ok {
		return true // unknown: let PostgreSQL say
	}
	perm := fi.Mode().Perm()
	switch {
	case uid == a.uid:
		return perm&0o100 != 0
	case slices.Contains(a.gids, gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// makeReachable, when we run PostgreSQL as another user, adds the search bit
// for others (o+x) to each ancestor of dir that the user cannot traverse,
// reporting each change through logf.
func (a *account) makeReachable(dir string, logf func(string, ...any)) error {
	if !a.switchUser {
		return nil
	}
	var ancestors []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		ancestors = append(ancestors, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for _, p := range slices.Backward(ancestors) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if a.canEnter(fi) {
			continue
		}
		mode := fi.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid) | 0o001
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("pgcluster: user %s cannot reach %s because it cannot enter %s, and chmod o+x failed (%v): put Dir where user %s can reach it", a.name, dir, p, err, a.name)
		}
		logf("made %s enterable by others (chmod o+x) so user %s can reach %s", p, a.name, dir)
	}
	return nil
}

// own gives dir (and, with all, everything in it) to the account when we run
// PostgreSQL as another user.
func (a *account) own(dir string, all bool) error {
	if !a.switchUser {
		return nil
	}
	chown := func(path string) error {
		if err := os.Lchown(path, a.uid, a.gid); err != nil {
			return fmt.Errorf("pgcluster: giving %s to user %s: %w", path, a.name, err)
		}
		return nil
	}
	if !all {
		return chown(dir)
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return chown(path)
	})
}

// owns reports whether the account owns path.
func (a *account) owns(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	uid, _, ok := fileOwner(fi)
	return !ok || uid == a.uid
}

// writeFile writes data to path atomically, owned by the account, mode 0600.
func (a *account) writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := a.own(tmp, false); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}
