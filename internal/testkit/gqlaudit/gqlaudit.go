// Package gqlaudit runs the graphql-http GraphQL-over-HTTP audit suite
// (tools/graphql-http-audit, a pinned npm package driven by node) against a
// server from a Go test.
//
// The suite needs node and the tool's node_modules (installed by
// tools/graphql-http-audit/install.sh, which make test runs). When either is
// missing, Run skips the test, unless GQLAUDIT_REQUIRE=1 is set, in which
// case it fails it (for CI, so a missing install step cannot pass silently).
package gqlaudit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/internal/testkit/nodetool"
)

// Audit statuses, as graphql-http reports them.
const (
	StatusOK     = "ok"     // the audit passed
	StatusNotice = "notice" // a MAY the server does not do
	StatusWarn   = "warn"   // a SHOULD the server does not do
	StatusError  = "error"  // a MUST the server does not do
)

// RequireEnv, when set to "1", turns Run's skips (node or node_modules
// missing) into test failures.
const RequireEnv = "GQLAUDIT_REQUIRE"

// DefaultTimeout bounds a Run whose context has no deadline.
const DefaultTimeout = 2 * time.Minute

// tool is the pinned npm tool.
var tool = nodetool.Tool{Name: "graphql-http audit", Dir: "tools/graphql-http-audit", Script: "audit.mjs",
	Package: "graphql-http", RequireEnv: RequireEnv}

// Result is the outcome of one audit of the suite.
type Result struct {
	ID     string `json:"id"`     // the audit's stable id, e.g. "22EB"
	Name   string `json:"name"`   // starts with MUST, SHOULD or MAY
	Status string `json:"status"` // StatusOK, StatusNotice, StatusWarn or StatusError
	Reason string `json:"reason"` // empty when ok; else why, with the response trimmed
}

// String formats r on one line, e.g. `error 4655 MUST accept ...: reason`.
func (r Result) String() string {
	if r.Reason == "" {
		return fmt.Sprintf("%s %s %s", r.Status, r.ID, r.Name)
	}
	return fmt.Sprintf("%s %s %s: %s", r.Status, r.ID, r.Name, r.Reason)
}

// Filter returns the results whose status is one of statuses, in order.
func Filter(results []Result, statuses ...string) []Result {
	var out []Result
	for _, r := range results {
		for _, s := range statuses {
			if r.Status == s {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// Run runs the audit against url (e.g. httptest server URL + "/graphql")
// with the given extra headers set on every request the audit makes (they
// override the audit's own headers of the same name, so leave Content-Type
// and Accept out). It calls t.Skip with a clear message if node is missing or
// tools/graphql-http-audit/node_modules is absent, and t.Fatal if the audit
// could not run or its output cannot be read. It does not judge the results:
// the caller does, e.g. with Filter(results, StatusError).
func Run(ctx context.Context, t testing.TB, url string, headers map[string]string) []Result {
	t.Helper()

	node, dir := tool.Find(t)

	args := []string{filepath.Join(dir, "audit.mjs"), url}
	if len(headers) > 0 {
		b, err := json.Marshal(headers)
		if err != nil {
			t.Fatalf("graphql-http audit: encoding headers: %v", err)
		}
		args = append(args, string(b))
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("graphql-http audit against %s failed: %v (context: %v)\nstderr:\n%s\nstdout:\n%s",
			url, err, ctx.Err(), trim(stderr.String(), 4000), trim(stdout.String(), 2000))
	}

	var results []Result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("graphql-http audit: cannot parse output: %v\nstdout:\n%s\nstderr:\n%s",
			err, trim(stdout.String(), 4000), trim(stderr.String(), 2000))
	}
	if len(results) == 0 {
		t.Fatalf("graphql-http audit: no results\nstderr:\n%s", trim(stderr.String(), 4000))
	}

	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
	}
	t.Logf("graphql-http audit of %s: %d audits, %d ok, %d notice, %d warn, %d error",
		url, len(results), counts[StatusOK], counts[StatusNotice], counts[StatusWarn], counts[StatusError])
	return results
}

func trim(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
