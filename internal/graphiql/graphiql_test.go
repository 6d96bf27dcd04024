package graphiql

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var testOpts = Options{
	Endpoint:             "/graphql",
	DefaultQuery:         "# Put your token into the Headers tab.\n{ me { email } }",
	SubscriptionEndpoint: "/graphql",
}

// devOpts are the options of a development server, whose page carries a
// token.
var devOpts = Options{
	Endpoint:             "/graphql",
	DefaultQuery:         "{ me { email } }",
	DefaultHeaders:       `{"Authorization": "Bearer rc_devtoken"}`,
	SubscriptionEndpoint: "/graphql",
}

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	configRE = regexp.MustCompile(`(?s)<script id="graphiql-config" type="application/json">(.*?)</script>`)
	linkRE   = regexp.MustCompile(`(?:src|href)="([^"]*)"`)
)

// pageConfigOf returns the settings that the page hands to its script.
func pageConfigOf(t *testing.T, page string) pageConfig {
	t.Helper()
	m := configRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no graphiql-config block in page:\n%s", page)
	}
	var cfg pageConfig
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("graphiql-config is not JSON: %v\n%s", err, m[1])
	}
	return cfg
}

// assetLinks returns the src and href values of the page, except data: URLs.
func assetLinks(t *testing.T, page string) []string {
	t.Helper()
	var links []string
	for _, m := range linkRE.FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			links = append(links, m[1])
		}
	}
	if len(links) != len(pageAssets) {
		t.Fatalf("page links %q, want one for each of %q", links, pageAssets)
	}
	return links
}

func TestPage(t *testing.T) {
	h := Handler(testOpts)
	resp := get(t, h, "/")
	page := body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(page, `"endpoint":"/graphql"`) {
		t.Errorf("page does not name the endpoint:\n%s", page)
	}
	want := pageConfig{Endpoint: "/graphql", DefaultQuery: testOpts.DefaultQuery, SubscriptionEndpoint: "/graphql"}
	if got := pageConfigOf(t, page); got != want {
		t.Errorf("page config = %+v, want %+v", got, want)
	}
	// Without DefaultHeaders the page offers no headers at all: GraphiQL
	// would send a placeholder as if it were a token.
	if strings.Contains(page, "defaultHeaders") || strings.Contains(page, "Authorization") {
		t.Errorf("page offers headers:\n%s", page)
	}
}

// TestPageWithDefaultHeaders: a development server's page carries its token
// for the Headers tab, and is kept out of every cache.
func TestPageWithDefaultHeaders(t *testing.T) {
	h := Handler(devOpts)
	resp := get(t, h, "/")
	page := body(t, resp)
	if got := pageConfigOf(t, page); got.DefaultHeaders != devOpts.DefaultHeaders {
		t.Errorf("page config's defaultHeaders = %q, want %q", got.DefaultHeaders, devOpts.DefaultHeaders)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store for a page with a token", got)
	}
	if etag := resp.Header.Get("ETag"); etag != "" {
		t.Errorf("a page with a token has the ETag %s", etag)
	}
	// A conditional request gets the page itself (with the token as it is
	// now), never a 304 for a copy the browser should not have kept.
	if got := get(t, h, "/", "If-None-Match", "*").StatusCode; got != http.StatusOK {
		t.Errorf("GET / with If-None-Match: * = %d, want 200", got)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != fmt.Sprint(len(page)) {
		t.Errorf("HEAD / = %d with %d bytes, Content-Length %q, want 200, no body, %d",
			rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"), len(page))
	}
	// The assets are the same files as without a token, cached for good.
	for _, link := range assetLinks(t, page) {
		if got := get(t, h, "/"+link).Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("GET /%s: Cache-Control = %q", link, got)
		}
	}
}

func TestPageCSP(t *testing.T) {
	csp := get(t, Handler(testOpts), "/").Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'", // no 'unsafe-inline', no 'unsafe-eval'
		"connect-src":     "'self'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("CSP %s = %q, want %q (policy %q)", name, got, want, csp)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows eval or another host", csp)
	}
}

