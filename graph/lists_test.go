package graph_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/server/servertest"
)

// district is a server with the ten students of studentsCSV imported.
type district struct {
	s        *servertest.Server
	admin    string
	importID string
	ids      map[string]string // external id → recipient id
}

func newDistrict(t *testing.T) *district {
	t.Helper()
	return newDistrictWith(t, nil)
}

// newDistrictWith is newDistrict on a server configured by opts.
func newDistrictWith(t *testing.T, opts *servertest.Options) *district {
	t.Helper()
	s := servertest.New(t, opts)
	_, admin := s.Admin(t, "admin@district.test")
	d := &district{s: s, admin: admin, importID: createImport(t, s, admin, "SIS", "FULL")}
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, admin, d.importID, studentsCSV).Status)
	d.refreshIDs(t)
	return d
}

func (d *district) refreshIDs(t *testing.T) {
	t.Helper()
	var out struct {
		Recipients struct {
			Nodes []struct{ ID, ExternalID string }
		}
	}
	d.s.MustQuery(t, d.admin, `query($id: ID!) { recipients(importId: $id, first: 500, includeRemoved: true) { nodes { id externalId } } }`, map[string]any{"id": d.importID}, &out)
	d.ids = map[string]string{}
	for _, n := range out.Recipients.Nodes {
		d.ids[n.ExternalID] = n.ID
	}
}

