package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/server/servertest"
)

// node is a `rollcall serve` process (this test binary, re-executed).
// node is a rollcall process, and a client of it.
type node struct {
	servertest.Client
	name string
	cmd  *exec.Cmd
	logs *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startNode(t *testing.T, name, dbURL string, workers int) *node {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	n := &node{Client: servertest.Client{URL: fmt.Sprintf("http://127.0.0.1:%d", port), HTTP: http.DefaultClient},
		name: name, logs: &syncBuffer{}}
	n.cmd = exec.Command(os.Args[0], "serve")
	n.cmd.Env = append(os.Environ(), "ROLLCALL_TEST_MAIN=1", "DATABASE_URL="+dbURL, "PORT="+strconv.Itoa(port),
		"ROLLCALL_WORKERS="+strconv.Itoa(workers), "ROLLCALL_DB_MAX_CONNS=10", "ROLLCALL_LOG_LEVEL=info",
		"ROLLCALL_SCHEDULER_INTERVAL=1s", "ROLLCALL_RUN_STALE_AFTER=5s")
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	require.NoError(t, n.cmd.Start())
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = n.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = n.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("logs of node %s (%d bytes):\n%s", n.name, len(n.logs.String()), n.logs.String())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(n.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "node %s not ready", name)
	return n
}

// TestCluster runs three nodes on one database, the way a district runs
// Rollcall: an API-only node and two worker nodes.
func TestCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	ctx := context.Background()
	url := testdb.URL(t)
	d := testdb.Open(t, url)
	a, err := app.New(d, app.Options{})
	require.NoError(t, err)
	_, token, err := a.Services.Users.BootstrapAdmin(ctx, "admin@district.test", "Admin", "cluster test")
	require.NoError(t, err)

	api := startNode(t, "api", url, 0)
	w1 := startNode(t, "worker1", url, 1)
	w2 := startNode(t, "worker2", url, 1)
	nodes := []*node{api, w1, w2}

	var created struct{ CreateImport struct{ ID string } }
	api.MustQuery(t, token, `mutation { createImport(input: {name: "SIS", method: FULL}) { id } }`, nil, &created)
	id := created.CreateImport.ID
	// The import holds about 1,000 of a district's 300,000 students; the
	// same ones, most of them changed, arrive for the schedule; then the
	// whole district.
	district := districtgen.Options{Rows: 300000, Seed: 5}
	kept := func(changed float64) districtgen.Change {
		return districtgen.Change{ChangedPct: changed, RemovedPct: 99.67, AddedPct: -1}
	}
	api.UploadFile(t, token, id, districtgen.NextDayFile(district, kept(-1)), false)

	// runConcurrently sends n runImport requests at once, spread over the
	// nodes, and returns each answer with when it was asked and answered.
	runConcurrently := func(t *testing.T, n int) []runRequest {
		var wg sync.WaitGroup
		out := make([]runRequest, n)
		for i := range out {
			wg.Go(func() {
				out[i].start = time.Now()
				out[i].resp = nodes[i%3].Query(t, token, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id})
				out[i].end = time.Now()
			})
		}
		wg.Wait()
		return out
	}

	t.Run("OneRunWhileOneIsActive", func(t *testing.T) {
		// The worker that takes the run is held at its first write, so the
		// run stays active until every answer is in: exactly one request
		// can win, and every other names it.
		hold := testdb.HoldWrites(t, d, "recipients")
		answers := runConcurrently(t, 20)
		accepted := checkRunAnswers(t, d, answers)
		require.Len(t, accepted, 1)
		require.Contains(t, hold.Waiter(t, time.Minute), "rollcall/", "a worker node applies the run")
		hold.Release()
		require.Equal(t, "SUCCEEDED", api.WaitRun(t, token, accepted[0].ID).Status)
		var n int
		require.NoError(t, d.NewRaw("SELECT count(*) FROM import_runs").Scan(ctx, &n))
		require.Equal(t, 1, n, "exactly one run applied")
	})

	t.Run("ConcurrentRunsNeverOverlap", func(t *testing.T) {
		// Free-running: a run may end while requests are still arriving,
		// and a later request may then rightly start the next. What is
		// promised is that accepted runs never overlap.
		answers := runConcurrently(t, 20)
		accepted := checkRunAnswers(t, d, answers)
		require.NotEmpty(t, accepted)
		for _, r := range accepted {
			done := api.WaitRun(t, token, r.ID)
			require.Equal(t, "SUCCEEDED", done.Status, done.Message)
		}
		accepted = runTimes(t, d, accepted)
		for i := 1; i < len(accepted); i++ {
			prev, cur := accepted[i-1], accepted[i]
			require.False(t, cur.QueuedAt.Before(*prev.FinishedAt),
				"run %s was queued at %v, before run %s ended at %v", cur.ID, cur.QueuedAt, prev.ID, *prev.FinishedAt)
		}
	})

	t.Run("ScheduleFiresOnce", func(t *testing.T) {
		// Every three seconds; the first slot after the upload takes the
		// file, later slots find none.
		api.MustQuery(t, token, `mutation($id: ID!) { updateImport(id: $id, input: {schedule: {cron: "*/3 * * * * *", timeZone: "UTC"}}) { id } }`,
			map[string]any{"id": id}, nil)
		api.UploadFile(t, token, id, districtgen.NextDayFile(district, kept(100)), false)
		var runs []servertest.RunState
		require.Eventually(t, func() bool {
			runs = scheduledRuns(t, d)
			return len(runs) == 1 && runs[0].Status == "SUCCEEDED"
		}, 30*time.Second, 100*time.Millisecond)
		// Let the scheduler pass two more slots (or one, if it falls behind
		// and collapses them): the file has been taken, so none runs.
		var nextAt time.Time
		require.NoError(t, d.NewRaw("SELECT schedule_next_at FROM imports WHERE id = ?", id).Scan(ctx, &nextAt))
		require.Eventually(t, func() bool {
			var now time.Time
			require.NoError(t, d.NewRaw("SELECT schedule_next_at FROM imports WHERE id = ?", id).Scan(ctx, &now))
			return !now.Before(nextAt.Add(6 * time.Second))
		}, 30*time.Second, 100*time.Millisecond)
		require.Len(t, scheduledRuns(t, d), 1, "one file, one scheduled run")
		var imp struct {
			Import struct{ AttentionReasons []struct{ Code string } }
		}
		api.MustQuery(t, token, `query($id: ID!) { import(id: $id) { attentionReasons { code } } }`, map[string]any{"id": id}, &imp)
		require.Equal(t, "FILE_MISSING", imp.Import.AttentionReasons[0].Code)
		api.MustQuery(t, token, `mutation($id: ID!) { updateImport(id: $id, input: {clearSchedule: true}) { id } }`, map[string]any{"id": id}, nil)
	})

	t.Run("KilledWorkerIsRecoveredElsewhere", func(t *testing.T) {
		before := snapshot(t, d)
		hold := testdb.HoldWrites(t, d, "recipients")
		runID := api.UploadFile(t, token, id, districtgen.File(district), true)

		// Watch it from the API node, which runs nothing itself.
		subCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		updates := servertest.Subscribe(subCtx, t, api.URL, token,
			`subscription($id: ID!) { importRunUpdated(id: $id) { status attempts progress { rowsProcessed } } }`, map[string]any{"id": runID})

		// The worker taking the run is held once it has read the file and
		// comes to write recipients; that worker is killed there.
		pid, err := strconv.Atoi(strings.TrimPrefix(hold.Waiter(t, 2*time.Minute), "rollcall/"))
		require.NoError(t, err)
		var progressed bool
		for !progressed {
			select {
			case data := <-updates:
				var u struct {
					ImportRunUpdated struct{ Progress *struct{ RowsProcessed int } }
				}
				require.NoError(t, json.Unmarshal(data, &u))
				progressed = u.ImportRunUpdated.Progress != nil && u.ImportRunUpdated.Progress.RowsProcessed > 0
			case <-subCtx.Done():
				t.Fatal("no progress reached the API node")
			}
		}
		var victim *node
		for _, n := range []*node{w1, w2} {
			if n.cmd.Process.Pid == pid {
				victim = n
			}
		}
		require.NotNil(t, victim, "the run is applied on a worker node (pid %d)", pid)
		require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
		_ = victim.cmd.Wait()
		// Its database session, still waiting, notices it is gone once it
		// gets the lock, and rolls back: nothing of the killed run is in
		// the data.
		hold.Release()
		require.Eventually(t, func() bool {
			var n int
			require.NoError(t, d.NewRaw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", fmt.Sprintf("rollcall/%d", pid)).Scan(ctx, &n))
			return n == 0
		}, time.Minute, 50*time.Millisecond, "the killed worker's sessions end")
		require.Equal(t, before, snapshot(t, d))

		// The other worker takes the run over and finishes it, well within
		// two minutes (the file takes longer than the staleness window).
		done := api.WaitRunWithin(t, token, runID, 2*time.Minute)
		require.Equal(t, "SUCCEEDED", done.Status, done.Message)
		require.Equal(t, 2, done.Attempts)
		want := districtgen.NextDayCounts(district, kept(100))
		require.Equal(t, want.Removed, done.Created)
		require.Equal(t, want.Changed, done.Updated)

		// The subscription saw it through to the end.
		var last string
		for data := range updates {
			var u struct{ ImportRunUpdated struct{ Status string } }
			require.NoError(t, json.Unmarshal(data, &u))
			last = u.ImportRunUpdated.Status
		}
		require.Equal(t, "SUCCEEDED", last)
	})
}

