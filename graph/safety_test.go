package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/server/servertest"
)

// tableContents is every column of every row of table, in id order (as
// JSON), so tests compare whole states.
func tableContents(t *testing.T, s *servertest.Server, table string) []string {
	t.Helper()
	var rows []string
	err := s.DB.NewRaw("SELECT to_jsonb(x)::text FROM "+table+" AS x ORDER BY x.id").Scan(context.Background(), &rows)
	require.NoError(t, err)
	return rows
}

// requireNoDanglingReferences checks what the foreign keys promise: no
// recipient, list entry, user or run points at a row that is not there.
func requireNoDanglingReferences(t *testing.T, s *servertest.Server) {
	t.Helper()
	var n int
	err := s.DB.NewRaw(`SELECT
		(SELECT count(*) FROM recipients r WHERE r.import_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = r.import_id)) +
		(SELECT count(*) FROM recipients r WHERE r.removed_by_run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM import_runs x WHERE x.id = r.removed_by_run_id)) +
		(SELECT count(*) FROM list_additions a WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE r.id = a.recipient_id)) +
		(SELECT count(*) FROM list_exclusions a WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE r.id = a.recipient_id)) +
		(SELECT count(*) FROM import_runs x WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = x.import_id)) +
		(SELECT count(*) FROM import_runs x WHERE NOT EXISTS (SELECT 1 FROM import_files f WHERE f.id = x.file_id)) +
		(SELECT count(*) FROM import_run_undo u WHERE NOT EXISTS (SELECT 1 FROM recipients r WHERE r.id = u.recipient_id)) +
		(SELECT count(*) FROM users u WHERE u.import_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = u.import_id)) +
		(SELECT count(*) FROM oneroster_records o WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = o.import_id))`).
		Scan(context.Background(), &n)
	require.NoError(t, err)
	require.Zero(t, n, "rows refer to rows that are gone")
}

type impactOut struct {
	Recipients, Users, Files, Runs int
	Lists                          []struct {
		List                        struct{ Name string }
		MembersBefore, MembersAfter int
	}
}

const impactFields = `recipients users files runs lists { list { name } membersBefore membersAfter }`

func (d *district) impact(t *testing.T, mode string) impactOut {
	t.Helper()
	var out struct {
		Import struct{ DeleteImpact impactOut }
	}
	d.s.MustQuery(t, d.admin, `query($id: ID!, $m: ImportDeleteMode) { import(id: $id) { deleteImpact(recipients: $m) { `+impactFields+` } } }`,
		map[string]any{"id": d.importID, "m": mode}, &out)
	return out.Import.DeleteImpact
}

func (d *district) deleteImport(t *testing.T, confirm, mode string) *servertest.Response {
	t.Helper()
	return d.s.Query(t, d.admin, `mutation($id: ID!, $c: String!, $m: ImportDeleteMode!) {
		deleteImport(id: $id, confirmName: $c, recipients: $m) { import { id deleted deleteMode purgeAfter } impact { `+impactFields+` } } }`,
		map[string]any{"id": d.importID, "c": confirm, "m": mode})
}

func (d *district) listIDs(t *testing.T, includeDeleted bool) []string {
	t.Helper()
	var out struct {
		Imports struct {
			Nodes      []struct{ ID string }
			TotalCount int
		}
	}
	d.s.MustQuery(t, d.admin, `query($all: Boolean) { imports(includeDeleted: $all) { nodes { id } totalCount } }`, map[string]any{"all": includeDeleted}, &out)
	ids := []string{}
	for _, n := range out.Imports.Nodes {
		ids = append(ids, n.ID)
	}
	require.Len(t, ids, out.Imports.TotalCount)
	return ids
}

