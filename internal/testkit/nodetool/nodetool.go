// Package nodetool finds, for a Go test, one of the repository's pinned npm
// tools (tools/<name>, installed by its install.sh, which make test-deps
// runs) and the node that runs it.
package nodetool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Tool is a pinned npm tool.
type Tool struct {
	Name    string // for messages, e.g. "graphql-http audit"
	Dir     string // its directory relative to the module root
	Script  string // its entry script in Dir
	Package string // an npm package its node_modules must hold
	// RequireEnv, when set to "1", turns Find's skips into test failures
	// (for CI, so that a missing install step cannot pass silently).
	RequireEnv string
}

// Find returns node's path and the tool's directory. It skips t when node
// or the tool's node_modules is missing (fails it under RequireEnv), and
// fails t when the tool's directory cannot be found.
func (tl Tool) Find(t testing.TB) (node, dir string) {
	t.Helper()
	dir, err := tl.dir()
	if err != nil {
		t.Fatalf("%s: %v", tl.Name, err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		tl.skip(t, "node not found on PATH; install Node.js and run make test-deps or "+tl.Dir+"/install.sh")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", tl.Package, "package.json")); err != nil {
		tl.skip(t, filepath.Join(dir, "node_modules")+" is absent or incomplete; run make test-deps or "+tl.Dir+"/install.sh")
	}
	return node, dir
}

func (tl Tool) skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(tl.RequireEnv) == "1" {
		t.Fatalf("%s: %s (%s=1 makes this a failure)", tl.Name, msg, tl.RequireEnv)
	}
	t.Skip(tl.Name + ": " + msg)
}

// dir locates the tool under the module root, found by walking up from this
// source file's directory or, when that path is not usable (e.g. -trimpath
// builds), from the working directory.
func (tl Tool) dir() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		if root, ok := moduleRoot(start); ok {
			dir := filepath.Join(root, filepath.FromSlash(tl.Dir))
			if _, err := os.Stat(filepath.Join(dir, tl.Script)); err == nil {
				return dir, nil
			}
		}
	}
	return "", errors.New("cannot find " + tl.Dir + "/" + tl.Script + " above " + strings.Join(starts, " or "))
}

func moduleRoot(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
