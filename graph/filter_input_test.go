package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNULInFiltersIsBadInput: PostgreSQL text cannot hold U+0000, so a
// filter carrying one is the client's mistake, named where it is, never an
// internal error.
func TestNULInFiltersIsBadInput(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	const nul = "Ana\u0000"
	for _, c := range []struct {
		name, filter, field string
	}{
		{"Eq", `{firstName: {eq: $v}}`, "filter.firstName.eq"},
		{"Contains", `{school: {contains: $v}}`, "filter.school.contains"},
		{"StartsWith", `{externalId: {startsWith: $v}}`, "filter.externalId.startsWith"},
		{"In", `{lastName: {in: ["Wong", $v]}}`, "filter.lastName.in"},
		{"Grade", `{grade: {eq: $v}}`, "filter.grade.eq"},
		{"CustomFieldKey", `{customFields: [{key: $v, eq: "Room 4"}]}`, "filter.customFields[0].key"},
		{"CustomFieldValue", `{customFields: [{key: "homeroom", eq: $v}]}`, "filter.customFields[0].eq"},
		{"CustomFieldRange", `{customFields: [{key: "homeroom", gte: $v}]}`, "filter.customFields[0].gte"},
		{"Nested", `{or: [{all: true}, {not: {language: {neq: $v}}}]}`, "filter.or[1].not.language.neq"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for q, field := range map[string]string{
				`query($v: String!) { recipients(filter: ` + c.filter + `) { totalCount } }`:                c.field,
				`query($v: String!) { recipientCount(filter: ` + c.filter + `) }`:                           c.field,
				`mutation($v: String!) { createList(input: {name: "x", filter: ` + c.filter + `}) { id } }`: "input." + c.field,
			} {
				resp := d.s.Query(t, d.admin, q, map[string]any{"v": nul})
				require.Equal(t, "BAD_USER_INPUT", resp.FirstCode(), "%s: %s", q, resp.Body)
				require.Equal(t, field, resp.Errors[0].Extensions["field"], string(resp.Body))
				require.Contains(t, resp.Errors[0].Message, "NUL")
			}
		})
	}
	require.NotContains(t, d.s.Logs.String(), "graphql internal error")
}
