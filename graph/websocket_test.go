package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/server/servertest"
)

// closeForbidden is graphql-transport-ws's Forbidden close code.
const closeForbidden websocket.StatusCode = 4403

// wsDeadline bounds every wait in these tests: outcomes are awaited, never
// slept for, and this is only how long a busy machine may take.
const wsDeadline = 30 * time.Second

// apiOnly configures a server without import workers: runs stay QUEUED, so
// a subscription to one stays open until the test changes it.
func apiOnly(c *config.Server) { c.Workers = 0 }

// secondAdmin creates another system administrator (so that the first may
// disable or demote it) and returns its id, a token and the token's id.
func secondAdmin(t *testing.T, s *servertest.Server, admin string) (userID, token, tokenID string) {
	t.Helper()
	var u struct{ CreateUser struct{ ID string } }
	s.MustQuery(t, admin, `mutation { createUser(input: {email: "second.admin@district.test", name: "Second", role: SYSTEM_ADMIN}) { id } }`, nil, &u)
	var tok struct {
		CreateAPIToken struct {
			Token    string
			APIToken struct{ ID string }
		} `json:"createApiToken"`
	}
	s.MustQuery(t, admin, `mutation($u: ID!) { createApiToken(userId: $u, name: "socket") { token apiToken { id } } }`, map[string]any{"u": u.CreateUser.ID}, &tok)
	return u.CreateUser.ID, tok.CreateAPIToken.Token, tok.CreateAPIToken.APIToken.ID
}

// queuedRun returns a run that stays QUEUED (on an apiOnly server).
func queuedRun(t *testing.T, s *servertest.Server, admin string) string {
	t.Helper()
	id := createImport(t, s, admin, "SIS", "FULL")
	resp := s.Upload(t, admin, uploadMutation, map[string]any{"id": id}, "students.csv", []byte(studentsCSV))
	require.Empty(t, resp.Errors, string(resp.Body))
	var rn struct{ RunImport struct{ ID, Status string } }
	s.MustQuery(t, admin, `mutation($id: ID!) { runImport(importId: $id) { id status } }`, map[string]any{"id": id}, &rn)
	require.Equal(t, "QUEUED", rn.RunImport.Status)
	return rn.RunImport.ID
}

const runSubscription = `subscription($id: ID!) { importRunUpdated(id: $id) { id status } }`

// nextEvent waits for the subscription's next event; ok is false if the
// subscription ended without one.
func nextEvent(ctx context.Context, t *testing.T, events <-chan servertest.Event) (servertest.Event, bool) {
	t.Helper()
	select {
	case e, ok := <-events:
		return e, ok
	case <-ctx.Done():
		t.Fatalf("no subscription event: %v", ctx.Err())
		return servertest.Event{}, false
	}
}

// subscribeRun subscribes to a run's updates and waits for the first.
func subscribeRun(ctx context.Context, t *testing.T, ws *servertest.WS, runID string) <-chan servertest.Event {
	t.Helper()
	events := ws.Subscribe(ctx, t, runSubscription, map[string]any{"id": runID})
	e, ok := nextEvent(ctx, t, events)
	require.True(t, ok, "the subscription ended at once")
	require.Equal(t, "next", e.Type, "%+v", e)
	require.Empty(t, e.Errors)
	require.JSONEq(t, fmt.Sprintf(`{"importRunUpdated": {"id": %q, "status": "QUEUED"}}`, runID), string(e.Data))
	return events
}

func requireForbiddenClose(ctx context.Context, t *testing.T, ws *servertest.WS, reason string) {
	t.Helper()
	code, got, err := ws.WaitClose(ctx)
	require.NoError(t, err)
	require.Equal(t, closeForbidden, code, "close reason %q", got)
	require.Contains(t, got, "Forbidden")
	require.Contains(t, got, reason)
}

