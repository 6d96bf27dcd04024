// Package graphiql serves the GraphiQL IDE for the Rollcall GraphQL API from
// files embedded in the binary, so the page works without a CDN or any other
// network access.
//
// The third-party files in assets/ (GraphiQL, graphql-ws, React, ReactDOM)
// are copied from the npm packages pinned in web/graphiql/package-lock.json
// by web/graphiql/build.sh ("make graphiql"); do not edit them by hand. The files
// in static/ are Rollcall's own: the script that starts GraphiQL and the page
// layout.
//
// Mount the handler at the server root:
//
//	mux.Handle("/", graphiql.Handler(graphiql.Options{Endpoint: "/graphql"}))
//
// It answers "/" with the page and "/graphiql/assets/<hash>/<file>" with the
// files, and 404 to every other path. The page refers to the files with
// relative URLs, so it also works under a prefix that ends in a slash, e.g.
// mux.Handle("/ide/", http.StripPrefix("/ide", graphiql.Handler(...))).
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures the GraphiQL page.
type Options struct {
	// Endpoint is the URL of the GraphQL HTTP endpoint, usually a path such
	// as "/graphql". Empty means "/graphql".
	Endpoint string
	// DefaultQuery is the query shown in the editor on the first visit.
	// Empty means GraphiQL's own welcome text.
	DefaultQuery string
	// DefaultHeaders is the JSON text shown in the headers pane when the
	// browser has no headers of its own, e.g. {"Authorization": "Bearer
	// rc_..."} from a development server. Empty, the pane starts empty and
	// nothing but what the user types there is sent: do not put a
	// placeholder here, GraphiQL would send it (and the server refuse it);
	// say what to type in DefaultQuery's comment instead.
	//
	// The page keeps what the user types there in the browser's
	// localStorage. Since DefaultHeaders may hold a credential, a page with
	// DefaultHeaders is served with "Cache-Control: no-store" (and no
	// ETag), so that it never lands in an HTTP cache.
	DefaultHeaders string
	// SubscriptionEndpoint is the URL (usually a path such as "/graphql")
	// of the graphql-transport-ws websocket endpoint for subscriptions. A
	// path is resolved against the page and gets the ws: or wss: scheme.
	// Each subscription opens its own connection, whose connection_init
	// payload holds the headers of the headers pane (so the server reads
	// the token from {"Authorization": "Bearer ..."}). Empty disables
	// subscriptions in GraphiQL.
	SubscriptionEndpoint string
}

// AssetPrefix is the path under which the handler serves the files of the
// page. Each file is at AssetPrefix + "<content hash>/<name>", so a new
// version of a file gets a new URL and the old one can be cached for good.
const AssetPrefix = "/graphiql/assets/"

//go:embed assets
var vendoredFS embed.FS

//go:embed static
var staticFS embed.FS

// asset is one file that the page loads.
type asset struct {
	name        string // base name, e.g. "graphiql.min.js"
	urlPath     string // AssetPrefix + hash + "/" + name
	contentType string
	data        []byte
	etag        string

	gzipOnce sync.Once
	gzipped  []byte // data compressed with gzip; nil when that does not help
}

type assetSet struct {
	byPath map[string]*asset
	byName map[string]*asset
}

// loadAssets reads the embedded files once per process. The embedded files
// are part of the binary, so an error here is a build mistake.
var loadAssets = sync.OnceValue(func() *assetSet {
	set := &assetSet{byPath: map[string]*asset{}, byName: map[string]*asset{}}
	for _, src := range []struct {
		fsys fs.FS
		dir  string
	}{{vendoredFS, "assets"}, {staticFS, "static"}} {
		entries, err := fs.ReadDir(src.fsys, src.dir)
		if err != nil {
			panic(fmt.Sprintf("graphiql: reading embedded %s: %v", src.dir, err))
		}
		for _, e := range entries {
			ctype, ok := contentTypes[path.Ext(e.Name())]
			if e.IsDir() || !ok {
				continue // e.g. THIRD_PARTY_NOTICES.txt
			}
			data, err := fs.ReadFile(src.fsys, src.dir+"/"+e.Name())
			if err != nil {
				panic(fmt.Sprintf("graphiql: reading embedded %s: %v", e.Name(), err))
			}
			if _, dup := set.byName[e.Name()]; dup {
				panic("graphiql: two embedded files named " + e.Name())
			}
			sum := sha256.Sum256(data)
			hash := hex.EncodeToString(sum[:])[:16]
			a := &asset{
				name:        e.Name(),
				urlPath:     AssetPrefix + hash + "/" + e.Name(),
				contentType: ctype,
				data:        data,
				etag:        `"` + hash + `"`,
			}
			set.byPath[a.urlPath] = a
			set.byName[a.name] = a
		}
	}
	for _, name := range pageAssets {
		if set.byName[name] == nil {
			panic("graphiql: embedded file missing (run web/graphiql/build.sh): " + name)
		}
	}
	return set
})

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// pageAssets are the files that the page template refers to.
var pageAssets = []string{
	"graphiql.min.css",
	"rollcall-graphiql.css",
	"react.production.min.js",
	"react-dom.production.min.js",
	"graphiql.min.js",
	"graphql-ws.min.js",
	"rollcall-graphiql.js",
}

