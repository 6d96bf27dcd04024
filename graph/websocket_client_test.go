package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/testkit/gqlws"
	"github.com/rollcall/rollcall/server/servertest"
)

// TestGraphQLWSClient runs the graphql-ws npm client, as browsers and Node
// apps use it, against the server. graphql-ws reconnects at once after a
// 1000 close while it holds the connection (a normal close is not a failed
// attempt), which turned a bad token into thousands of connections a
// second; after a 4403 it retries retryAttempts times, then gives up. The
// client is configured to hold its connection open (lazy: false), as a page
// with live subscriptions does.
func TestGraphQLWSClient(t *testing.T) {
	t.Parallel()
	const retryAttempts = 2

	requireGaveUpForbidden := func(t *testing.T, events []gqlws.Event, connected int) {
		t.Helper()
		last := events[len(events)-1]
		require.Equal(t, gqlws.EventGaveUp, last.Event, "events: %+v", events)
		require.Equal(t, 4403, last.Code, "events: %+v", events)
		require.Equal(t, retryAttempts+1, last.Attempts, "the first attempt and retryAttempts retries, then no more")
		require.Equal(t, connected, last.Connected)
		closes := 0
		for _, e := range events {
			if e.Event == gqlws.EventClosed {
				closes++
				require.Equal(t, 4403, e.Code, "events: %+v", events)
				require.True(t, strings.HasPrefix(e.Reason, "Forbidden"), e.Reason)
			}
		}
		require.Equal(t, last.Attempts, closes)
	}

	t.Run("BadToken", func(t *testing.T) {
		t.Parallel()
		s := servertest.New(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 2*wsDeadline)
		defer cancel()
		events := gqlws.Run(ctx, t, s.WSURL(), "rc_"+strings.Repeat("x", 43), retryAttempts, nil)
		requireGaveUpForbidden(t, events, 0)
	})

	t.Run("RevokedWhileConnected", func(t *testing.T) {
		t.Parallel()
		s := servertest.New(t, nil)
		_, admin := s.Admin(t, "admin@district.test")
		_, token, tokenID := secondAdmin(t, s, admin)
		ctx, cancel := context.WithTimeout(context.Background(), 2*wsDeadline)
		defer cancel()
		revoked := false
		events := gqlws.Run(ctx, t, s.WSURL(), token, retryAttempts, func(e gqlws.Event) {
			if e.Event == gqlws.EventConnected && !revoked {
				revoked = true
				s.MustQuery(t, admin, `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, map[string]any{"id": tokenID}, nil)
			}
		})
		require.True(t, revoked, "never connected: %+v", events)
		requireGaveUpForbidden(t, events, 1)
	})
}
