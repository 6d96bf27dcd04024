package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/server/servertest"
)

// TestPageSizesCount: a connection costs its page size times its contents,
// so that aliases and nesting cannot multiply a request's work unseen.
func TestPageSizesCount(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Everyone", filter: {all: true}}) { id } }`, nil, nil)

	requireRefused := func(t *testing.T, query string, vars map[string]any) *servertest.Response {
		t.Helper()
		resp := d.s.Query(t, d.admin, query, vars)
		require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", resp.FirstCode(), string(resp.Body))
		require.True(t, len(resp.Data) == 0 || string(resp.Data) == "null", "nothing ran: %s", resp.Data)
		return resp
	}

	t.Run("AliasedPages", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		b.WriteString("{")
		for i := range 1000 {
			fmt.Fprintf(&b, " r%d: recipients(filter: {all: true}, first: 500) { nodes { id firstName lastName phones { number } emails { address } } }", i)
		}
		b.WriteString(" }")
		resp := requireRefused(t, b.String(), nil)
		require.Contains(t, resp.Errors[0].Message, "ROLLCALL_MAX_")
	})
	t.Run("NestedPages", func(t *testing.T) {
		t.Parallel()
		requireRefused(t, `{ lists(first: 500) { nodes { members(first: 500) { nodes { id firstName lastName } } } } }`, nil)
	})
	t.Run("PageSizeFromAVariable", func(t *testing.T) {
		t.Parallel()
		q := `query($n: Int) { lists(first: $n) { nodes { members(first: $n) { nodes { id firstName lastName } } } } }`
		requireRefused(t, q, map[string]any{"n": 500})
		var out struct {
			Lists struct {
				Nodes []struct {
					Members struct{ Nodes []struct{ ID string } }
				}
			}
		}
		d.s.MustQuery(t, d.admin, q, map[string]any{"n": 10}, &out)
		require.Len(t, out.Lists.Nodes[0].Members.Nodes, 10)
	})
	t.Run("DefaultPageSizes", func(t *testing.T) {
		t.Parallel()
		// lists and members default to 50 each: 2,500 members' worth.
		requireRefused(t, `{ lists { nodes { members { nodes { id firstName lastName grade school language type externalId createdAt updatedAt } } } } }`, nil)
	})
}

// TestEveryConnectionCountsItsPageSize: each connection field (and list
// field with a page size) multiplies what it contains by its page size.
// The operations are refused before anything runs, so they need no data.
func TestEveryConnectionCountsItsPageSize(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.MaxComplexity = 1000 }})
	_, admin := s.Admin(t, "admin@district.test")
	// Contents worth more than 10: a page of 100 is over 1,000.
	const user = `id email name role disabled createdAt updatedAt restrictionDescription apiTokens { id name prefix }`
	const recipient = `id externalId type firstName lastName grade school language createdAt updatedAt removedAt`
	for name, q := range map[string]string{
		"users":         `{ users(first: $n) { nodes { ` + user + ` } } }`,
		"findUsers":     `{ findUsers(search: "district", first: $n) { ` + user + ` } }`,
		"imports":       `{ imports(first: $n) { nodes { id name description kind method recipientCount userCount createdAt updatedAt runOnUpload deleted } } }`,
		"runs":          `{ import(id: "1") { runs(first: $n) { nodes { id status message dryRun queuedAt startedAt finishedAt attempts rowsRead created updated } } } }`,
		"errors":        `{ importRun(id: "1") { errors(first: $n) { nodes { line column value message } edges { cursor node { line } } pageInfo { hasNextPage endCursor } totalCount } } }`,
		"recipients":    `{ recipients(filter: {all: true}, first: $n) { nodes { ` + recipient + ` } } }`,
		"lists":         `{ lists(first: $n) { nodes { id name description filter filterDescription memberCount canEdit createdAt updatedAt owner { id } } } }`,
		"members":       `{ list(id: "1") { members(first: $n) { nodes { ` + recipient + ` } } } }`,
		"additions":     `{ list(id: "1") { additions(first: $n) { nodes { ` + recipient + ` } } } }`,
		"exclusions":    `{ list(id: "1") { exclusions(first: $n) { nodes { ` + recipient + ` } } } }`,
		"contactPoints": `{ list(id: "1") { contactPoints(kind: PHONE, first: $n) { nodes { value labels recipientCount recipients { id firstName lastName grade } } pageInfo { hasNextPage endCursor } } } }`,
		"previewList":   `{ previewList(filter: {all: true}, first: $n) { count recipients { ` + recipient + ` } } }`,
		"auditLog":      `{ auditLog(first: $n) { nodes { id at action targetType targetId targetName details actorEmail actor { id email } } } }`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			query := "query($n: Int) " + q
			resp := s.Query(t, admin, query, map[string]any{"n": 100})
			require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", resp.FirstCode(), string(resp.Body))
			require.Contains(t, resp.Errors[0].Message, "ROLLCALL_MAX_COMPLEXITY")
			resp = s.Query(t, admin, query, map[string]any{"n": 1})
			require.NotEqual(t, "COMPLEXITY_LIMIT_EXCEEDED", resp.FirstCode(), string(resp.Body))
		})
	}
}

