package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/metrics"
	"github.com/rollcall/rollcall/internal/testkit/browser"
	"github.com/rollcall/rollcall/internal/testkit/gqlaudit"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/server"
	"github.com/rollcall/rollcall/server/servertest"
)

func TestIntrospectionWithoutToken(t *testing.T) {
	t.Parallel()

	t.Run("On", func(t *testing.T) {
		t.Parallel()
		s := servertest.New(t, nil)
		resp := s.Query(t, "", `{ __typename __schema { queryType { name } } }`, nil)
		require.Empty(t, resp.Errors, string(resp.Body))
		require.JSONEq(t, `{"__typename":"Query","__schema":{"queryType":{"name":"Query"}}}`, string(resp.Data))

		// Data still needs a token, even next to introspection.
		resp = s.Query(t, "", `{ __typename me { email } }`, nil)
		require.Equal(t, "UNAUTHENTICATED", resp.FirstCode())
	})

	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.Introspection = false }})
		resp := s.Query(t, "", `{ __schema { queryType { name } } }`, nil)
		require.NotEmpty(t, resp.Errors)
		require.Equal(t, "INTROSPECTION_DISABLED", resp.FirstCode(), string(resp.Body))
	})
}

func TestRequestLimits(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) {
		c.MaxBodyBytes = 4096
		c.MaxDepth = 6
		c.MaxComplexity = 1000
	}})
	_, token := s.Admin(t, "admin@district.test")

	t.Run("BodyTooLarge", func(t *testing.T) {
		t.Parallel()
		query := `{ me { email } }` + strings.Repeat(" ", 5000)
		resp := s.Query(t, token, query, nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status)
		require.Equal(t, "PAYLOAD_TOO_LARGE", resp.FirstCode())
	})

	t.Run("BodyTooLargeChunked", func(t *testing.T) {
		t.Parallel()
		body := `{"query": "{ me { email } }` + strings.Repeat(" ", 5000) + `"}`
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", struct{ *strings.Reader }{strings.NewReader(body)})
		require.NoError(t, err)
		req.ContentLength = -1 // unknown length: chunked
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		require.Equal(t, http.StatusRequestEntityTooLarge, s.Do(t, req).Status)
	})

	t.Run("TooDeep", func(t *testing.T) {
		t.Parallel()
		resp := s.Query(t, token, `{ me { apiTokens { user { apiTokens { user { apiTokens { user { email } } } } } } } }`, nil)
		require.Equal(t, "QUERY_TOO_DEEP", resp.FirstCode(), string(resp.Body))
		require.Contains(t, resp.Errors[0].Message, "limit of 6")
	})

	t.Run("DepthWithinLimitThroughFragments", func(t *testing.T) {
		t.Parallel()
		resp := s.Query(t, token, `{ me { ...U } } fragment U on User { apiTokens { user { email } } }`, nil)
		require.Empty(t, resp.Errors, string(resp.Body))
	})

	t.Run("TooComplex", func(t *testing.T) {
		t.Parallel()
		resp := s.Query(t, token, `{ users(first: 500) { nodes { email name role createdAt } } }`, nil)
		require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", resp.FirstCode(), string(resp.Body))
	})

	t.Run("GETQuery", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+urlQuery(`{ me { email } }`), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp := s.Do(t, req)
		require.Equal(t, http.StatusOK, resp.Status)
		require.JSONEq(t, `{"me":{"email":"admin@district.test"}}`, string(resp.Data))
	})

	t.Run("GETMutationRefused", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+urlQuery(`mutation { createApiToken(name: "x") { token } }`), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp := s.Do(t, req)
		require.GreaterOrEqual(t, resp.Status, 400)
		require.Less(t, resp.Status, 500)
	})
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	// Long enough for the setup request on a busy machine; the request held
	// on a lock below reaches it whatever the load.
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.RequestTimeout = 2 * time.Second }})
	_, token := s.Admin(t, "admin@district.test")
	s.MustQuery(t, token, `{ me { email } }`, nil, &struct{}{}) // records the token's use now

	// Another session blocks writes to api_tokens, so creating a token
	// waits until the request's time is up.
	ctx := context.Background()
	tx, err := s.DB.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, "LOCK TABLE api_tokens IN EXCLUSIVE MODE")
	require.NoError(t, err)

	start := time.Now()
	resp := s.Query(t, token, `mutation { createApiToken(name: "slow") { token } }`, nil)
	require.Equal(t, "TIMEOUT", resp.FirstCode(), string(resp.Body))
	require.Less(t, time.Since(start), 20*time.Second) // the lock is held until released below: answering at all is the limit at work
}