func TestCSPAllowsAbsoluteEndpoints(t *testing.T) {
	h := Handler(Options{
		Endpoint:             "https://api.example.org/graphql",
		SubscriptionEndpoint: "wss://api.example.org/graphql",
	})
	csp := get(t, h, "/").Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://api.example.org wss://api.example.org;") {
		t.Errorf("CSP = %q, want the endpoints' origins in connect-src", csp)
	}
}

func TestPageEscapesValues(t *testing.T) {
	evil := Options{
		Endpoint:       `/graphql"</script><script>alert(1)</script>`,
		DefaultQuery:   "# </script><!-- <script>\n{ me { email } }\u2028",
		DefaultHeaders: `{"Authorization": "Bearer <your token>", "X": "'\"&"}`,
	}
	page := body(t, get(t, Handler(evil), "/"))
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<!--") || strings.Count(page, "</script>") != 6 {
		t.Fatalf("page does not escape the values:\n%s", page)
	}
	want := pageConfig{Endpoint: evil.Endpoint, DefaultQuery: evil.DefaultQuery, DefaultHeaders: evil.DefaultHeaders}
	if got := pageConfigOf(t, page); got != want {
		t.Errorf("page config = %+v, want %+v", got, want)
	}
}

func TestDefaultEndpoint(t *testing.T) {
	page := body(t, get(t, Handler(Options{}), "/"))
	if got := pageConfigOf(t, page); got != (pageConfig{Endpoint: "/graphql"}) {
		t.Errorf("page config = %+v, want only the endpoint /graphql", got)
	}
}

func TestPageHasNoExternalURLs(t *testing.T) {
	page := body(t, get(t, Handler(testOpts), "/"))
	if m := regexp.MustCompile(`(?i)(https?|wss?):|(?:src|href)="//`).FindString(page); m != "" {
		t.Errorf("page refers to another host (%q):\n%s", m, page)
	}
}

func TestAssets(t *testing.T) {
	h := Handler(testOpts)
	page := body(t, get(t, h, "/"))
	for _, link := range assetLinks(t, page) {
		if strings.HasPrefix(link, "/") {
			t.Errorf("asset link %q is absolute; it must be relative to work under a prefix", link)
		}
		u := "/" + link
		t.Run(link, func(t *testing.T) {
			resp := get(t, h, u)
			data := body(t, resp)
			if resp.StatusCode != http.StatusOK || len(data) == 0 {
				t.Fatalf("GET %s = %d with %d bytes", u, resp.StatusCode, len(data))
			}
			wantType := "text/javascript; charset=utf-8"
			if strings.HasSuffix(u, ".css") {
				wantType = "text/css; charset=utf-8"
			}
			if got := resp.Header.Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type = %q, want %q", got, wantType)
			}
			if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, "max-age=31536000") || !strings.Contains(got, "immutable") {
				t.Errorf("Cache-Control = %q, want a long immutable cache", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("Content-Encoding = %q without Accept-Encoding", resp.Header.Get("Content-Encoding"))
			}

			// The same file, compressed.
			gz := get(t, h, u, "Accept-Encoding", "br, gzip")
			if gz.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(gz.Body)
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil || string(plain) != data {
					t.Errorf("gzip body differs from the plain one (err %v)", err)
				}
				if gz.Header.Get("ETag") == resp.Header.Get("ETag") {
					t.Errorf("gzip and plain bodies share the ETag %s", gz.Header.Get("ETag"))
				}
			} else if len(data) > 10000 {
				t.Errorf("a %d-byte file was not compressed", len(data))
			}

			// Revalidation.
			if got := get(t, h, u, "If-None-Match", resp.Header.Get("ETag")).StatusCode; got != http.StatusNotModified {
				t.Errorf("GET with If-None-Match = %d, want 304", got)
			}
		})
	}
}

