package graph_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/testkit/gqlws"
	"github.com/rollcall/rollcall/internal/testkit/nodetool"
	"github.com/rollcall/rollcall/server/servertest"
)

// The npm GraphQL clients front ends use, driven by node against a real
// server: graphql-request, Apollo Client 4 with apollo-upload-client and its
// persisted-queries link (tools/js-clients), and the graphql-ws client with
// its default settings (tools/graphql-ws-client/subscribe.mjs). The scripts
// report what the clients did and returned; these tests judge it.
//
// The clients need node and their node_modules (make test-deps, or
// tools/js-clients/install.sh and tools/graphql-ws-client/install.sh).
// Without them the tests skip themselves, unless JSCLIENTS_REQUIRE=1 (and,
// for graphql-ws, GQLWS_REQUIRE=1) turns the skip into a failure.

// jsClientsRequireEnv, when set to "1", turns the js-clients skips into
// failures (for CI).
const jsClientsRequireEnv = "JSCLIENTS_REQUIRE"

// jsDeadline bounds one client script: outcomes are awaited, never slept
// for; this is only how long a busy 2-core machine may take.
const jsDeadline = 3 * time.Minute

func jsClient(script, pkg string) nodetool.Tool {
	return nodetool.Tool{Name: "JS clients (" + script + ")", Dir: "tools/js-clients", Script: script,
		Package: pkg, RequireEnv: jsClientsRequireEnv}
}

var (
	graphqlRequestTool = jsClient("graphql-request.mjs", "graphql-request")
	apolloUploadTool   = jsClient("apollo-upload.mjs", "apollo-upload-client")
	apqTool            = jsClient("apq.mjs", "@apollo/client")
	wsSubscribeTool    = nodetool.Tool{Name: "graphql-ws client (subscribe.mjs)", Dir: "tools/graphql-ws-client",
		Script: "subscribe.mjs", Package: "graphql-ws", RequireEnv: gqlws.RequireEnv}
)

// nodeScript is a tool's script, found (or the test skipped) before the
// test starts its server.
type nodeScript struct{ node, dir, script string }

func findScript(t *testing.T, tool nodetool.Tool) nodeScript {
	t.Helper()
	node, dir := tool.Find(t)
	return nodeScript{node: node, dir: dir, script: tool.Script}
}

// run runs the script with args, calls onLine (if not nil) with each line
// of its output as it comes, and returns the whole output, failing t if the
// script does not exit 0 within jsDeadline. The output is logged if t fails
// (or JSCLIENTS_LOG=1).
func (s nodeScript) run(t *testing.T, onLine func([]byte), args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), jsDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.node, append([]string{filepath.Join(s.dir, s.script)}, args...)...)
	cmd.Dir = s.dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "start %s", s.script)
	waited := false
	defer func() { // when t fails while reading
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("JSCLIENTS_LOG") == "1" {
			t.Logf("%s output:\n%s", s.script, stdout.String())
		}
	})
	lines := bufio.NewScanner(pipe)
	lines.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for lines.Scan() {
		stdout.Write(lines.Bytes())
		stdout.WriteByte('\n')
		if onLine != nil {
			onLine(lines.Bytes())
		}
	}
	waited = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s failed: %v (context: %v)\nstderr:\n%s", s.script, err, ctx.Err(), stderr.String())
	}
	require.NoError(t, lines.Err(), "reading %s's output", s.script)
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", s.script, stderr.String())
	}
	return stdout.Bytes()
}

// report runs a tools/js-clients script with its JSON options and decodes
// its one-object report into v.
func (s nodeScript) report(t *testing.T, opts map[string]any, v any) {
	t.Helper()
	arg, err := json.Marshal(opts)
	require.NoError(t, err)
	out := s.run(t, nil, string(arg))
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s: unreadable report: %v\n%s", s.script, err, out)
	}
}

