package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/rollcall/rollcall/graph"
	"github.com/rollcall/rollcall/server/servertest"
)

// matrixOp is a sample operation of one root field, with what policy the
// field has (as the table in graph/policy.go says).
type matrixOp struct {
	query  string
	vars   func(m *matrix) map[string]any
	upload bool // a multipart request with a small file
}

// matrixOps has a sample of every root field: TestAuthorizationMatrix
// fails for a field without one. Ids that do not exist (999999) keep the
// destructive ones harmless: what is checked is who gets past the door.
var matrixOps = map[string]matrixOp{
	"Query.me":              {query: `{ me { id email role } }`},
	"Query.users":           {query: `{ users(first: 5) { totalCount nodes { id } } }`},
	"Query.user":            {query: `query($id: ID!) { user(id: $id) { id email role } }`, vars: func(m *matrix) map[string]any { return map[string]any{"id": m.adminID} }},
	"Query.imports":         {query: `{ imports { totalCount } }`},
	"Query.systemStatus":    {query: `{ systemStatus { checkedAt } }`},
	"Query.import":          {query: `query($id: ID!) { import(id: $id) { id name } }`, vars: func(m *matrix) map[string]any { return map[string]any{"id": m.d.importID} }},
	"Query.importRun":       {query: `{ importRun(id: "999999") { id } }`},
	"Query.proposeMapping":  {query: `query($id: ID!) { proposeMapping(importId: $id) { column field } }`, vars: func(m *matrix) map[string]any { return map[string]any{"id": m.d.importID} }},
	"Query.recipient":       {query: `query($id: ID!) { recipient(id: $id) { __typename id phones { number } } }`, vars: func(m *matrix) map[string]any { return map[string]any{"id": m.d.ids["S001"]} }},
	"Query.recipients":      {query: `{ recipients(filter: {all: true}, first: 100) { totalCount nodes { __typename id } } }`},
	"Query.lists":           {query: `{ lists(first: 10) { nodes { id memberCount members(first: 20) { nodes { __typename id } } additions(first: 20) { totalCount nodes { __typename id } } exclusions(first: 20) { nodes { __typename id } } } } }`},
	"Query.list":            {query: `query($id: ID!) { list(id: $id) { id members(first: 100) { nodes { __typename id } } contactPoints(kind: PHONE) { nodes { value recipients { __typename id } } } } }`, vars: func(m *matrix) map[string]any { return map[string]any{"id": m.listID} }},
	"Query.previewList":     {query: `{ previewList(filter: {all: true}) { count recipients { __typename id } } }`},
	"Query.recipientCount":  {query: `{ recipientCount(filter: {all: true}) }`},
	"Query.recipientCounts": {query: `{ recipientCounts(filter: {all: true}, groupBy: [{field: SCHOOL}]) { values count } }`},
	"Query.findUsers":       {query: `{ findUsers(search: "district") { id name } }`},
	"Query.auditLog":        {query: `{ auditLog(first: 5) { totalCount } }`},

	"Mutation.createUser": {query: `mutation($e: String!) { createUser(input: {email: $e, name: "Matrix"}) { id } }`, vars: func(m *matrix) map[string]any {
		return map[string]any{"e": fmt.Sprintf("matrix%d@district.test", m.next())}
	}},
	"Mutation.updateUser":           {query: `mutation { updateUser(id: "999999", input: {name: "Renamed"}) { id } }`},
	"Mutation.createApiToken":       {query: `mutation { createApiToken(name: "matrix") { apiToken { id } } }`},
	"Mutation.revokeApiToken":       {query: `mutation { revokeApiToken(id: "999999") { id } }`},
	"Mutation.createImport":         {query: `mutation($n: String!) { createImport(input: {name: $n, method: FULL}) { id } }`, vars: func(m *matrix) map[string]any { return map[string]any{"n": fmt.Sprintf("Matrix %d", m.next())} }},
	"Mutation.updateImport":         {query: `mutation { updateImport(id: "999999", input: {description: "x"}) { id } }`},
	"Mutation.uploadImportFile":     {query: `mutation($file: Upload!) { uploadImportFile(importId: "999999", file: $file) { file { id } } }`, upload: true},
	"Mutation.runImport":            {query: `mutation { runImport(importId: "999999") { id } }`},
	"Mutation.approveImportRun":     {query: `mutation { approveImportRun(id: "999999") { id } }`},
	"Mutation.cancelImportRun":      {query: `mutation { cancelImportRun(id: "999999") { id } }`},
	"Mutation.deleteImport":         {query: `mutation { deleteImport(id: "999999", confirmName: "x", recipients: KEEP) { import { id } } }`},
	"Mutation.restoreImport":        {query: `mutation { restoreImport(id: "999999") { id } }`},
	"Mutation.revertImportRun":      {query: `mutation { revertImportRun(runId: "999999") { id } }`},
	"Mutation.createList":           {query: `mutation { createList(input: {name: "Matrix"}) { id } }`},
	"Mutation.updateList":           {query: `mutation { updateList(id: "999999", input: {name: "x"}) { id } }`},
	"Mutation.deleteList":           {query: `mutation { deleteList(id: "999999") { id } }`},
	"Mutation.addListMembers":       {query: `mutation { addListMembers(listId: "999999", recipientIds: ["1"]) { id } }`},
	"Mutation.removeListMembers":    {query: `mutation { removeListMembers(listId: "999999", recipientIds: ["1"]) { id } }`},
	"Mutation.shareList":            {query: `mutation { shareList(listId: "999999", userIds: ["1"]) { id } }`},
	"Mutation.setUserRestriction":   {query: `mutation { setUserRestriction(userId: "999999", filter: {all: true}) { id } }`},
	"Mutation.clearUserRestriction": {query: `mutation { clearUserRestriction(userId: "999999") { id } }`},

	// Subscriptions run over WebSocket (graphql-transport-ws).
	"Subscription.importRunUpdated": {query: `subscription($id: ID!) { importRunUpdated(id: $id) { id status } }`, vars: func(m *matrix) map[string]any { return map[string]any{"id": m.runID} }},
}

