package apply

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyIndex(t *testing.T) {
	t.Parallel()
	x := newKeyIndex(4) // grows several times
	for i := range 100000 {
		require.Equal(t, int32(i), x.add(fmt.Sprintf("S%05d", i)))
	}
	require.Equal(t, 100000, x.len())
	for i := range 100000 {
		idx, ok := x.find(fmt.Sprintf("S%05d", i))
		require.True(t, ok)
		require.Equal(t, int32(i), idx)
		require.Equal(t, fmt.Sprintf("S%05d", i), x.key(idx))
	}
	for _, absent := range []string{"S100000", "", "s00001", "S0000"} {
		_, ok := x.find(absent)
		require.False(t, ok, absent)
	}
	require.LessOrEqual(t, len(x.slots)*3, 4*2*x.len(), "the table stays within twice the keys it needs")
}

func TestKeyIndexTellsKeysWithOneHashApart(t *testing.T) {
	t.Parallel()
	x := newKeyIndex(8)
	// Three keys with one hash (forced): same slot, same tag.
	const h = 0xdeadbeef00000003
	a := x.addHashed("alpha", h)
	b := x.addHashed("beta", h)
	c := x.addHashed("gamma", h)
	for key, want := range map[string]int32{"alpha": a, "beta": b, "gamma": c} {
		got, ok := x.findHashed(key, h)
		require.True(t, ok, key)
		require.Equal(t, want, got, "%s is found by its bytes, not mistaken for a key with its hash", key)
	}
	_, ok := x.findHashed("delta", h)
	require.False(t, ok)
}