// TestWebSocketSessionEndsWithAccess: a revoked token or a disabled user
// closes the open socket with 4403 at once, whether it is idle or streaming
// a subscription, and HTTP refuses the token too.
func TestWebSocketSessionEndsWithAccess(t *testing.T) {
	t.Parallel()
	for _, change := range []string{"RevokeToken", "DisableUser"} {
		for _, held := range []string{"Idle", "Subscription"} {
			t.Run(change+held, func(t *testing.T) {
				t.Parallel()
				s := servertest.New(t, &servertest.Options{Configure: apiOnly})
				_, admin := s.Admin(t, "admin@district.test")
				uid, token, tokenID := secondAdmin(t, s, admin)
				ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
				defer cancel()

				ws := s.OpenWS(ctx, t, token)
				var me struct{ Me struct{ Email string } }
				ws.MustDo(ctx, t, `{ me { email } }`, nil, &me)
				require.Equal(t, "second.admin@district.test", me.Me.Email)
				var events <-chan servertest.Event
				if held == "Subscription" {
					events = subscribeRun(ctx, t, ws, queuedRun(t, s, admin))
				}

				reason := "token has been revoked"
				if change == "RevokeToken" {
					s.MustQuery(t, admin, `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, map[string]any{"id": tokenID}, nil)
				} else {
					s.MustQuery(t, admin, `mutation($id: ID!) { updateUser(id: $id, input: {disabled: true}) { disabled } }`, map[string]any{"id": uid}, nil)
					reason = "user is disabled"
				}
				requireForbiddenClose(ctx, t, ws, reason)
				if events != nil {
					for e := range events {
						// The socket closes under the subscription: it is
						// not reported complete, as if it had ended well.
						require.NotEqual(t, "complete", e.Type)
					}
				}
				require.Equal(t, http.StatusUnauthorized, s.Query(t, token, `{ me { email } }`, nil).Status)
			})
		}
	}
}

// TestWebSocketHeaderAuthenticatedSession: a socket authenticated by the
// upgrade request's Authorization header is a session like any other.
func TestWebSocketHeaderAuthenticatedSession(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	_, token, tokenID := secondAdmin(t, s, admin)
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()

	ws := s.DialWS(ctx, t, http.Header{"Authorization": []string{"Bearer " + token}})
	require.NoError(t, ws.Init(ctx, map[string]any{}))
	var me struct{ Me struct{ Email string } }
	ws.MustDo(ctx, t, `{ me { email } }`, nil, &me)
	require.Equal(t, "second.admin@district.test", me.Me.Email)

	s.MustQuery(t, admin, `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, map[string]any{"id": tokenID}, nil)
	requireForbiddenClose(ctx, t, ws, "token has been revoked")
}

// TestWebSocketRoleChange: an administrator demoted to USER loses the
// admin-only subscription it was streaming (the socket stays open), and its
// next operations run as USER; promoted again, it may subscribe again.
func TestWebSocketRoleChange(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: apiOnly})
	_, admin := s.Admin(t, "admin@district.test")
	uid, token, _ := secondAdmin(t, s, admin)
	run := queuedRun(t, s, admin)
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()

	ws := s.OpenWS(ctx, t, token)
	events := subscribeRun(ctx, t, ws, run)
	setRole := func(role string) {
		s.MustQuery(t, admin, `mutation($id: ID!, $r: Role!) { updateUser(id: $id, input: {role: $r}) { role } }`, map[string]any{"id": uid, "r": role}, nil)
	}
	setRole("USER")

	e, ok := nextEvent(ctx, t, events)
	require.True(t, ok, "the subscription ended without an error")
	require.Equal(t, "error", e.Type, "%+v", e)
	require.Equal(t, "ACCESS_CHANGED", e.Errors[0].Code())
	_, ok = nextEvent(ctx, t, events)
	require.False(t, ok)

	var me struct{ Me struct{ Role string } }
	ws.MustDo(ctx, t, `{ me { role } }`, nil, &me)
	require.Equal(t, "USER", me.Me.Role)
	e, _ = nextEvent(ctx, t, ws.Subscribe(ctx, t, runSubscription, map[string]any{"id": run}))
	require.NotEmpty(t, e.Errors, "%+v", e)
	require.Equal(t, "FORBIDDEN", e.Errors[0].Code())

	setRole("SYSTEM_ADMIN")
	subscribeRun(ctx, t, ws, run)
	select {
	case <-ws.Done():
		t.Fatal("the socket closed")
	default:
	}
}

// TestWebSocketAdminRestrictionKeepsSubscriptions: a restriction set on a
// system administrator changes nothing it may do (administrators are never
// restricted), so its subscriptions go on.
func TestWebSocketAdminRestrictionKeepsSubscriptions(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: apiOnly})
	_, admin := s.Admin(t, "admin@district.test")
	uid, token, _ := secondAdmin(t, s, admin)
	run := queuedRun(t, s, admin)
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()
	ws := s.OpenWS(ctx, t, token)
	events := subscribeRun(ctx, t, ws, run)

	s.MustQuery(t, admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {school: {eq: "Lincoln Elementary"}}) { id } }`, map[string]any{"u": uid}, nil)
	// This operation's re-check takes in the restriction (and would end
	// the subscription, were it to) before it answers.
	var me struct {
		Me struct{ Role, RestrictionDescription string }
	}
	ws.MustDo(ctx, t, `{ me { role restrictionDescription } }`, nil, &me)
	require.Equal(t, "school = Lincoln Elementary", me.Me.RestrictionDescription)

	s.MustQuery(t, admin, `mutation($id: ID!) { cancelImportRun(id: $id) { status } }`, map[string]any{"id": run}, nil)
	e, ok := nextEvent(ctx, t, events)
	require.True(t, ok)
	require.Equal(t, "next", e.Type, "%+v", e)
	require.JSONEq(t, fmt.Sprintf(`{"importRunUpdated": {"id": %q, "status": "CANCELED"}}`, run), string(e.Data))
}

// TestWebSocketRestrictionPerOperation: every operation over a socket runs
// with the user's restriction as it is when the operation starts.
func TestWebSocketRestrictionPerOperation(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	uid, teacher := d.restrictedUser(t, "lincoln.teacher@district.test", `{school: {eq: "Lincoln Elementary"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()
	ws := d.s.OpenWS(ctx, t, teacher)

	visible := func() []string {
		t.Helper()
		var out struct {
			Recipients struct {
				TotalCount int
				Nodes      []struct{ ExternalID string }
			}
		}
		ws.MustDo(ctx, t, `{ recipients(filter: {all: true}, first: 100, orderBy: EXTERNAL_ID) { totalCount nodes { externalId } } }`, nil, &out)
		keys := []string{}
		for _, n := range out.Recipients.Nodes {
			keys = append(keys, n.ExternalID)
		}
		require.Len(t, keys, out.Recipients.TotalCount)
		return keys
	}
	require.Equal(t, []string{"S001", "S002", "S004"}, visible())

	d.s.MustQuery(t, d.admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {school: {eq: "Jefferson High"}}) { id } }`, map[string]any{"u": uid}, nil)
	require.Equal(t, []string{"S003", "S008", "S009", "S010"}, visible())
	var me struct {
		Me struct{ RestrictionDescription string }
	}
	ws.MustDo(ctx, t, `{ me { restrictionDescription } }`, nil, &me)
	require.Equal(t, "school = Jefferson High", me.Me.RestrictionDescription)
	resp, err := ws.Do(ctx, `query($id: ID!) { recipient(id: $id) { id } }`, map[string]any{"id": d.ids["S001"]})
	require.NoError(t, err)
	require.Equal(t, "NOT_FOUND", resp.FirstCode(), "outside the new restriction")

	d.s.MustQuery(t, d.admin, `mutation($u: ID!) { clearUserRestriction(userId: $u) { id } }`, map[string]any{"u": uid}, nil)
	all := make([]string, 0, len(d.ids))
	for k := range d.ids {
		all = append(all, k)
	}
	sort.Strings(all)
	require.Equal(t, all, visible())
}

// TestWebSocketBadCredentialsAtInit: connection_init with a bad, revoked or
// expired token, or the token of a disabled user, is closed with 4403
// (never 1000, after which clients reconnect at once).
func TestWebSocketBadCredentialsAtInit(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	ctx := context.Background()

	newToken := func(email, expiresAt string) (userID, token, tokenID string) {
		u, _ := s.User(t, admin, email)
		var tok struct {
			CreateAPIToken struct {
				Token    string
				APIToken struct{ ID string }
			} `json:"createApiToken"`
		}
		vars := map[string]any{"u": fmt.Sprint(u.ID), "e": nil}
		if expiresAt != "" {
			vars["e"] = expiresAt
		}
		s.MustQuery(t, admin, `mutation($u: ID!, $e: Time) { createApiToken(userId: $u, name: "t", expiresAt: $e) { token apiToken { id } } }`, vars, &tok)
		return fmt.Sprint(u.ID), tok.CreateAPIToken.Token, tok.CreateAPIToken.APIToken.ID
	}
	_, revoked, revokedID := newToken("revoked@district.test", "")
	s.MustQuery(t, admin, `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": revokedID}, nil)
	disabledID, disabled, _ := newToken("disabled@district.test", "")
	s.MustQuery(t, admin, `mutation($id: ID!) { updateUser(id: $id, input: {disabled: true}) { id } }`, map[string]any{"id": disabledID}, nil)
	_, expired, _ := newToken("expired@district.test", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	s.Clock.Advance(2 * time.Hour)

	for _, tc := range []struct{ name, authorization, reason string }{
		{"Malformed", "Bearer not-a-token", "invalid token"},
		{"NotBearer", "Basic YWRtaW46YWRtaW4=", "Bearer"},
		{"Unknown", "Bearer rc_" + strings.Repeat("A", 43), "invalid token"},
		{"Revoked", "Bearer " + revoked, "revoked"},
		{"Expired", "Bearer " + expired, "expired"},
		{"DisabledUser", "Bearer " + disabled, "disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(ctx, wsDeadline)
			defer cancel()
			ws := s.DialWS(ctx, t, nil)
			err := ws.Init(ctx, map[string]string{"Authorization": tc.authorization})
			require.Error(t, err, "acknowledged")
			code, reason, err := servertest.CloseStatus(err)
			require.NoError(t, err)
			require.Equal(t, closeForbidden, code)
			require.Contains(t, reason, tc.reason)
		})
	}
}

// TestWebSocketMissingToken: a socket without credentials is closed at
// connection_init with 4403 (graphql-transport-ws's Forbidden, which
// graphql-ws does not retry at once), never acknowledged and never 1000.
func TestWebSocketMissingToken(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	for name, payload := range map[string]any{"NoPayload": nil, "EmptyPayload": map[string]string{}, "EmptyToken": map[string]string{"Authorization": ""}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
			defer cancel()
			err := s.DialWS(ctx, t, nil).Init(ctx, payload)
			require.Error(t, err, "acknowledged")
			code, reason, err := servertest.CloseStatus(err)
			require.NoError(t, err)
			require.Equal(t, closeForbidden, code)
			require.Contains(t, reason, "missing token")
		})
	}
}