func TestMultipartNeedsPreflightHeader(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)

	multipartRequest := func(t *testing.T) *http.Request {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		require.NoError(t, w.WriteField("operations", `{"query":"{ __typename }"}`))
		require.NoError(t, w.WriteField("map", `{}`))
		require.NoError(t, w.Close())
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", &body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", w.FormDataContentType())
		return req
	}

	// Without a token, a form a page of any site could post is refused
	// for what it lacks: a token (never run, never read).
	resp := s.Do(t, multipartRequest(t))
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Equal(t, "UNAUTHENTICATED", resp.FirstCode())
	require.Contains(t, resp.Errors[0].Message, "Authorization: Bearer")

	// Past the CSRF guard, a multipart request is an upload: only an
	// administrator's token gets it read.
	req := multipartRequest(t)
	req.Header.Set("Apollo-Require-Preflight", "true")
	resp = s.Do(t, req)
	require.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
	require.Equal(t, "UNAUTHENTICATED", resp.FirstCode())

	_, admin := s.Admin(t, "admin@district.test")
	req = multipartRequest(t)
	req.Header.Set("Apollo-Require-Preflight", "true")
	req.Header.Set("Authorization", "Bearer "+admin)
	resp = s.Do(t, req)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.JSONEq(t, `{"__typename":"Query"}`, string(resp.Data))

	// text/plain is a simple request too.
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/plain")
	resp = s.Do(t, req)
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Equal(t, "UNAUTHENTICATED", resp.FirstCode())
}

func TestHealthReadinessMetrics(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")

	status, body := s.Get(t, "/healthz")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "ok")

	status, body = s.Get(t, "/readyz")
	require.Equal(t, http.StatusOK, status, body)

	s.MustQuery(t, token, `query Me { me { email } }`, nil, &struct{}{})
	s.Query(t, token, `query Missing { user(id: "424242") { email } }`, nil)

	status, body = s.Get(t, "/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `rollcall_graphql_operations_total{name="Me",outcome="ok",type="query"} 1`)
	require.Contains(t, body, `rollcall_graphql_operations_total{name="Missing",outcome="NOT_FOUND",type="query"} 1`)
	require.Contains(t, body, `rollcall_graphql_operation_duration_seconds_bucket{name="Me",type="query"`)
	require.Contains(t, body, `rollcall_http_requests_total{code="200",method="POST",route="/graphql"}`)
	require.Contains(t, body, "rollcall_db_pool_max_connections")
	require.Contains(t, body, "rollcall_db_pool_acquires_total")

	// One log line per request, with its id, status and duration.
	require.Eventually(t, func() bool { return strings.Contains(s.Logs.String(), `"msg":"request"`) }, time.Second, 10*time.Millisecond)
	require.Contains(t, s.Logs.String(), `"request_id":`)
	require.Contains(t, s.Logs.String(), `"status":200`)
	require.Contains(t, s.Logs.String(), `"duration":`)
}

func TestReadinessWithoutMigrations(t *testing.T) {
	t.Parallel()
	d := testdb.Open(t, testdb.Empty(t))
	m := metrics.New()
	logger := slog.New(slog.DiscardHandler)
	a, err := app.New(d, app.Options{Logger: logger, Metrics: m})
	require.NoError(t, err)
	h := server.NewRouter(server.Deps{Config: config.DefaultServer(), Logger: logger, Metrics: m, DB: d, Services: a.Services})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "migrations")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results := gqlaudit.Run(ctx, t, s.URL+"/graphql", map[string]string{"Authorization": "Bearer " + token})
	require.NotEmpty(t, results)
	for _, r := range gqlaudit.Filter(results, gqlaudit.StatusError, gqlaudit.StatusWarn) {
		t.Errorf("%s", r)
	}
}

func TestGraphiQLInBrowser(t *testing.T) {
	t.Parallel()
	browser.Chromium(t) // skips when Chromium is not installed
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := browser.RunGraphiQLQuery(ctx, t, s.URL, fmt.Sprintf(`{"Authorization": "Bearer %s"}`, token), `{ me { email } }`)
	require.NoError(t, err)
	require.Contains(t, out, "admin@district.test")
}

func urlQuery(q string) string {
	r := strings.NewReplacer(" ", "%20", "{", "%7B", "}", "%7D", "(", "%28", ")", "%29", `"`, "%22", ":", "%3A")
	return r.Replace(q)
}
