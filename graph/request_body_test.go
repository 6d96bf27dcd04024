package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/server/servertest"
)

// TestBatchedAndMalformedBodies: a JSON array of operations (batching) and
// bodies that are not one GraphQL request are answered 400 with a message
// that says why, and no request body reaches the log.
func TestBatchedAndMalformedBodies(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	const secret = "s3cr3t-marker"
	for _, c := range []struct {
		name, body, message string
	}{
		{"Batch", `[{"query":"{ me { email } }","variables":{"x":"` + secret + `"}},{"query":"{ me { name } }"}]`, "batch"},
		{"BatchAfterSpace", " \n\t[{\"query\":\"{ me { email } }\",\"operationName\":\"" + secret + "\"}]", "batch"},
		{"NotJSON", `{"query": "{ me { email } }", ` + secret + `}`, "not valid JSON"},
		{"Truncated", `{"query": "{ me { email } }", "variables": {"x": "` + secret, "not valid JSON"},
		{"QueryNotAString", `{"query": ["` + secret + `"]}`, "query must be a string"},
		{"VariablesNotAnObject", `{"query": "{ me { email } }", "variables": "` + secret + `"}`, "variables must be an object"},
		{"ExtensionsNotAnObject", `{"query": "{ me { email } }", "extensions": ["` + secret + `"]}`, "extensions must be an object"},
		{"NotAnObject", `"` + secret + `"`, "must be a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(c.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(raw))
			var out servertest.Response
			require.NoError(t, json.Unmarshal(raw, &out), string(raw))
			require.Equal(t, "BAD_USER_INPUT", out.FirstCode(), string(raw))
			require.Contains(t, out.Errors[0].Message, c.message)
			require.NotContains(t, string(raw), secret, "the answer does not echo the body")

			// Once the request's own log line is written, nothing logged
			// holds the body.
			id := resp.Header.Get(httpx.RequestIDHeader)
			require.NotEmpty(t, id)
			require.Eventually(t, func() bool {
				return strings.Contains(s.Logs.String(), `"request_id":"`+id+`","method":"POST"`)
			}, 10*time.Second, 5*time.Millisecond)
			require.NotContains(t, s.Logs.String(), secret)
		})
	}

	// One operation in an object still works.
	var out struct{ Me struct{ Email string } }
	s.MustQuery(t, token, `{ me { email } }`, nil, &out)
	require.Equal(t, "admin@district.test", out.Me.Email)
}
