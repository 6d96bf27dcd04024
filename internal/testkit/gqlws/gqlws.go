// Package gqlws runs the graphql-ws npm client (tools/graphql-ws-client, a
// pinned package driven by node) against a server from a Go test, to see
// how a real client treats the server's WebSocket close codes: how many
// times it connects, and when it gives up.
//
// The client needs node and the tool's node_modules (installed by
// tools/graphql-ws-client/install.sh, which make test-deps runs). When
// either is missing, Run skips the test, unless GQLWS_REQUIRE=1 is set, in
// which case it fails it (for CI, so a missing install step cannot pass
// silently).
package gqlws

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RequireEnv, when set to "1", turns Run's skips into test failures.
const RequireEnv = "GQLWS_REQUIRE"

// toolDir is the tool's directory relative to the module root.
const toolDir = "tools/graphql-ws-client"

// Events the client reports (see client.mjs).
const (
	EventConnecting = "connecting"
	EventConnected  = "connected"
	EventClosed     = "closed"
	EventGaveUp     = "gave-up" // the client stopped retrying: the last event
	EventStorm      = "storm"   // it kept reconnecting and was stopped: the last event
	EventTimeout    = "timeout" // neither within the tool's time limit: the last event
)

// Event is one line of the client's report.
type Event struct {
	Event  string `json:"event"`
	Code   int    `json:"code"`   // close code (closed, gave-up)
	Reason string `json:"reason"` // close reason (closed, gave-up)
	// Attempts is the number of connections the client has attempted,
	// Connected how many were acknowledged (on the last event).
	Attempts  int `json:"attempts"`
	Connected int `json:"connected"`
}

// Last reports whether e ends the report.
func (e Event) Last() bool {
	return e.Event == EventGaveUp || e.Event == EventStorm || e.Event == EventTimeout
}

// Run connects the client to url (ws://…/graphql) with token and
// retryAttempts, calls onEvent (if not nil) with each event as it happens,
// and returns every event, the last one last. It skips t when the tool
// cannot run here (see the package doc), and fails t if the client does not
// finish its report.
func Run(ctx context.Context, t testing.TB, url, token string, retryAttempts int, onEvent func(Event)) []Event {
	t.Helper()
	dir, err := findToolDir()
	if err != nil {
		t.Fatalf("graphql-ws client: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip(t, "graphql-ws client: node not found on PATH; install Node.js and run make test-deps or "+toolDir+"/install.sh")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-ws", "package.json")); err != nil {
		skip(t, "graphql-ws client: "+filepath.Join(dir, "node_modules")+" is absent or incomplete; run make test-deps or "+toolDir+"/install.sh")
	}

	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "client.mjs"), url, token, strconv.Itoa(retryAttempts))
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("graphql-ws client: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("graphql-ws client: start: %v", err)
	}
	var events []Event
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		var e Event
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			t.Errorf("graphql-ws client: unreadable line %q: %v", lines.Text(), err)
			continue
		}
		events = append(events, e)
		if onEvent != nil {
			onEvent(e)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("graphql-ws client failed: %v (context: %v)\nstderr:\n%s\nevents: %+v", err, ctx.Err(), stderr.String(), events)
	}
	if len(events) == 0 || !events[len(events)-1].Last() {
		t.Fatalf("graphql-ws client ended without a result\nstderr:\n%s\nevents: %+v", stderr.String(), events)
	}
	return events
}

func skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// findToolDir locates the tool under the module root, found by walking up
// from this source file's directory or else from the working directory.
func findToolDir() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				tool := filepath.Join(dir, filepath.FromSlash(toolDir))
				if _, err := os.Stat(filepath.Join(tool, "client.mjs")); err == nil {
					return tool, nil
				}
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find " + toolDir + "/client.mjs above " + strings.Join(starts, " or "))
}
