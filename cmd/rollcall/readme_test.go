package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

// The README's examples are run by TestREADMEExamples, so that they cannot
// drift from the server. The rules, for whoever edits README.md:
//
//   - Every ```sh block that talks to the server is an example: it
//     contains `localhost:8080`, or calls a shell function that an earlier
//     example defined (the README's gql and wait_run, which send requests
//     there). Those blocks run in order, as one bash script
//     (bash -euo pipefail), in a work folder holding examples/ and the
//     .data/admin-token of a fresh `rollcall dev` (what `make run` runs),
//     with `localhost:8080` replaced by that server's address. Other
//     blocks (```graphql, ``` diagrams, ```sh blocks without the address,
//     such as `make run` itself) are not run.
//   - curl is a shell function that runs the real curl and fails the
//     script, naming the README line and the command, when the HTTP status
//     is 400 or more or the answer is JSON with "errors".
//   - A command that shows an error on purpose ends, on its last line, with
//     `# expect: CODE` or `# expect: CODE (HTTP NNN)`: its answers must
//     carry that extensions.code with that status (200 when none is
//     given), else the script fails. The command may continue over lines
//     ending with `\` or `|`, not inside a quoted string.
//   - Runs are asynchronous: an example that needs a run's result waits for
//     it (the README's wait_run), as a reader would.
//
// The script's line numbers are the README's, so messages point at the
// README line (within a multi-line command substitution bash may report a
// line or two off).

// readmePrelude is sourced on the script's first line (the README's title,
// never a command).
const readmePrelude = `# Written by cmd/rollcall/readme_test.go.
shopt -s inherit_errexit
set -E
trap 'rc_err $? "$BASH_COMMAND" $LINENO' ERR
RC_EXPECT=

# rc_err reports a failed command at the README line that ran it.
rc_err() {
  local n=${#BASH_LINENO[@]} line=$3
  if ((n >= 2)); then line=${BASH_LINENO[n-2]}; fi
  echo "README.md:$line: exit status $1: $2" >&2
}

rc_fail() {
  local line=$1 msg=$2
  shift 2
  printf 'README.md:%s: %s\n  curl %s\n' "$line" "$msg" "$*" >&2
  echo "$line" >>"$RC_FAILED"
}

curl() {
  local line=${BASH_LINENO[-2]:-?} hdr body status codes want_code want_status want_line rc=0
  hdr=$(mktemp -p "$RC_TMP") body=$(mktemp -p "$RC_TMP")
  command curl -q -D "$hdr" "$@" >"$body" || rc=$?
  cat "$body"
  if ((rc != 0)); then
    rc_fail "$line" "curl exited with status $rc" "$@"
    return 1
  fi
  status=$(awk '/^HTTP\//{s=$2} END{print s}' "$hdr")
  codes=$(jq -r 'if type == "object" then (.errors // [])[] | (.extensions.code // "(no code)") else empty end' "$body" 2>/dev/null || true)
  if [[ -n $RC_EXPECT ]]; then
    read -r want_code want_status want_line <<<"$RC_EXPECT"
    echo "$want_line" >>"$RC_SEEN"
    if [[ $status != "$want_status" ]] || ! grep -qxF "$want_code" <<<"$codes"; then
      rc_fail "$line" "expected $want_code (HTTP $want_status), got HTTP $status ${codes:-without errors}" "$@"
      return 1
    fi
  elif [[ -z $status || $status -ge 400 || -n $codes ]]; then
    rc_fail "$line" "HTTP $status $(echo $codes)" "$@"
    return 1
  fi
  rm -f "$hdr" "$body"
}
`

// readmeExpect is a command of the README that expects an error.
type readmeExpect struct {
	Line   int // the README line the command ends on (1-based)
	Code   string
	Status int
}

