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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/internal/testkit/nodetool"
)

// RequireEnv, when set to "1", turns Run's skips into test failures.
const RequireEnv = "GQLWS_REQUIRE"

// tool is the pinned npm tool.
var tool = nodetool.Tool{Name: "graphql-ws client", Dir: "tools/graphql-ws-client", Script: "client.mjs",
	Package: "graphql-ws", RequireEnv: RequireEnv}

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
	node, dir := tool.Find(t)

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