// TestWebSocketLoadersPerOperation: each operation over a socket has its
// own loaders, so a second operation never sees what a first one loaded
// (here a recipient and a user that changed in between).
func TestWebSocketLoadersPerOperation(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var l struct{ CreateList struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation($r: [ID!]) { createList(input: {name: "Ana", recipientIds: $r}) { id } }`, map[string]any{"r": []string{d.ids["S001"]}}, &l)
	var me struct{ Me struct{ ID string } }
	d.s.MustQuery(t, d.admin, `{ me { id } }`, nil, &me)
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()
	ws := d.s.OpenWS(ctx, t, d.admin)

	read := func() (owner string, names []string) {
		t.Helper()
		var out struct {
			List struct {
				Owner         struct{ Name string }
				ContactPoints struct {
					Nodes []struct {
						Recipients []struct{ FirstName string }
					}
				}
			}
		}
		ws.MustDo(ctx, t, `query($id: ID!) { list(id: $id) { owner { name } contactPoints(kind: EMAIL) { nodes { recipients { firstName } } } } }`,
			map[string]any{"id": l.CreateList.ID}, &out)
		for _, n := range out.List.ContactPoints.Nodes {
			for _, r := range n.Recipients {
				names = append(names, r.FirstName)
			}
		}
		return out.List.Owner.Name, names
	}
	owner, names := read()
	require.Equal(t, "admin", owner)
	require.Equal(t, []string{"Ana"}, names)

	require.Equal(t, "SUCCEEDED", uploadAndRun(t, d.s, d.admin, d.importID, strings.Replace(studentsCSV, "S001,Ana,", "S001,Anya,", 1)).Status)
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { updateUser(id: $id, input: {name: "Ada Admin"}) { id } }`, map[string]any{"id": me.Me.ID}, nil)
	owner, names = read()
	require.Equal(t, []string{"Anya"}, names)
	require.Equal(t, "Ada Admin", owner)
}

