package graph_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/server/servertest"
)

func TestSchedulesThroughGraphQL(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	s.Clock.Set(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))

	var created struct {
		CreateImport struct {
			ID, ScheduleDescription string
			Schedule                struct {
				Days        []string
				Time        string
				TimeZone    string
				Description string
			}
			NextScheduledRunAt string
			RunOnUpload        bool
		}
	}
	s.MustQuery(t, token, `mutation { createImport(input: {name: "Nightly SIS", method: FULL, runOnUpload: false,
			schedule: {time: "02:00", timeZone: "America/Chicago", days: [MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY]}}) {
		id scheduleDescription schedule { days time timeZone description } nextScheduledRunAt runOnUpload } }`, nil, &created)
	c := created.CreateImport
	require.Equal(t, "Weekdays at 02:00 (America/Chicago)", c.ScheduleDescription)
	require.Equal(t, []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}, c.Schedule.Days)
	require.Equal(t, "2026-11-26T08:00:00Z", c.NextScheduledRunAt)

	var updated struct {
		UpdateImport struct {
			ScheduleDescription string
			Schedule            *struct{ Cron string }
			RunOnUpload         bool
		}
	}
	s.MustQuery(t, token, `mutation($id: ID!) { updateImport(id: $id, input: {schedule: {cron: "30 5 * * 6", timeZone: "Europe/London"}, runOnUpload: true}) {
		scheduleDescription schedule { cron } runOnUpload } }`, map[string]any{"id": c.ID}, &updated)
	require.Equal(t, "Cron 30 5 * * 6 (Europe/London)", updated.UpdateImport.ScheduleDescription)
	require.True(t, updated.UpdateImport.RunOnUpload)

	s.MustQuery(t, token, `mutation($id: ID!) { updateImport(id: $id, input: {clearSchedule: true}) { scheduleDescription schedule { cron } runOnUpload } }`,
		map[string]any{"id": c.ID}, &updated)
	require.Equal(t, "Manual", updated.UpdateImport.ScheduleDescription)
	require.Nil(t, updated.UpdateImport.Schedule)

	for _, bad := range []struct{ input, field string }{
		{`{time: "2am", timeZone: "UTC"}`, "input.schedule.time"},
		{`{time: "02:00", timeZone: "Nowhere/Town"}`, "input.schedule.timeZone"},
		{`{time: "02:00", cron: "0 2 * * *", timeZone: "UTC"}`, "input.schedule"},
		{`{cron: "at two", timeZone: "UTC"}`, "input.schedule.cron"},
	} {
		resp := s.Query(t, token, `mutation($id: ID!) { updateImport(id: $id, input: {schedule: `+bad.input+`}) { id } }`, map[string]any{"id": c.ID})
		require.Equal(t, "BAD_USER_INPUT", resp.FirstCode(), string(resp.Body))
		require.Equal(t, bad.field, resp.Errors[0].Extensions["field"])
	}
}

func TestSystemStatusAndAttentionFilter(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	healthy := createImport(t, s, token, "Healthy", "FULL")
	broken := createImport(t, s, token, "Broken", "FULL")
	waiting := createImport(t, s, token, "Waiting", "FULL")
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, token, healthy, studentsCSV).Status)
	require.Equal(t, "FAILED", uploadAndRun(t, s, token, broken, "student_id,first_name\n").Status)
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": waiting}, "w.csv", []byte(studentsCSV))
	require.Empty(t, resp.Errors, string(resp.Body))
	s.Clock.Set(time.Now().Add(5 * time.Minute)) // the waiting file is now overdue

	var list struct {
		Imports struct {
			TotalCount int
			Nodes      []struct {
				Name             string
				AttentionReasons []struct{ Code string }
			}
		}
	}
	s.MustQuery(t, token, `{ imports(needsAttention: true) { totalCount nodes { name attentionReasons { code } } } }`, nil, &list)
	require.Equal(t, 2, list.Imports.TotalCount)
	require.Equal(t, "Broken", list.Imports.Nodes[0].Name)
	require.Equal(t, "LAST_RUN_FAILED", list.Imports.Nodes[0].AttentionReasons[0].Code)
	require.Equal(t, "Waiting", list.Imports.Nodes[1].Name)
	require.Equal(t, "FILE_NOT_RUN", list.Imports.Nodes[1].AttentionReasons[0].Code)
	s.MustQuery(t, token, `{ imports(needsAttention: false) { totalCount nodes { name attentionReasons { code } } } }`, nil, &list)
	require.Equal(t, 1, list.Imports.TotalCount)
	require.Equal(t, "Healthy", list.Imports.Nodes[0].Name)

	var st struct {
		SystemStatus struct {
			ImportsNeedingAttention []struct{ Name string }
			RecentProblemRuns       []struct {
				Status string
				Import struct{ Name string }
			}
			OldestDataImport     struct{ Name string }
			OldestDataAgeSeconds int
			ActiveRuns           []struct{ ID string }
		}
	}
	s.MustQuery(t, token, `{ systemStatus { importsNeedingAttention { name } recentProblemRuns { status import { name } }
		oldestDataImport { name } oldestDataAgeSeconds activeRuns { id } } }`, nil, &st)
	require.Len(t, st.SystemStatus.ImportsNeedingAttention, 2)
	require.Len(t, st.SystemStatus.RecentProblemRuns, 1)
	require.Equal(t, "Broken", st.SystemStatus.RecentProblemRuns[0].Import.Name)
	require.Equal(t, "Healthy", st.SystemStatus.OldestDataImport.Name)
	require.GreaterOrEqual(t, st.SystemStatus.OldestDataAgeSeconds, 290)
	require.Empty(t, st.SystemStatus.ActiveRuns)
}

func TestRunProgressSubscription(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "FULL")
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id}, "big.csv", []byte(districtgen.File(districtgen.Options{Rows: 150000, Seed: 1})))
	require.Empty(t, resp.Errors, string(resp.Body))

	// The run takes a few seconds (a first load of 150,000 rows): the
	// subscription opens long before it ends.
	var rn struct{ RunImport struct{ ID string } }
	s.MustQuery(t, token, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id}, &rn)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	updates := servertest.Subscribe(ctx, t, s.URL, token, `subscription($id: ID!) { importRunUpdated(id: $id) {
		id status progress { phase rowsProcessed rowsTotal } rowsRead created } }`, map[string]any{"id": rn.RunImport.ID})

	type update struct {
		ImportRunUpdated struct {
			ID, Status string
			Progress   *struct {
				Phase         string
				RowsProcessed int
				RowsTotal     *int
			}
			RowsRead, Created int
		}
	}
	var got []update
	for data := range updates {
		var u update
		require.NoError(t, json.Unmarshal(data, &u))
		got = append(got, u)
	}
	require.NotEmpty(t, got)
	last := got[len(got)-1].ImportRunUpdated
	require.Equal(t, "SUCCEEDED", last.Status, "the subscription ends with the run")
	require.Equal(t, 150000, last.Created)
	sawProgress := false
	for _, u := range got {
		if p := u.ImportRunUpdated.Progress; p != nil && p.RowsProcessed > 0 {
			sawProgress = true
			require.Equal(t, "RUNNING", u.ImportRunUpdated.Status)
			require.Equal(t, 150000, *p.RowsTotal)
		}
	}
	require.True(t, sawProgress, "progress while running: %+v", got)

	// A subscription without a token is refused.
	resp = s.Query(t, "", `subscription { importRunUpdated(id: "1") { id } }`, nil)
	require.NotEmpty(t, resp.Errors)
}