func TestVendoredAssetsAreMinifiedBuilds(t *testing.T) {
	set := loadAssets()
	for _, name := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css", "graphql-ws.min.js"} {
		a := set.byName[name]
		if a == nil {
			t.Fatalf("missing %s", name)
		}
		if bytes.Contains(a.data, []byte("sourceMappingURL=")) {
			t.Errorf("%s names a source map, which is not shipped", name)
		}
	}
	if !bytes.Contains(set.byName["graphiql.min.js"].data, []byte("createFetcher")) {
		t.Error("graphiql.min.js has no GraphiQL.createFetcher")
	}
	// The page script uses the UMD build's global graphqlWs.createClient.
	if ws := set.byName["graphql-ws.min.js"].data; !bytes.Contains(ws, []byte(".graphqlWs=")) || !bytes.Contains(ws, []byte("createClient")) {
		t.Error("graphql-ws.min.js is not graphql-ws's UMD build (global graphqlWs)")
	}
}

// TestPageScriptOrder: the page script runs after the libraries whose
// globals it uses (deferred scripts run in document order).
func TestPageScriptOrder(t *testing.T) {
	page := body(t, get(t, Handler(testOpts), "/"))
	last := -1
	for _, name := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphql-ws.min.js", "rollcall-graphiql.js"} {
		i := strings.Index(page, "/"+name+`"></script>`)
		if i < 0 || i < last {
			t.Fatalf("%s is not loaded after the scripts before it:\n%s", name, page)
		}
		last = i
	}
}

func TestPageRevalidation(t *testing.T) {
	h := Handler(testOpts)
	etag := get(t, h, "/").Header.Get("ETag")
	if etag == "" {
		t.Fatal("page has no ETag")
	}
	if got := get(t, h, "/", "If-None-Match", etag).StatusCode; got != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match = %d, want 304", got)
	}
	if other := get(t, Handler(Options{Endpoint: "/other"}), "/").Header.Get("ETag"); other == etag {
		t.Errorf("pages with different options share the ETag %s", etag)
	}
}

func TestUnknownPaths(t *testing.T) {
	h := Handler(testOpts)
	page := body(t, get(t, h, "/"))
	js := assetLinks(t, page)[len(pageAssets)-1] // graphiql/assets/<hash>/rollcall-graphiql.js
	hash := strings.Split(js, "/")[2]
	for _, p := range []string{
		"/nope",
		"/index.html",
		"/graphql",
		"/favicon.ico",
		"/graphiql",
		"/graphiql/assets/",
		"/graphiql/assets/" + hash,
		"/graphiql/assets/" + hash + "/",
		"/graphiql/assets/0000000000000000/rollcall-graphiql.js", // wrong hash
		"/graphiql/assets/" + hash + "/graphiql.min.js",          // another file's hash
		"/graphiql/assets/" + hash + "/THIRD_PARTY_NOTICES.txt",
		"/graphiql/assets/" + hash + "/../" + hash + "/rollcall-graphiql.js",
		"/graphiql.min.js",
	} {
		if got := get(t, h, p).StatusCode; got != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, got)
		}
	}
}

func TestMethods(t *testing.T) {
	h := Handler(testOpts)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d (Allow %q), want 405 with Allow: GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD / = %d with %d bytes, type %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"))
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/ide/", http.StripPrefix("/ide", Handler(testOpts)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	pageURL, _ := url.Parse(srv.URL + "/ide/")
	resp, err := http.Get(pageURL.String())
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ide/ = %d", resp.StatusCode)
	}
	for _, link := range assetLinks(t, page) {
		ref, _ := url.Parse(link)
		u := pageURL.ResolveReference(ref).String()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", u, resp.StatusCode)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"GZIP":                  true,
		"br, gzip;q=0.8":        true,
		"gzip; q=1.0, br":       true,
		"deflate, br":           false,
		"gzip;q=0":              false,
		"gzip; q=0.000":         false,
		"x-gzip":                false,
		"identity, gzip ; q=.5": true,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			req.Header.Set("Accept-Encoding", header)
		}
		if got := acceptsGzip(req); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
