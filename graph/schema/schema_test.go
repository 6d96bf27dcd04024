package schema

import (
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPublishedSchemaIsCurrent: schema.graphql, which front ends read, is
// the concatenation of this directory's files (go generate ./graph writes
// it), and every file is in it.
func TestPublishedSchemaIsCurrent(t *testing.T) {
	t.Parallel()
	published, err := os.ReadFile("../../schema.graphql")
	require.NoError(t, err)
	require.Equal(t, Published(), string(published), "schema.graphql is stale: run go generate ./graph")
	files, order := Files(), append([]string(nil), Order...)
	sort.Strings(files)
	sort.Strings(order)
	require.Equal(t, files, order, "Order names every schema file once")
}