// jsError is an error a client threw, as tools/js-clients/lib.mjs describes it.
type jsError struct {
	Name     string             `json:"name"`
	Message  string             `json:"message"`
	Status   int                `json:"status"` // when the client kept the HTTP status
	Errors   []servertest.Error `json:"errors"`
	BodyText string             `json:"bodyText"`
}

// code is the first GraphQL error's extensions.code.
func (e *jsError) code(t *testing.T) string {
	t.Helper()
	require.NotNil(t, e, "no error")
	require.NotEmpty(t, e.Errors, "no GraphQL errors in %+v", e)
	return e.Errors[0].Code()
}

// jsRequest is an HTTP request a client made, with its response (lib.mjs's
// recordingFetch).
type jsRequest struct {
	Method  string            `json:"method"`
	Params  map[string]string `json:"params"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Form    []string          `json:"form"`
	Resp    struct {
		Status      int             `json:"status"`
		ContentType string          `json:"contentType"`
		Body        json.RawMessage `json:"body"`
	} `json:"response"`
}

// studentRows returns a CSV file of n students for a recipient import whose
// rows at the given 1-based positions have an invalid e-mail address (and
// are rejected), and the line numbers of those rows (the header is line 1).
func studentRows(n int, bad ...int) (csv string, badLines []int) {
	isBad := map[int]bool{}
	for _, i := range bad {
		isBad[i] = true
		badLines = append(badLines, i+1)
	}
	var b strings.Builder
	b.WriteString("student_id,first_name,last_name,grade,school,home_language,guardian1_phone,guardian1_email,homeroom\n")
	for i := 1; i <= n; i++ {
		email := fmt.Sprintf("parent%d@example.com", i)
		if isBad[i] {
			email = "not-an-email"
		}
		fmt.Fprintf(&b, "J%05d,First%d,Last%d,%d,Lincoln Elementary,English,612-555-%04d,%s,Room %d\n",
			i, i, i, i%12+1, 1000+i%9000, email, i%30+1)
	}
	return b.String(), badLines
}

const badJSToken = "rc_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

// terminalRun lists the statuses after which a run no longer changes.
var terminalRun = map[string]bool{"SUCCEEDED": true, "SUCCEEDED_WITH_ERRORS": true, "FAILED": true, "CANCELED": true}

// TestJSClientsGraphQLRequest: graphql-request sends variables as the
// server expects them (paging through imports with first/after), and a
// front end reads extensions.code from the ClientError it throws: NOT_FOUND
// for a missing import, UNAUTHENTICATED (HTTP 401) for a bad token.
func TestJSClientsGraphQLRequest(t *testing.T) {
	t.Parallel()
	script := findScript(t, graphqlRequestTool)
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	createImport(t, s, token, "SIS students", "FULL")
	createImport(t, s, token, "HR staff", "UPDATE")

	type page struct {
		Imports struct {
			TotalCount int
			Nodes      []struct{ ID, Name, Method string }
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	var report struct {
		Me struct {
			Me struct{ ID, Email, Role string }
		}
		Pages     []page
		NotFound  *jsError
		BadToken  *jsError
		Anonymous *jsError
	}
	script.report(t, map[string]any{"url": s.URL + "/graphql", "token": token, "badToken": badJSToken,
		"missingImportId": "999999"}, &report)

	require.Equal(t, "admin@district.test", report.Me.Me.Email)
	require.Equal(t, "SYSTEM_ADMIN", report.Me.Me.Role)
	require.NotEmpty(t, report.Me.Me.ID)

	// first: 1, then after: the first page's endCursor.
	require.Len(t, report.Pages, 2, "%+v", report.Pages)
	var names []string
	for i, p := range report.Pages {
		require.Equal(t, 2, p.Imports.TotalCount)
		require.Len(t, p.Imports.Nodes, 1, "page %d", i)
		require.Equal(t, i == 0, p.Imports.PageInfo.HasNextPage, "page %d", i)
		names = append(names, p.Imports.Nodes[0].Name+"/"+p.Imports.Nodes[0].Method)
	}
	require.Equal(t, []string{"HR staff/UPDATE", "SIS students/FULL"}, names, "imports by name")

	require.Equal(t, "ClientError", report.NotFound.Name)
	require.Equal(t, 200, report.NotFound.Status)
	require.Equal(t, "NOT_FOUND", report.NotFound.code(t), "%+v", report.NotFound)
	require.Equal(t, []any{"import"}, report.NotFound.Errors[0].Path)

	require.Equal(t, "ClientError", report.BadToken.Name)
	require.Equal(t, 401, report.BadToken.Status)
	require.Equal(t, "UNAUTHENTICATED", report.BadToken.code(t), "%+v", report.BadToken)

	require.Equal(t, "ClientError", report.Anonymous.Name)
	require.Equal(t, "UNAUTHENTICATED", report.Anonymous.code(t), "%+v", report.Anonymous)
}

// TestJSClientsApolloUpload: Apollo Client with apollo-upload-client's
// UploadHttpLink creates an import, uploads a CSV file to it with Run Now
// (a GraphQL multipart request), and polls the run until it has finished:
// the server stored the file as sent and the run's counts are the file's.
// Errors reach the client with their codes: NOT_FOUND for an upload to a
// missing import; the cross-site request guard refuses an upload with
// neither a token nor Apollo-Require-Preflight, and lets one with the
// header through (to be refused for want of a viewer).
func TestJSClientsApolloUpload(t *testing.T) {
	t.Parallel()
	script := findScript(t, apolloUploadTool)
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")

	const rows = 120
	csv, badLines := studentRows(rows, 17, 90)
	path := filepath.Join(t.TempDir(), "students.csv")
	require.NoError(t, os.WriteFile(path, []byte(csv), 0o600))
	sum := sha256.Sum256([]byte(csv))

	type runReport struct {
		ID, Status, Trigger                                                string
		RowsRead, Created, Updated, Unchanged, Removed, Restored, Rejected int
		Message                                                            string
		FinishedAt                                                         *string
		Errors                                                             struct {
			TotalCount int
			Nodes      []struct {
				Line          int
				Column, Value string
			}
		}
	}
	var report struct {
		Created struct {
			CreateImport struct{ ID, Name, Method string }
		}
		Upload struct {
			UploadImportFile struct {
				File struct {
					ID, Name, Sha256 string
					Size, LineCount  int
					Header           []string
				}
				Run *struct{ ID, Status, Trigger string }
			}
		}
		Statuses             []string
		Final                runReport
		Missing              *jsError
		AnonymousNoPreflight *jsError
		AnonymousPreflight   *jsError
		Requests             []jsRequest
	}
	script.report(t, map[string]any{"url": s.URL + "/graphql", "token": token, "csvPath": path,
		"fileName": "students.csv", "importName": "SIS students", "missingImportId": "999999",
		"timeoutMs": (2 * time.Minute).Milliseconds()}, &report)

	require.Equal(t, "SIS students", report.Created.CreateImport.Name)
	require.Equal(t, "FULL", report.Created.CreateImport.Method)

	up := report.Upload.UploadImportFile
	require.Equal(t, "students.csv", up.File.Name)
	require.Equal(t, len(csv), up.File.Size)
	require.Equal(t, hex.EncodeToString(sum[:]), up.File.Sha256, "the server stored the bytes the client sent")
	require.Equal(t, rows+1, up.File.LineCount)
	require.Equal(t, "student_id", up.File.Header[0])
	require.Len(t, up.File.Header, 9)
	require.NotNil(t, up.Run, "runNow: true queues a run")
	require.Equal(t, "MANUAL", up.Run.Trigger)

	// The run as the client last polled it, and as the server has it.
	require.NotEmpty(t, report.Statuses)
	for _, st := range report.Statuses {
		require.Contains(t, []string{"QUEUED", "RUNNING", "SUCCEEDED_WITH_ERRORS"}, st, "statuses seen: %v", report.Statuses)
	}
	final := report.Final
	require.Equal(t, up.Run.ID, final.ID)
	require.Equal(t, "SUCCEEDED_WITH_ERRORS", final.Status, "%+v", final)
	require.Equal(t, "SUCCEEDED_WITH_ERRORS", report.Statuses[len(report.Statuses)-1])
	require.NotNil(t, final.FinishedAt)
	require.Equal(t, rows, final.RowsRead)
	require.Equal(t, rows-len(badLines), final.Created)
	require.Equal(t, len(badLines), final.Rejected)
	require.Zero(t, final.Updated+final.Unchanged+final.Removed+final.Restored, "%+v", final)
	require.Equal(t, len(badLines), final.Errors.TotalCount)
	for i, e := range final.Errors.Nodes {
		require.Equal(t, badLines[i], e.Line)
		require.Equal(t, "guardian1_email", e.Column)
		require.Equal(t, "not-an-email", e.Value)
	}
	server := s.Run(t, token, final.ID)
	require.Equal(t, final.Status, server.Status)
	require.Equal(t, final.Created, server.Created)

	require.Equal(t, "CombinedGraphQLErrors", report.Missing.Name)
	require.Equal(t, "NOT_FOUND", report.Missing.code(t), "%+v", report.Missing)

	// What the upload link sends: a multipart body (operations, map, the
	// file) and only the headers the front end configured; the content type
	// is fetch's (multipart/form-data with its boundary).
	var uploads []jsRequest
	for _, r := range report.Requests {
		if r.Form != nil {
			uploads = append(uploads, r)
		}
	}
	require.Len(t, uploads, 4, "upload, missing import, two anonymous uploads")
	for _, u := range uploads {
		require.Equal(t, "POST", u.Method)
		require.Equal(t, []string{"operations", "map", "1"}, u.Form)
		require.Empty(t, u.Headers["content-type"], "fetch sets multipart/form-data itself")
		require.Empty(t, u.Headers["x-apollo-operation-name"])
	}
	require.Equal(t, "Bearer <token>", uploads[0].Headers["authorization"])
	require.Equal(t, "true", uploads[0].Headers["apollo-require-preflight"])
	t.Logf("apollo-upload-client's upload headers, as configured by the front end: %v", uploads[0].Headers)
	t.Logf("without configuration it sends: %v", uploads[2].Headers)

	// Nothing marks an anonymous upload as non-simple: the cross-site
	// request guard refuses it before anything runs (as a request that needs
	// a token, or as a possible forgery: either way a 4xx with a code).
	require.Empty(t, uploads[2].Headers["authorization"])
	require.Empty(t, uploads[2].Headers["apollo-require-preflight"])
	noPreflight := report.AnonymousNoPreflight
	require.Equal(t, "ServerError", noPreflight.Name, "%+v", noPreflight)
	require.Contains(t, []int{400, 401}, noPreflight.Status, "%+v", noPreflight)
	require.Contains(t, []string{"UNAUTHENTICATED", "BAD_USER_INPUT"}, noPreflight.code(t), "%+v", noPreflight)

	// With Apollo-Require-Preflight it passes that guard, and is refused for
	// want of a viewer.
	require.Equal(t, "true", uploads[3].Headers["apollo-require-preflight"])
	require.Equal(t, 401, report.AnonymousPreflight.Status, "%+v", report.AnonymousPreflight)
	require.Equal(t, "UNAUTHENTICATED", report.AnonymousPreflight.code(t), "%+v", report.AnonymousPreflight)

	// The refused uploads stored nothing: the import's latest file is the
	// one uploaded first.
	var imp struct {
		Import struct{ LatestFile struct{ ID string } }
	}
	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { latestFile { id } } }`,
		map[string]any{"id": report.Created.CreateImport.ID}, &imp)
	require.Equal(t, up.File.ID, imp.Import.LatestFile.ID)
}