// TestRowBudget: one request may read at most ROLLCALL_MAX_ROWS rows,
// counted as page sizes times the pages around them.
func TestRowBudget(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.MaxRows = 120 }})
	_, admin := s.Admin(t, "admin@district.test")
	s.MustQuery(t, admin, `mutation { createList(input: {name: "Nobody yet"}) { id } }`, nil, nil)

	for _, c := range []struct {
		name, query string
		vars        map[string]any
		rows        int // 0: within the budget
	}{
		{"OnePage", `{ recipients(filter: {all: true}, first: 120) { nodes { id } } }`, nil, 0},
		{"OnePageTooMany", `{ recipients(filter: {all: true}, first: 121) { nodes { id } } }`, nil, 121},
		{"Aliases", `{ a: recipients(filter: {all: true}, first: 60) { totalCount } b: recipients(filter: {all: true}, first: 60) { totalCount } }`, nil, 0},
		{"AliasesTooMany", `{ a: recipients(filter: {all: true}, first: 60) { totalCount } b: recipients(filter: {all: true}, first: 61) { totalCount } }`, nil, 121},
		{"Nested", `{ lists(first: 2) { nodes { members(first: 59) { nodes { id } } } } }`, nil, 0},
		{"NestedTooMany", `{ lists(first: 2) { nodes { members(first: 60) { nodes { id } } } } }`, nil, 122},
		{"Defaults", `{ lists { nodes { id } } }`, nil, 0},
		{"DefaultsTooMany", `{ lists { nodes { members { totalCount } } } }`, nil, 2550},
		{"Variables", `query($n: Int) { users(first: $n) { nodes { id } } }`, map[string]any{"n": 121}, 121},
		{"Fragments", `{ ...R ...R2 } fragment R on Query { a: auditLog(first: 100) { totalCount } } fragment R2 on Query { b: imports(first: 21) { totalCount } }`, nil, 121},
		{"Introspection", `{ __schema { types { name fields { name args { name } } } } }`, nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := s.Query(t, admin, c.query, c.vars)
			if c.rows == 0 {
				require.Empty(t, resp.Errors, string(resp.Body))
				return
			}
			require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", resp.FirstCode(), string(resp.Body))
			msg := resp.Errors[0].Message
			require.Contains(t, msg, fmt.Sprintf("%d rows", c.rows))
			require.Contains(t, msg, "ROLLCALL_MAX_ROWS")
			require.Contains(t, msg, "120")
			require.Equal(t, "ROLLCALL_MAX_ROWS", resp.Errors[0].Extensions["limit"])
		})
	}
}

// TestFrontEndQueriesFitTheLimits: the queries the README shows, and those
// a list screen and an import screen make, pass the default limits.
func TestFrontEndQueriesFitTheLimits(t *testing.T) {
	t.Parallel()
	d := newDistrict(t)
	var l struct{ CreateList struct{ ID string } }
	d.s.MustQuery(t, d.admin, `mutation { createList(input: {name: "Grade 5 at Lincoln", filter: {grade: {eq: "5"}, school: {eq: "Lincoln Elementary"}}}) { id } }`, nil, &l)
	vars := map[string]any{"list": l.CreateList.ID, "import": d.importID, "r": d.ids["S001"]}
	for name, q := range map[string]string{
		"Users":          `{ users(first: 20) { totalCount nodes { id email role disabled } pageInfo { hasNextPage endCursor } } }`,
		"ImportRuns":     `query($import: ID!) { import(id: $import) { lastRunAt fileDate needsAttention attentionReasons { code message } recipientCount runs(first: 5) { nodes { id status rowsRead created updated unchanged removed restored rejected message errors(first: 10) { nodes { line column value message } } } } } }`,
		"ListMembers":    `query($list: ID!) { list(id: $list) { memberCount members(first: 50) { nodes { id firstName lastName grade school } pageInfo { endCursor hasNextPage } } } }`,
		"Preview":        `{ previewList(filter: {language: {eq: "Spanish"}}) { count recipients { firstName lastName } } }`,
		"Explain":        `query($list: ID!, $r: ID!) { list(id: $list) { explain(recipientId: $r) { member reasons { code message } } } }`,
		"ContactPoints":  `query($list: ID!) { list(id: $list) { contactPoints(kind: PHONE, first: 100) { nodes { value labels recipientCount } } } }`,
		"Counts":         `{ recipientCounts(filter: {type: {eq: STUDENT}}, groupBy: [{field: SCHOOL}, {field: GRADE}]) { values count } }`,
		"DeleteImpact":   `query($import: ID!) { import(id: $import) { deleteImpact(recipients: REMOVE) { recipients users files runs lists { list { name } membersBefore membersAfter } } } }`,
		"AuditLog":       `{ auditLog(first: 200) { nodes { action targetType targetId targetName actorEmail actor { email } details } totalCount } }`,
		"ListsScreen":    `{ lists(first: 50) { totalCount nodes { id name filterDescription memberCount canEdit owner { name } sharedWith { name } } pageInfo { hasNextPage endCursor } } }`,
		"ListScreen":     `query($list: ID!) { list(id: $list) { name filterDescription memberCount members(first: 100, orderBy: EXTERNAL_ID) { totalCount nodes { id externalId firstName lastName grade school phones { number label } emails { address label } } } additions { nodes { id firstName lastName } } exclusions { nodes { id firstName lastName } } } }`,
		"ImportBrowser":  `query($import: ID!) { recipients(importId: $import, first: 500, includeRemoved: true) { totalCount nodes { id externalId firstName lastName grade school removedAt } pageInfo { hasNextPage endCursor } } }`,
		"ImportsScreen":  `{ imports(first: 50) { totalCount nodes { id name scheduleDescription needsAttention lastRunAt fileDate recipientCount lastRun { id status } activeRun { id status } } } }`,
		"SystemStatus":   `{ systemStatus { importsNeedingAttention { id name } recentProblemRuns { id status } activeRuns { id status } oldestDataAt checkedAt } }`,
		"GraphiQLSchema": `{ __schema { queryType { name } types { name kind fields(includeDeprecated: true) { name args { name type { name kind ofType { name kind } } } type { name kind ofType { name kind ofType { name kind } } } } } } }`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp := d.s.Query(t, d.admin, q, vars)
			require.Empty(t, resp.Errors, string(resp.Body))
		})
	}
}