// restrictedUser makes a USER limited to a filter (GraphQL literal).
func (d *district) restrictedUser(t *testing.T, email, filter string) (string, string) {
	t.Helper()
	u, token := d.s.User(t, d.admin, email)
	if filter != "" {
		d.s.MustQuery(t, d.admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: `+filter+`) { id } }`, map[string]any{"u": fmt.Sprint(u.ID)}, nil)
	}
	return fmt.Sprint(u.ID), token
}

type listOut struct {
	ID, Name, FilterDescription string
	MemberCount                 int
	CanEdit                     bool
	Members                     struct {
		Nodes []struct{ ExternalID string }
	}
}

const listFields = `id name filterDescription memberCount canEdit members(first: 100, orderBy: EXTERNAL_ID) { nodes { externalId } }`

func (l listOut) keys() []string {
	out := []string{}
	for _, n := range l.Members.Nodes {
		out = append(out, n.ExternalID)
	}
	return out
}

func (d *district) getList(t *testing.T, token, id string) listOut {
	t.Helper()
	var out struct{ List listOut }
	d.s.MustQuery(t, token, `query($id: ID!) { list(id: $id) { `+listFields+` } }`, map[string]any{"id": id}, &out)
	return out.List
}

func (d *district) explain(t *testing.T, token, listID, key string) (bool, []string) {
	t.Helper()
	var out struct {
		List struct {
			Explain struct {
				Member  bool
				Reasons []struct{ Code, Message string }
			}
		}
	}
	d.s.MustQuery(t, token, `query($l: ID!, $r: ID!) { list(id: $l) { explain(recipientId: $r) { member reasons { code message } } } }`,
		map[string]any{"l": listID, "r": d.ids[key]}, &out)
	var codes []string
	for _, r := range out.List.Explain.Reasons {
		codes = append(codes, r.Code)
	}
	return out.List.Explain.Member, codes
}

func TestListLifecycle(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	_, teacher := d.restrictedUser(t, "teacher@district.test", "")

	var created struct{ CreateList listOut }
	d.s.MustQuery(t, teacher, `mutation { createList(input: {name: "Grade 3 at Adams",
		filter: {grade: {eq: "3"}, school: {eq: "adams elementary"}}}) { `+listFields+` } }`, nil, &created)
	l := created.CreateList
	require.Equal(t, "grade = 3 and school = adams elementary", l.FilterDescription)
	require.Equal(t, []string{"S005", "S006"}, l.keys())
	require.Equal(t, 2, l.MemberCount)
	require.True(t, l.CanEdit)

	// Add one by hand; take off one the rule matches (kept as a skip).
	var changed struct{ AddListMembers listOut }
	d.s.MustQuery(t, teacher, `mutation($l: ID!, $r: [ID!]!) { addListMembers(listId: $l, recipientIds: $r) { `+listFields+` } }`,
		map[string]any{"l": l.ID, "r": []string{d.ids["S001"]}}, &changed)
	require.Equal(t, []string{"S001", "S005", "S006"}, changed.AddListMembers.keys())
	var removed struct{ RemoveListMembers listOut }
	d.s.MustQuery(t, teacher, `mutation($l: ID!, $r: [ID!]!) { removeListMembers(listId: $l, recipientIds: $r) { `+listFields+` } }`,
		map[string]any{"l": l.ID, "r": []string{d.ids["S005"]}}, &removed)
	require.Equal(t, []string{"S001", "S006"}, removed.RemoveListMembers.keys())
	require.Equal(t, 2, removed.RemoveListMembers.MemberCount)

	member, codes := d.explain(t, teacher, l.ID, "S005")
	require.False(t, member)
	require.Equal(t, []string{"RULE_MATCH", "SKIPPED"}, codes)
	member, codes = d.explain(t, teacher, l.ID, "S001")
	require.True(t, member)
	require.Equal(t, []string{"NO_MATCH", "ADDED"}, codes)
	var why struct {
		List struct {
			Explain struct{ MatchedConditions, FailedConditions []string }
		}
	}
	d.s.MustQuery(t, teacher, `query($l: ID!, $r: ID!) { list(id: $l) { explain(recipientId: $r) { matchedConditions failedConditions } } }`,
		map[string]any{"l": l.ID, "r": d.ids["S007"]}, &why)
	require.Equal(t, []string{"school = adams elementary"}, why.List.Explain.FailedConditions[1:])
	require.Equal(t, []string{"grade = 3"}, why.List.Explain.FailedConditions[:1])

	// Hand-picked people are listed.
	var hand struct {
		List struct {
			Additions, Exclusions struct{ Nodes []struct{ ExternalID string } }
		}
	}
	d.s.MustQuery(t, teacher, `query($l: ID!) { list(id: $l) { additions { nodes { externalId } } exclusions { nodes { externalId } } } }`, map[string]any{"l": l.ID}, &hand)
	require.Equal(t, "S001", hand.List.Additions.Nodes[0].ExternalID)
	require.Equal(t, "S005", hand.List.Exclusions.Nodes[0].ExternalID)

	// Adding back lifts the skip.
	d.s.MustQuery(t, teacher, `mutation($l: ID!, $r: [ID!]!) { addListMembers(listId: $l, recipientIds: $r) { `+listFields+` } }`,
		map[string]any{"l": l.ID, "r": []string{d.ids["S005"]}}, &changed)
	require.Equal(t, []string{"S001", "S005", "S006"}, changed.AddListMembers.keys())

	// A new rule; then no rule at all (hand-added people stay).
	var updated struct{ UpdateList listOut }
	d.s.MustQuery(t, teacher, `mutation($l: ID!) { updateList(id: $l, input: {name: "Spanish speakers", filter: {language: {eq: "spanish"}}}) { `+listFields+` } }`,
		map[string]any{"l": l.ID}, &updated)
	require.Equal(t, []string{"S001", "S005"}, updated.UpdateList.keys())
	d.s.MustQuery(t, teacher, `mutation($l: ID!) { updateList(id: $l, input: {clearFilter: true}) { `+listFields+` } }`, map[string]any{"l": l.ID}, &updated)
	require.Equal(t, []string{"S001", "S005"}, updated.UpdateList.keys())
	require.Equal(t, "nobody (only people added by hand)", updated.UpdateList.FilterDescription)

	var deleted struct{ DeleteList struct{ Name string } }
	d.s.MustQuery(t, teacher, `mutation($l: ID!) { deleteList(id: $l) { name } }`, map[string]any{"l": l.ID}, &deleted)
	require.Equal(t, "Spanish speakers", deleted.DeleteList.Name)
	require.Equal(t, "NOT_FOUND", d.s.Query(t, teacher, `query($l: ID!) { list(id: $l) { id } }`, map[string]any{"l": l.ID}).FirstCode())
}

func TestListMembershipFollowsImports(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var created struct{ CreateList listOut }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Third grade", filter: {grade: {eq: "3"}}}) { `+listFields+` } }`, nil, &created)
	require.Equal(t, []string{"S005", "S006"}, created.CreateList.keys())

	// The next file moves S007 to grade 3 and no longer has S006: the list
	// follows, untouched.
	next := strings.Replace(studentsCSV, "S007,Gus,Berg,8,", "S007,Gus,Berg,3,", 1)
	next = strings.Replace(next, "S006,Fay,Ali,3,Adams Elementary,Somali,612-555-0106,,Room 7\n", "", 1)
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, d.s, d.admin, d.importID, next).Status)
	require.Equal(t, []string{"S005", "S007"}, d.getList(t, d.admin, created.CreateList.ID).keys())

	member, codes := d.explain(t, d.admin, created.CreateList.ID, "S006")
	require.False(t, member)
	require.Contains(t, codes, "REMOVED_BY_IMPORT")
}