func TestDeleteImportWithImpactAndRestore(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var created struct{ CreateList listOut }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Third grade", filter: {grade: {eq: "3"}}}) { `+listFields+` } }`, nil, &created)
	third := created.CreateList.ID
	// A list that does not involve the import's people changes not at all
	// (it has none), and is not reported.
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Nobody", filter: {grade: {eq: "1"}}}) { id } }`, nil, nil)
	before := tableContents(t, d.s, "recipients")

	impact := d.impact(t, "REMOVE")
	require.Equal(t, 10, impact.Recipients)
	require.Equal(t, 1, impact.Files)
	require.Equal(t, 1, impact.Runs)
	require.Zero(t, impact.Users)
	require.Len(t, impact.Lists, 1)
	require.Equal(t, "Third grade", impact.Lists[0].List.Name)
	require.Equal(t, 2, impact.Lists[0].MembersBefore)
	require.Equal(t, 0, impact.Lists[0].MembersAfter)
	require.Empty(t, d.impact(t, "KEEP").Lists, "KEEP changes no list")

	// A wrong confirmation deletes nothing, and says why.
	for _, wrong := range []string{"sis", "SIS ", ""} {
		resp := d.deleteImport(t, wrong, "REMOVE")
		require.Equal(t, "BAD_USER_INPUT", resp.FirstCode(), string(resp.Body))
		require.Contains(t, resp.Errors[0].Message, `"SIS"`)
	}
	missing := d.s.Query(t, d.admin, `mutation($id: ID!) { deleteImport(id: $id, recipients: REMOVE) { import { id } } }`, map[string]any{"id": d.importID})
	require.NotEmpty(t, missing.Errors)
	require.Equal(t, before, tableContents(t, d.s, "recipients"))
	require.Equal(t, []string{d.importID}, d.listIDs(t, false))

	// Non-admins cannot.
	_, teacher := d.restrictedUser(t, "teacher@district.test", "")
	require.Equal(t, "FORBIDDEN", d.s.Query(t, teacher, `mutation($id: ID!) { deleteImport(id: $id, confirmName: "SIS", recipients: REMOVE) { import { id } } }`,
		map[string]any{"id": d.importID}).FirstCode())
	require.Equal(t, "FORBIDDEN", d.s.Query(t, teacher, `mutation($id: ID!) { restoreImport(id: $id) { id } }`,
		map[string]any{"id": d.importID}).FirstCode())
	require.Equal(t, "FORBIDDEN", d.s.Query(t, teacher, `query($id: ID!) { import(id: $id) { deleteImpact { recipients } } }`,
		map[string]any{"id": d.importID}).FirstCode())

	// The delete does what the report said.
	var deleted struct {
		DeleteImport struct {
			Import struct {
				ID, DeleteMode, PurgeAfter string
				Deleted                    bool
			}
			Impact impactOut
		}
	}
	d.deleteImport(t, "SIS", "REMOVE").Decode(t, &deleted)
	require.True(t, deleted.DeleteImport.Import.Deleted)
	require.Equal(t, "REMOVE", deleted.DeleteImport.Import.DeleteMode)
	require.Equal(t, impact, deleted.DeleteImport.Impact)
	require.Equal(t, 0, d.getList(t, d.admin, third).MemberCount)
	var active int
	require.NoError(t, d.s.DB.NewRaw("SELECT count(*) FROM recipients WHERE import_id = ? AND removed_at IS NULL", d.importID).Scan(context.Background(), &active))
	require.Zero(t, active)
	purgeAfter, err := time.Parse(time.RFC3339, deleted.DeleteImport.Import.PurgeAfter)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(30*24*time.Hour), purgeAfter, time.Minute)

	// Hidden, inert, and findable.
	require.Empty(t, d.listIDs(t, false))
	require.Equal(t, []string{d.importID}, d.listIDs(t, true))
	require.Equal(t, "CONFLICT", d.s.Query(t, d.admin, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": d.importID}).FirstCode())
	up := d.s.Upload(t, d.admin, uploadMutation, map[string]any{"id": d.importID, "run": false}, "students.csv", []byte(studentsCSV))
	require.Equal(t, "CONFLICT", up.FirstCode())
	require.Equal(t, "CONFLICT", d.deleteImport(t, "SIS", "REMOVE").FirstCode(), "already deleted")

	// Restored exactly as it was.
	var restored struct{ RestoreImport struct{ Deleted bool } }
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { restoreImport(id: $id) { deleted } }`, map[string]any{"id": d.importID}, &restored)
	require.False(t, restored.RestoreImport.Deleted)
	require.Equal(t, before, tableContents(t, d.s, "recipients"))
	require.Equal(t, 2, d.getList(t, d.admin, third).MemberCount)
	require.Equal(t, []string{d.importID}, d.listIDs(t, false))
	require.Equal(t, "CONFLICT", d.s.Query(t, d.admin, `mutation($id: ID!) { restoreImport(id: $id) { id } }`, map[string]any{"id": d.importID}).FirstCode())

	// A deleted import's name is free; restoring it then needs a rename.
	d.deleteImport(t, "SIS", "KEEP").Decode(t, &deleted)
	other := createImport(t, d.s, d.admin, "SIS", "UPDATE")
	resp := d.s.Query(t, d.admin, `mutation($id: ID!) { restoreImport(id: $id) { id } }`, map[string]any{"id": d.importID})
	require.Equal(t, "CONFLICT", resp.FirstCode())
	require.Contains(t, resp.Errors[0].Message, "rename")
	require.NotContains(t, resp.Errors[0].Extensions, "field", "restoreImport has no input to point at")
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { updateImport(id: $id, input: {name: "SIS (new)"}) { id } }`, map[string]any{"id": other}, nil)
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { restoreImport(id: $id) { id } }`, map[string]any{"id": d.importID}, nil)
	require.Equal(t, before, tableContents(t, d.s, "recipients"))
}

func TestDeleteRefusedWhileRunActiveAndHeldRunCanceled(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var fileID int64
	ctx := context.Background()
	require.NoError(t, d.s.DB.NewRaw("SELECT latest_file_id FROM imports WHERE id = ?", d.importID).Scan(ctx, &fileID))
	// A queued run no worker will take (it has no job).
	var runID int64
	require.NoError(t, d.s.DB.NewRaw(`INSERT INTO import_runs (import_id, file_id, status, trigger) VALUES (?, ?, 'QUEUED', 'MANUAL') RETURNING id`,
		d.importID, fileID).Scan(ctx, &runID))
	before := tableContents(t, d.s, "recipients")
	resp := d.deleteImport(t, "SIS", "REMOVE")
	require.Equal(t, "CONFLICT", resp.FirstCode())
	require.Contains(t, resp.Errors[0].Message, "queued")
	require.Equal(t, before, tableContents(t, d.s, "recipients"))

	_, err := d.s.DB.NewRaw(`UPDATE import_runs SET status = 'HELD' WHERE id = ?`, runID).Exec(ctx)
	require.NoError(t, err)
	require.Empty(t, d.deleteImport(t, "SIS", "REMOVE").Errors)
	var run struct {
		ImportRun struct{ Status, Message string }
	}
	d.s.MustQuery(t, d.admin, `query($id: ID!) { importRun(id: $id) { status message } }`, map[string]any{"id": runID}, &run)
	require.Equal(t, "CANCELED", run.ImportRun.Status)
	require.Contains(t, run.ImportRun.Message, "deleted")
}

func TestPurgeAfterRetentionLeavesNothingDangling(t *testing.T) {
	t.Parallel()
	forEachSegmenting(t, testPurgeAfterRetentionLeavesNothingDangling)
}

func testPurgeAfterRetentionLeavesNothingDangling(t *testing.T, opts *servertest.Options) {
	for _, mode := range []string{"KEEP", "REMOVE"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			d := newDistrictWith(t, opts)
			// A hand-made addition and skip of the import's people.
			var l struct{ CreateList struct{ ID string } }
			d.s.MustQuery(t, d.admin, `mutation($r: [ID!]) { createList(input: {name: "Mixed", filter: {grade: {eq: "3"}}, recipientIds: $r}) { id } }`,
				map[string]any{"r": []string{d.ids["S001"]}}, &l)
			d.s.MustQuery(t, d.admin, `mutation($l: ID!, $r: [ID!]!) { removeListMembers(listId: $l, recipientIds: $r) { id } }`,
				map[string]any{"l": l.CreateList.ID, "r": []string{d.ids["S005"]}}, nil)
			require.Empty(t, d.deleteImport(t, "SIS", mode).Errors)

			// Not yet: the retention has not passed.
			purged, err := d.s.Services.Imports.Purge(context.Background())
			require.NoError(t, err)
			require.Empty(t, purged)

			d.s.Clock.Advance(31 * 24 * time.Hour)
			purged, err = d.s.Services.Imports.Purge(context.Background())
			require.NoError(t, err)
			require.Equal(t, []string{d.importID}, []string{fmt.Sprint(purged[0])})
			require.Empty(t, d.listIDs(t, true))
			requireNoDanglingReferences(t, d.s)

			var r struct {
				Recipient *struct {
					Import   *struct{ ID string }
					Detached bool
				}
			}
			resp := d.s.Query(t, d.admin, `query($id: ID!) { recipient(id: $id) { import { id } detached } }`, map[string]any{"id": d.ids["S005"]})
			var count int
			require.NoError(t, d.s.DB.NewRaw("SELECT count(*) FROM recipients").Scan(context.Background(), &count))
			if mode == "KEEP" {
				require.Equal(t, 10, count, "kept recipients stay")
				resp.Decode(t, &r)
				require.NotNil(t, r.Recipient)
				require.Nil(t, r.Recipient.Import)
				require.True(t, r.Recipient.Detached)
				require.Equal(t, 2, d.getList(t, d.admin, l.CreateList.ID).MemberCount, "S001 added, S006 matches, S005 skipped")
			} else {
				require.Zero(t, count, "removed recipients go with the import")
				var purgedEntries []string
				require.NoError(t, d.s.DB.NewRaw(`SELECT concat(details->>'listAdditionsDeleted', '/', details->>'listSkipsDeleted', '/', details->>'recipientsDeleted')
					FROM audit_log WHERE action = 'IMPORT_PURGED' AND actor_id IS NULL`).Scan(context.Background(), &purgedEntries))
				require.Equal(t, []string{"1/1/10"}, purgedEntries, "the purge's audit entry counts what went with it")
				require.Equal(t, "NOT_FOUND", resp.FirstCode())
				require.Equal(t, 0, d.getList(t, d.admin, l.CreateList.ID).MemberCount)
			}
		})
	}
}

func TestDeleteKeepLeavesRecipientsActiveAndDetached(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var created struct{ CreateList listOut }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Third grade", filter: {grade: {eq: "3"}}}) { `+listFields+` } }`, nil, &created)
	var deleted struct{ DeleteImport struct{ Impact impactOut } }
	d.deleteImport(t, "SIS", "KEEP").Decode(t, &deleted)
	require.Equal(t, 10, deleted.DeleteImport.Impact.Recipients)
	require.Empty(t, deleted.DeleteImport.Impact.Lists)
	require.Equal(t, 2, d.getList(t, d.admin, created.CreateList.ID).MemberCount)
	var r struct{ Recipient struct{ Detached bool } }
	d.s.MustQuery(t, d.admin, `query($id: ID!) { recipient(id: $id) { detached } }`, map[string]any{"id": d.ids["S005"]}, &r)
	require.True(t, r.Recipient.Detached)
}

