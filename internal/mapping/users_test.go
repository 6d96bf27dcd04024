package mapping

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/users"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]users.Role{
		"": users.RoleUser, "USER": users.RoleUser, "user": users.RoleUser, "Staff": users.RoleUser, "teacher": users.RoleUser,
		"SYSTEM_ADMIN": users.RoleSystemAdmin, "admin": users.RoleSystemAdmin, "Administrator": users.RoleSystemAdmin,
		"system admin": users.RoleSystemAdmin,
	} {
		got, ok := parseRole(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := parseRole("janitor")
	require.False(t, ok)
}

// TestUserPlanRefusesAFieldNamedTwice: as for recipient imports, a header
// naming a USER field twice (by synonyms) fails, naming both columns,
// unless a mapping says which is meant.
func TestUserPlanRefusesAFieldNamedTwice(t *testing.T) {
	header := []string{"Email", "Name", "Work Email"}
	_, err := NewUserPlan(header, nil, &importfile.Notes{})
	var fe *importfile.FileError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "Work Email", fe.Column)
	require.Contains(t, fe.Message, `1 ("Email") and 3 ("Work Email")`)

	_, err = NewUserPlan(header, Mapping{{Column: "Work Email", Field: "email"}, {Column: "Name", Field: "name"}}, &importfile.Notes{})
	require.NoError(t, err)
	_, err = NewUserPlan([]string{"Email", "Name", "First Name"}, nil, &importfile.Notes{})
	require.NoError(t, err, "name and firstName are different fields")
}