var (
	fenceRE  = regexp.MustCompile("^```([A-Za-z0-9_-]*)\\s*$")
	funcRE   = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{`)
	wordRE   = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	expectRE = regexp.MustCompile(`^(.*?)\s*# expect: ([A-Z][A-Z_]*)(?: \(HTTP (\d{3})\))?\s*$`)
)

// readmeScript returns the bash script of readme's examples (see the rules
// above), line for line with readme, the server's address in place of
// localhost:8080, and the commands that expect errors. The first line
// sources prelude.
func readmeScript(readme, addr, prelude string) (string, []readmeExpect, error) {
	lines := strings.Split(readme, "\n")
	out := make([]string, len(lines))
	blocks := 0
	var funcs []string // the shell functions the examples define
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		if end == len(lines) {
			return "", nil, fmt.Errorf("README.md:%d: the code block is not closed", i+1)
		}
		body := lines[i+1 : end]
		if m[1] == "sh" && talksToServer(body, funcs) {
			blocks++
			for k, l := range body {
				out[i+1+k] = strings.ReplaceAll(l, "localhost:8080", addr)
				if f := funcRE.FindStringSubmatch(l); f != nil {
					funcs = append(funcs, f[1])
				}
			}
		}
		i = end
	}
	if blocks == 0 {
		return "", nil, fmt.Errorf("no ```sh block of README.md talks to localhost:8080")
	}
	if out[0] != "" {
		return "", nil, fmt.Errorf("README.md's first line is a command")
	}
	var expects []readmeExpect
	for last, l := range out {
		m := expectRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		e := readmeExpect{Line: last + 1, Code: m[2], Status: http.StatusOK}
		if m[3] != "" {
			e.Status, _ = strconv.Atoi(m[3])
		}
		expects = append(expects, e)
		first := last
		for first > 0 && continues(out[first-1]) {
			first--
		}
		out[last] = m[1] + "; RC_EXPECT="
		out[first] = fmt.Sprintf("RC_EXPECT='%s %d %d'; %s", e.Code, e.Status, e.Line, out[first])
	}
	out[0] = ". " + strconv.Quote(prelude)
	return strings.Join(out, "\n") + "\n", expects, nil
}

// talksToServer reports whether a ```sh block's lines send requests to the
// server: they name its address, or call one of funcs.
func talksToServer(lines []string, funcs []string) bool {
	for _, l := range lines {
		if strings.Contains(l, "localhost:8080") {
			return true
		}
		for _, w := range wordRE.FindAllString(l, -1) {
			if slices.Contains(funcs, w) {
				return true
			}
		}
	}
	return false
}

