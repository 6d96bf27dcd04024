package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/server/servertest"
)

// TestTransportErrorsHaveCodes: a request no GraphQL transport takes still
// gets an error with extensions.code and a message saying what to send.
func TestTransportErrorsHaveCodes(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	for _, tc := range []struct{ method, contentType, body, says string }{
		{http.MethodPost, "", `{"query":"{ me { email } }"}`, "Content-Type: application/json"},
		{http.MethodPost, "application/xml", `<query/>`, "Content-Type: application/json"},
		{http.MethodPut, "application/json", `{"query":"{ me { email } }"}`, "PUT is not supported"},
		{http.MethodDelete, "", ``, "DELETE is not supported"},
		{http.MethodPost, "application/json", `[{"query":"{ me { email } }"}]`, "batched requests"},
	} {
		req, err := http.NewRequest(tc.method, s.URL+"/graphql", strings.NewReader(tc.body))
		require.NoError(t, err)
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp := s.Do(t, req)
		require.Equal(t, http.StatusBadRequest, resp.Status, "%s %q: %s", tc.method, tc.contentType, resp.Body)
		require.Equal(t, "BAD_USER_INPUT", resp.FirstCode(), "%s %q: %s", tc.method, tc.contentType, resp.Body)
		require.Contains(t, resp.Errors[0].Message, tc.says)
	}
}

// TestIDsAnswerAlike: an id that cannot be one is refused the same way by
// GraphQL and by the REST routes.
func TestIDsAnswerAlike(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	gql := s.Query(t, token, `{ import(id: "abc") { id } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", gql.FirstCode(), string(gql.Body))

	for _, path := range []string{"/imports/abc/file", "/imports/0/file", "/lists/abc/members.csv", "/lists/-1/members.csv"} {
		method := http.MethodGet
		if strings.HasPrefix(path, "/imports") {
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader("student_id\n1\n"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+token)
		resp := s.Do(t, req)
		require.Equal(t, http.StatusBadRequest, resp.Status, path)
		require.Equal(t, gql.FirstCode(), resp.FirstCode(), path)
		require.Equal(t, "id", resp.Errors[0].Extensions["field"], path)
		require.Contains(t, resp.Errors[0].Message, "is not a valid ID", path)
	}
}

// TestAccessLogNamesOperations: a GraphQL request's access log line carries
// its operation's name and type.
func TestAccessLogNamesOperations(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	s.MustQuery(t, token, `query WhoAmI { me { email } }`, nil, nil)
	s.MustQuery(t, token, `mutation MakeList { createList(input: {name: "Everyone", filter: {all: true}}) { id } }`, nil, nil)
	s.MustQuery(t, token, `{ __typename }`, nil, nil)

	var lines []map[string]any
	for _, line := range bytes.Split([]byte(s.Logs.String()), []byte("\n")) {
		var entry map[string]any
		if json.Unmarshal(line, &entry) == nil && entry["msg"] == "request" && entry["path"] == "/graphql" {
			lines = append(lines, entry)
		}
	}
	type op struct{ name, kind any }
	var got []op
	for _, l := range lines {
		got = append(got, op{l["operation"], l["operation_type"]})
	}
	require.Subset(t, got, []op{{"WhoAmI", "query"}, {"MakeList", "mutation"}, {"anonymous", "query"}}, "%v", lines)
}

// TestPersistedQueryErrors: automatic persisted queries (a hash instead of
// the document) answer with codes: an unknown hash asks for the document, a
// malformed extension says what is wrong.
func TestPersistedQueryErrors(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	send := func(body string) *servertest.Response {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		return s.Do(t, req)
	}
	resp := send(`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("ab", 32) + `"}}}`)
	require.Equal(t, string(apperr.CodePersistedQueryNotFound), resp.FirstCode(), string(resp.Body))
	for body, says := range map[string]string{
		`{"extensions":{"persistedQuery":{"version":2,"sha256Hash":"x"}}}`:                          "unsupported APQ version",
		`{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}}`: "does not match",
	} {
		resp := send(body)
		require.Equal(t, "BAD_USER_INPUT", resp.FirstCode(), string(resp.Body))
		require.Contains(t, resp.Errors[0].Message, says)
	}
}

// TestPersistedQueryNotFoundStatus: an unknown hash is a request error: 200
// for application/json (as every GraphQL error there), a 4xx without data
// for application/graphql-response+json.
func TestPersistedQueryNotFoundStatus(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	for accept, want := range map[string]int{"application/json": http.StatusOK, "application/graphql-response+json": http.StatusBadRequest} {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql",
			strings.NewReader(`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"`+strings.Repeat("cd", 32)+`"}}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		resp := s.Do(t, req)
		require.Equal(t, want, resp.Status, accept)
		require.Equal(t, string(apperr.CodePersistedQueryNotFound), resp.FirstCode(), string(resp.Body))
		if want != http.StatusOK {
			require.NotContains(t, string(resp.Body), `"data"`)
		}
	}
}
