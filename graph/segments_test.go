package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/server/servertest"
)

// forEachSegmenting runs f (as parallel subtests) on a server where first
// loads stay in the shared segment, and on one where every first load gets
// a segment of its own (internal/apply/segment.go): what users see must
// not depend on where recipients are stored.
func forEachSegmenting(t *testing.T, f func(t *testing.T, opts *servertest.Options)) {
	for _, c := range []struct {
		name string
		rows int
	}{{"SharedSegment", 0}, {"OwnSegment", 1}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f(t, &servertest.Options{Configure: func(cfg *config.Server) { cfg.SegmentRows = c.rows }})
		})
	}
}

// segmentOf is the segment an import's recipients live in, by the import's
// record, after checking that every row of the import is there.
func segmentOf(t *testing.T, s *servertest.Server, importID string) int64 {
	t.Helper()
	ctx := context.Background()
	var seg int64
	require.NoError(t, s.DB.NewRaw(`SELECT segment_id FROM imports WHERE id = ?`, importID).Scan(ctx, &seg))
	var strays int
	require.NoError(t, s.DB.NewRaw(`SELECT count(*) FROM recipients WHERE import_id = ? AND segment_id <> ?`, importID, seg).Scan(ctx, &strays))
	require.Zero(t, strays, "rows of import %s outside its segment %d", importID, seg)
	return seg
}

func partitions(t *testing.T, s *servertest.Server) []string {
	t.Helper()
	var names []string
	require.NoError(t, s.DB.NewRaw(`SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'recipients'::regclass ORDER BY 1`).Scan(context.Background(), &names))
	return names
}

