package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/httpx"
)

func TestErrorPresenter(t *testing.T) {
	t.Parallel()

	present := func(t *testing.T, err error) (map[string]any, string, string) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&logs, nil))
		ctx := httpx.WithRequestID(context.Background(), "req-1")
		ctx = graphql.WithPathContext(ctx, graphql.NewPathWithField("createUser"))
		gerr := errorPresenter(logger)(ctx, err)
		return gerr.Extensions, gerr.Message, logs.String()
	}

	t.Run("InternalIsScrubbedAndLogged", func(t *testing.T) {
		t.Parallel()
		ext, msg, logs := present(t, fmt.Errorf("insert: %w", errors.New(`pq: relation "secret_table" password=hunter2`)))
		require.Equal(t, string(apperr.CodeInternal), ext["code"])
		require.Equal(t, "req-1", ext["requestId"])
		require.NotContains(t, msg, "secret_table")
		require.NotContains(t, msg, "hunter2")
		require.Contains(t, msg, "req-1")
		require.Contains(t, logs, "secret_table", "the detail goes to the log")
	})

	t.Run("AppErrorKeepsMessageAndField", func(t *testing.T) {
		t.Parallel()
		ext, msg, logs := present(t, fmt.Errorf("create: %w", apperr.Invalid("input.email", "bad address")))
		require.Equal(t, "BAD_USER_INPUT", ext["code"])
		require.Equal(t, "input.email", ext["field"])
		require.Equal(t, "bad address", msg)
		require.Empty(t, logs)
	})

	t.Run("ExtraDetails", func(t *testing.T) {
		t.Parallel()
		ext, _, _ := present(t, apperr.Conflict("run 7 is active").With("runId", "7"))
		require.Equal(t, "CONFLICT", ext["code"])
		require.Equal(t, "7", ext["runId"])
	})

	t.Run("DeadlineIsTimeout", func(t *testing.T) {
		t.Parallel()
		ext, _, _ := present(t, fmt.Errorf("query: %w", context.DeadlineExceeded))
		require.Equal(t, string(apperr.CodeTimeout), ext["code"])
	})
}

func TestAppErrorFieldFromPath(t *testing.T) {
	t.Parallel()
	ext := appErrorExtensions(apperr.Invalid("", "bad"), ast.Path{ast.PathName("createUser"), ast.PathName("input"), ast.PathName("email")})
	require.Equal(t, "input.email", ext["field"])
}

func TestSelectionDepth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query string
		depth int
	}{
		{`{ me { email } }`, 2},
		{`{ me { apiTokens { user { email } } } }`, 4},
		{`{ __schema { types { fields { type { ofType { ofType { name } } } } } } }`, 0},
		{`{ me { ...F } } fragment F on User { apiTokens { id } }`, 3},
		{`{ me { ... on User { apiTokens { id } } } }`, 3},
	}
	for _, c := range cases {
		doc := mustParse(t, c.query)
		require.Equal(t, c.depth, selectionDepth(doc.Operations[0].SelectionSet, doc.Fragments, map[string]bool{}), c.query)
	}
}

// TestGqlgenCodesDefined: the codes gqlgen sets are the ones apperr lists,
// so that the documented list (from apperr) is the list a client can see.
func TestGqlgenCodesDefined(t *testing.T) {
	t.Parallel()
	require.Equal(t, errcode.ParseFailed, string(apperr.CodeParseFailed))
	require.Equal(t, errcode.ValidationFailed, string(apperr.CodeValidationFailed))
	// PERSISTED_QUERY_NOT_FOUND is checked end to end in
	// server.TestPersistedQueryErrors (gqlgen keeps its constant private).
}
