package browser_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/internal/graphiql"
	"github.com/rollcall/rollcall/internal/testkit/browser"
)

const testToken = "test-token"

// fakeAPI stands in for the GraphQL endpoint. It answers the schema
// introspection without a token (with a tiny schema: type Query { me: User },
// type User { email: String! }) and every other operation with the "me" of
// the admin, if the Authorization header holds the test token.
type fakeAPI struct {
	mu    sync.Mutex
	auths []string // Authorization headers of the non-introspection requests
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query string `json:"query"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(req.Query, "__schema") {
		io.WriteString(w, introspection)
		return
	}
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	f.auths = append(f.auths, auth)
	f.mu.Unlock()
	if auth != "Bearer "+testToken {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"message":"unauthorized: missing or bad token"}]}`)
		return
	}
	io.WriteString(w, `{"data":{"me":{"email":"admin@example.org"}}}`)
}

func (f *fakeAPI) seenAuth() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...)
}

const introspection = `{"data":{"__schema":{
 "description":null,
 "queryType":{"name":"Query"},"mutationType":null,"subscriptionType":null,
 "types":[
  {"kind":"OBJECT","name":"Query","description":null,"specifiedByURL":null,
   "fields":[{"name":"me","description":null,"args":[],"type":{"kind":"OBJECT","name":"User","ofType":null},"isDeprecated":false,"deprecationReason":null}],
   "inputFields":null,"interfaces":[],"enumValues":null,"possibleTypes":null},
  {"kind":"OBJECT","name":"User","description":null,"specifiedByURL":null,
   "fields":[{"name":"email","description":null,"args":[],"type":{"kind":"NON_NULL","name":null,"ofType":{"kind":"SCALAR","name":"String","ofType":null}},"isDeprecated":false,"deprecationReason":null}],
   "inputFields":null,"interfaces":[],"enumValues":null,"possibleTypes":null},
  {"kind":"SCALAR","name":"String","description":null,"specifiedByURL":null,"fields":null,"inputFields":null,"interfaces":null,"enumValues":null,"possibleTypes":null},
  {"kind":"SCALAR","name":"Boolean","description":null,"specifiedByURL":null,"fields":null,"inputFields":null,"interfaces":null,"enumValues":null,"possibleTypes":null}
 ],
 "directives":[]
}}}`

func newServer(t *testing.T) (*httptest.Server, *fakeAPI) {
	t.Helper()
	srv, api, _ := newServerWithOffer(t, "")
	return srv, api
}