// TestWebSocketRequestTimeout: a query or mutation over a socket gets the
// request timeout, as over HTTP; a subscription on the same socket does
// not, and the socket stays usable.
func TestWebSocketRequestTimeout(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) {
		apiOnly(c)
		// Every request of the test gets this limit: long enough for the
		// setup (an import, an upload, a run) on a busy machine; the
		// mutation held on a lock below reaches it whatever the load.
		c.RequestTimeout = 2 * time.Second
	}})
	_, admin := s.Admin(t, "admin@district.test")
	run := queuedRun(t, s, admin)
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()
	ws := s.OpenWS(ctx, t, admin) // records the token's use now
	events := subscribeRun(ctx, t, ws, run)

	// Another session blocks writes to api_tokens, so creating a token
	// waits until the operation's time is up.
	tx, err := s.DB.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, "LOCK TABLE api_tokens IN EXCLUSIVE MODE")
	require.NoError(t, err)
	start := time.Now()
	resp, err := ws.Do(ctx, `mutation { createApiToken(name: "slow") { token } }`, nil)
	require.NoError(t, err)
	require.Equal(t, "TIMEOUT", resp.FirstCode(), string(resp.Body))
	require.Less(t, time.Since(start), 20*time.Second) // the lock is held until released below: answering at all is the limit at work
	require.NoError(t, tx.Rollback())

	// The subscription, open since before the timed-out mutation started,
	// still follows the run.
	s.MustQuery(t, admin, `mutation($id: ID!) { cancelImportRun(id: $id) { status } }`, map[string]any{"id": run}, nil)
	e, ok := nextEvent(ctx, t, events)
	require.True(t, ok)
	require.Equal(t, "next", e.Type, "%+v", e)
	var u struct{ ImportRunUpdated struct{ Status string } }
	require.NoError(t, json.Unmarshal(e.Data, &u))
	require.Equal(t, "CANCELED", u.ImportRunUpdated.Status)
	var me struct{ Me struct{ Email string } }
	ws.MustDo(ctx, t, `{ me { email } }`, nil, &me)
	require.Equal(t, "admin@district.test", me.Me.Email)
}