// runFile uploads content as a run of the district's import and returns
// its id, after checking it succeeded.
func (d *district) runFile(t *testing.T, content string) string {
	t.Helper()
	st := uploadAndRun(t, d.s, d.admin, d.importID, content)
	require.Equal(t, "SUCCEEDED", st.Status, st.Message)
	return st.ID
}

type revertOut struct {
	ID, Status, Trigger, Message string
	Created, Updated             int
	Removed, Restored            int
	RevertsRun                   struct{ ID string }
}

func (d *district) revert(t *testing.T, runID string) (*revertOut, *servertest.Response) {
	t.Helper()
	resp := d.s.Query(t, d.admin, `mutation($id: ID!) { revertImportRun(runId: $id) {
		id status trigger message created updated removed restored revertsRun { id } } }`, map[string]any{"id": runID})
	if len(resp.Errors) > 0 {
		return nil, resp
	}
	var out struct{ RevertImportRun revertOut }
	resp.Decode(t, &out)
	return &out.RevertImportRun, resp
}

func TestRevertRunsRestoreExactPreviousStates(t *testing.T) {
	t.Parallel()
	forEachSegmenting(t, func(t *testing.T, opts *servertest.Options) {
		testRevertRunsRestoreExactPreviousStates(t, newDistrictWith(t, opts)) // run 1: the first load
	})
}