func TestRestrictionsHoldEverywhere(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	uid, teacher := d.restrictedUser(t, "lincoln.teacher@district.test", `{school: {eq: "Lincoln Elementary"}}`)
	lincoln := []string{"S001", "S002", "S004"}
	outside := d.ids["S003"] // Jefferson High

	var me struct {
		Me struct {
			Restriction            map[string]any
			RestrictionDescription string
		}
	}
	d.s.MustQuery(t, teacher, `{ me { restriction restrictionDescription } }`, nil, &me)
	require.Equal(t, "school = Lincoln Elementary", me.Me.RestrictionDescription)

	t.Run("Recipients", func(t *testing.T) {
		var out struct {
			Recipients struct {
				TotalCount int
				Nodes      []struct{ ExternalID string }
			}
		}
		d.s.MustQuery(t, teacher, `{ recipients(filter: {all: true}, orderBy: EXTERNAL_ID) { totalCount nodes { externalId } } }`, nil, &out)
		require.Equal(t, 3, out.Recipients.TotalCount)
		var keys []string
		for _, n := range out.Recipients.Nodes {
			keys = append(keys, n.ExternalID)
		}
		require.Equal(t, lincoln, keys)
		var n struct{ RecipientCount int }
		d.s.MustQuery(t, teacher, `{ recipientCount(filter: {grade: {gte: "PK"}}) }`, nil, &n)
		require.Equal(t, 3, n.RecipientCount)
	})
	t.Run("RecipientByIDIsNotFound", func(t *testing.T) {
		resp := d.s.Query(t, teacher, `query($id: ID!) { recipient(id: $id) { id } }`, map[string]any{"id": outside})
		require.Equal(t, "NOT_FOUND", resp.FirstCode())
		require.Equal(t, "NOT_FOUND", d.s.Query(t, teacher, `{ recipient(id: "987654") { id } }`, nil).FirstCode(), "the same answer as for nobody")
	})
	t.Run("BrowsingImportsIsForAdmins", func(t *testing.T) {
		resp := d.s.Query(t, teacher, `query($id: ID!) { recipients(importId: $id) { totalCount } }`, map[string]any{"id": d.importID})
		require.Equal(t, "FORBIDDEN", resp.FirstCode())
	})
	t.Run("Aggregates", func(t *testing.T) {
		var out struct {
			RecipientCounts []struct {
				Values []*string
				Count  int
			}
		}
		d.s.MustQuery(t, teacher, `{ recipientCounts(filter: {all: true}, groupBy: [{field: SCHOOL}]) { values count } }`, nil, &out)
		require.Len(t, out.RecipientCounts, 1)
		require.Equal(t, "Lincoln Elementary", *out.RecipientCounts[0].Values[0])
		require.Equal(t, 3, out.RecipientCounts[0].Count)
	})
	t.Run("Preview", func(t *testing.T) {
		var out struct {
			PreviewList struct {
				Count      int
				Recipients []struct{ ExternalID string }
			}
		}
		d.s.MustQuery(t, teacher, `{ previewList(filter: {type: {eq: STUDENT}}) { count recipients { externalId } } }`, nil, &out)
		require.Equal(t, 3, out.PreviewList.Count)
		require.Len(t, out.PreviewList.Recipients, 3)
	})

	// An administrator's list of everyone, shared with the teacher: the
	// teacher sees only the Lincoln members.
	var created struct{ CreateList listOut }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Everyone", filter: {all: true}}) { `+listFields+` } }`, nil, &created)
	require.Equal(t, 10, created.CreateList.MemberCount)
	d.s.MustQuery(t, d.admin, `mutation($l: ID!, $u: [ID!]!) { shareList(listId: $l, userIds: $u) { id } }`,
		map[string]any{"l": created.CreateList.ID, "u": []string{uid}}, nil)
	shared := d.getList(t, teacher, created.CreateList.ID)
	require.Equal(t, lincoln, shared.keys())
	require.Equal(t, 3, shared.MemberCount)
	require.False(t, shared.CanEdit)

	t.Run("Explain", func(t *testing.T) {
		member, codes := d.explain(t, teacher, created.CreateList.ID, "S003")
		require.False(t, member)
		require.Equal(t, []string{"OUTSIDE_RESTRICTION"}, codes)
	})
	t.Run("ContactPoints", func(t *testing.T) {
		var out struct {
			List struct {
				ContactPoints struct {
					TotalCount int
					Nodes      []struct{ Value string }
				}
			}
		}
		d.s.MustQuery(t, teacher, `query($l: ID!) { list(id: $l) { contactPoints(kind: PHONE) { totalCount nodes { value } } } }`,
			map[string]any{"l": created.CreateList.ID}, &out)
		require.Equal(t, 2, out.List.ContactPoints.TotalCount) // S004 has no phone
		require.Equal(t, "+16125550101", out.List.ContactPoints.Nodes[0].Value)
	})
	t.Run("Export", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, d.s.URL+"/lists/"+created.CreateList.ID+"/members.csv", nil)
		req.Header.Set("Authorization", "Bearer "+teacher)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
		body, _ := io.ReadAll(resp.Body)
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		require.Len(t, lines, 4, string(body))
		require.True(t, strings.HasPrefix(lines[0], "id,external_id,type,first_name,last_name"))
		require.NotContains(t, string(body), "Jefferson")
		require.Contains(t, string(body), "Guardian 1: +16125550101")
	})
	t.Run("HandPickingOutsideIsNotFound", func(t *testing.T) {
		var mine struct{ CreateList struct{ ID string } }
		d.s.MustQuery(t, teacher, `mutation { createList(input: {name: "Mine"}) { id } }`, nil, &mine)
		resp := d.s.Query(t, teacher, `mutation($l: ID!, $r: [ID!]!) { addListMembers(listId: $l, recipientIds: $r) { id } }`,
			map[string]any{"l": mine.CreateList.ID, "r": []string{d.ids["S001"], outside}})
		require.Equal(t, "NOT_FOUND", resp.FirstCode())
		require.Equal(t, "recipientIds[1]", resp.Errors[0].Extensions["field"])
	})
	t.Run("SharedListIsReadOnly", func(t *testing.T) {
		resp := d.s.Query(t, teacher, `mutation($l: ID!) { updateList(id: $l, input: {name: "Mine now"}) { id } }`, map[string]any{"l": created.CreateList.ID})
		require.Equal(t, "FORBIDDEN", resp.FirstCode())
	})

	// Clearing the restriction shows everything again.
	d.s.MustQuery(t, d.admin, `mutation($u: ID!) { clearUserRestriction(userId: $u) { id } }`, map[string]any{"u": uid}, nil)
	require.Equal(t, 10, d.getList(t, teacher, created.CreateList.ID).MemberCount)
}

