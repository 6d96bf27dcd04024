package gqlaudit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRunAgainstAlways400 proves the plumbing: node runs the suite, extra
// headers reach every request, and the output is parsed into results.
func TestRunAgainstAlways400(t *testing.T) {
	var requests, withHeader atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Header.Get("X-Gqlaudit-Test") == "yes" {
			withHeader.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":[{"message":"always 400"}]}`))
	}))
	defer srv.Close()

	results := Run(context.Background(), t, srv.URL+"/graphql", map[string]string{"X-Gqlaudit-Test": "yes"})

	byID := map[string]Result{}
	for _, r := range results {
		if r.ID == "" || r.Name == "" {
			t.Errorf("result without id or name: %+v", r)
		}
		switch r.Status {
		case StatusOK:
			if r.Reason != "" {
				t.Errorf("ok result with a reason: %v", r)
			}
		case StatusNotice, StatusWarn, StatusError:
			if r.Reason == "" {
				t.Errorf("failed result without a reason: %v", r)
			}
		default:
			t.Errorf("unknown status: %v", r)
		}
		byID[r.ID] = r
	}

	// MUST accept application/json POSTs (expects 200).
	if r := byID["4655"]; r.Status != StatusError || !strings.Contains(r.Reason, "HTTP 400") ||
		!strings.Contains(r.Reason, "always 400") {
		t.Errorf("4655 = %v, want an error whose reason shows the 400 response", r)
	}
	// SHOULD respond 4xx when content-type is missing on POST: a 400 passes.
	if r := byID["9ABE"]; r.Status != StatusOK {
		t.Errorf("9ABE = %v, want ok", r)
	}
	if len(Filter(results, StatusError)) == 0 {
		t.Error("no error results against an always-400 server")
	}

	if n := requests.Load(); n < int64(len(results)) {
		t.Errorf("server saw %d requests for %d audits", n, len(results))
	}
	if got, all := withHeader.Load(), requests.Load(); got != all {
		t.Errorf("%d of %d requests carried the extra header", got, all)
	}
}