func testRevertRunsRestoreExactPreviousStates(t *testing.T, d *district) {
	var first struct {
		Import struct{ LastRun struct{ ID string } }
	}
	d.s.MustQuery(t, d.admin, `query($id: ID!) { import(id: $id) { lastRun { id } } }`, map[string]any{"id": d.importID}, &first)
	run1 := first.Import.LastRun.ID
	afterRun1 := tableContents(t, d.s, "recipients")

	// Run 2: an update (S007's grade), a removal (S006), a new person (S011),
	// and a row whose text changes but not its values (S002's phone).
	next := strings.Replace(studentsCSV, "S007,Gus,Berg,8,", "S007,Gus,Berg,3,", 1)
	next = strings.Replace(next, "S006,Fay,Ali,3,Adams Elementary,Somali,612-555-0106,,Room 7\n", "", 1)
	next = strings.Replace(next, "612-555-0102", "(612) 555-0102", 1)
	next += "S011,Kai,Lee,4,Adams Elementary,English,612-555-0111,,Room 8\n"
	run2 := d.runFile(t, next)
	afterRun2 := tableContents(t, d.s, "recipients")

	// Run 3: S006 is back (restored), S001's language changes.
	third := strings.Replace(next, "S001,Ana,García,05,Lincoln Elementary,Spanish", "S001,Ana,García,05,Lincoln Elementary,English", 1)
	third += "S006,Fay,Ali,3,Adams Elementary,Somali,612-555-0106,,Room 7\n"
	run3 := d.runFile(t, third)
	require.NotEqual(t, afterRun2, tableContents(t, d.s, "recipients"))
	// A list with a hand-made addition of the person run 2 created.
	d.refreshIDs(t)
	var l struct{ CreateList struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation($r: [ID!]) { createList(input: {name: "Kai", recipientIds: $r}) { id } }`,
		map[string]any{"r": []string{d.ids["S011"]}}, &l)

	// Only the latest applied run can be reverted.
	_, resp := d.revert(t, run2)
	require.Equal(t, "CONFLICT", resp.FirstCode())
	require.Contains(t, resp.Errors[0].Message, "revert it first")

	rev3, resp := d.revert(t, run3)
	require.NotNil(t, rev3, string(resp.Body))
	require.Equal(t, afterRun2, tableContents(t, d.s, "recipients"))
	require.Equal(t, "SUCCEEDED", rev3.Status)
	require.Equal(t, "REVERT", rev3.Trigger)
	require.Equal(t, run3, rev3.RevertsRun.ID)
	require.Equal(t, revertOut{Updated: 1, Removed: 1}, revertOut{Updated: rev3.Updated, Removed: rev3.Removed, Restored: rev3.Restored, Created: rev3.Created})

	var imp struct {
		Import struct {
			LastRun          struct{ ID string }
			AttentionReasons []struct{ Code string }
		}
	}
	d.s.MustQuery(t, d.admin, `query($id: ID!) { import(id: $id) { lastRun { id } attentionReasons { code } } }`, map[string]any{"id": d.importID}, &imp)
	require.Equal(t, run2, imp.Import.LastRun.ID, "Last Run is the run whose data is current")
	require.Equal(t, []struct{ Code string }{{"LAST_RUN_REVERTED"}}, imp.Import.AttentionReasons)

	// Not twice, and a revert is not revertible.
	_, resp = d.revert(t, run3)
	require.Contains(t, resp.Errors[0].Message, "already reverted")
	_, resp = d.revert(t, rev3.ID)
	require.Contains(t, resp.Errors[0].Message, "itself a revert")

	// Chained: run 2, then run 1.
	rev2, resp := d.revert(t, run2)
	require.NotNil(t, rev2, string(resp.Body))
	require.Equal(t, afterRun1, tableContents(t, d.s, "recipients"))
	require.Equal(t, revertOut{Updated: 1, Removed: 1, Restored: 1}, revertOut{Updated: rev2.Updated, Removed: rev2.Removed, Restored: rev2.Restored})
	require.Equal(t, 0, d.getList(t, d.admin, l.CreateList.ID).MemberCount, "the person run 2 created is gone, with the list's addition")
	var entries []string
	require.NoError(t, d.s.DB.NewRaw(`SELECT details->>'listEntriesDeleted' FROM audit_log WHERE action = 'RUN_REVERTED' AND target_id = ?`, run2).
		Scan(context.Background(), &entries))
	require.Equal(t, []string{"1"}, entries, "the revert's audit entry counts the list addition that went")
	requireNoDanglingReferences(t, d.s)

	rev1, resp := d.revert(t, run1)
	require.NotNil(t, rev1, string(resp.Body))
	require.Equal(t, 10, rev1.Removed)
	var left int
	require.NoError(t, d.s.DB.NewRaw("SELECT count(*) FROM recipients").Scan(context.Background(), &left))
	require.Zero(t, left)
	var never struct{ Import struct{ LastRunAt *string } }
	d.s.MustQuery(t, d.admin, `query($id: ID!) { import(id: $id) { lastRunAt } }`, map[string]any{"id": d.importID}, &never)
	require.Nil(t, never.Import.LastRunAt)

	// The import works on: the next run loads everyone again, and the
	// import no longer needs attention.
	d.runFile(t, studentsCSV)
	require.NoError(t, d.s.DB.NewRaw("SELECT count(*) FROM recipients WHERE removed_at IS NULL").Scan(context.Background(), &left))
	require.Equal(t, 10, left)
	d.s.MustQuery(t, d.admin, `query($id: ID!) { import(id: $id) { lastRun { id } attentionReasons { code } } }`, map[string]any{"id": d.importID}, &imp)
	require.Empty(t, imp.Import.AttentionReasons)

	// Non-admins cannot revert.
	_, teacher := d.restrictedUser(t, "teacher@district.test", "")
	require.Equal(t, "FORBIDDEN", d.s.Query(t, teacher, `mutation($id: ID!) { revertImportRun(runId: $id) { id } }`, map[string]any{"id": run1}).FirstCode())
}

func TestRevertRefusesRunsWithoutChangesAndPrunedUndo(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var dry struct{ RunImport struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { runImport(importId: $id, dryRun: true) { id } }`, map[string]any{"id": d.importID}, &dry)
	d.s.WaitRun(t, d.admin, dry.RunImport.ID)
	_, resp := d.revert(t, dry.RunImport.ID)
	require.Equal(t, "CONFLICT", resp.FirstCode())
	require.Contains(t, resp.Errors[0].Message, "nothing to revert")

	run2 := d.runFile(t, strings.Replace(studentsCSV, "S007,Gus,Berg,8,", "S007,Gus,Berg,9,", 1))
	var undoRows int
	require.NoError(t, d.s.DB.NewRaw("SELECT count(*) FROM import_run_undo").Scan(context.Background(), &undoRows))
	require.Equal(t, 1, undoRows, "one before-image: the updated row")
	d.s.Clock.Advance(31 * 24 * time.Hour)
	n, err := d.s.Services.Imports.PruneUndo(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, d.s.DB.NewRaw("SELECT count(*) FROM import_run_undo").Scan(context.Background(), &undoRows))
	require.Zero(t, undoRows)
	var run struct{ ImportRun struct{ UndoAvailable bool } }
	d.s.MustQuery(t, d.admin, `query($id: ID!) { importRun(id: $id) { undoAvailable } }`, map[string]any{"id": run2}, &run)
	require.False(t, run.ImportRun.UndoAvailable)
	_, resp = d.revert(t, run2)
	require.Contains(t, resp.Errors[0].Message, "pruned")
}

