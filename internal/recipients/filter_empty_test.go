package recipients

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

// nameless are people some of whose names are empty: imports store a
// missing first or last name as "" (the columns are NOT NULL).
const nameless = `
key | type    | first | last   | grade | rank | school  | language | phones | emails | custom | removed
N1  | STUDENT | Ana   | García | 5     | 5    | Lincoln | English  |        |        | {}     | no
N2  | CONTACT |       | García |       |      |         |          |        |        | {}     | no
N3  | CONTACT |       |        |       |      |         |          |        |        | {}     | no
`

// TestEmptyTextCountsAsNull: empty text is null in every operator, not
// only in isNull. Before, "" was a value like any other except to isNull:
// eq "" and startsWith "" found the people without a first name (whom
// isNull: true also finds), and neq "" and nin [""] left them out, though
// neq and nin include people with no value.
func TestEmptyTextCountsAsNull(t *testing.T) {
	t.Parallel()
	f := loadRows(t, testdb.New(t), nameless)
	cases := []struct {
		name   string
		filter Filter
		want   string
	}{
		{"IsNull", Filter{FirstName: &StringFilter{IsNull: b(true)}}, "N2 N3"},
		{"IsNotNull", Filter{FirstName: &StringFilter{IsNull: b(false)}}, "N1"},
		{"EqEmpty", Filter{FirstName: &StringFilter{Eq: s("")}}, ""},
		{"InEmpty", Filter{FirstName: &StringFilter{In: []string{"", "ana"}}}, "N1"},
		{"InOnlyEmpty", Filter{LastName: &StringFilter{In: []string{""}}}, ""},
		{"NeqEmpty", Filter{FirstName: &StringFilter{Neq: s("")}}, "N1 N2 N3"},
		{"NinEmpty", Filter{LastName: &StringFilter{Nin: []string{""}}}, "N1 N2 N3"},
		{"NinEmptyAndValue", Filter{LastName: &StringFilter{Nin: []string{"", "garcía"}}}, "N3"},
		{"StartsWithEmpty", Filter{FirstName: &StringFilter{StartsWith: s("")}}, "N1"},
		{"ContainsEmpty", Filter{LastName: &StringFilter{Contains: s("")}}, "N1 N2"},
		{"NotEqEmpty", Filter{Not: &Filter{FirstName: &StringFilter{Eq: s("")}}}, "N1 N2 N3"},
		{"ExternalIDEqEmpty", Filter{ExternalID: &StringFilter{Eq: s("")}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := f.match(t, &c.filter)
			require.NoError(t, err)
			require.ElementsMatch(t, strings.Fields(c.want), got)
		})
	}
	t.Run("Restriction", func(t *testing.T) {
		t.Parallel()
		// A restriction to people with a first name shows no one without.
		got, err := f.matchScoped(t, &Filter{All: b(true)}, &Scope{Restriction: &Filter{FirstName: &StringFilter{Contains: s("")}}})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"N1"}, got)
	})
}
