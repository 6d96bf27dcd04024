package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client talks to a Rollcall server the way front ends and scripts do:
// GraphQL over HTTP (with Apollo's multipart uploads) and the REST upload.
// Server embeds one; a test of separate processes makes its own.
type Client struct {
	URL  string
	HTTP *http.Client
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Response is a GraphQL response with its HTTP status.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
	Body   []byte
}

// Decode unmarshals data into v, failing t if the response had errors.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %s", r.Body)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v in %s", err, r.Body)
	}
}

// FirstCode returns the code of the first error ("" if none).
func (r *Response) FirstCode() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// Query posts a GraphQL request with token (none if empty).
func (c *Client) Query(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.Do(t, req)
}

// MustQuery is Query that fails t on any error and decodes data into v.
func (c *Client) MustQuery(t testing.TB, token, query string, vars map[string]any, v any) {
	t.Helper()
	r := c.Query(t, token, query, vars)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	r.Decode(t, v)
}

// Do sends req and reads a GraphQL-shaped response.
func (c *Client) Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	r := &Response{Status: resp.StatusCode, Body: b}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, r); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, b)
		}
	}
	return r
}

// Get fetches path and returns the status and body.
func (c *Client) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := c.HTTP.Get(c.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Upload sends a GraphQL multipart request (the multipart request spec)
// with one file bound to the variable "file", and returns the response.
func (c *Client) Upload(t testing.TB, token, query string, vars map[string]any, filename string, content []byte) *Response {
	t.Helper()
	if vars == nil {
		vars = map[string]any{}
	}
	vars["file"] = nil
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("operations", string(ops))
	_ = w.WriteField("map", `{"0": ["variables.file"]}`)
	part, err := w.CreateFormFile("0", filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(content)
	_ = w.Close()
	req, err := http.NewRequest(http.MethodPost, c.URL+"/graphql", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Apollo-Require-Preflight", "true") // as apollo-upload-client sends
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.Do(t, req)
}

// RunState is what WaitRun reports.
type RunState struct {
	ID         string
	Status     string
	Trigger    string
	DryRun     bool
	Attempts   int
	RowsRead   int
	Created    int
	Updated    int
	Unchanged  int
	Removed    int
	Restored   int
	Rejected   int
	Message    string
	Warnings   []string
	FinishedAt *string
}

// Run reads a run's state.
func (c *Client) Run(t testing.TB, token, runID string) RunState {
	t.Helper()
	var out struct{ ImportRun RunState }
	c.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { id status trigger dryRun attempts rowsRead created updated
		unchanged removed restored rejected message warnings finishedAt } }`, map[string]any{"id": runID}, &out)
	return out.ImportRun
}

// WaitRun polls a run until it is neither QUEUED nor RUNNING, for up to a
// minute.
func (c *Client) WaitRun(t testing.TB, token, runID string) RunState {
	t.Helper()
	return c.WaitRunWithin(t, token, runID, time.Minute)
}

// WaitRunWithin polls a run until it is neither QUEUED nor RUNNING, for up
// to within.
func (c *Client) WaitRunWithin(t testing.TB, token, runID string, within time.Duration) RunState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := c.Run(t, token, runID)
		if r.Status != "QUEUED" && r.Status != "RUNNING" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after %s", runID, r.Status, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// UploadFile sends content to POST /imports/{id}/file (with ?run=true
// when run), as scripts do, and returns the id of the run it queued ("" if
// none).
func (c *Client) UploadFile(t testing.TB, token, importID, content string, run bool) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/imports/%s/file?run=%v", c.URL, importID, run), strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status %d: %s", resp.StatusCode, body)
	}
	var out struct{ Run *struct{ ID string } }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("upload: %v: %s", err, body)
	}
	if out.Run == nil {
		return ""
	}
	return out.Run.ID
}