// TestRestrictionGroupsBindAsUnits: an or-group beside a sibling field is
// one condition, in a restriction and in a list rule (it once compiled to
// "A OR B AND C", showing a restricted user everyone at school A).
func TestRestrictionGroupsBindAsUnits(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	const rule = `{or: [{school: {eq: "Lincoln Elementary"}}, {school: {eq: "Adams Middle"}}], grade: {lte: "K"}}`
	_, teacher := d.restrictedUser(t, "young.ones@district.test", rule)
	var out struct {
		Recipients struct {
			TotalCount int
			Nodes      []struct{ ExternalID string }
		}
		RecipientCount int
	}
	d.s.MustQuery(t, teacher, `{ recipients(filter: {all: true}, orderBy: EXTERNAL_ID) { totalCount nodes { externalId } } recipientCount(filter: {all: true}) }`, nil, &out)
	require.Equal(t, 2, out.Recipients.TotalCount)
	require.Equal(t, 2, out.RecipientCount)
	require.Equal(t, []struct{ ExternalID string }{{"S002"}, {"S004"}}, out.Recipients.Nodes)
	resp := d.s.Query(t, teacher, `query($id: ID!) { recipient(id: $id) { id } }`, map[string]any{"id": d.ids["S001"]})
	require.Equal(t, "NOT_FOUND", resp.FirstCode(), "grade 5 at Lincoln is outside the restriction")

	// The same rule as an administrator's list, and its and-spelling.
	for _, filter := range []string{rule, `{and: [{or: [{school: {eq: "Lincoln Elementary"}}, {school: {eq: "Adams Middle"}}]}, {grade: {lte: "K"}}]}`} {
		var created struct{ CreateList listOut }
		d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Young", filter: `+filter+`}) { `+listFields+` } }`, nil, &created)
		require.Equal(t, 2, created.CreateList.MemberCount, filter)
		require.Equal(t, []string{"S002", "S004"}, created.CreateList.keys(), filter)
	}
}