// continues reports whether a script line goes on on the next line.
func continues(line string) bool {
	l := strings.TrimRight(line, " \t")
	return strings.HasSuffix(l, `\`) || strings.HasSuffix(l, "|") || strings.HasSuffix(l, "&&")
}

// TestREADMEExamples runs every example of the README, in order, against a
// fresh `rollcall dev`, as a reader would after `make run`.
func TestREADMEExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs the README's examples")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's examples need %s, which is not installed: apt-get install curl jq, or run make test, which installs them", tool)
		}
	}
	t.Parallel()
	began := time.Now()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	require.NoError(t, err)

	work := t.TempDir()
	require.NoError(t, os.Symlink(examples, filepath.Join(work, "examples")))
	srv := startDev(t, work)

	scratch := t.TempDir()
	prelude := filepath.Join(scratch, "prelude.sh")
	require.NoError(t, os.WriteFile(prelude, []byte(readmePrelude), 0o644))
	script, expects, err := readmeScript(string(readme), srv.addr, prelude)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(scratch, "readme.sh"), []byte(script), 0o644))
	failed, seen := filepath.Join(scratch, "failed"), filepath.Join(scratch, "seen")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", filepath.Join(scratch, "readme.sh"))
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "RC_FAILED="+failed, "RC_SEEN="+seen, "RC_TMP="+scratch,
		"NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1")
	cmd.WaitDelay = 10 * time.Second
	transcript := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = transcript, transcript
	err = cmd.Run()
	if err != nil || t.Failed() || testing.Verbose() {
		t.Logf("the README's examples said:\n%s", transcript)
	}
	require.NoError(t, err, "the README's examples failed (see README.md:LINE above)")
	b, _ := os.ReadFile(failed)
	require.Empty(t, strings.TrimSpace(string(b)), "README lines whose answers were errors")

	b, _ = os.ReadFile(seen)
	ran := strings.Fields(string(b))
	for _, e := range expects {
		require.Contains(t, ran, strconv.Itoa(e.Line), "README.md:%d expects %s, but sent no request", e.Line, e.Code)
	}
	t.Logf("README examples passed in %v (%d expected errors)", time.Since(began).Round(time.Second), len(expects))
}

// devServer is a `rollcall dev` process.
type devServer struct {
	addr string // host:port
	logs *syncBuffer
}

// startDev starts `rollcall dev` (this test binary) with a fresh database,
// its data folder in work/.data, on a free port, and waits for its banner.
func startDev(t *testing.T, work string) *devServer {
	t.Helper()
	out, logs := &syncBuffer{}, &syncBuffer{}
	cmd := exec.Command(os.Args[0], "dev", "--data-dir", filepath.Join(work, ".data"))
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "ROLLCALL_TEST_MAIN=1", "DATABASE_URL="+testdb.URL(t), "PORT=0",
		"ROLLCALL_LOG_FORMAT=text", "ROLLCALL_DB_MAX_CONNS=10")
	cmd.Stdout, cmd.Stderr = out, logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("rollcall dev's logs:\n%s", logs)
		}
	})

	banner := regexp.MustCompile(`GraphiQL\s+http://localhost:(\d+)/`)
	deadline := time.Now().Add(2 * time.Minute)
	var port string
	for port == "" {
		if m := banner.FindStringSubmatch(out.String()); m != nil {
			port = m[1]
			break
		}
		select {
		case <-exited:
			t.Fatalf("rollcall dev exited before its banner:\n%s\n%s", out, logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollcall dev printed no banner in 2 minutes:\n%s\n%s", out, logs)
		}
	}
	addr := "localhost:" + port
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 50*time.Millisecond, "rollcall dev is not ready")
	_, err := os.Stat(filepath.Join(work, ".data", "admin-token"))
	require.NoError(t, err, "rollcall dev saved no admin token")
	return &devServer{addr: addr, logs: logs}
}

// TestREADMEErrorCodes: the README lists every error code a client can
// see, one line each, as "- `CODE`: meaning (what the client should do)",
// exactly internal/apperr's codes.
func TestREADMEErrorCodes(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	item := regexp.MustCompile("^- `([A-Z][A-Z0-9_]*)`: (.*)$")
	format := regexp.MustCompile(`^\S.* \(.+\)\.?$`)
	var listed []string
	for i, l := range strings.Split(string(readme), "\n") {
		m := item.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		require.Regexp(t, format, m[2], "README.md:%d: write \"- `CODE`: meaning (what the client should do)\" on one line", i+1)
		require.NotContains(t, listed, m[1], "README.md:%d: %s is listed twice", i+1, m[1])
		listed = append(listed, m[1])
	}
	var codes []string
	for _, c := range apperr.Codes {
		codes = append(codes, string(c))
	}
	slices.Sort(listed)
	slices.Sort(codes)
	require.Equal(t, codes, listed, "the README's error codes (under Using the API) are not internal/apperr's Code constants")
}

// TestREADMEScript: how the README becomes a script: which blocks run,
// line for line, and how an expected error is marked.
func TestREADMEScript(t *testing.T) {
	t.Parallel()
	readme := strings.Join([]string{
		"# Title",
		"```sh",
		"make run   # not an example",
		"```",
		"```sh",
		"f() { curl localhost:8080/graphql; }",
		"```",
		"```graphql",
		"query { f }",
		"```",
		"```sh",
		"f",
		"f a \\",
		"  b   # expect: FORBIDDEN",
		"X=$(f |",
		"  jq .)   # expect: UNAUTHENTICATED (HTTP 401)",
		"```",
	}, "\n")
	script, expects, err := readmeScript(readme, "127.0.0.1:1234", "/p.sh")
	require.NoError(t, err)
	require.Equal(t, strings.Join([]string{
		`. "/p.sh"`, "", "", "", "",
		"f() { curl 127.0.0.1:1234/graphql; }",
		"", "", "", "", "",
		"f",
		"RC_EXPECT='FORBIDDEN 200 14'; f a \\",
		"  b; RC_EXPECT=",
		"RC_EXPECT='UNAUTHENTICATED 401 16'; X=$(f |",
		"  jq .); RC_EXPECT=",
		"", "",
	}, "\n"), script)
	require.Equal(t, []readmeExpect{{14, "FORBIDDEN", 200}, {16, "UNAUTHENTICATED", 401}}, expects)
}
