package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

// startCommand runs the rollcall command args (a server) until the end of
// the test, and returns its stdout and stderr as they fill.
func startCommand(t *testing.T, args ...string) (out, errOut *syncBuffer) {
	t.Helper()
	out, errOut = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, out, errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("rollcall %s exited with %d:\n%s", args[0], code, errOut.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("rollcall %s did not stop", args[0])
		}
	})
	return out, errOut
}

var graphiqlConfigRE = regexp.MustCompile(`(?s)<script id="graphiql-config" type="application/json">(.*?)</script>`)

// graphiqlPage returns the GraphiQL page at base, its Cache-Control and the
// settings it hands to GraphiQL.
func graphiqlPage(t *testing.T, base string) (page, cacheControl string, config map[string]string) {
	t.Helper()
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := graphiqlConfigRE.FindSubmatch(b)
	require.NotNil(t, m, "no GraphiQL settings in the page:\n%s", b)
	require.NoError(t, json.Unmarshal(m[1], &config))
	return string(b), resp.Header.Get("Cache-Control"), config
}

// TestDevGraphiQLHasTheToken: `rollcall dev` fills GraphiQL's Headers tab
// with the token it prints, and keeps that page out of caches.
func TestDevGraphiQLHasTheToken(t *testing.T) {
	t.Parallel()
	out, errOut := startCommand(t, "dev", "--database-url", testdb.URL(t), "--port", "0", "--workers", "0",
		"--data-dir", t.TempDir())

	banner := regexp.MustCompile(`GraphiQL\s+(http://localhost:\d+)/\n(?:.*\n)*?\s*Admin token\s+(\S+)\n`)
	var m []string
	require.Eventually(t, func() bool {
		m = banner.FindStringSubmatch(out.String())
		return m != nil
	}, 90*time.Second, 50*time.Millisecond, "no banner; logs:\n%s", errOut)
	base, token := m[1], m[2]

	_, cacheControl, config := graphiqlPage(t, base)
	require.Equal(t, `{"Authorization": "Bearer `+token+`"}`, config["defaultHeaders"])
	require.Equal(t, "no-store", cacheControl, "a page with a token must not be cached")
	require.Equal(t, "/graphql", config["subscriptionEndpoint"])

	// The token works.
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ me { role } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), `"role":"SYSTEM_ADMIN"`)
}

// TestServeGraphiQLHasNoToken: `rollcall serve` never fills GraphiQL's
// Headers tab (with a token, or a placeholder that GraphiQL would send),
// even with administrators and their tokens in the database.
func TestServeGraphiQLHasNoToken(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	a, err := app.New(testdb.Open(t, url), app.Options{})
	require.NoError(t, err)
	_, token, err := a.Services.Users.BootstrapAdmin(context.Background(), "admin@district.test", "Admin", "test")
	require.NoError(t, err)

	_, errOut := startCommand(t, "serve", "--database-url", url, "--port", "0", "--workers", "0")
	var addr string
	require.Eventually(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(errOut.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr = line.Addr
				return true
			}
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "not listening; logs:\n%s", errOut)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	page, cacheControl, config := graphiqlPage(t, "http://127.0.0.1:"+port)
	require.NotContains(t, config, "defaultHeaders")
	require.NotContains(t, page, token)
	require.Equal(t, "no-cache", cacheControl)
	require.Equal(t, "/graphql", config["subscriptionEndpoint"])
}