// TestJSClientsPersistedQueries: Apollo Client's persisted-queries link
// (Automatic Persisted Queries, with SHA-256 from node:crypto) works with
// the server's APQ extension, over POST and over GET
// (useGETForHashedQueries): the first request carries the hash alone and is
// answered PERSISTED_QUERY_NOT_FOUND, the link retries with the document,
// and from then on the hash alone is enough, for the same client and for a
// new one.
func TestJSClientsPersistedQueries(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			script := findScript(t, apqTool)
			s := servertest.New(t, nil)
			_, token := s.Admin(t, "admin@district.test")

			var report struct {
				Results []struct {
					Me struct{ ID, Email string }
				}
				Requests []jsRequest
				Hashes   []*string
			}
			script.report(t, map[string]any{"url": s.URL + "/graphql", "token": token, "useGET": method == "GET"}, &report)

			require.Len(t, report.Results, 3)
			for _, r := range report.Results {
				require.Equal(t, "admin@district.test", r.Me.Email)
			}

			// Requests: hash only (not found), the retry with the document,
			// then hash only for the second query and for the new client.
			require.Len(t, report.Requests, 4, "requests: %s", mustJSON(t, report.Requests))
			var hash string
			for i, r := range report.Requests {
				body := apqRequestBody(t, r)
				require.Equal(t, 1, body.Extensions.PersistedQuery.Version, "request %d", i)
				require.Len(t, body.Extensions.PersistedQuery.Sha256Hash, 64, "request %d", i)
				if i == 0 {
					hash = body.Extensions.PersistedQuery.Sha256Hash
				}
				require.Equal(t, hash, body.Extensions.PersistedQuery.Sha256Hash, "request %d: the same query, the same hash", i)
				require.Equal(t, "PersistedMe", body.OperationName, "request %d", i)

				var resp struct {
					Data   json.RawMessage    `json:"data"`
					Errors []servertest.Error `json:"errors"`
				}
				require.NoError(t, json.Unmarshal(r.Resp.Body, &resp), "request %d: response %s", i, r.Resp.Body)

				if i == 1 {
					// The retry carries the document, in a POST body however
					// the first went, and its hash is the document's.
					require.Equal(t, "POST", r.Method)
					require.NotEmpty(t, body.Query, "the retry carries the document")
					require.NotNil(t, report.Hashes[i])
					require.Equal(t, hash, *report.Hashes[i], "the link's hash is the SHA-256 of the document it sent")
				} else {
					require.Equal(t, method, r.Method, "request %d", i)
					require.Empty(t, body.Query, "request %d carries the hash alone", i)
				}

				if i == 0 {
					// 200 as gqlgen answers it, or a 4xx as the
					// GraphQL-over-HTTP spec would have a request error
					// answered: the link retries on either.
					require.True(t, r.Resp.Status == 200 || r.Resp.Status >= 400 && r.Resp.Status < 500, "request %d: status %d", i, r.Resp.Status)
					require.Len(t, resp.Errors, 1, "request %d: %s", i, r.Resp.Body)
					require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", resp.Errors[0].Code(), "request %d: %s", i, r.Resp.Body)
				} else {
					require.Equal(t, 200, r.Resp.Status, "request %d: %s", i, r.Resp.Body)
					require.Empty(t, resp.Errors, "request %d: %s", i, r.Resp.Body)
					require.Contains(t, string(resp.Data), `"admin@district.test"`, "request %d", i)
				}
			}
		})
	}
}