func TestLargeFirstLoadGetsItsOwnSegment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Files of 5 rows and more are "large" here.
	s := servertest.New(t, &servertest.Options{Configure: func(cfg *config.Server) { cfg.SegmentRows = 5 }})
	_, admin := s.Admin(t, "admin@district.test")
	require.Equal(t, []string{"recipients_s0"}, partitions(t, s))

	// A dry run of a large first load builds a segment and rolls it back.
	dryID := createImport(t, s, admin, "Trial", "FULL")
	var up uploadOut
	s.Upload(t, admin, uploadMutation, map[string]any{"id": dryID}, "students.csv", []byte(studentsCSV)).Decode(t, &up)
	var dry struct{ RunImport struct{ ID string } }
	s.MustQuery(t, admin, `mutation($id: ID!) { runImport(importId: $id, dryRun: true) { id } }`, map[string]any{"id": dryID}, &dry)
	require.Equal(t, "SUCCEEDED", s.WaitRun(t, admin, dry.RunImport.ID).Status)
	require.Equal(t, []string{"recipients_s0"}, partitions(t, s))
	require.Zero(t, segmentOf(t, s, dryID))

	// The large first load: its own segment, indexed like recipients.
	sisID := createImport(t, s, admin, "SIS", "FULL")
	first := uploadAndRun(t, s, admin, sisID, studentsCSV)
	require.Equal(t, "SUCCEEDED", first.Status, first.Message)
	require.Equal(t, 10, first.Created)
	seg := segmentOf(t, s, sisID)
	require.Positive(t, seg)
	table := fmt.Sprintf("recipients_s%d", seg)
	require.Equal(t, []string{"recipients_s0", table}, partitions(t, s))
	var missing []string
	require.NoError(t, s.DB.NewRaw(`SELECT pi.relname FROM pg_index AS x JOIN pg_class AS pi ON pi.oid = x.indexrelid
		WHERE x.indrelid = 'recipients'::regclass
			AND NOT EXISTS (SELECT FROM pg_inherits AS h JOIN pg_index AS cx ON cx.indexrelid = h.inhrelid
				WHERE h.inhparent = x.indexrelid AND cx.indrelid = ?::regclass)`, table).Scan(ctx, &missing))
	require.Empty(t, missing, "every index of recipients has its partition on the segment")
	var stats, checks int
	require.NoError(t, s.DB.NewRaw(`SELECT (SELECT count(*) FROM pg_statistic_ext WHERE stxrelid = ?::regclass),
		(SELECT count(*) FROM pg_constraint WHERE conrelid = ?::regclass AND contype = 'c')`, table, table).Scan(ctx, &stats, &checks))
	require.Equal(t, 1, stats, "the segment has recipients' statistics object")
	require.Equal(t, 3, checks, "recipients' checks, without the one used to attach")

	// A small first load shares segment 0.
	staffID := createImport(t, s, admin, "Staff", "FULL")
	staff := uploadAndRun(t, s, admin, staffID, "employee_id,first_name,last_name,school\nT1,Tess,Park,Adams Elementary\nT2,Uma,Reyes,Lincoln Elementary\n")
	require.Equal(t, "SUCCEEDED", staff.Status, staff.Message)
	require.Zero(t, segmentOf(t, s, staffID))

	// Reads, filters and the restriction cover both segments.
	var counts struct{ All, Adams int }
	s.MustQuery(t, admin, `{ all: recipientCount(filter: {all: true}) adams: recipientCount(filter: {school: {eq: "Adams Elementary"}}) }`, nil, &counts)
	require.Equal(t, 12, counts.All)
	require.Equal(t, 2+1, counts.Adams)
	u, teacher := s.User(t, admin, "adams@district.test")
	s.MustQuery(t, admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {school: {eq: "Adams Elementary"}}) { id } }`,
		map[string]any{"u": fmt.Sprint(u.ID)}, nil)
	var seen struct {
		Recipients struct {
			Nodes []struct{ ExternalID string }
		}
	}
	s.MustQuery(t, teacher, `{ recipients(filter: {all: true}, first: 50, orderBy: EXTERNAL_ID) { nodes { externalId } } }`, nil, &seen)
	var got []string
	for _, n := range seen.Recipients.Nodes {
		got = append(got, n.ExternalID)
	}
	require.Equal(t, []string{"S005", "S006", "T1"}, got)

	// Hand-made list entries of people in either segment.
	ids := map[string]string{}
	var all struct {
		Recipients struct {
			Nodes []struct{ ID, ExternalID string }
		}
	}
	s.MustQuery(t, admin, `{ recipients(filter: {all: true}, first: 50) { nodes { id externalId } } }`, nil, &all)
	for _, n := range all.Recipients.Nodes {
		ids[n.ExternalID] = n.ID
	}
	var l struct{ CreateList struct{ ID string } }
	s.MustQuery(t, admin, `mutation($r: [ID!]) { createList(input: {name: "Mixed", filter: {grade: {eq: "3"}}, recipientIds: $r}) { id } }`,
		map[string]any{"r": []string{ids["S001"], ids["T2"]}}, &l)
	s.MustQuery(t, admin, `mutation($l: ID!, $r: [ID!]!) { removeListMembers(listId: $l, recipientIds: $r) { id } }`,
		map[string]any{"l": l.CreateList.ID, "r": []string{ids["S005"]}}, nil)
	var members struct {
		List struct {
			Members struct {
				Nodes []struct{ ExternalID string }
			}
		}
	}
	s.MustQuery(t, admin, `query($l: ID!) { list(id: $l) { members(first: 50) { nodes { externalId } } } }`, map[string]any{"l": l.CreateList.ID}, &members)
	got = nil
	for _, n := range members.List.Members.Nodes {
		got = append(got, n.ExternalID)
	}
	require.ElementsMatch(t, []string{"S001", "S006", "T2"}, got)

	// Later runs of the import write into its segment: new people, changes
	// and removals.
	next := strings.Replace(studentsCSV, "S010,Jon,Moe,11,Jefferson High,English,612-555-0110,,Room 103\n", "", 1)
	next = strings.Replace(next, "Room 22", "Room 23", 1) + "S011,Kai,Nash,1,Adams Elementary,English,612-555-0111,,Room 2\n"
	day2 := uploadAndRun(t, s, admin, sisID, next)
	require.Equal(t, "SUCCEEDED", day2.Status, day2.Message)
	require.Equal(t, []int{1, 1, 1}, []int{day2.Created, day2.Updated, day2.Removed})
	require.Equal(t, seg, segmentOf(t, s, sisID))
	var inSegment int
	require.NoError(t, s.DB.NewRaw(`SELECT count(*) FROM `+table+` WHERE removed_at IS NULL`).Scan(ctx, &inSegment))
	require.Equal(t, 10, inSegment)
	requireNoDanglingReferences(t, s)
}

func TestConflictingKeysInALargeFirstLoad(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(cfg *config.Server) { cfg.SegmentRows = 5 }})
	_, admin := s.Admin(t, "admin@district.test")
	id := createImport(t, s, admin, "SIS", "FULL")
	var file strings.Builder
	file.WriteString(studentsCSV)
	for i := 100; i < 140; i++ { // enough rows for two rejected to stay under the 5% limit
		fmt.Fprintf(&file, "S%d,Max,Roe,4,Adams Elementary,English,,,\n", i)
	}
	file.WriteString("S003,Chloé,Nguyễn,11,Jefferson High,Vietnamese,6125550103,chloe.mom@yahoo.com,Room 12\n")
	file.WriteString("S004,Dev,Patel,PK,Lincoln Elementary,English,,,\n") // an exact repeat: counted once
	run := uploadAndRun(t, s, admin, id, file.String())
	require.Equal(t, "SUCCEEDED_WITH_ERRORS", run.Status, run.Message)
	require.Equal(t, 49, run.Created)
	require.Equal(t, 2, run.Rejected)
	require.Positive(t, segmentOf(t, s, id))
	var keys []string
	require.NoError(t, s.DB.NewRaw(`SELECT external_id FROM recipients WHERE import_id = ? AND external_id < 'S1' ORDER BY 1`, id).Scan(context.Background(), &keys))
	require.Equal(t, []string{"S001", "S002", "S004", "S005", "S006", "S007", "S008", "S009", "S010"}, keys)
}