func TestListVisibilityAndSharing(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	aliceID, alice := d.restrictedUser(t, "alice@district.test", "")
	bobID, bob := d.restrictedUser(t, "bob@district.test", "")
	_, carol := d.restrictedUser(t, "carol@district.test", "")

	mk := func(token, name string) string {
		var out struct{ CreateList struct{ ID string } }
		d.s.MustQuery(t, token, `mutation($n: String!) { createList(input: {name: $n, filter: {grade: {lte: "K"}}}) { id } }`, map[string]any{"n": name}, &out)
		return out.CreateList.ID
	}
	a1, b1 := mk(alice, "Alice's"), mk(bob, "Bob's")
	names := func(token string) []string {
		var out struct {
			Lists struct {
				TotalCount int
				Nodes      []struct{ Name string }
			}
		}
		d.s.MustQuery(t, token, `{ lists { totalCount nodes { name } } }`, nil, &out)
		var ns []string
		for _, n := range out.Lists.Nodes {
			ns = append(ns, n.Name)
		}
		sort.Strings(ns)
		require.Equal(t, len(ns), out.Lists.TotalCount)
		return ns
	}
	require.Equal(t, []string{"Alice's"}, names(alice))
	require.Nil(t, names(carol))
	require.Equal(t, "NOT_FOUND", d.s.Query(t, carol, `query($l: ID!) { list(id: $l) { id } }`, map[string]any{"l": a1}).FirstCode())

	var sh struct {
		ShareList struct{ SharedWith []struct{ Email string } }
	}
	d.s.MustQuery(t, alice, `mutation($l: ID!, $u: [ID!]!) { shareList(listId: $l, userIds: $u) { sharedWith { email } } }`,
		map[string]any{"l": a1, "u": []string{bobID, aliceID}}, &sh)
	require.Len(t, sh.ShareList.SharedWith, 1)
	require.Equal(t, []string{"Alice's", "Bob's"}, names(bob))
	require.Equal(t, []string{"Alice's", "Bob's"}, names(d.admin), "administrators see every list")

	// Sharing is the whole set: sharing with nobody takes it back.
	d.s.MustQuery(t, alice, `mutation($l: ID!) { shareList(listId: $l, userIds: []) { id } }`, map[string]any{"l": a1}, nil)
	require.Equal(t, []string{"Bob's"}, names(bob))
	resp := d.s.Query(t, bob, `mutation($l: ID!, $u: [ID!]!) { shareList(listId: $l, userIds: $u) { id } }`, map[string]any{"l": b1, "u": []string{"424242"}})
	require.Equal(t, "BAD_USER_INPUT", resp.FirstCode())
	require.Equal(t, "userIds[0]", resp.Errors[0].Extensions["field"])

	var found struct{ FindUsers []struct{ Email string } }
	d.s.MustQuery(t, carol, `{ findUsers(search: "ALI") { email } }`, nil, &found)
	require.Equal(t, "alice@district.test", found.FindUsers[0].Email)
}

func TestContactPointsDeduplicate(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	// S005 and S006 are siblings: one more student shares their guardian's
	// phone, written another way.
	next := studentsCSV + "S011,Ike,Wong,1,Adams Elementary,Mandarin,(612) 555-0105,eli.dad@outlook.com,Room 2\n"
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, d.s, d.admin, d.importID, next).Status)
	var created struct{ CreateList struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Adams", filter: {school: {eq: "Adams Elementary"}}}) { id } }`, nil, &created)
	var out struct {
		List struct {
			ContactPoints struct {
				Nodes []struct {
					Value          string
					Labels         []string
					RecipientCount int
					Recipients     []struct{ ExternalID string }
				}
			}
		}
	}
	d.s.MustQuery(t, d.admin, `query($l: ID!) { list(id: $l) { contactPoints(kind: EMAIL) { nodes { value labels recipientCount recipients { externalId } } } } }`,
		map[string]any{"l": created.CreateList.ID}, &out)
	nodes := out.List.ContactPoints.Nodes
	require.Len(t, nodes, 1)
	require.Equal(t, "eli.dad@outlook.com", nodes[0].Value)
	require.Equal(t, 2, nodes[0].RecipientCount)
	require.Equal(t, []string{"Guardian 1"}, nodes[0].Labels)
}

