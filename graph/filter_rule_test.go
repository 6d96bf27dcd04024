package graph_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// ruleFields reads a saved filter back three levels deep.
const ruleFields = `fragment Cond on RecipientFilterRule {
  all
  externalId { ...S } firstName { ...S } lastName { ...S } school { ...S } language { ...S } email { ...S } phone { ...S }
  type { eq neq in nin }
  grade { eq neq in nin gt gte lt lte isNull }
  importId { eq neq in nin isNull }
  customFields { key eq neq in nin gt gte lt lte startsWith contains isNull }
}
fragment S on StringCondition { eq neq in nin startsWith contains isNull }
fragment Rule on RecipientFilterRule {
  ...Cond
  and { ...Cond and { ...Cond } or { ...Cond } not { ...Cond } }
  or { ...Cond and { ...Cond } or { ...Cond } not { ...Cond } }
  not { ...Cond and { ...Cond } or { ...Cond } not { ...Cond } }
}`

// withoutNulls drops the null entries a read-back has for every condition
// not given, so that it compares with the input that was given.
func withoutNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x != nil {
				out[k] = withoutNulls(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withoutNulls(x)
		}
		return out
	}
	return v
}

// TestFilterRuleReadBack: a list's rule and a user's restriction read back
// as a structure equal to the filter that was given, and that structure,
// passed back as a RecipientFilter, selects the same people.
func TestFilterRuleReadBack(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	filters := []string{
		`{"all": true}`,
		`{"grade": {"gte": "3", "lte": "9"}, "school": {"in": ["Adams Elementary", "Adams Middle"]}}`,
		`{"or": [{"school": {"eq": "Lincoln Elementary"}}, {"language": {"startsWith": "span"}}], "grade": {"isNull": false}}`,
		`{"not": {"and": [{"type": {"eq": "STUDENT"}}, {"phone": {"contains": "555-010"}}]}}`,
		`{"customFields": [{"key": "homeroom", "in": ["Room 7", "Room 4"]}, {"key": "homeroom", "neq": "Room 4"}]}`,
		`{"importId": {"in": ["` + d.importID + `"]}, "externalId": {"nin": ["S001", "S002"]}, "email": {"isNull": true}}`,
		`{"and": [{"or": [{"grade": {"eq": "K"}}, {"grade": {"eq": "PK"}}]}, {"not": {"lastName": {"eq": "patel"}}}]}`,
	}
	for _, f := range filters {
		var filter map[string]any
		require.NoError(t, json.Unmarshal([]byte(f), &filter))
		var created struct {
			CreateList struct {
				ID          string
				MemberCount int
				Rule        map[string]any
			}
		}
		d.s.MustQuery(t, d.admin, `mutation($f: RecipientFilter!) { createList(input: {name: "L", filter: $f}) { id memberCount rule { ...Rule } } } `+ruleFields,
			map[string]any{"f": filter}, &created)
		rule := withoutNulls(created.CreateList.Rule)
		require.Equal(t, filter, rule, f)

		var preview struct{ PreviewList struct{ Count int } }
		d.s.MustQuery(t, d.admin, `query($f: RecipientFilter!) { previewList(filter: $f) { count } }`, map[string]any{"f": rule}, &preview)
		require.Equal(t, created.CreateList.MemberCount, preview.PreviewList.Count, f)
	}

	var handPicked struct{ CreateList struct{ Rule map[string]any } }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "By hand"}) { rule { all } } }`, nil, &handPicked)
	require.Nil(t, handPicked.CreateList.Rule)

	// A restriction reads back to its user and to administrators only.
	const restriction = `{school: {eq: "Lincoln Elementary"}, grade: {lte: "K"}}`
	uid, teacher := d.restrictedUser(t, "lincoln@district.test", restriction)
	want := map[string]any{"school": map[string]any{"eq": "Lincoln Elementary"}, "grade": map[string]any{"lte": "K"}}
	for _, token := range []string{teacher, d.admin} {
		var out struct {
			User struct{ RestrictionRule map[string]any }
		}
		d.s.MustQuery(t, token, `query($u: ID!) { user(id: $u) { restrictionRule { ...Rule } } } `+ruleFields, map[string]any{"u": uid}, &out)
		require.Equal(t, want, withoutNulls(out.User.RestrictionRule))
	}
	_, other := d.s.User(t, d.admin, "other@district.test")
	resp := d.s.Query(t, other, `query($u: ID!) { user(id: $u) { restrictionRule { all } } }`, map[string]any{"u": uid})
	require.Equal(t, "FORBIDDEN", resp.FirstCode(), string(resp.Body))

	// A restricted user reads the rule of their own list; an anonymous
	// caller reaches neither a list's rule nor a restriction.
	var mine struct{ CreateList struct{ ID string } }
	d.s.MustQuery(t, teacher, `mutation { createList(input: {name: "Mine", filter: {grade: {eq: "K"}}}) { id } }`, nil, &mine)
	var read struct{ List struct{ Rule map[string]any } }
	d.s.MustQuery(t, teacher, `query($l: ID!) { list(id: $l) { rule { ...Rule } } } `+ruleFields, map[string]any{"l": mine.CreateList.ID}, &read)
	require.Equal(t, map[string]any{"grade": map[string]any{"eq": "K"}}, withoutNulls(read.List.Rule))
	for query, vars := range map[string]map[string]any{
		`query($l: ID!) { list(id: $l) { rule { all } } }`:            {"l": mine.CreateList.ID},
		`query($u: ID!) { user(id: $u) { restrictionRule { all } } }`: {"u": uid},
	} {
		resp := d.s.Query(t, "", query, vars)
		require.Equal(t, "UNAUTHENTICATED", resp.FirstCode(), string(resp.Body))
		require.NotContains(t, string(resp.Data), "grade")
	}
}