type auditOut struct {
	Action, TargetType   string
	TargetID, TargetName *string
	ActorEmail           *string
	Actor                *struct{ Email string }
	Details              map[string]any
}

func (d *district) auditLog(t *testing.T, args string, vars map[string]any) []auditOut {
	t.Helper()
	var out struct {
		AuditLog struct {
			Nodes      []auditOut
			TotalCount int
		}
	}
	use := argsUse(args)
	if use != "" {
		use = ", " + use
	}
	d.s.MustQuery(t, d.admin, `query`+args+` { auditLog(first: 200`+use+`) {
		nodes { action targetType targetId targetName actorEmail actor { email } details } totalCount } }`, vars, &out)
	require.Len(t, out.AuditLog.Nodes, out.AuditLog.TotalCount)
	return out.AuditLog.Nodes
}

// argsUse turns "($action: X, $since: Y)" into "action: $action, since: $since"
// (variables are named as the arguments they fill).
func argsUse(decl string) string {
	if decl == "" {
		return ""
	}
	var parts []string
	for _, p := range strings.Split(strings.Trim(decl, "()"), ",") {
		name := strings.TrimSpace(strings.SplitN(p, ":", 2)[0])
		parts = append(parts, strings.TrimPrefix(name, "$")+": "+name)
	}
	return strings.Join(parts, ", ")
}

