package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/internal/testkit/browser"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/server/servertest"
)

// These tests run GraphiQL against Rollcall's real server (and database).

// queryFieldsShown accepts the documentation explorer once it lists the
// Query type's fields.
func queryFieldsShown(d browser.Docs) bool { return len(d.QueryFields) > 0 }

// TestGraphiQLDocsWithoutToken: the schema is there for a visitor who has
// given no token (the server answers introspection without one), and no
// error waits in the result pane.
func TestGraphiQLDocsWithoutToken(t *testing.T) {
	browser.Chromium(t)
	s := servertest.New(t, nil)
	p := open(t, s.URL)

	docs, err := p.WaitDocs(queryFieldsShown)
	if err != nil {
		t.Fatalf("%v (docs show %+v)", err, docs)
	}
	for _, f := range []string{"me", "imports"} {
		if !slices.Contains(docs.QueryFields, f) {
			t.Errorf("Docs list Query's fields %q, want %s among them", docs.QueryFields, f)
		}
	}
	if r, err := p.Result(); err != nil || r != "" {
		t.Errorf("result pane = %q (%v), want it empty", r, err)
	}
	reqs := p.Requests()
	if len(reqs) == 0 {
		t.Fatal("the page sent no request to the API")
	}
	for _, r := range reqs {
		if r.HasAuthorization {
			t.Errorf("the page sent Authorization %q before a token was given", r.Authorization)
		}
	}
	// Without a token an operation is refused as unauthenticated, not for
	// a bad token.
	got := run(t, p, "{ me { email } }", "UNAUTHENTICATED")
	if !strings.Contains(got, "authentication required") {
		t.Errorf("result pane = %q, want the answer to a request without a token", got)
	}
}

// TestGraphiQLDocsFollowTheHeaders: the schema is fetched again when the
// headers change, so the Docs recover once a bad token is corrected,
// without a reload.
func TestGraphiQLDocsFollowTheHeaders(t *testing.T) {
	browser.Chromium(t)
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	p := open(t, s.URL)

	if docs, err := p.WaitDocs(queryFieldsShown); err != nil {
		t.Fatalf("%v (docs show %+v)", err, docs)
	}
	// The server refuses a bad token, introspection included.
	check(t, p.SetHeaders(`{"Authorization": "Bearer rc_not_a_token"}`))
	if docs, err := p.WaitDocs(func(d browser.Docs) bool { return d.Error != "" }); err != nil {
		t.Fatalf("%v (docs show %+v)", err, docs)
	}
	// So does its WebSocket (close code 4403), which GraphiQL shows at
	// once rather than after retrying.
	start := time.Now()
	run(t, p, `subscription { importRunUpdated(id: "1") { id } }`, "4403")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the refused subscription took %v to show", d)
	}
	check(t, p.SetHeaders(fmt.Sprintf(`{"Authorization": "Bearer %s"}`, token)))
	if docs, err := p.WaitDocs(queryFieldsShown); err != nil {
		t.Fatalf("%v (docs show %+v)", err, docs)
	}
	run(t, p, "{ me { email } }", "admin@district.test")
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// runUpdate is the data of an importRunUpdated "next" message.
type runUpdate struct {
	Data *struct {
		ImportRunUpdated struct {
			ID, Status string
			Created    int
		}
	}
	Errors []any
}

// subscription is what the page's WebSockets carried so far: the
// connection_init payloads it sent, and the updates of the subscription
// (in order) and whether it completed.
type subscription struct {
	inits     []json.RawMessage
	updates   []runUpdate
	completed bool
	other     []string // error messages, and anything unexpected
}

func subscriptionOf(t *testing.T, p *browser.Page) subscription {
	t.Helper()
	var s subscription
	for _, m := range p.WebSocketMessages() {
		var msg wsMessage
		if err := json.Unmarshal([]byte(m.Data), &msg); err != nil {
			s.other = append(s.other, m.Data)
			continue
		}
		switch {
		case m.Sent && msg.Type == "connection_init":
			s.inits = append(s.inits, msg.Payload)
		case !m.Sent && msg.Type == "next":
			var u runUpdate
			if err := json.Unmarshal(msg.Payload, &u); err != nil || u.Data == nil || len(u.Errors) > 0 {
				s.other = append(s.other, m.Data)
				continue
			}
			s.updates = append(s.updates, u)
		case !m.Sent && msg.Type == "complete":
			s.completed = true
		case !m.Sent && msg.Type == "error":
			s.other = append(s.other, m.Data)
		}
	}
	return s
}

