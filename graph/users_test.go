package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/server/servertest"
)

func TestAuthenticationMatrix(t *testing.T) {
	t.Parallel()

	s := servertest.New(t, nil)
	admin, adminToken := s.Admin(t, "admin@district.test")
	user, userToken := s.User(t, adminToken, "teacher@district.test")

	tokenFor := func(t *testing.T, userID int64, expires *time.Time) string {
		var out struct {
			CreateAPIToken struct{ Token string } `json:"createApiToken"`
		}
		vars := map[string]any{"u": fmt.Sprint(userID)}
		if expires != nil {
			vars["e"] = expires.Format(time.RFC3339)
		}
		s.MustQuery(t, adminToken, `mutation($u: ID!, $e: Time) { createApiToken(userId: $u, name: "matrix", expiresAt: $e) { token } }`, vars, &out)
		return out.CreateAPIToken.Token
	}

	revoked := tokenFor(t, user.ID, nil)
	var rv struct {
		RevokeAPIToken struct{ RevokedAt *string } `json:"revokeApiToken"`
	}
	s.MustQuery(t, revoked, `mutation { revokeApiToken(id: `+tokenID(t, s, revoked)+`) { revokedAt } }`, nil, &rv)
	require.NotNil(t, rv.RevokeAPIToken.RevokedAt)

	now := time.Now()
	expired := tokenFor(t, user.ID, new(now.Add(time.Hour)))
	s.Clock.Set(now.Add(2 * time.Hour))

	_, disabledToken := s.User(t, adminToken, "gone@district.test")
	disabledID := userIDByEmail(t, s, adminToken, "gone@district.test")
	var up struct {
		UpdateUser struct{ Disabled bool } `json:"updateUser"`
	}
	s.MustQuery(t, adminToken, `mutation($id: ID!) { updateUser(id: $id, input: {disabled: true}) { disabled } }`, map[string]any{"id": disabledID}, &up)
	require.True(t, up.UpdateUser.Disabled)

	type credential struct {
		name   string
		header string
		role   string // "", "USER", "ADMIN"
	}
	credentials := []credential{
		{name: "NoToken"},
		{name: "Malformed", header: "Basic dXNlcjpwYXNz"},
		{name: "UnknownToken", header: "Bearer rc_" + strings.Repeat("A", 43)},
		{name: "Garbage", header: "Bearer not-a-token"},
		{name: "Revoked", header: "Bearer " + revoked},
		{name: "Expired", header: "Bearer " + expired},
		{name: "DisabledUser", header: "Bearer " + disabledToken},
		{name: "User", header: "Bearer " + userToken, role: "USER"},
		{name: "Admin", header: "Bearer " + adminToken, role: "ADMIN"},
	}

	type operation struct {
		name      string
		query     string
		vars      func(t *testing.T) map[string]any
		adminOnly bool
		userCode  string // what a USER gets for an admin-only operation; FORBIDDEN if empty
	}
	operations := []operation{
		{name: "Me", query: `{ me { email } }`},
		{name: "Users", query: `{ users { totalCount nodes { email } } }`, adminOnly: true},
		{name: "UserOther", query: `query($id: ID!) { user(id: $id) { email } }`, vars: func(*testing.T) map[string]any { return map[string]any{"id": fmt.Sprint(admin.ID)} }, adminOnly: true},
		{name: "CreateUser", query: `mutation($e: String!) { createUser(input: {email: $e, name: "N"}) { id } }`, vars: func(*testing.T) map[string]any {
			return map[string]any{"e": fmt.Sprintf("new%d@district.test", time.Now().UnixNano())}
		}, adminOnly: true},
		{name: "UpdateUser", query: `mutation($id: ID!) { updateUser(id: $id, input: {name: "Renamed"}) { name } }`, vars: func(*testing.T) map[string]any { return map[string]any{"id": fmt.Sprint(user.ID)} }, adminOnly: true},
		{name: "CreateApiTokenSelf", query: `mutation { createApiToken(name: "mine") { token apiToken { id } } }`},
		{name: "CreateApiTokenOther", query: `mutation($u: ID!) { createApiToken(userId: $u, name: "theirs") { token } }`, vars: func(*testing.T) map[string]any { return map[string]any{"u": fmt.Sprint(admin.ID)} }, adminOnly: true},
		{name: "RevokeApiTokenOther", query: `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, vars: func(t *testing.T) map[string]any {
			return map[string]any{"id": tokenID(t, s, tokenFor(t, admin.ID, nil))}
		}, adminOnly: true, userCode: "NOT_FOUND"},
	}

	for _, c := range credentials {
		for _, op := range operations {
			t.Run(c.name+"/"+op.name, func(t *testing.T) {
				t.Parallel()
				var vars map[string]any
				if op.vars != nil {
					vars = op.vars(t)
				}
				req := graphqlRequest(t, s, op.query, vars)
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
				resp := s.Do(t, req)
				switch {
				case c.header == "":
					require.Equal(t, http.StatusOK, resp.Status)
					require.Equal(t, "UNAUTHENTICATED", resp.FirstCode(), string(resp.Body))
				case c.role == "":
					require.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
					require.Equal(t, "UNAUTHENTICATED", resp.FirstCode(), string(resp.Body))
				case c.role == "USER" && op.adminOnly:
					want := op.userCode
					if want == "" {
						want = "FORBIDDEN"
					}
					require.Equal(t, want, resp.FirstCode(), string(resp.Body))
				default:
					require.Empty(t, resp.Errors, string(resp.Body))
					require.Equal(t, http.StatusOK, resp.Status)
				}
			})
		}
	}
}

func TestDisabledUserTokensStopAtOnce(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, adminToken := s.Admin(t, "admin@district.test")
	u, userToken := s.User(t, adminToken, "teacher@district.test")

	require.Empty(t, s.Query(t, userToken, `{ me { email } }`, nil).Errors)
	s.MustQuery(t, adminToken, `mutation($id: ID!) { updateUser(id: $id, input: {disabled: true}) { id } }`, map[string]any{"id": fmt.Sprint(u.ID)}, &struct{}{})
	resp := s.Query(t, userToken, `{ me { email } }`, nil)
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Contains(t, resp.Errors[0].Message, "disabled")

	s.MustQuery(t, adminToken, `mutation($id: ID!) { updateUser(id: $id, input: {disabled: false}) { id } }`, map[string]any{"id": fmt.Sprint(u.ID)}, &struct{}{})
	require.Empty(t, s.Query(t, userToken, `{ me { email } }`, nil).Errors)
}

func TestTokensAreStoredOnlyAsHashes(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, adminToken := s.Admin(t, "admin@district.test")
	_, userToken := s.User(t, adminToken, "teacher@district.test")

	var out struct {
		CreateAPIToken struct {
			Token    string
			APIToken struct{ Prefix string } `json:"apiToken"`
		} `json:"createApiToken"`
	}
	s.MustQuery(t, userToken, `mutation { createApiToken(name: "laptop") { token apiToken { prefix } } }`, nil, &out)
	tok := out.CreateAPIToken.Token
	require.True(t, strings.HasPrefix(tok, "rc_"))
	require.GreaterOrEqual(t, len(tok)-3, 22, "at least 128 bits of base64")
	require.True(t, strings.HasPrefix(tok, out.CreateAPIToken.APIToken.Prefix))

	// Every row of every table, as text: none may contain a clear token or
	// its secret part.
	ctx := context.Background()
	var tables []string
	require.NoError(t, s.DB.NewRaw(`SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(ctx, &tables))
	require.NotEmpty(t, tables)
	for _, table := range tables {
		var rows []string
		require.NoError(t, s.DB.NewRaw(`SELECT t::text FROM `+table+` t`).Scan(ctx, &rows))
		for _, row := range rows {
			for _, clear := range []string{tok, userToken, adminToken} {
				require.NotContains(t, row, clear[10:], "table %s holds a clear token", table)
			}
		}
	}

	// The token shows once: listing tokens has no way to get it back.
	resp := s.Query(t, userToken, `{ me { apiTokens { token } } }`, nil)
	require.Equal(t, "GRAPHQL_VALIDATION_FAILED", resp.FirstCode())
}

func TestUserErrors(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	admin, adminToken := s.Admin(t, "admin@district.test")
	_, userToken := s.User(t, adminToken, "teacher@district.test")

	cases := []struct {
		name, token, query string
		vars               map[string]any
		code, field, msg   string
	}{
		{name: "NotFound", token: adminToken, query: `{ user(id: "999999") { id } }`, code: "NOT_FOUND", msg: "user 999999 not found"},
		{name: "BadID", token: adminToken, query: `{ user(id: "abc") { id } }`, code: "BAD_USER_INPUT", field: "id"},
		{name: "BadEmail", token: adminToken, query: `mutation { createUser(input: {email: "not an email", name: "X"}) { id } }`, code: "BAD_USER_INPUT", field: "input.email"},
		{name: "BlankName", token: adminToken, query: `mutation { createUser(input: {email: "x@district.test", name: "  "}) { id } }`, code: "BAD_USER_INPUT", field: "input.name"},
		{name: "DuplicateEmail", token: adminToken, query: `mutation { createUser(input: {email: "Teacher@District.test", name: "X"}) { id } }`, code: "CONFLICT", field: "input.email"},
		{name: "BadTime", token: userToken, query: `mutation { createApiToken(name: "x", expiresAt: "tomorrow") { token } }`, code: "BAD_USER_INPUT", field: "expiresAt"},
		{name: "PastExpiry", token: userToken, query: `mutation { createApiToken(name: "x", expiresAt: "2001-01-01T00:00:00Z") { token } }`, code: "BAD_USER_INPUT", field: "expiresAt"},
		{name: "LastAdminDisabled", token: adminToken, query: `mutation($id: ID!) { updateUser(id: $id, input: {disabled: true}) { id } }`, vars: map[string]any{"id": fmt.Sprint(admin.ID)}, code: "CONFLICT", msg: "last enabled system administrator"},
		{name: "LastAdminDemoted", token: adminToken, query: `mutation($id: ID!) { updateUser(id: $id, input: {role: USER}) { id } }`, vars: map[string]any{"id": fmt.Sprint(admin.ID)}, code: "CONFLICT"},
		{name: "OtherUsersToken", token: userToken, query: `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, vars: map[string]any{"id": tokenID(t, s, adminToken)}, code: "NOT_FOUND"},
		{name: "Syntax", token: userToken, query: `{ me { `, code: "GRAPHQL_PARSE_FAILED"},
		{name: "UnknownField", token: userToken, query: `{ me { shoeSize } }`, code: "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := s.Query(t, tc.token, tc.query, tc.vars)
			require.NotEmpty(t, resp.Errors, string(resp.Body))
			e := resp.Errors[0]
			require.Equal(t, tc.code, e.Code(), string(resp.Body))
			if tc.field != "" {
				require.Equal(t, tc.field, e.Extensions["field"], string(resp.Body))
			}
			if tc.msg != "" {
				require.Contains(t, e.Message, tc.msg)
			}
		})
	}
}

func TestSecondAdminCanBeDemotedWhileOneRemains(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, adminToken := s.Admin(t, "admin@district.test")
	second, _ := s.Admin(t, "second@district.test")

	var out struct {
		UpdateUser struct{ Role string } `json:"updateUser"`
	}
	s.MustQuery(t, adminToken, `mutation($id: ID!) { updateUser(id: $id, input: {role: USER}) { role } }`, map[string]any{"id": fmt.Sprint(second.ID)}, &out)
	require.Equal(t, "USER", out.UpdateUser.Role)
}

func TestUsersPagination(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, adminToken := s.Admin(t, "admin@district.test")
	for i := range 7 {
		s.MustQuery(t, adminToken, `mutation($e: String!) { createUser(input: {email: $e, name: "Teacher"}) { id } }`, map[string]any{"e": fmt.Sprintf("t%d@district.test", i)}, &struct{}{})
	}
	type pageOut struct {
		Users struct {
			TotalCount int
			Nodes      []struct{ Email string }
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	var seen []string
	var after *string
	for range 10 {
		var p pageOut
		s.MustQuery(t, adminToken, `query($after: String) { users(first: 3, after: $after, search: "district") { totalCount nodes { email } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after}, &p)
		require.Equal(t, 8, p.Users.TotalCount)
		for _, n := range p.Users.Nodes {
			seen = append(seen, n.Email)
		}
		if !p.Users.PageInfo.HasNextPage {
			break
		}
		after = p.Users.PageInfo.EndCursor
	}
	require.Len(t, seen, 8)
	require.Equal(t, "admin@district.test", seen[0])

	resp := s.Query(t, adminToken, `{ users(first: 3, after: "garbage!") { totalCount } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", resp.FirstCode())
	require.Equal(t, "after", resp.Errors[0].Extensions["field"])
	resp = s.Query(t, adminToken, `{ users(first: 501) { totalCount } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", resp.FirstCode())
}

func graphqlRequest(t *testing.T, s *servertest.Server, query string, vars map[string]any) *http.Request {
	t.Helper()
	body := fmt.Sprintf(`{"query": %q, "variables": %s}`, query, mustJSON(t, vars))
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// tokenID finds the id of a token by asking the API as its owner.
func tokenID(t *testing.T, s *servertest.Server, token string) string {
	t.Helper()
	var out struct {
		Me struct {
			APITokens []struct{ ID, Prefix string } `json:"apiTokens"`
		}
	}
	s.MustQuery(t, token, `{ me { apiTokens { id prefix } } }`, nil, &out)
	for _, tk := range out.Me.APITokens {
		if strings.HasPrefix(token, tk.Prefix) {
			return tk.ID
		}
	}
	t.Fatalf("token not found among its owner's tokens")
	return ""
}

func userIDByEmail(t *testing.T, s *servertest.Server, adminToken, email string) string {
	t.Helper()
	var out struct {
		Users struct{ Nodes []struct{ ID, Email string } }
	}
	s.MustQuery(t, adminToken, `query($q: String) { users(search: $q) { nodes { id email } } }`, map[string]any{"q": email}, &out)
	require.Len(t, out.Users.Nodes, 1)
	return out.Users.Nodes[0].ID
}