// newServerWithOffer is newServer whose GraphiQL page offers headers (as
// `rollcall dev` offers its token). Calling the returned function changes
// the offer, as a restarted server would.
func newServerWithOffer(t *testing.T, offer string) (*httptest.Server, *fakeAPI, func(offer string)) {
	t.Helper()
	api := &fakeAPI{}
	var ui atomic.Pointer[http.Handler]
	setOffer := func(offer string) {
		h := graphiql.Handler(graphiql.Options{
			Endpoint:       "/graphql",
			DefaultQuery:   "{ me { email } }",
			DefaultHeaders: offer,
		})
		ui.Store(&h)
	}
	setOffer(offer)
	mux := http.NewServeMux()
	mux.Handle("/graphql", api)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { (*ui.Load()).ServeHTTP(w, r) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, api, setOffer
}

func TestGraphiQLQueryWithToken(t *testing.T) {
	browser.Chromium(t) // skip early when there is no browser
	srv, api := newServer(t)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()
	got, err := browser.RunGraphiQLQuery(ctx, t, srv.URL,
		`{"Authorization": "Bearer `+testToken+`"}`,
		"query Me {\n  me {\n    email\n  }\n}")
	t.Logf("browser run took %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("RunGraphiQLQuery: %v", err)
	}
	if !strings.Contains(got, "admin@example.org") {
		t.Fatalf("result pane = %q, want it to contain admin@example.org", got)
	}
	var res struct {
		Data struct {
			Me struct {
				Email string `json:"email"`
			} `json:"me"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(got), &res); err != nil || res.Data.Me.Email != "admin@example.org" {
		t.Errorf("result pane = %q, want the JSON response of the query (err %v)", got, err)
	}
	// The answer must come from the query that carried the token, and not
	// from another request.
	if auths := api.seenAuth(); len(auths) != 1 || auths[0] != "Bearer "+testToken {
		t.Errorf("API saw Authorization headers %q, want exactly [%q]", auths, "Bearer "+testToken)
	}
}

func TestGraphiQLQueryWithBadToken(t *testing.T) {
	browser.Chromium(t)
	srv, _ := newServer(t)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// The 401 of the API is an answer that GraphiQL shows, not a page error.
	got, err := browser.RunGraphiQLQuery(ctx, t, srv.URL, `{"Authorization": "Bearer wrong"}`, "{ me { email } }")
	if err != nil {
		t.Fatalf("RunGraphiQLQuery: %v", err)
	}
	if !strings.Contains(got, "unauthorized") || strings.Contains(got, "admin@example.org") {
		t.Fatalf("result pane = %q, want the unauthorized error", got)
	}
}

func TestRunFailsWithoutGraphiQL(t *testing.T) {
	browser.Chromium(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><title>not GraphiQL</title><link rel="icon" href="data:,"><script src="/boom.js"></script><p>hello</p>`)
	})
	mux.HandleFunc("/boom.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, `console.error("boom")`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Long enough for Chromium to start on a slow machine; the run then
	// waits for the editors until the deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err := browser.RunGraphiQLQuery(ctx, t, srv.URL, `{}`, "{ me { email } }")
	if err == nil {
		t.Fatal("RunGraphiQLQuery succeeded on a page without GraphiQL")
	}
	for _, want := range []string{"waiting for the GraphiQL editors", "deadline exceeded", "console.error: boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

// open opens GraphiQL at srv for the test, and closes it at the end,
// failing the test if the page was not clean.
func open(t *testing.T, baseURL string) *browser.Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	p, err := browser.OpenGraphiQL(ctx, t, baseURL)
	if err != nil {
		t.Fatalf("OpenGraphiQL: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(nil); err != nil {
			t.Error(err)
		}
	})
	return p
}

// check fails the test at once if err is not nil.
func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func headersOf(t *testing.T, p *browser.Page) string {
	t.Helper()
	h, err := p.Headers()
	check(t, err)
	return h
}

// run executes query and waits until the result pane shows a text that
// holds want.
func run(t *testing.T, p *browser.Page, query, want string) string {
	t.Helper()
	check(t, p.Execute(query))
	got, err := p.WaitResult(func(s string) bool { return strings.Contains(s, want) })
	if err != nil {
		t.Fatalf("%v (result pane %q, want %q in it)", err, got, want)
	}
	return got
}

// TestGraphiQLSendsNoAuthorizationUntilGiven: the page starts with empty
// headers and sends no Authorization header, also when the Headers tab
// holds a placeholder, until the user gives a token.
func TestGraphiQLSendsNoAuthorizationUntilGiven(t *testing.T) {
	browser.Chromium(t)
	srv, api := newServer(t)
	p := open(t, srv.URL)

	if h := headersOf(t, p); strings.TrimSpace(h) != "" {
		t.Errorf("headers editor = %q, want it empty", h)
	}
	// The schema came without a token, and the result pane stays empty.
	if r, err := p.Result(); err != nil || r != "" {
		t.Errorf("result pane = %q (%v) before any operation, want it empty", r, err)
	}
	run(t, p, "{ me { email } }", "unauthorized")

	// A placeholder, such as earlier versions of the page offered, is
	// not a token.
	for _, placeholder := range []string{`{"Authorization": "Bearer <paste your token here>"}`, `{"Authorization": "Bearer "}`} {
		check(t, p.SetHeaders(placeholder))
		run(t, p, "{ me { email } }", "unauthorized")
	}
	check(t, p.SetHeaders(`{"Authorization": "Bearer `+testToken+`", "X-Trace": "1"}`))
	run(t, p, "{ me { email } }", "admin@example.org")

	var sent []string
	for _, r := range p.Requests() {
		sent = append(sent, r.Authorization)
		if r.HasAuthorization && r.Authorization != "Bearer "+testToken {
			t.Errorf("the page sent Authorization %q (request %s)", r.Authorization, r.Body)
		}
	}
	if auths := api.seenAuth(); len(auths) != 4 || auths[0] != "" || auths[1] != "" || auths[2] != "" || auths[3] != "Bearer "+testToken {
		t.Errorf("API saw Authorization headers %q, want three without a token and one with it", auths)
	}
	t.Logf("Authorization of the page's requests: %q", sent)
}

// TestGraphiQLForgetsTheOldPlaceholder: a browser that kept the placeholder
// of earlier versions of the page in localStorage gets empty headers.
func TestGraphiQLForgetsTheOldPlaceholder(t *testing.T) {
	browser.Chromium(t)
	srv, _ := newServer(t)
	p := open(t, srv.URL)
	const old = `{"Authorization": "Bearer <paste your token here>"}`
	_, err := browser.Poll(p, "storing the old placeholder",
		`(localStorage.setItem('graphiql:headers', `+jsString(old)+`), true)`, func(ok bool) bool { return ok })
	check(t, err)
	check(t, p.Reload())
	if h := headersOf(t, p); strings.TrimSpace(h) != "" {
		t.Errorf("headers editor = %q after a reload, want the old placeholder gone", h)
	}
	for _, r := range p.Requests() {
		if r.HasAuthorization {
			t.Errorf("the page sent Authorization %q", r.Authorization)
		}
	}
}

// TestGraphiQLTakesTheOfferedToken: a development server's page fills the
// Headers tab with its token, and a new token replaces the old one when the
// user left it as it was, but not when the user changed the headers.
func TestGraphiQLTakesTheOfferedToken(t *testing.T) {
	browser.Chromium(t)
	offer := func(token string) string { return `{"Authorization": "Bearer ` + token + `"}` }
	srv, api, setOffer := newServerWithOffer(t, offer(testToken))
	p := open(t, srv.URL)

	if h := headersOf(t, p); h != offer(testToken) {
		t.Errorf("headers editor = %q, want the offered %q", h, offer(testToken))
	}
	run(t, p, "{ me { email } }", "admin@example.org")
	if auths := api.seenAuth(); len(auths) != 1 || auths[0] != "Bearer "+testToken {
		t.Errorf("API saw Authorization headers %q, want the offered token", auths)
	}

	// The server restarts with another token (its database was reset):
	// the headers were the offered ones, so the new offer replaces them.
	setOffer(offer("second-token"))
	check(t, p.Reload())
	if h := headersOf(t, p); h != offer("second-token") {
		t.Errorf("headers editor = %q after a new offer, want %q", h, offer("second-token"))
	}

	// The user's own headers stay, whatever the server offers next.
	mine := `{"Authorization": "Bearer my-own-token"}`
	check(t, p.SetHeaders(mine))
	_, err := browser.Poll(p, "GraphiQL to store the headers",
		`localStorage.getItem('graphiql:headers')`, func(s *string) bool { return s != nil && *s == mine })
	check(t, err)
	setOffer(offer("third-token"))
	check(t, p.Reload())
	if h := headersOf(t, p); h != mine {
		t.Errorf("headers editor = %q after a new offer, want the user's %q", h, mine)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
