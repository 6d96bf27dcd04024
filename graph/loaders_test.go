package graph

import (
	"context"
	"errors"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
)

// TestLoaderBatchesOnlyInLists: a field of a lone object fetches its key at
// once (a fetch of that one key), with the loader's result and error; a
// field of a list's elements goes through the batching loader.
func TestLoaderBatchesOnlyInLists(t *testing.T) {
	t.Parallel()
	var fetches [][]int
	l := newLoader(func(_ context.Context, keys []int) ([]string, []error) {
		fetches = append(fetches, keys)
		out := make([]string, len(keys))
		errs := make([]error, len(keys))
		for i, k := range keys {
			if k < 0 {
				errs[i] = errors.New("negative")
			} else {
				out[i] = string(rune('a' + k))
			}
		}
		return out, errs
	})
	root := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Object: "Query"})
	lone := graphql.WithFieldContext(root, &graphql.FieldContext{Object: "List"})
	v, err := l.Load(lone, 2)
	require.NoError(t, err)
	require.Equal(t, "c", v)
	_, err = l.Load(lone, -1)
	require.EqualError(t, err, "negative")
	require.Equal(t, [][]int{{2}, {-1}}, fetches)

	fetches = nil
	done := make(chan string, 3)
	for i := range 3 {
		elem := graphql.WithFieldContext(root, &graphql.FieldContext{Index: &i})
		field := graphql.WithFieldContext(elem, &graphql.FieldContext{Object: "List"})
		go func() {
			v, err := l.Load(field, i)
			require.NoError(t, err)
			done <- v
		}()
	}
	got := map[string]bool{}
	for range 3 {
		got[<-done] = true
	}
	require.Equal(t, map[string]bool{"a": true, "b": true, "c": true}, got)
	// How many batches the keys took depends on timing; each key was
	// fetched once.
	var keys []int
	for _, f := range fetches {
		keys = append(keys, f...)
	}
	require.ElementsMatch(t, []int{0, 1, 2}, keys)
}