func TestRecipientCountsGroupBy(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var out struct {
		RecipientCounts []struct {
			Values []*string
			Count  int
		}
	}
	d.s.MustQuery(t, d.admin, `{ recipientCounts(filter: {school: {eq: "Jefferson High"}}, groupBy: [{field: GRADE}, {field: CUSTOM, key: "homeroom"}]) { values count } }`, nil, &out)
	var rows []string
	for _, r := range out.RecipientCounts {
		rows = append(rows, fmt.Sprintf("%s|%s=%d", *r.Values[0], *r.Values[1], r.Count))
	}
	require.Equal(t, []string{"9|Room 101=1", "10|Room 102=1", "11|Room 103=1", "12|Room 12, Bldg B=1"}, rows)

	resp := d.s.Query(t, d.admin, `{ recipientCounts(filter: {all: true}, groupBy: [{field: CUSTOM}]) { count } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", resp.FirstCode())
	require.Equal(t, "groupBy[0].key", resp.Errors[0].Extensions["field"])
}

func TestFilterErrorsThroughGraphQL(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	for _, c := range []struct{ filter, field string }{
		{`{}`, "filter"},
		{`{grade: {eq: null}}`, "filter.grade"},
		{`{and: [{school: {eq: "x"}}, {}]}`, "filter.and[1]"},
		{`{phone: {eq: "nope"}}`, "filter.phone.eq"},
	} {
		resp := d.s.Query(t, d.admin, `{ recipientCount(filter: `+c.filter+`) }`, nil)
		require.Equal(t, "BAD_USER_INPUT", resp.FirstCode(), c.filter)
		require.Equal(t, c.field, resp.Errors[0].Extensions["field"], c.filter)
	}
	resp := d.s.Query(t, d.admin, `mutation { createList(input: {name: "x", filter: {}}) { id } }`, nil)
	require.Equal(t, "input.filter", resp.Errors[0].Extensions["field"])
}

func TestListPageQueriesAreBounded(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	_, owner := d.restrictedUser(t, "owner@district.test", `{grade: {gte: "K"}}`)
	for i := range 50 {
		d.s.MustQuery(t, owner, `mutation($n: String!, $g: String!) { createList(input: {name: $n, filter: {grade: {eq: $g}}}) { id } }`,
			map[string]any{"n": fmt.Sprintf("List %02d", i), "g": fmt.Sprint(i%12 + 1)}, nil)
	}
	before := d.s.Queries.Count()
	var out struct {
		Lists struct {
			Nodes []struct {
				Name        string
				MemberCount int
				Owner       struct{ Email string }
			}
		}
	}
	d.s.MustQuery(t, owner, `{ lists(first: 50) { nodes { name memberCount owner { email } } } }`, nil, &out)
	used := d.s.Queries.Count() - before
	require.Len(t, out.Lists.Nodes, 50)
	require.Equal(t, "owner@district.test", out.Lists.Nodes[0].Owner.Email)
	require.Equal(t, 0, out.Lists.Nodes[0].MemberCount) // List 00: grade 1, nobody
	require.Equal(t, 2, out.Lists.Nodes[2].MemberCount) // List 02: grade 3, S005 and S006
	// Authentication, the page of lists, the owners, whether lists have
	// hand-picked people, and the counts: the same few statements for any
	// number of lists.
	require.Positive(t, used)
	require.LessOrEqual(t, used, int64(8), "SQL statements for a page of 50 lists")
}

func TestUserImportThroughGraphQL(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var created struct{ CreateImport struct{ ID, Kind string } }
	d.s.MustQuery(t, d.admin, `mutation { createImport(input: {name: "HR staff", kind: USER, method: FULL}) { id kind } }`, nil, &created)
	require.Equal(t, "USER", created.CreateImport.Kind)
	staff := "email,name,role,schools\n" +
		"pat.rivera@district.test,Pat Rivera,user,Lincoln Elementary\n" +
		"sam.okafor@district.test,Sam Okafor,teacher,Adams Elementary; Adams Middle\n" +
		"jordan.lee@district.test,Jordan Lee,admin,*\n"
	run := uploadAndRun(t, d.s, d.admin, created.CreateImport.ID, staff)
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, 3, run.Created)

	var imp struct {
		Import struct{ UserCount, RecipientCount int }
	}
	d.s.MustQuery(t, d.admin, `query($id: ID!) { import(id: $id) { userCount recipientCount } }`, map[string]any{"id": created.CreateImport.ID}, &imp)
	require.Equal(t, 3, imp.Import.UserCount)

	var us struct {
		Users struct {
			Nodes []struct {
				Email, Role            string
				RestrictionDescription *string
				ManagedBy              *struct{ Name string }
			}
		}
	}
	d.s.MustQuery(t, d.admin, `{ users(search: "district.test", first: 50) { nodes { email role restrictionDescription managedBy { name } } } }`, nil, &us)
	byEmail := map[string]string{}
	for _, u := range us.Users.Nodes {
		desc := "-"
		if u.RestrictionDescription != nil {
			desc = *u.RestrictionDescription
		}
		if u.ManagedBy != nil {
			byEmail[u.Email] = u.Role + " | " + desc + " | " + u.ManagedBy.Name
		}
	}
	require.Equal(t, map[string]string{
		"pat.rivera@district.test": "USER | school is one of Lincoln Elementary | HR staff",
		"sam.okafor@district.test": "USER | school is one of Adams Elementary, Adams Middle | HR staff",
		"jordan.lee@district.test": "SYSTEM_ADMIN | - | HR staff",
	}, byEmail)

	// Pat's token sees Lincoln only.
	var pat struct {
		Users struct{ Nodes []struct{ ID string } }
	}
	d.s.MustQuery(t, d.admin, `{ users(search: "pat.rivera") { nodes { id } } }`, nil, &pat)
	var tok struct{ CreateApiToken struct{ Token string } }
	d.s.MustQuery(t, d.admin, `mutation($u: ID!) { createApiToken(userId: $u, name: "t") { token } }`, map[string]any{"u": pat.Users.Nodes[0].ID}, &tok)
	var n struct{ RecipientCount int }
	d.s.MustQuery(t, tok.CreateApiToken.Token, `{ recipientCount(filter: {all: true}) }`, nil, &n)
	require.Equal(t, 3, n.RecipientCount)

	// Sam leaves: FULL disables (never deletes) the account; the admin is
	// never disabled even when absent.
	run = uploadAndRun(t, d.s, d.admin, created.CreateImport.ID, "email,name,role,schools\npat.rivera@district.test,Pat Rivera,user,Lincoln Elementary\n")
	require.Equal(t, "HELD", run.Status, "disabling 1 of 3 is over the 10% guard")
	var ap struct{ ApproveImportRun struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { approveImportRun(id: $id) { id } }`, map[string]any{"id": run.ID}, &ap)
	run = d.s.WaitRun(t, d.admin, run.ID)
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, 1, run.Removed)
	var sam struct {
		Users struct{ Nodes []struct{ Disabled bool } }
	}
	d.s.MustQuery(t, d.admin, `{ users(search: "sam.okafor") { nodes { disabled } } }`, nil, &sam)
	require.True(t, sam.Users.Nodes[0].Disabled)
}

