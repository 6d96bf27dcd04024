//go:build !unix

package pgcluster

import (
	"context"
	"os"
	"os/exec"
)

// The functions below are the Unix ones' fallbacks; pgcluster is meant for
// Unix-like systems (Linux, macOS), where PostgreSQL dev setups run.

func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}

func processAlive(pid int) bool { return pid > 0 }

func processCwd(pid int) (string, bool) { return "", false }

func fileOwner(fi os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }

func setCredential(cmd *exec.Cmd, uid, gid int, gids []int) {}