// matrix is a district with an administrator's list of everyone shared
// with two users, one restricted to Lincoln Elementary; S010 was added to
// the list by hand, then removed by the next FULL run.
type matrix struct {
	d       *district
	adminID string
	listID  string
	runID   string // the district's last run
	n       int
	// roles and their tokens ("" for anonymous).
	tokens map[string]string
	// visible is who each role may see of the recipients, as the
	// database says (not the filter compiler).
	visible map[string]map[string]bool
}

func (m *matrix) next() int { m.n++; return m.n }

const (
	roleAnonymous  = "anonymous"
	roleBadToken   = "bad token"
	roleRevoked    = "revoked token"
	roleExpired    = "expired token"
	roleDisabled   = "disabled user"
	roleRestricted = "restricted user"
	roleUser       = "user"
	roleAdmin      = "admin"
)

var matrixRoles = []string{roleAnonymous, roleBadToken, roleRevoked, roleExpired, roleDisabled, roleRestricted, roleUser, roleAdmin}

func newMatrix(t *testing.T) *matrix {
	t.Helper()
	d := newDistrict(t)
	m := &matrix{d: d, tokens: map[string]string{roleAnonymous: "", roleAdmin: d.admin, roleBadToken: "rc_" + strings.Repeat("x", 40)}}
	var me struct{ Me struct{ ID string } }
	d.s.MustQuery(t, d.admin, `{ me { id } }`, nil, &me)
	m.adminID = me.Me.ID

	restrictedID, restricted := d.restrictedUser(t, "restricted@district.test", `{school: {eq: "Lincoln Elementary"}}`)
	userID, user := d.restrictedUser(t, "user@district.test", "")
	m.tokens[roleRestricted], m.tokens[roleUser] = restricted, user
	_, revoked := d.restrictedUser(t, "revoked@district.test", "")
	var tok struct {
		Me struct{ APITokens []struct{ ID string } }
	}
	d.s.MustQuery(t, revoked, `{ me { apiTokens { id } } }`, nil, &tok)
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, map[string]any{"id": tok.Me.APITokens[0].ID}, nil)
	m.tokens[roleRevoked] = revoked
	_, expired := d.restrictedUser(t, "expired@district.test", "")
	_, err := d.s.DB.ExecContext(context.Background(), `UPDATE api_tokens SET expires_at = now() - interval '1 minute'
		WHERE user_id = (SELECT id FROM users WHERE email = 'expired@district.test')`)
	require.NoError(t, err)
	m.tokens[roleExpired] = expired
	disabledID, disabled := d.restrictedUser(t, "disabled@district.test", "")
	d.s.MustQuery(t, d.admin, `mutation($id: ID!) { updateUser(id: $id, input: {disabled: true}) { id } }`, map[string]any{"id": disabledID}, nil)
	m.tokens[roleDisabled] = disabled

	var created struct{ CreateList struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Everyone", filter: {all: true}}) { id } }`, nil, &created)
	m.listID = created.CreateList.ID
	d.s.MustQuery(t, d.admin, `mutation($l: ID!, $r: [ID!]!) { addListMembers(listId: $l, recipientIds: $r) { id } }`,
		map[string]any{"l": m.listID, "r": []string{d.ids["S010"]}}, nil)
	d.s.MustQuery(t, d.admin, `mutation($l: ID!, $u: [ID!]!) { shareList(listId: $l, userIds: $u) { id } }`,
		map[string]any{"l": m.listID, "u": []string{restrictedID, userID}}, nil)
	without := strings.Join(strings.Split(studentsCSV, "\n")[:10], "\n") + "\n" // S010 is gone
	run := uploadAndRun(t, d.s, d.admin, d.importID, without)
	require.Equal(t, "SUCCEEDED", run.Status)
	m.runID = run.ID

	// Who each role may see, read straight from the table.
	var rows []struct {
		ID      int64
		School  *string
		Removed bool
	}
	require.NoError(t, d.s.DB.NewRaw(`SELECT id, school, removed_at IS NOT NULL AS removed FROM recipients`).Scan(context.Background(), &rows))
	m.visible = map[string]map[string]bool{roleRestricted: {}, roleUser: {}, roleAdmin: {}}
	for _, r := range rows {
		if r.Removed {
			continue
		}
		id := fmt.Sprint(r.ID)
		m.visible[roleUser][id], m.visible[roleAdmin][id] = true, true
		if r.School != nil && *r.School == "Lincoln Elementary" {
			m.visible[roleRestricted][id] = true
		}
	}
	require.Len(t, m.visible[roleRestricted], 3)
	require.Len(t, m.visible[roleUser], 9)
	return m
}

