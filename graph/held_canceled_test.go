package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/attention"
	"github.com/rollcall/rollcall/server/servertest"
)

// runCounts are a run's counts, as ImportRun exposes them.
type runCounts struct{ RowsRead, Created, Updated, Unchanged, Removed, Restored, Rejected int }

func countsOf(r servertest.RunState) runCounts {
	return runCounts{r.RowsRead, r.Created, r.Updated, r.Unchanged, r.Removed, r.Restored, r.Rejected}
}

// TestHeldRunShowsWhatApprovalApplies: a run held for removing too much
// shows, while HELD, every count it would apply and a sample of the
// changes, with nothing applied; approving it applies exactly that.
func TestHeldRunShowsWhatApprovalApplies(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS students", "FULL")
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, token, id, studentsCSV).Status)

	// S006-S010 gone (5 of 10: over the 10% guard), S005 changed, S011 new.
	lines := strings.Split(studentsCSV, "\n")
	next := strings.Join(lines[:6], "\n") + "\n" + "S011,Kai,Nash,1,Adams Elementary,English,612-555-0111,,Room 2\n"
	next = strings.Replace(next, "Room 7", "Room 8", 1)
	held := uploadAndRun(t, s, token, id, next)
	require.Equal(t, "HELD", held.Status, held.Message)
	require.Equal(t, runCounts{RowsRead: 6, Created: 1, Updated: 1, Unchanged: 4, Removed: 5}, countsOf(held),
		"a held run shows what it would apply")

	var st struct {
		Import struct {
			RecipientCount int
			LastRun        struct{ ID string }
		}
		ImportRun struct {
			Changes []struct{ ExternalID, Action string }
		}
	}
	q := `query($id: ID!, $run: ID!) { import(id: $id) { recipientCount lastRun { id } }
		importRun(id: $run) { changes { externalId action } } }`
	s.MustQuery(t, token, q, map[string]any{"id": id, "run": held.ID}, &st)
	require.Equal(t, 10, st.Import.RecipientCount, "nothing applied while held")
	require.NotEqual(t, held.ID, st.Import.LastRun.ID)
	actions := map[string]int{}
	for _, c := range st.ImportRun.Changes {
		actions[c.Action]++
	}
	require.Equal(t, map[string]int{"CREATE": 1, "UPDATE": 1, "REMOVE": 5}, actions)

	var ap struct {
		ApproveImportRun struct {
			Status     string
			FinishedAt *string
		}
	}
	s.MustQuery(t, token, `mutation($id: ID!) { approveImportRun(id: $id) { status finishedAt } }`, map[string]any{"id": held.ID}, &ap)
	require.Equal(t, "QUEUED", ap.ApproveImportRun.Status)
	require.Nil(t, ap.ApproveImportRun.FinishedAt, "an approved run is queued again, not finished")
	approved := s.WaitRun(t, token, held.ID)
	require.Equal(t, "SUCCEEDED", approved.Status, approved.Message)
	require.Equal(t, countsOf(held), countsOf(approved), "approval applies what the held run showed")
	s.MustQuery(t, token, q, map[string]any{"id": id, "run": held.ID}, &st)
	require.Equal(t, 6, st.Import.RecipientCount)
	require.Equal(t, held.ID, st.Import.LastRun.ID)
	require.Len(t, st.ImportRun.Changes, 7)
}