type runRequest struct {
	start, end time.Time
	resp       *servertest.Response
}

type runTime struct {
	ID         string
	QueuedAt   time.Time
	FinishedAt *time.Time
}

// runTimes reads when each run was queued and ended, in the order queued.
func runTimes(t *testing.T, d *db.DB, runs []runTime) []runTime {
	t.Helper()
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	var out []runTime
	require.NoError(t, d.NewRaw(`SELECT id::text AS id, queued_at, finished_at FROM import_runs
		WHERE id::text IN (?) ORDER BY queued_at`, bun.List(ids)).Scan(context.Background(), &out))
	require.Len(t, out, len(runs))
	return out
}

// checkRunAnswers checks the answers to concurrent runImport requests and
// returns the runs they started: every other answer is a CONFLICT naming the
// run that was active when the request looked.
//
// "Active when it looked" is checked with what the database records: a
// request that names run R saw R queued and not yet finished at some moment
// t of its flight, and a run queued after R can only have been queued after
// R's end was committed, so after t. Hence R was queued before the request
// ended, and no run was queued between R and the request's start. (R's
// finished_at cannot bound t: it is taken before its transaction commits.)
func checkRunAnswers(t *testing.T, d *db.DB, answers []runRequest) []runTime {
	t.Helper()
	var accepted []runTime
	type refusal struct {
		runID      string
		start, end time.Time
	}
	var refusals []refusal
	for _, a := range answers {
		if len(a.resp.Errors) == 0 {
			var out struct{ RunImport struct{ ID string } }
			require.NoError(t, json.Unmarshal(a.resp.Data, &out))
			accepted = append(accepted, runTime{ID: out.RunImport.ID})
			continue
		}
		e := a.resp.Errors[0]
		require.Equal(t, "CONFLICT", e.Extensions["code"], e.Message)
		active, _ := e.Extensions["activeRunId"].(string)
		require.NotEmpty(t, active, "a refusal names the active run: %s", e.Message)
		require.Contains(t, e.Message, "import run "+active+" is ")
		refusals = append(refusals, refusal{active, a.start, a.end})
	}
	var runs []runTime
	require.NoError(t, d.NewRaw(`SELECT id::text AS id, queued_at, finished_at FROM import_runs ORDER BY queued_at`).
		Scan(context.Background(), &runs))
	queued := map[string]time.Time{}
	for _, r := range runs {
		queued[r.ID] = r.QueuedAt
	}
	// Times are the one machine's clock, stored to the microsecond.
	const slack = time.Millisecond
	for _, r := range refusals {
		at, ok := queued[r.runID]
		require.True(t, ok, "the run a refusal names exists")
		require.False(t, at.After(r.end.Add(slack)), "run %s was queued after the refusal naming it", r.runID)
		for _, later := range runs {
			if later.QueuedAt.After(at) {
				require.True(t, later.QueuedAt.After(r.start.Add(-slack)),
					"run %s was queued after run %s and before the request naming %s began", later.ID, r.runID, r.runID)
			}
		}
	}
	return accepted
}

func scheduledRuns(t *testing.T, d *db.DB) []servertest.RunState {
	var out []servertest.RunState
	require.NoError(t, d.NewRaw(`SELECT id::text AS id, status, trigger, message, created, updated, attempts
		FROM import_runs WHERE trigger = 'SCHEDULE' ORDER BY id`).Scan(context.Background(), &out))
	return out
}

func snapshot(t *testing.T, d *db.DB) []string {
	var rows []string
	require.NoError(t, d.NewRaw(`SELECT r::text FROM recipients r ORDER BY id`).Scan(context.Background(), &rows))
	return rows
}
