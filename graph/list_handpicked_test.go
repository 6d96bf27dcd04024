package graph_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type handPickedOut struct {
	List struct {
		Additions, Exclusions struct {
			TotalCount int
			Nodes      []struct {
				ExternalID string
				Phones     []struct{ Number string }
			}
		}
	}
}

func (h handPickedOut) keys() (additions, exclusions []string) {
	additions, exclusions = []string{}, []string{}
	for _, n := range h.List.Additions.Nodes {
		additions = append(additions, n.ExternalID)
	}
	for _, n := range h.List.Exclusions.Nodes {
		exclusions = append(exclusions, n.ExternalID)
	}
	sort.Strings(additions)
	sort.Strings(exclusions)
	return additions, exclusions
}

const handPickedQuery = `query($l: ID!) { list(id: $l) {
	additions { totalCount nodes { externalId phones { number } } }
	exclusions { totalCount nodes { externalId phones { number } } } } }`

// TestHandPickedPeopleAreMembersAsTheViewerSeesThem: a list's additions and
// skips show only active recipients inside the viewer's restriction, as
// members do, and count the same way. Removed recipients appear to no one
// (only an administrator browsing an import asks for them).
func TestHandPickedPeopleAreMembersAsTheViewerSeesThem(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	uid, teacher := d.restrictedUser(t, "lincoln.teacher@district.test", `{school: {eq: "Lincoln Elementary"}}`)
	_, planner := d.restrictedUser(t, "planner@district.test", "") // a USER who sees everyone

	// Third grade (S005, S006 at Adams), plus S001 (Lincoln), S003
	// (Jefferson) and S006 added by hand; S005 and S004 (Lincoln, not
	// matching: nothing to skip) taken off.
	var l struct{ CreateList struct{ ID string } }
	d.s.MustQuery(t, planner, `mutation($r: [ID!]) { createList(input: {name: "Third grade and friends", filter: {grade: {eq: "3"}}, recipientIds: $r}) { id } }`,
		map[string]any{"r": []string{d.ids["S001"], d.ids["S003"], d.ids["S006"]}}, &l)
	list := l.CreateList.ID
	d.s.MustQuery(t, planner, `mutation($l: ID!, $r: [ID!]!) { removeListMembers(listId: $l, recipientIds: $r) { id } }`,
		map[string]any{"l": list, "r": []string{d.ids["S005"]}}, nil)
	d.s.MustQuery(t, planner, `mutation($l: ID!, $u: [ID!]!) { shareList(listId: $l, userIds: $u) { id } }`,
		map[string]any{"l": list, "u": []string{uid}}, nil)

	handPicked := func(t *testing.T, token string) handPickedOut {
		t.Helper()
		var out handPickedOut
		d.s.MustQuery(t, token, handPickedQuery, map[string]any{"l": list}, &out)
		require.Len(t, out.List.Additions.Nodes, out.List.Additions.TotalCount)
		require.Len(t, out.List.Exclusions.Nodes, out.List.Exclusions.TotalCount)
		return out
	}
	out := handPicked(t, planner)
	additions, exclusions := out.keys()
	require.Equal(t, []string{"S001", "S003", "S006"}, additions)
	require.Equal(t, []string{"S005"}, exclusions)

	// The restricted teacher sees only Lincoln's.
	additions, exclusions = handPicked(t, teacher).keys()
	require.Equal(t, []string{"S001"}, additions, "Jefferson and Adams are outside the teacher's restriction")
	require.Empty(t, exclusions)

	// The next file no longer has S006 (added by hand) or S005 (skipped):
	// both are removed, with their phones.
	next := strings.Replace(studentsCSV, "S006,Fay,Ali,3,Adams Elementary,Somali,612-555-0106,,Room 7\n", "", 1)
	next = strings.Replace(next, "S005,Eli,Wong,3,Adams Elementary,Mandarin,612-555-0105,eli.dad@outlook.com,Room 7\n", "", 1)
	run := uploadAndRun(t, d.s, d.admin, d.importID, next)
	if run.Status == "HELD" {
		d.s.MustQuery(t, d.admin, `mutation($id: ID!) { approveImportRun(id: $id) { id } }`, map[string]any{"id": run.ID}, nil)
		run = d.s.WaitRun(t, d.admin, run.ID)
	}
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, 2, run.Removed)
	require.Equal(t, "NOT_FOUND", d.s.Query(t, planner, `query($id: ID!) { recipient(id: $id) { id } }`, map[string]any{"id": d.ids["S006"]}).FirstCode())

	for name, token := range map[string]string{"owner": planner, "administrator": d.admin, "restricted teacher": teacher} {
		out := handPicked(t, token)
		additions, exclusions := out.keys()
		require.NotContains(t, additions, "S006", "the %s sees a removed recipient", name)
		require.Empty(t, exclusions, "the %s sees a removed recipient", name)
		for _, n := range append(out.List.Additions.Nodes, out.List.Exclusions.Nodes...) {
			for _, p := range n.Phones {
				require.NotContains(t, []string{"+16125550106", "+16125550105"}, p.Number, "the %s sees a removed recipient's phone", name)
			}
		}
	}
	for _, token := range []string{planner, d.admin} {
		additions, _ = handPicked(t, token).keys()
		require.Equal(t, []string{"S001", "S003"}, additions)
	}

	// Browsing the import with includeRemoved is where an administrator
	// finds them.
	var browse struct {
		Recipients struct {
			Nodes []struct{ ExternalID, RemovedAt *string }
		}
	}
	d.s.MustQuery(t, d.admin, `query($id: ID!) { recipients(importId: $id, includeRemoved: true, first: 100) { nodes { externalId removedAt } } }`,
		map[string]any{"id": d.importID}, &browse)
	removed := 0
	for _, n := range browse.Recipients.Nodes {
		if n.RemovedAt != nil {
			removed++
		}
	}
	require.Equal(t, 2, removed)
}