// Pages read phones, emails and custom fields only when the query selects
// them; however they are selected (nodes, edges, fragments, a preview),
// they come back whole.
func TestRecipientPagesReadWhatIsSelected(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	type node struct {
		ExternalID   string
		Phones       []struct{ Number string }
		Emails       []struct{ Address string }
		CustomFields map[string]string
	}
	check := func(t *testing.T, n node) {
		t.Helper()
		require.Equal(t, "S001", n.ExternalID)
		require.Equal(t, "+16125550101", n.Phones[0].Number)
		require.Equal(t, "ana.parent@gmail.com", n.Emails[0].Address)
		require.Equal(t, "Room 4", n.CustomFields["homeroom"])
	}
	filter := `{externalId: {eq: "S001"}}`

	var plain struct {
		Recipients struct {
			Nodes []struct{ ExternalID, FirstName string }
		}
	}
	d.s.MustQuery(t, d.admin, `{ recipients(filter: `+filter+`) { nodes { externalId firstName } } }`, nil, &plain)
	require.Equal(t, "Ana", plain.Recipients.Nodes[0].FirstName)

	var viaNodes struct{ Recipients struct{ Nodes []node } }
	d.s.MustQuery(t, d.admin, `{ recipients(filter: `+filter+`) { nodes { externalId phones { number } emails { address } customFields } } }`, nil, &viaNodes)
	check(t, viaNodes.Recipients.Nodes[0])

	var viaFragment struct {
		Recipients struct{ Edges []struct{ Node node } }
	}
	d.s.MustQuery(t, d.admin, `query { recipients(filter: `+filter+`) { edges { node { externalId ...Contacts ... on Recipient { customFields } } } } }
		fragment Contacts on Recipient { phones { number } emails { address } }`, nil, &viaFragment)
	check(t, viaFragment.Recipients.Edges[0].Node)

	var preview struct{ PreviewList struct{ Recipients []node } }
	d.s.MustQuery(t, d.admin, `{ previewList(filter: `+filter+`) { recipients { externalId phones { number } emails { address } customFields } } }`, nil, &preview)
	check(t, preview.PreviewList.Recipients[0])

	// Skipped by a directive: not read, and the rest still answers.
	var skipped struct{ Recipients struct{ Nodes []node } }
	d.s.MustQuery(t, d.admin, `query($s: Boolean!) { recipients(filter: `+filter+`) { nodes { externalId phones @skip(if: $s) { number } } } }`,
		map[string]any{"s": true}, &skipped)
	require.Empty(t, skipped.Recipients.Nodes[0].Phones)
}

