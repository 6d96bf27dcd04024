package browser_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	api := &fakeAPI{}
	mux := http.NewServeMux()
	mux.Handle("/graphql", api)
	mux.Handle("/", graphiql.Handler(graphiql.Options{
		Endpoint:       "/graphql",
		DefaultQuery:   "{ me { email } }",
		DefaultHeaders: `{"Authorization": "Bearer <your token>"}`,
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, api
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

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
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