// TestAuthorizationMatrix runs every root field of the schema as every
// kind of caller and checks the field's policy: refused
// (UNAUTHENTICATED, FORBIDDEN) where it says so, let through where it
// does, and for recipient data, that no recipient a caller may not see
// (outside their restriction, or removed) is in any answer.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var fields []string
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		for _, f := range root.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				fields = append(fields, root.Name+"."+f.Name)
			}
		}
	}
	sort.Strings(fields)
	for _, f := range fields {
		require.Contains(t, matrixOps, f, "add a sample operation of %s to matrixOps", f)
	}

	m := newMatrix(t)
	for _, field := range fields {
		op := matrixOps[field]
		policy := graph.PolicyOf(field)
		for _, role := range matrixRoles {
			t.Run(field+"/"+role, func(t *testing.T) {
				var vars map[string]any
				if op.vars != nil {
					vars = op.vars(m)
				}
				var resp *servertest.Response
				if strings.HasPrefix(field, "Subscription.") {
					m.checkSubscription(t, policy, role, op.query, vars)
					return
				}
				if op.upload {
					resp = m.d.s.Upload(t, m.tokens[role], op.query, vars, "m.csv", []byte("student_id\nS1\n"))
				} else {
					resp = m.d.s.Query(t, m.tokens[role], op.query, vars)
				}
				m.check(t, field, policy, role, resp)
			})
		}
	}
}