// TestWebSocketTokenExpiry: a session ends with 4403 when its token
// expires, idle or not.
func TestWebSocketTokenExpiry(t *testing.T) {
	t.Parallel()
	newToken := func(t *testing.T, s *servertest.Server, expiresAt time.Time) string {
		_, admin := s.Admin(t, "admin@district.test")
		var tok struct {
			CreateAPIToken struct{ Token string } `json:"createApiToken"`
		}
		s.MustQuery(t, admin, `mutation($e: Time) { createApiToken(name: "short", expiresAt: $e) { token } }`,
			map[string]any{"e": expiresAt.UTC().Format(time.RFC3339Nano)}, &tok)
		return tok.CreateAPIToken.Token
	}

	t.Run("WhileIdle", func(t *testing.T) {
		t.Parallel()
		s := servertest.New(t, nil)
		// Real time: the session closes at the token's expiry, with
		// nothing sent over it.
		token := newToken(t, s, time.Now().Add(4*time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
		defer cancel()
		ws := s.OpenWS(ctx, t, token)
		requireForbiddenClose(ctx, t, ws, "expired")
	})
	t.Run("AtNextOperation", func(t *testing.T) {
		t.Parallel()
		s := servertest.New(t, nil)
		token := newToken(t, s, time.Now().Add(time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
		defer cancel()
		ws := s.OpenWS(ctx, t, token)
		ws.MustDo(ctx, t, `{ me { email } }`, nil, nil)
		s.Clock.Advance(2 * time.Hour)
		if resp, err := ws.Do(ctx, `{ me { email } }`, nil); err == nil {
			require.Equal(t, "UNAUTHENTICATED", resp.FirstCode(), string(resp.Body))
		}
		requireForbiddenClose(ctx, t, ws, "expired")
	})
}

// TestWebSocketInitTimeout: a connection that never says who it is is
// closed with 4408 (graphql-transport-ws), not held open.
func TestWebSocketInitTimeout(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.WSInitTimeout = 200 * time.Millisecond }})
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, s.WSURL(), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader: http.Header{"Origin": []string{s.URL}}})
	require.NoError(t, err)
	defer conn.CloseNow()
	_, _, err = conn.Read(ctx)
	require.Equal(t, websocket.StatusCode(4408), websocket.CloseStatus(err), "%v", err)
}