// pageTemplate is the HTML page. The settings go into a JSON block, which
// html/template escapes for its JavaScript context, and the script in
// static/rollcall-graphiql.js reads it: no inline script runs, so the
// Content-Security-Policy can forbid them. Asset URLs are relative (no
// leading slash) so that the page also works under a path prefix.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>GraphiQL · Rollcall</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.Assets.graphiql_min_css}}">
<link rel="stylesheet" href="{{.Assets.rollcall_graphiql_css}}">
<script id="graphiql-config" type="application/json">{{.Config}}</script>
<script defer src="{{.Assets.react_production_min_js}}"></script>
<script defer src="{{.Assets.react_dom_production_min_js}}"></script>
<script defer src="{{.Assets.graphiql_min_js}}"></script>
<script defer src="{{.Assets.graphql_ws_min_js}}"></script>
<script defer src="{{.Assets.rollcall_graphiql_js}}"></script>
</head>
<body>
<div id="graphiql"><noscript><p class="rollcall-noscript">GraphiQL needs JavaScript.</p></noscript></div>
</body>
</html>
`))

// pageConfig is what the page script reads from the JSON block.
type pageConfig struct {
	Endpoint             string `json:"endpoint"`
	DefaultQuery         string `json:"defaultQuery,omitempty"`
	DefaultHeaders       string `json:"defaultHeaders,omitempty"`
	SubscriptionEndpoint string `json:"subscriptionEndpoint,omitempty"`
}

// Handler returns the handler that serves the GraphiQL page at "/" and its
// files under AssetPrefix. Every other path gets 404, so the handler can be
// mounted at the server root.
func Handler(opts Options) http.Handler {
	if opts.Endpoint == "" {
		opts.Endpoint = "/graphql"
	}
	set := loadAssets()
	assetURLs := map[string]string{}
	for _, name := range pageAssets {
		key := strings.NewReplacer(".", "_", "-", "_").Replace(name)
		assetURLs[key] = strings.TrimPrefix(set.byName[name].urlPath, "/")
	}
	var page bytes.Buffer
	err := pageTemplate.Execute(&page, map[string]any{
		"Assets": assetURLs,
		"Config": pageConfig{
			Endpoint:             opts.Endpoint,
			DefaultQuery:         opts.DefaultQuery,
			DefaultHeaders:       opts.DefaultHeaders,
			SubscriptionEndpoint: opts.SubscriptionEndpoint,
		},
	})
	if err != nil {
		// The template and its data are fixed, so this is a programming error.
		panic("graphiql: rendering the page: " + err.Error())
	}
	h := &handler{
		assets:    set,
		page:      page.Bytes(),
		pageCache: "no-cache",
		csp:       contentSecurityPolicy(opts),
	}
	if opts.DefaultHeaders != "" {
		// The page may carry a token (the development server's): keep it
		// out of the browser's disk cache and of any proxy. Revalidation
		// would save little on a page of a few hundred bytes.
		h.pageCache = "no-store"
	} else {
		sum := sha256.Sum256(h.page)
		h.pageETag = `"` + hex.EncodeToString(sum[:])[:16] + `"`
	}
	return h
}

type handler struct {
	assets    *assetSet
	page      []byte
	pageCache string // Cache-Control of the page
	pageETag  string // "" when the page must not be cached
	csp       string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *asset
	switch {
	case r.URL.Path == "/":
	case strings.HasPrefix(r.URL.Path, AssetPrefix):
		if a = h.assets.byPath[r.URL.Path]; a == nil {
			http.NotFound(w, r)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	if a == nil {
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		// The page names the current asset hashes, so a browser must
		// revalidate it (the ETag makes that a cheap 304), or, when it
		// carries default headers, not keep it at all.
		hdr.Set("Cache-Control", h.pageCache)
		hdr.Set("Content-Security-Policy", h.csp)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		if h.pageETag == "" {
			// Not cached, so no conditional request can be answered 304
			// (ServeContent would, to "If-None-Match: *").
			hdr.Set("Content-Length", strconv.Itoa(len(h.page)))
			if r.Method != http.MethodHead {
				_, _ = w.Write(h.page)
			}
			return
		}
		hdr.Set("ETag", h.pageETag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
		return
	}
	hdr.Set("Content-Type", a.contentType)
	// The URL holds the content hash: the file at this URL never changes.
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Add("Vary", "Accept-Encoding")
	body, etag := a.data, a.etag
	if acceptsGzip(r) {
		if gz := a.gzip(); gz != nil {
			hdr.Set("Content-Encoding", "gzip")
			body, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// gzip returns the file compressed with gzip, compressing it on first use.
// It returns nil when compression does not make the file smaller.
func (a *asset) gzip() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(a.data); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		if buf.Len() < len(a.data) {
			a.gzipped = buf.Bytes()
		}
	})
	return a.gzipped
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			params = strings.ReplaceAll(strings.ToLower(params), " ", "")
			if q, ok := strings.CutPrefix(params, "q="); ok && strings.Trim(q, "0.") == "" {
				return false // q=0, q=0.0, ...: explicitly refused
			}
			return true
		}
	}
	return false
}

// contentSecurityPolicy allows the page to load only its own files (plus the
// data: URLs that GraphiQL's CSS uses for its fonts and icons) and to talk
// only to its own origin, or to the origins of Endpoint and
// SubscriptionEndpoint when they are absolute URLs ('self' also covers ws:
// and wss: to the page's own host, as CSP Level 3 says and current browsers
// do). No inline script and no eval: GraphiQL 3 and graphql-ws run without
// either. Inline styles are allowed, because GraphiQL's dialogs need them.
func contentSecurityPolicy(opts Options) string {
	connect := []string{"'self'"}
	for _, raw := range []string{opts.Endpoint, opts.SubscriptionEndpoint} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		switch u.Scheme {
		case "http", "https", "ws", "wss":
			origin := u.Scheme + "://" + u.Host
			if !slices.Contains(connect, origin) {
				connect = append(connect, origin)
			}
		}
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		// GraphiQL's dialogs (Radix UI, react-remove-scroll) add <style>
		// elements with computed CSS when they open; a hash cannot cover
		// that, and the bundle offers no way to give them a nonce.
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}