// TestCanceledFileIsNotRunAgain: once an administrator cancels a held run,
// the schedule does not run its file again; the import needs attention
// (LATEST_FILE_CANCELED) until a new file arrives, which the schedule runs.
func TestCanceledFileIsNotRunAgain(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	ctx := context.Background()
	day := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s.Clock.Set(day)
	var created struct{ CreateImport struct{ ID string } }
	s.MustQuery(t, token, `mutation { createImport(input: {name: "Nightly SIS", method: FULL,
		schedule: {time: "02:00", timeZone: "UTC"}}) { id } }`, nil, &created)
	id := created.CreateImport.ID
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, token, id, studentsCSV).Status)

	type runNode struct{ ID, Status, Trigger string }
	var imp struct {
		Import struct {
			NeedsAttention   bool
			AttentionReasons []struct {
				Code string
				Run  *struct{ ID string }
			}
			ActiveRun *struct{ ID string }
			Runs      struct {
				TotalCount int
				Nodes      []runNode
			}
		}
	}
	importQuery := `query($id: ID!) { import(id: $id) { needsAttention attentionReasons { code run { id } }
		activeRun { id } runs(first: 20) { totalCount nodes { id status trigger } } } }`
	state := func() {
		t.Helper()
		s.MustQuery(t, token, importQuery, map[string]any{"id": id}, &imp)
	}
	codes := func() []string {
		var out []string
		for _, r := range imp.Import.AttentionReasons {
			out = append(out, r.Code)
		}
		return out
	}
	fire := func(at time.Time) {
		t.Helper()
		s.Clock.Set(at)
		_, err := s.Services.Imports.FireSchedules(ctx)
		require.NoError(t, err)
	}
	listed := func() map[string][]string {
		t.Helper()
		var list struct {
			Imports struct {
				Nodes []struct {
					ID               string
					AttentionReasons []struct{ Code string }
				}
			}
		}
		s.MustQuery(t, token, `{ imports(needsAttention: true) { nodes { id attentionReasons { code } } } }`, nil, &list)
		out := map[string][]string{}
		for _, n := range list.Imports.Nodes {
			for _, r := range n.AttentionReasons {
				out[n.ID] = append(out[n.ID], r.Code)
			}
		}
		return out
	}

	// A truncated file waits for the slot, which runs it: held.
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id}, "nightly.csv", []byte(strings.Join(strings.Split(studentsCSV, "\n")[:4], "\n")+"\n"))
	require.Empty(t, resp.Errors, string(resp.Body))
	fire(day.Add(14*time.Hour + 5*time.Minute)) // 26 Nov 02:05
	state()
	require.NotNil(t, imp.Import.ActiveRun, "the slot runs the waiting file")
	held := s.WaitRun(t, token, imp.Import.ActiveRun.ID)
	require.Equal(t, "HELD", held.Status)
	require.Equal(t, "SCHEDULE", held.Trigger)
	require.Equal(t, runCounts{RowsRead: 3, Unchanged: 3, Removed: 7}, countsOf(held))

	var cn struct{ CancelImportRun struct{ Status string } }
	s.MustQuery(t, token, `mutation($id: ID!) { cancelImportRun(id: $id) { status } }`, map[string]any{"id": held.ID}, &cn)
	require.Equal(t, "CANCELED", cn.CancelImportRun.Status)
	state()
	require.Equal(t, []string{"LATEST_FILE_CANCELED"}, codes())
	require.Equal(t, held.ID, imp.Import.AttentionReasons[0].Run.ID)
	require.Equal(t, runCounts{RowsRead: 3, Unchanged: 3, Removed: 7}, countsOf(s.Run(t, token, held.ID)),
		"a canceled held run keeps what it would have applied")
	runsBefore := imp.Import.Runs.TotalCount

	// The next slots do not run the canceled file again.
	fire(day.Add(38*time.Hour + 5*time.Minute)) // 27 Nov 02:05
	fire(day.Add(62*time.Hour + 5*time.Minute)) // 28 Nov 02:05
	state()
	require.Nil(t, imp.Import.ActiveRun)
	require.Equal(t, runsBefore, imp.Import.Runs.TotalCount, "no new run: %+v", imp.Import.Runs.Nodes)
	require.True(t, imp.Import.NeedsAttention)
	require.Contains(t, codes(), "LATEST_FILE_CANCELED")
	require.Contains(t, listed()[id], "LATEST_FILE_CANCELED")

	// A new file clears it; the next slot runs that file.
	resp = s.Upload(t, token, uploadMutation, map[string]any{"id": id}, "nightly.csv", []byte(studentsCSV))
	require.Empty(t, resp.Errors, string(resp.Body))
	state()
	require.NotContains(t, codes(), "LATEST_FILE_CANCELED")
	require.NotContains(t, listed(), id)
	fire(day.Add(86*time.Hour + 5*time.Minute)) // 29 Nov 02:05
	state()
	require.Equal(t, runsBefore+1, imp.Import.Runs.TotalCount)
	last := imp.Import.Runs.Nodes[0]
	require.Equal(t, "SCHEDULE", last.Trigger)
	require.Equal(t, "SUCCEEDED", s.WaitRun(t, token, last.ID).Status)
}

// TestAttentionCodesMatchTheSchema: the reasons internal/attention gives
// are the AttentionCode enum's values, no more, no fewer.
func TestAttentionCodesMatchTheSchema(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	var out struct {
		Type struct{ EnumValues []struct{ Name string } } `json:"__type"`
	}
	s.MustQuery(t, token, `{ __type(name: "AttentionCode") { enumValues { name } } }`, nil, &out)
	var schema, goCodes []string
	for _, v := range out.Type.EnumValues {
		schema = append(schema, v.Name)
	}
	for _, c := range attention.Codes {
		goCodes = append(goCodes, string(c))
	}
	require.ElementsMatch(t, goCodes, schema)
}