func (m *matrix) check(t *testing.T, field string, policy graph.Policy, role string, resp *servertest.Response) {
	codes := map[string]bool{}
	for _, e := range resp.Errors {
		codes[e.Code()] = true
	}
	refused := codes["UNAUTHENTICATED"] || codes["FORBIDDEN"]
	// Let through, a field may still fail for what was asked (the samples
	// name ids that do not exist), never for an internal error.
	for code := range codes {
		require.Contains(t, []string{"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT"}, code, "%s", resp.Body)
	}
	switch role {
	case roleAnonymous:
		require.True(t, codes["UNAUTHENTICATED"], "%s", resp.Body)
		require.NotContains(t, string(resp.Data), `"id"`)
		return
	case roleBadToken, roleRevoked, roleExpired, roleDisabled:
		require.Equal(t, http.StatusUnauthorized, resp.Status, "%s", resp.Body)
		require.True(t, codes["UNAUTHENTICATED"], "%s", resp.Body)
		require.Empty(t, resp.Data)
		return
	case roleAdmin:
		require.False(t, refused, "%s", resp.Body)
	default: // users
		switch policy {
		case graph.AdminOnly:
			require.True(t, codes["FORBIDDEN"], "%s", resp.Body)
			require.NotContains(t, string(resp.Data), `"id"`)
			return
		case graph.SelfOrAdmin:
			if field == "Query.user" { // the sample asks for the administrator
				require.True(t, codes["FORBIDDEN"], "%s", resp.Body)
				require.NotContains(t, string(resp.Data), "admin@district.test")
				return
			}
			require.False(t, refused, "%s", resp.Body)
		default:
			require.False(t, refused, "%s", resp.Body)
		}
	}
	// Every recipient in the answer is one the caller may see.
	for _, id := range recipientIDs(t, resp.Data) {
		require.True(t, m.visible[role][id], "%s answered recipient %s to %s: %s", field, id, role, resp.Data)
	}
	switch field {
	case "Query.recipientCount":
		var out struct{ RecipientCount int }
		require.NoError(t, json.Unmarshal(resp.Data, &out))
		require.Equal(t, len(m.visible[role]), out.RecipientCount)
	case "Query.recipientCounts":
		var out struct {
			RecipientCounts []struct{ Count int }
		}
		require.NoError(t, json.Unmarshal(resp.Data, &out))
		n := 0
		for _, c := range out.RecipientCounts {
			n += c.Count
		}
		require.Equal(t, len(m.visible[role]), n)
	}
}

// recipientIDs finds every object of __typename Recipient in data.
func recipientIDs(t *testing.T, data json.RawMessage) []string {
	t.Helper()
	if len(data) == 0 {
		return nil
	}
	var v any
	require.NoError(t, json.Unmarshal(data, &v))
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["__typename"] == "Recipient" {
				out = append(out, fmt.Sprint(x["id"]))
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// checkSubscription subscribes over WebSocket as role: bad or missing
// credentials are refused at connection_init with 4403, refused callers get
// the error and no event, those let through get the run.
func (m *matrix) checkSubscription(t *testing.T, policy graph.Policy, role, query string, vars map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), wsDeadline)
	defer cancel()
	ws := m.d.s.DialWS(ctx, t, nil)
	payload := map[string]string{}
	if tok := m.tokens[role]; tok != "" {
		payload["Authorization"] = "Bearer " + tok
	}
	err := ws.Init(ctx, payload)
	switch role {
	case roleAnonymous, roleBadToken, roleRevoked, roleExpired, roleDisabled:
		code, _, cerr := servertest.CloseStatus(err)
		require.NoError(t, cerr)
		require.Equal(t, closeForbidden, code)
		return
	}
	require.NoError(t, err)
	var events []servertest.Event
	for e := range ws.Subscribe(ctx, t, query, vars) {
		events = append(events, e)
	}
	require.NotEmpty(t, events)
	codes := map[string]bool{}
	for _, e := range events {
		for _, err := range e.Errors {
			codes[err.Code()] = true
		}
	}
	switch {
	case role == roleAnonymous:
		require.True(t, codes["UNAUTHENTICATED"], "%+v", events)
	case role != roleAdmin && policy == graph.AdminOnly:
		require.True(t, codes["FORBIDDEN"], "%+v", events)
	default:
		require.Empty(t, codes, "%+v", events)
		require.Equal(t, "next", events[0].Type)
		require.Contains(t, string(events[0].Data), m.runID)
		return
	}
	for _, e := range events {
		require.NotContains(t, string(e.Data), "SUCCEEDED", "no run data reaches a refused caller")
	}
}
