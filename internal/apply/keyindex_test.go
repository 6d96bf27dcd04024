package apply

import (
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
)

func TestKeyIndex(t *testing.T) {
	t.Parallel()
	x := newKeyIndex(4)
	for i := range 1000 {
		require.Equal(t, int32(i), x.add(fmt.Sprintf("S%05d", i)))
	}
	for i := range 1000 {
		idx, ok := x.find(fmt.Sprintf("S%05d", i))
		require.True(t, ok)
		require.Equal(t, int32(i), idx)
		require.Equal(t, fmt.Sprintf("S%05d", i), x.key(idx))
	}
	_, ok := x.find("S99999")
	require.False(t, ok)

	// A collision: force two keys into one hash slot.
	c := newKeyIndex(0)
	a := c.add("alpha")
	c.byHash[0] = a // pretend "beta" hashes like "alpha" by moving alpha's slot
	delete(c.byHash, hashOf("alpha"))
	c.byHash[hashOf("beta")] = a
	b := c.add("beta")
	require.NotEqual(t, a, b)
	got, ok := c.find("beta")
	require.True(t, ok)
	require.Equal(t, b, got, "beta is found in the overflow, not mistaken for alpha")
}

func hashOf(s string) uint64 { return xxhash.Sum64String(s) }