func TestAuditLogRecordsEveryAdministrativeAction(t *testing.T) {
	t.Parallel()
	d := newDistrict(t) // import created, file uploaded, run requested
	ctx := context.Background()
	mutate := func(q string, vars map[string]any) map[string]any {
		t.Helper()
		var out map[string]any
		d.s.MustQuery(t, d.admin, q, vars, &out)
		return out
	}
	mutate(`mutation($id: ID!) { updateImport(id: $id, input: {name: "SIS nightly", removalThreshold: 20}) { id } }`, map[string]any{"id": d.importID})
	dry := mutate(`mutation($id: ID!) { runImport(importId: $id, dryRun: true) { id } }`, map[string]any{"id": d.importID})
	d.s.WaitRun(t, d.admin, dry["runImport"].(map[string]any)["id"].(string))
	// Files that would remove 90%: held, then canceled; held, then approved.
	onlyOne := strings.Join(strings.Split(studentsCSV, "\n")[:2], "\n") + "\n"
	held := uploadAndRun(t, d.s, d.admin, d.importID, onlyOne)
	require.Equal(t, "HELD", held.Status)
	mutate(`mutation($id: ID!) { cancelImportRun(id: $id) { id } }`, map[string]any{"id": held.ID})
	held = uploadAndRun(t, d.s, d.admin, d.importID, onlyOne)
	require.Equal(t, "HELD", held.Status)
	mutate(`mutation($id: ID!) { approveImportRun(id: $id) { id } }`, map[string]any{"id": held.ID})
	require.Equal(t, "SUCCEEDED", d.s.WaitRun(t, d.admin, held.ID).Status)
	uid, _ := d.restrictedUser(t, "teacher@district.test", `{school: {eq: "Lincoln Elementary"}}`) // created, token, restricted
	mutate(`mutation($u: ID!) { clearUserRestriction(userId: $u) { id } }`, map[string]any{"u": uid})
	mutate(`mutation($u: ID!) { updateUser(id: $u, input: {disabled: true}) { id } }`, map[string]any{"u": uid})
	mutate(`mutation($u: ID!) { updateUser(id: $u, input: {disabled: false, name: "Ms. Teacher"}) { id } }`, map[string]any{"u": uid})
	tok := mutate(`mutation { createApiToken(name: "reports") { token apiToken { id } } }`, nil)
	clear := tok["createApiToken"].(map[string]any)["token"].(string)
	mutate(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": tok["createApiToken"].(map[string]any)["apiToken"].(map[string]any)["id"]})
	l := mutate(`mutation { createList(input: {name: "Third grade", filter: {grade: {eq: "3"}}}) { id } }`, nil)
	lid := l["createList"].(map[string]any)["id"]
	mutate(`mutation($l: ID!) { updateList(id: $l, input: {name: "Grade three"}) { id } }`, map[string]any{"l": lid})
	mutate(`mutation($l: ID!, $r: [ID!]!) { addListMembers(listId: $l, recipientIds: $r) { id } }`, map[string]any{"l": lid, "r": []string{d.ids["S001"]}})
	mutate(`mutation($l: ID!, $r: [ID!]!) { removeListMembers(listId: $l, recipientIds: $r) { id } }`, map[string]any{"l": lid, "r": []string{d.ids["S001"]}})
	mutate(`mutation($l: ID!, $u: [ID!]!) { shareList(listId: $l, userIds: $u) { id } }`, map[string]any{"l": lid, "u": []string{uid}})
	mutate(`mutation($l: ID!) { deleteList(id: $l) { id } }`, map[string]any{"l": lid})
	run2 := d.runFile(t, strings.Replace(studentsCSV, "S007,Gus,Berg,8,", "S007,Gus,Berg,9,", 1))
	mutate(`mutation($id: ID!) { revertImportRun(runId: $id) { id } }`, map[string]any{"id": run2})
	mutate(`mutation($id: ID!) { deleteImport(id: $id, confirmName: "SIS nightly", recipients: KEEP) { import { id } } }`, map[string]any{"id": d.importID})
	mutate(`mutation($id: ID!) { restoreImport(id: $id) { id } }`, map[string]any{"id": d.importID})

	// A refused action leaves no entry.
	require.NotEmpty(t, d.s.Query(t, d.admin, `mutation { createImport(input: {name: "sis nightly", method: FULL}) { id } }`, nil).Errors)

	entries := d.auditLog(t, "", nil)
	var actions []string
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		actions = append(actions, entries[i].Action)
	}
	require.Equal(t, []string{
		"USER_CREATED", "TOKEN_CREATED", // the administrator, from the command line
		"IMPORT_CREATED", "FILE_UPLOADED", "RUN_REQUESTED",
		"IMPORT_UPDATED", "RUN_REQUESTED",
		"FILE_UPLOADED", "RUN_REQUESTED", "RUN_CANCELED", "FILE_UPLOADED", "RUN_REQUESTED", "RUN_APPROVED",
		"USER_CREATED", "TOKEN_CREATED", "USER_RESTRICTED", "USER_UNRESTRICTED", "USER_DISABLED", "USER_ENABLED",
		"TOKEN_CREATED", "TOKEN_REVOKED",
		"LIST_CREATED", "LIST_UPDATED", "LIST_MEMBERS_ADDED", "LIST_MEMBERS_REMOVED", "LIST_SHARED", "LIST_DELETED",
		"FILE_UPLOADED", "RUN_REQUESTED", "RUN_REVERTED", "IMPORT_DELETED", "IMPORT_RESTORED",
	}, actions)
	bootstrap := entries[len(entries)-2:]
	for _, e := range bootstrap {
		require.Nil(t, e.Actor)
		require.Equal(t, "command line", e.Details["via"])
	}
	entries = entries[:len(entries)-2]
	for _, e := range entries {
		require.Equal(t, "admin@district.test", *e.ActorEmail)
		require.Equal(t, "admin@district.test", e.Actor.Email)
		raw, _ := json.Marshal(e.Details)
		require.NotContains(t, string(raw), clear, "a token never enters the log")
	}
	// Old → new values.
	updated := d.auditLog(t, "($action: AuditAction)", map[string]any{"action": "IMPORT_UPDATED"})
	require.Len(t, updated, 1)
	require.Equal(t, map[string]any{"old": "SIS", "new": "SIS nightly"}, updated[0].Details["name"])
	require.Equal(t, map[string]any{"old": 10.0, "new": 20.0}, updated[0].Details["removalThreshold"])
	require.Equal(t, "SIS nightly", *updated[0].TargetName)
	enabled := d.auditLog(t, "($action: AuditAction)", map[string]any{"action": "USER_ENABLED"})
	require.Equal(t, map[string]any{"old": "Test User", "new": "Ms. Teacher"}, enabled[0].Details["name"])

	// Narrowed by target, actor and time.
	byTarget := d.auditLog(t, "($target: AuditTargetInput)", map[string]any{"target": map[string]any{"type": "USER", "id": uid}})
	require.Len(t, byTarget, 5)
	byType := d.auditLog(t, "($target: AuditTargetInput)", map[string]any{"target": map[string]any{"type": "LIST"}})
	require.Len(t, byType, 6)
	var adminID string
	require.NoError(t, d.s.DB.NewRaw("SELECT id::text FROM users WHERE email = 'admin@district.test'").Scan(ctx, &adminID))
	require.Len(t, d.auditLog(t, "($actor: ID)", map[string]any{"actor": adminID}), len(entries))
	require.Len(t, d.auditLog(t, "($actor: ID)", map[string]any{"actor": uid}), 0)
	require.Empty(t, d.auditLog(t, "($since: Time)", map[string]any{"since": time.Now().Add(time.Hour).Format(time.RFC3339)}))
	require.Len(t, d.auditLog(t, "($since: Time)", map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}), len(entries)+2)

	// Pages, newest first.
	var page struct {
		AuditLog struct {
			Nodes    []struct{ ID string }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	d.s.MustQuery(t, d.admin, `{ auditLog(first: 10) { nodes { id } pageInfo { hasNextPage endCursor } } }`, nil, &page)
	require.True(t, page.AuditLog.PageInfo.HasNextPage)
	last, next := 0, 0
	fmt.Sscan(page.AuditLog.Nodes[9].ID, &last)
	d.s.MustQuery(t, d.admin, `query($a: String) { auditLog(first: 10, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"a": page.AuditLog.PageInfo.EndCursor}, &page)
	fmt.Sscan(page.AuditLog.Nodes[0].ID, &next)
	require.Greater(t, last, next)

	// Admins only, and the log cannot be changed.
	_, teacher := d.restrictedUser(t, "other@district.test", "")
	require.Equal(t, "FORBIDDEN", d.s.Query(t, teacher, `{ auditLog { nodes { id } } }`, nil).FirstCode())
	for _, stmt := range []string{"UPDATE audit_log SET action = 'X'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		_, err := d.s.DB.ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "append-only", stmt)
	}
}

func TestDeleteUserImportDisablesAccountsAndRestoreEnablesThem(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var created struct{ CreateImport struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation { createImport(input: {name: "HR staff", kind: USER, method: FULL}) { id } }`, nil, &created)
	staff := "email,name,role,schools\n" +
		"pat.rivera@district.test,Pat Rivera,user,Lincoln Elementary\n" +
		"sam.okafor@district.test,Sam Okafor,teacher,Adams Elementary\n" +
		"jordan.lee@district.test,Jordan Lee,admin,*\n"
	run := uploadAndRun(t, d.s, d.admin, created.CreateImport.ID, staff)
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	hr := &district{s: d.s, admin: d.admin, importID: created.CreateImport.ID}

	disabled := func() map[string]bool {
		var us struct {
			Users struct {
				Nodes []struct {
					Email    string
					Disabled bool
				}
			}
		}
		d.s.MustQuery(t, d.admin, `{ users(search: "district.test", first: 50) { nodes { email disabled } } }`, nil, &us)
		out := map[string]bool{}
		for _, u := range us.Users.Nodes {
			out[u.Email] = u.Disabled
		}
		return out
	}
	before := disabled()
	require.Equal(t, 2, hr.impact(t, "REMOVE").Users, "the administrator is never disabled")
	require.Zero(t, hr.impact(t, "KEEP").Users)

	var deleted struct{ DeleteImport struct{ Impact impactOut } }
	hr.deleteImport(t, "HR staff", "REMOVE").Decode(t, &deleted)
	require.Equal(t, 2, deleted.DeleteImport.Impact.Users)
	after := disabled()
	require.True(t, after["pat.rivera@district.test"])
	require.True(t, after["sam.okafor@district.test"])
	require.False(t, after["jordan.lee@district.test"])

	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { restoreImport(id: $id) { id } }`, map[string]any{"id": hr.importID}, nil)
	require.Equal(t, before, disabled())
	// USER runs change accounts, which keep no before-images.
	_, resp := hr.revert(t, run.ID)
	require.Equal(t, "CONFLICT", resp.FirstCode())
	require.Contains(t, resp.Errors[0].Message, "USER imports")
}
