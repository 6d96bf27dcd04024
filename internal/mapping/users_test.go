package mapping

import (
	"testing"

	"github.com/stretchr/testify/require"

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
