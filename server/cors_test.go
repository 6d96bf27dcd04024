package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/server/servertest"
)

const (
	appOrigin   = "http://localhost:3000"
	otherOrigin = "https://evil.example"
)

func corsServer(t *testing.T, origins ...string) *servertest.Server {
	return servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.CORSOrigins = origins }})
}

// preflight sends the OPTIONS request a browser sends before a GraphQL POST
// with a token from a page of origin.
func preflight(t *testing.T, s *servertest.Server, origin, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, s.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,apollo-require-preflight,graphql-client-name")
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// TestCORSPreflight: a configured origin gets the preflight answer a browser
// needs for the headers GraphQL clients send, on the GraphQL endpoint and
// on the upload route; another origin gets no Access-Control-* header, so
// the browser keeps its page out.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	s := corsServer(t, appOrigin)
	for _, path := range []string{"/graphql", "/imports/1/file", "/lists/1/members.csv"} {
		resp := preflight(t, s, appOrigin, path)
		require.Less(t, resp.StatusCode, 300, path)
		require.Equal(t, appOrigin, resp.Header.Get("Access-Control-Allow-Origin"), path)
		allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "content-type", "apollo-require-preflight", "graphql-client-name"} {
			require.Contains(t, allowed, h, path)
		}
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST", path)
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"), "no cookies, so never credentials")

		refused := preflight(t, s, otherOrigin, path)
		require.Empty(t, refused.Header.Get("Access-Control-Allow-Origin"), path)
		require.Empty(t, refused.Header.Get("Access-Control-Allow-Headers"), path)
	}
}

// TestCORSRequest: the answer to an allowed origin's request names that
// origin (and lets the page read the request id); the default, with no
// origin configured, adds no Access-Control-* header for anyone.
func TestCORSRequest(t *testing.T) {
	t.Parallel()
	query := func(s *servertest.Server, token, origin string) (*http.Response, string) {
		body := strings.NewReader(`{"query":"{ me { email } }"}`)
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", body)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := s.HTTP.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	s := corsServer(t, appOrigin, "https://reports.district.test")
	_, token := s.Admin(t, "admin@district.test")
	resp, body := query(s, token, appOrigin)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "admin@district.test")
	require.Equal(t, appOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id")
	require.Contains(t, resp.Header.Values("Vary"), "Origin")
	resp, _ = query(s, token, otherOrigin)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

	def := corsServer(t)
	_, token = def.Admin(t, "admin@district.test")
	resp, _ = query(def, token, appOrigin)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	pre := preflight(t, def, appOrigin, "/graphql")
	require.Empty(t, pre.Header.Get("Access-Control-Allow-Origin"))
}

// TestCORSWebSocket: the WebSocket upgrade follows the same policy: the
// server's own origin and a configured one may subscribe, another origin
// is refused with 403, an error code and one log line, before any
// connection exists.
func TestCORSWebSocket(t *testing.T) {
	t.Parallel()
	s := corsServer(t, appOrigin)
	_, token := s.Admin(t, "admin@district.test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, origin := range []string{appOrigin, s.URL, ""} {
		ws := s.DialWS(ctx, t, http.Header{"Origin": []string{origin}})
		require.NoError(t, ws.Init(ctx, map[string]string{"Authorization": "Bearer " + token}), "origin %q", origin)
		var me struct{ Me struct{ Email string } }
		ws.MustDo(ctx, t, `{ me { email } }`, nil, &me)
		require.Equal(t, "admin@district.test", me.Me.Email)
	}

	_, resp, err := websocket.Dial(ctx, s.WSURL(), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"Origin": []string{otherOrigin}},
	})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	var body struct {
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	b, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(b, &body), "%s", b)
	require.Equal(t, "FORBIDDEN", body.Errors[0].Extensions.Code)
	require.Contains(t, body.Errors[0].Message, "ROLLCALL_CORS_ORIGINS")

	logs := s.Logs.String()
	require.Equal(t, 1, strings.Count(logs, `"msg":"websocket upgrade refused"`), logs)
	require.Contains(t, logs, otherOrigin)
	require.NotContains(t, logs, "superfluous")
}

// TestParseOrigin: ROLLCALL_CORS_ORIGINS takes exact origins and says what
// is wrong with anything else.
func TestParseOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://localhost:3000":        "http://localhost:3000",
		"HTTPS://App.District.org/":    "https://app.district.org",
		"https://app.district.org:443": "https://app.district.org",
		" http://[::1]:8080 ":          "http://[::1]:8080",
	} {
		got, err := config.ParseOrigin(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for in, msg := range map[string]string{
		"*":                          "wildcards",
		"https://*.district.org":     "wildcards",
		"app.district.org":           "scheme://host",
		"ftp://app.district.org":     "scheme://host",
		"https://app.district.org/x": "no user, path",
		"https://u@app.district.org": "no user, path",
	} {
		_, err := config.ParseOrigin(in)
		require.ErrorContains(t, err, msg, in)
	}
	require.Error(t, config.Server{CORSOrigins: []string{"*"}}.Validate())
}
