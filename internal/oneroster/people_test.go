package oneroster

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoleType(t *testing.T) {
	for role, want := range map[string]string{
		"student": "STUDENT", "Student": "STUDENT",
		"parent": "CONTACT", "guardian ": "CONTACT", "relative": "CONTACT",
		"teacher": "STAFF", "siteAdministrator": "STAFF", "districtAdministrator": "STAFF", "aide": "STAFF",
		"janitor": "", "": "",
	} {
		require.Equal(t, want, RoleType(role), role)
	}
	// The SQL lists are the same roles.
	require.Equal(t, `'guardian', 'parent', 'relative'`, guardianRoles)
	require.Contains(t, staffRoles, `'teacher'`)
	require.NotContains(t, staffRoles, `'student'`)
}