// TestExportCustomFields: the CSV export has one column per custom-field
// key present among the members the viewer sees (in key order, values in
// their rows, empty where a member has none), and a person in two imports
// is two rows, each naming its import. A restricted viewer's header names
// only the keys of the members they may see.
func TestExportCustomFields(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	sis := createImport(t, s, admin, "SIS", "FULL")
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, admin, sis, "student_id,first_name,last_name,school,homeroom,bus\n"+
		"S1,Ana,Avila,Lincoln,\"Parker, Room 4\",12\n"+
		"S2,Ben,Brook,Lincoln,Diaz,\n"+
		"S3,Cy,Cole,Adams,,7\n").Status)
	staff := createImport(t, s, admin, "Staff", "FULL")
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, admin, staff, "employee_id,first_name,last_name,school,type,zeta\n"+
		"S1,Ana,Avila,Adams,STAFF,z\n").Status)

	export := func(token, listID string) [][]string {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/lists/"+listID+"/members.csv", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		rows, err := csv.NewReader(resp.Body).ReadAll()
		require.NoError(t, err)
		require.NotEmpty(t, rows, s.Logs.String())
		return rows
	}
	column := func(rows [][]string, name string) []string {
		i := slices.Index(rows[0], name)
		require.GreaterOrEqual(t, i, 0, "no column %s in %v", name, rows[0])
		var out []string
		for _, r := range rows[1:] {
			out = append(out, r[i])
		}
		return out
	}

	var everyone struct{ CreateList struct{ ID string } }
	s.MustQuery(t, admin, `mutation { createList(input: {name: "Everyone", filter: {all: true}}) { id } }`, nil, &everyone)
	rows := export(admin, everyone.CreateList.ID)
	require.Equal(t, []string{"id", "external_id", "type", "first_name", "last_name", "grade", "school", "language", "phones", "emails", "import",
		"custom:bus", "custom:homeroom", "custom:zeta"}, rows[0])
	require.Len(t, rows, 5) // S1 twice: once per import
	require.Equal(t, []string{"S1", "S1", "S2", "S3"}, column(rows, "external_id"))
	require.ElementsMatch(t, []string{"SIS", "Staff"}, column(rows, "import")[:2])
	homeroom := map[string]string{}
	for i, key := range column(rows, "external_id") {
		homeroom[key+"/"+column(rows, "import")[i]] = column(rows, "custom:homeroom")[i]
	}
	require.Equal(t, map[string]string{"S1/SIS": "Parker, Room 4", "S1/Staff": "", "S2/SIS": "Diaz", "S3/SIS": ""}, homeroom)

	// A teacher limited to Lincoln sees neither Adams row, nor the key
	// only an Adams row has.
	d := &district{s: s, admin: admin}
	_, teacher := d.restrictedUser(t, "lincoln@district.test", `{school: {eq: "Lincoln"}}`)
	var shared struct{ CreateList struct{ ID string } }
	s.MustQuery(t, teacher, `mutation { createList(input: {name: "Mine", filter: {all: true}}) { id } }`, nil, &shared)
	rows = export(teacher, shared.CreateList.ID)
	require.Equal(t, []string{"S1", "S2"}, column(rows, "external_id"))
	require.NotContains(t, rows[0], "custom:zeta")
	require.Equal(t, []string{"12", ""}, column(rows, "custom:bus"))
}
