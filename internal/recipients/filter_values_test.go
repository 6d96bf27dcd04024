package recipients

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
)

// TestFilterRefusesNUL: JSON and GraphQL strings can hold U+0000 and
// PostgreSQL text cannot. A value holding it used to pass validation and
// fail in the database ("invalid byte sequence for encoding UTF8: 0x00"),
// an internal error; it is bad input, refused naming the field.
func TestFilterRefusesNUL(t *testing.T) {
	t.Parallel()
	nul := "a\x00b"
	cases := []struct {
		filter *Filter
		field  string
	}{
		{&Filter{School: &StringFilter{Eq: &nul}}, "filter.school.eq"},
		{&Filter{LastName: &StringFilter{In: []string{"x", nul}}}, "filter.lastName.in"},
		{&Filter{ExternalID: &StringFilter{StartsWith: &nul}}, "filter.externalId.startsWith"},
		{&Filter{Email: &StringFilter{Contains: &nul}}, "filter.email.contains"},
		{&Filter{Grade: &GradeFilter{Eq: &nul}}, "filter.grade.eq"},
		{&Filter{Grade: &GradeFilter{Nin: []string{"5", nul}}}, "filter.grade.nin"},
		{&Filter{CustomFields: []CustomFieldFilter{{Key: nul, IsNull: b(true)}}}, "filter.customFields[0].key"},
		{&Filter{CustomFields: []CustomFieldFilter{{Key: "bus", Gt: &nul}}}, "filter.customFields[0].gt"},
		{&Filter{Not: &Filter{Language: &StringFilter{Neq: &nul}}}, "filter.not.language.neq"},
	}
	for _, c := range cases {
		err := ValidateFilter("filter", c.filter)
		require.Error(t, err, c.field)
		ae, ok := apperr.As(err)
		require.True(t, ok, c.field)
		require.Equal(t, apperr.CodeBadUserInput, ae.Code)
		require.Equal(t, c.field, ae.Field)
		require.True(t, strings.Contains(ae.Message, "U+0000"), ae.Message)
	}
}
