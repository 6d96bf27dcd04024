package apply

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendCopyText(t *testing.T) {
	t.Parallel()
	require.Equal(t, `a\\b\tc\nd\re`, string(appendCopyText(nil, "a\\b\tc\nd\re")))
	require.Equal(t, `plain`, string(appendCopyText(nil, "plain")))
	require.Equal(t, `\N`, string(appendCopyOptional(nil, "")))
}
