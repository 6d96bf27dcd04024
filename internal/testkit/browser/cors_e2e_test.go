package browser_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/testkit/browser"
	"github.com/rollcall/rollcall/server/servertest"
)

// frontEnd is what a browser app does against the API, written as the page
// of a front end would (fetch, FormData, WebSocket with
// graphql-transport-ws): query, upload a file and run it, subscribe to the
// run until it ends. It resolves to a JSON report of what worked; each
// step records its failure instead of stopping the others.
const frontEnd = `(async (api, token, importId, csv) => {
  const report = {};
  const auth = {Authorization: 'Bearer ' + token};
  try {
    const r = await fetch(api + '/graphql', {method: 'POST', headers: {...auth, 'Content-Type': 'application/json'},
      body: JSON.stringify({query: '{ me { email } }'})});
    report.query = (await r.json()).data.me.email;
    report.requestId = r.headers.get('X-Request-Id') || '';
  } catch (e) { report.query = 'failed: ' + e.message; }
  try {
    const form = new FormData();
    form.append('operations', JSON.stringify({
      query: 'mutation($id: ID!, $file: Upload!) { uploadImportFile(importId: $id, file: $file, runNow: true) { run { id } } }',
      variables: {id: importId, file: null}}));
    form.append('map', JSON.stringify({'0': ['variables.file']}));
    form.append('0', new Blob([csv], {type: 'text/csv'}), 'students.csv');
    const r = await fetch(api + '/graphql', {method: 'POST', headers: {...auth, 'Apollo-Require-Preflight': 'true'}, body: form});
    report.runId = (await r.json()).data.uploadImportFile.run.id;
  } catch (e) { report.runId = 'failed: ' + e.message; }
  report.statuses = await new Promise((resolve) => {
    const seen = [];
    const ws = new WebSocket(api.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
    ws.onopen = () => ws.send(JSON.stringify({type: 'connection_init', payload: auth}));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'connection_ack') {
        ws.send(JSON.stringify({id: '1', type: 'subscribe', payload: {
          query: 'subscription($id: ID!) { importRunUpdated(id: $id) { status } }', variables: {id: report.runId}}}));
      } else if (msg.type === 'next') {
        seen.push(msg.payload.data.importRunUpdated.status);
      } else if (msg.type === 'complete' || msg.type === 'error') {
        ws.close(1000);
        resolve(msg.type === 'error' ? ['error: ' + JSON.stringify(msg.payload)] : seen);
      }
    };
    ws.onclose = (e) => resolve(seen.length ? seen : ['closed: ' + e.code]);
  });
  return JSON.stringify(report);
})`

// TestCrossOriginFrontEnd: a page served from an origin listed in
// ROLLCALL_CORS_ORIGINS queries, uploads and subscribes from a real
// browser; a page from another origin can do none of it.
func TestCrossOriginFrontEnd(t *testing.T) {
	t.Parallel()
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>district app</title>")
	}
	app := httptest.NewServer(http.HandlerFunc(page))
	defer app.Close()
	stranger := httptest.NewServer(http.HandlerFunc(page))
	defer stranger.Close()

	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.CORSOrigins = []string{app.URL} }})
	_, token := s.Admin(t, "admin@district.test")
	var created struct{ CreateImport struct{ ID string } }
	s.MustQuery(t, token, `mutation { createImport(input: {name: "SIS", method: FULL}) { id } }`, nil, &created)
	csv := "student_id,first_name,last_name\nS1,Ana,Avila\nS2,Ben,Brook\n"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	call := "(" + frontEnd + ")(" + strings.Join([]string{jsonText(s.URL), jsonText(token), jsonText(created.CreateImport.ID), jsonText(csv)}, ", ") + ")"
	run := func(origin string) map[string]any {
		tab := browser.NewTab(ctx, t)
		if err := chromedp.Do(tab, chromedp.Navigate(origin)); err != nil {
			t.Fatalf("open %s: %v", origin, err)
		}
		out, err := chromedp.Run(tab, chromedp.Evaluate[string](call, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("page on %s: %v", origin, err)
		}
		var report map[string]any
		if err := json.Unmarshal([]byte(out), &report); err != nil {
			t.Fatalf("page on %s reported %q: %v", origin, out, err)
		}
		return report
	}

	got := run(app.URL)
	if got["query"] != "admin@district.test" || got["requestId"] == "" {
		t.Errorf("query from the allowed origin: %v", got)
	}
	statuses, _ := got["statuses"].([]any)
	if id, _ := got["runId"].(string); id == "" || strings.HasPrefix(id, "failed") || len(statuses) == 0 || statuses[len(statuses)-1] != "SUCCEEDED" {
		t.Errorf("upload and subscription from the allowed origin: %v", got)
	}

	got = run(stranger.URL)
	for _, k := range []string{"query", "runId"} {
		if v, _ := got[k].(string); !strings.HasPrefix(v, "failed") {
			t.Errorf("%s from another origin: %v, want it refused", k, got[k])
		}
	}
	if statuses, _ := got["statuses"].([]any); len(statuses) != 1 || !strings.HasPrefix(statuses[0].(string), "closed") {
		t.Errorf("subscription from another origin: %v, want the socket refused", got["statuses"])
	}
	if n := strings.Count(s.Logs.String(), `"msg":"websocket upgrade refused"`); n != 1 {
		t.Errorf("%d log lines for the refused WebSocket, want 1", n)
	}
}

func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