// TestGraphiQLSubscriptionStreams: a subscription in GraphiQL runs over a
// WebSocket authenticated with the token of the Headers tab, and shows each
// update of a running import until the run ends.
func TestGraphiQLSubscriptionStreams(t *testing.T) {
	browser.Chromium(t)
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	var created struct{ CreateImport struct{ ID string } }
	s.MustQuery(t, token, `mutation { createImport(input: {name: "SIS", method: FULL}) { id } }`, nil, &created)

	// The run cannot write a row until the hold is released, so it cannot
	// end before the subscription has shown it: the subscription gets at
	// least the run as it is (QUEUED or RUNNING) and then the ended run.
	hold := testdb.HoldWrites(t, s.DB, "recipients")
	runID := s.UploadFile(t, token, created.CreateImport.ID, districtgen.File(districtgen.Options{Rows: 2000, Seed: 3}), true)
	if runID == "" {
		t.Fatal("the upload queued no run")
	}

	p := open(t, s.URL)
	check(t, p.SetHeaders(fmt.Sprintf(`{"Authorization": "Bearer %s"}`, token)))
	check(t, p.Execute(fmt.Sprintf(`subscription {
  importRunUpdated(id: %q) {
    id
    status
    created
  }
}`, runID)))

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	// waitFor polls the page's WebSocket messages until done accepts them.
	waitFor := func(what string, done func(subscription) bool) subscription {
		t.Helper()
		for {
			sub := subscriptionOf(t, p)
			if len(sub.other) > 0 {
				t.Fatalf("unexpected WebSocket messages while waiting for %s: %q", what, sub.other)
			}
			if done(sub) {
				return sub
			}
			select {
			case <-ctx.Done():
				result, _ := p.Result()
				t.Fatalf("waiting for %s: %v (WebSocket so far: %+v; result pane %q)", what, ctx.Err(), sub, result)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	first := waitFor("the first update", func(s subscription) bool { return len(s.updates) > 0 })
	if st := first.updates[0].Data.ImportRunUpdated.Status; st != "QUEUED" && st != "RUNNING" {
		t.Fatalf("first update has status %s while the run is held", st)
	}
	// The result pane shows the run while it is held.
	for {
		r, err := p.Result()
		check(t, err)
		if strings.Contains(r, runID) && (strings.Contains(r, "QUEUED") || strings.Contains(r, "RUNNING")) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the result pane does not show the held run: %q", r)
		case <-time.After(50 * time.Millisecond):
		}
	}
	hold.Release()

	done := waitFor("the end of the subscription", func(s subscription) bool { return s.completed })
	if n := len(done.updates); n < 2 {
		t.Fatalf("%d updates, want at least 2: %+v", n, done.updates)
	}
	last := done.updates[len(done.updates)-1].Data.ImportRunUpdated
	if last.ID != runID || last.Status != "SUCCEEDED" || last.Created != 2000 {
		t.Errorf("last update = %+v, want run %s SUCCEEDED with 2000 created", last, runID)
	}
	// The WebSocket authenticated with the token of the Headers tab.
	for _, init := range done.inits {
		var payload map[string]string
		if err := json.Unmarshal(init, &payload); err != nil || payload["Authorization"] != "Bearer "+token {
			t.Errorf("connection_init payload = %s, want the Authorization of the Headers tab", init)
		}
	}
	if len(done.inits) == 0 {
		t.Error("no connection_init sent")
	}
	// The result pane shows the last update once the subscription ends.
	got, err := p.WaitResult(func(s string) bool { return strings.Contains(s, "SUCCEEDED") })
	if err != nil {
		t.Fatalf("%v (result pane %q)", err, got)
	}
}