type apqBody struct {
	Query         string `json:"query"`
	OperationName string `json:"operationName"`
	Extensions    struct {
		PersistedQuery struct {
			Version    int    `json:"version"`
			Sha256Hash string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	} `json:"extensions"`
}

// apqRequestBody reads a GraphQL request from a POST's JSON body or a GET's
// query parameters.
func apqRequestBody(t *testing.T, r jsRequest) apqBody {
	t.Helper()
	var b apqBody
	switch r.Method {
	case "POST":
		require.NoError(t, json.Unmarshal(r.Body, &b), "body %s", r.Body)
	case "GET":
		require.Empty(t, r.Body)
		b.Query = r.Params["query"]
		b.OperationName = r.Params["operationName"]
		require.NoError(t, json.Unmarshal([]byte(r.Params["extensions"]), &b.Extensions), "params %v", r.Params)
	default:
		t.Fatalf("unexpected method %s", r.Method)
	}
	return b
}

// wsEvent is one line of tools/graphql-ws-client/subscribe.mjs's report.
type wsEvent struct {
	Event   string `json:"event"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Payload struct {
		Data struct {
			ImportRunUpdated *struct {
				ID       string
				Status   string
				Progress *struct {
					Phase         string
					RowsProcessed int
					RowsTotal     *int
				}
				RowsRead, Created, Updated, Unchanged, Removed, Restored, Rejected int
				FinishedAt                                                         *string
			}
		} `json:"data"`
		Errors []servertest.Error `json:"errors"`
	} `json:"payload"`
	Errors    []servertest.Error `json:"errors"`
	Message   string             `json:"message"`
	Attempts  int                `json:"attempts"`
	Connected int                `json:"connected"`
}

// subscribeRunJS runs subscribe.mjs, calls onEvent (if not nil) with each
// event as it comes, and returns every event, the last one last.
func subscribeRunJS(t *testing.T, script nodeScript, wsURL, token, runID string, onEvent func(wsEvent)) []wsEvent {
	t.Helper()
	var events []wsEvent
	script.run(t, func(line []byte) {
		var e wsEvent
		require.NoError(t, json.Unmarshal(line, &e), "line %q", line)
		events = append(events, e)
		if onEvent != nil {
			onEvent(e)
		}
	}, wsURL, token, runID)
	require.NotEmpty(t, events)
	last := events[len(events)-1]
	require.Contains(t, []string{"complete", "error", "storm", "timeout"}, last.Event, "the report ends with a result")
	return events
}

// TestJSClientsGraphQLWS: the graphql-ws client with its default settings
// follows a run to its end (updates in the run's order of states, the last
// one final with the file's counts, then the server completes the
// subscription); with a bad token the server closes with 4403 and the
// client, retrying as it does by default, gives up after a few attempts
// instead of reconnecting in a storm.
func TestJSClientsGraphQLWS(t *testing.T) {
	t.Parallel()

	// The server is API-only: the run stays QUEUED until the test starts a
	// worker node on the same database, once the client has the first
	// update. The client then follows the run as that other node executes
	// it (its changes reach the API node as PostgreSQL notifications).
	t.Run("RunToCompletion", func(t *testing.T) {
		t.Parallel()
		script := findScript(t, wsSubscribeTool)
		s := servertest.New(t, &servertest.Options{Configure: apiOnly})
		_, token := s.Admin(t, "admin@district.test")
		id := createImport(t, s, token, "SIS", "FULL")
		const rows = 2000
		csv, _ := studentRows(rows)
		resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id, "run": true}, "students.csv", []byte(csv))
		var up uploadOut
		resp.Decode(t, &up)
		require.NotNil(t, up.UploadImportFile.Run, string(resp.Body))
		runID := up.UploadImportFile.Run.ID

		workerStarted := false
		events := subscribeRunJS(t, script, s.WSURL(), token, runID, func(e wsEvent) {
			if e.Event != "next" || workerStarted {
				return
			}
			workerStarted = true
			r := e.Payload.Data.ImportRunUpdated
			require.NotNil(t, r, "first update: %+v", e)
			require.Equal(t, "QUEUED", r.Status, "no worker has run it yet")
			worker, err := app.New(s.DB, app.Options{ImportWorkers: 1})
			require.NoError(t, err)
			require.NoError(t, worker.Start(context.Background()))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = worker.Stop(ctx)
			})
		})
		require.True(t, workerStarted, "no update: %s", mustJSON(t, events))
		last := events[len(events)-1]
		require.Equal(t, "complete", last.Event, "events: %s", mustJSON(t, events))
		require.Equal(t, 1, last.Attempts, "one connection")
		require.Equal(t, 1, last.Connected)

		rank := map[string]int{"QUEUED": 0, "RUNNING": 1, "SUCCEEDED": 2}
		var updates []string
		prevRank, prevRows := -1, -1
		var final *wsEvent
		for i := range events {
			e := &events[i]
			switch e.Event {
			case "closed":
				require.Equal(t, 1000, e.Code, "only the client's own close after completion: %+v", e)
			case "next":
				require.Empty(t, e.Payload.Errors, "update %d", len(updates))
				r := e.Payload.Data.ImportRunUpdated
				require.NotNil(t, r, "update %d", len(updates))
				require.Equal(t, runID, r.ID)
				// Each state is one this run can have, never going back.
				rk, ok := rank[r.Status]
				require.True(t, ok, "update %d: status %s", len(updates), r.Status)
				require.GreaterOrEqual(t, rk, prevRank, "updates: %v then %s", updates, r.Status)
				prevRank = rk
				if r.Progress != nil {
					require.GreaterOrEqual(t, r.Progress.RowsProcessed, prevRows, "progress goes forward")
					prevRows = r.Progress.RowsProcessed
				}
				updates = append(updates, r.Status)
				final = e
			}
		}
		t.Logf("updates: %v", updates)
		require.GreaterOrEqual(t, len(updates), 2, "QUEUED, then at least the final state")
		r := final.Payload.Data.ImportRunUpdated
		require.Equal(t, "SUCCEEDED", r.Status, "the last update is the final state")
		require.NotNil(t, r.FinishedAt)
		require.Equal(t, rows, r.RowsRead)
		require.Equal(t, rows, r.Created)
		require.Zero(t, r.Updated+r.Unchanged+r.Removed+r.Restored+r.Rejected, "%+v", r)

		server := s.Run(t, token, runID)
		require.Equal(t, r.Status, server.Status)
		require.Equal(t, r.Created, server.Created)
		require.Equal(t, *r.FinishedAt, *server.FinishedAt)
	})

	// graphql-ws retries a 4403 close (access "might be granted after a
	// retry"): by default 5 times, with a randomised exponential back-off of
	// about 31 to 46 seconds in all. A 1000 close would have it reconnect at
	// once, without end.
	t.Run("BadToken", func(t *testing.T) {
		t.Parallel()
		script := findScript(t, wsSubscribeTool)
		s := servertest.New(t, nil)
		const defaultRetryAttempts = 5

		events := subscribeRunJS(t, script, s.WSURL(), badJSToken, "1", nil)
		last := events[len(events)-1]
		require.Equal(t, "error", last.Event, "events: %s", mustJSON(t, events))
		require.Equal(t, 4403, last.Code, "the subscription fails with the server's close: %+v", last)
		require.True(t, strings.HasPrefix(last.Reason, "Forbidden"), last.Reason)
		require.Zero(t, last.Connected, "no connection is acknowledged")
		require.GreaterOrEqual(t, last.Attempts, 1)
		require.LessOrEqual(t, last.Attempts, 1+defaultRetryAttempts, "a bounded number of attempts, not a storm")
		closes := 0
		for _, e := range events {
			switch e.Event {
			case "closed":
				closes++
				require.Equal(t, 4403, e.Code, "events: %s", mustJSON(t, events))
			case "next":
				t.Fatalf("an update over a refused connection: %+v", e)
			}
		}
		require.Equal(t, last.Attempts, closes, "every attempt ended with 4403")
		t.Logf("attempts with default retry settings: %d", last.Attempts)
	})
}
