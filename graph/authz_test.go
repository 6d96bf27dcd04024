package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportDataIsForAdmins: a user reaches an import only as a
// recipient's, and sees its id and name; everything else about it (its
// runs, files, headers, who made it) is FORBIDDEN, field by field.
func TestImportDataIsForAdmins(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	_, teacher := d.restrictedUser(t, "teacher@district.test", "")
	const q = `query($id: ID!) { recipient(id: $id) { externalId import { id name keyColumn createdBy { email }
		lastRun { rowsRead removed message requestedBy { email } file { name header lineCount sha256 uploadedBy { email } } }
		latestFile { header } runs(first: 5) { totalCount } } } }`
	vars := map[string]any{"id": d.ids["S001"]}

	// Its id and name.
	var named struct {
		Recipient struct{ Import struct{ ID, Name string } }
	}
	d.s.MustQuery(t, teacher, `query($id: ID!) { recipient(id: $id) { import { id name } } }`, vars, &named)
	require.Equal(t, d.importID, named.Recipient.Import.ID)
	require.Equal(t, "SIS", named.Recipient.Import.Name)

	// Nothing else: each field is refused, and no value of it is sent.
	resp := d.s.Query(t, teacher, q, vars)
	forbidden := map[string]bool{}
	for _, e := range resp.Errors {
		require.Equal(t, "FORBIDDEN", e.Code(), e.Message)
		forbidden[e.Path[len(e.Path)-1].(string)] = true
	}
	for _, f := range []string{"keyColumn", "createdBy", "lastRun", "latestFile", "runs"} {
		require.True(t, forbidden[f], "%s is refused", f)
	}
	for _, leak := range []string{"rowsRead", "header", "sha256", "admin@district.test", "student_id"} {
		require.NotContains(t, string(resp.Data), leak)
	}

	var out struct {
		Recipient struct{ Import map[string]any }
	}
	// An administrator sees it all.
	resp = d.s.Query(t, d.admin, q, vars)
	require.Empty(t, resp.Errors)
	resp.Decode(t, &out)
	require.NotNil(t, out.Recipient.Import["lastRun"])
	require.NotNil(t, out.Recipient.Import["createdBy"])
}
