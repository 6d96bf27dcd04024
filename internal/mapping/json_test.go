package mapping

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "Room 4", `say "hi"`, "back\\slash", "tab\tnew\nline", "Zoë", "\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		require.NoError(t, json.Unmarshal(b, &got), "%q gave %s", s, b)
		// Invalid UTF-8 is replaced, as encoding/json does; everything else
		// round-trips.
		want, _ := json.Marshal(s)
		var w string
		require.NoError(t, json.Unmarshal(want, &w))
		require.Equal(t, w, got)
	})
}
