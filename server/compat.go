package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/httpx"
)

// limitBody buffers a non-multipart request body up to max bytes and answers
// 413 beyond it. gqlgen would report an over-size body as a JSON decode error
// with status 200; clients deserve to know what happened.
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body == nil || r.Method == http.MethodGet || isMultipart(r) {
				next.ServeHTTP(w, r)
				return
			}
			tooLarge := apperr.TooLarge("request body is larger than the limit of %d bytes", max)
			if r.ContentLength > max {
				httpx.WriteError(w, r, tooLarge)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				httpx.WriteError(w, r, tooLarge)
				return
			}
			if err != nil {
				httpx.WriteError(w, r, apperr.Invalid("", "could not read the request body: %v", err))
				return
			}
			if isJSON(r) {
				if err := checkRequestJSON(body); err != nil {
					httpx.WriteError(w, r, err)
					return
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
		})
	}
}

func isJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}

// checkRequestJSON refuses, with 400 and a message that says why, a JSON
// body that is not one GraphQL request: gqlgen would answer it with an
// error that quotes the whole body, which the error presenter would log as
// an internal error; request bodies carry people's names, phone numbers and
// addresses, and never belong in a log. gqlgen does not support batching.
func checkRequestJSON(body []byte) *apperr.Error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return apperr.Invalid("", "batched requests (a JSON array of operations) are not supported: send one operation per request")
	}
	var req struct {
		Query         json.RawMessage `json:"query"`
		OperationName json.RawMessage `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return apperr.Invalid("", "the request body must be a JSON object with query, operationName, variables and extensions")
		}
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return apperr.Invalid("", "the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
		}
		return apperr.Invalid("", "the request body is not valid JSON")
	}
	for _, f := range []struct {
		name  string
		value json.RawMessage
		kind  byte // the first byte of a value of the right type
	}{{"query", req.Query, '"'}, {"operationName", req.OperationName, '"'}, {"variables", req.Variables, '{'}, {"extensions", req.Extensions, '{'}} {
		if len(f.value) > 0 && f.value[0] != f.kind && string(f.value) != "null" {
			what := map[byte]string{'"': "a string", '{': "an object"}[f.kind]
			return apperr.Invalid("", "%s must be %s", f.name, what)
		}
	}
	return nil
}

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// preventCSRF refuses POSTs that a browser could send cross-site without a
// preflight (form encodings and text/plain, which include file uploads)
// unless they carry a bearer token or a header no simple request can have.
// Rollcall uses no cookies, so a forged request would carry no credentials
// anyway; this keeps it that way if a proxy ever adds some.
//
// Such a request without a token could only run anonymously, and nothing
// sent that way (an upload, a form) is allowed to an anonymous viewer: the
// refusal says what is missing, a token, like any other request that
// needs one.
func preventCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && isSimpleContentType(r.Header.Get("Content-Type")) &&
			r.Header.Get("Authorization") == "" &&
			r.Header.Get("Apollo-Require-Preflight") == "" &&
			r.Header.Get("X-Apollo-Operation-Name") == "" {
			httpx.WriteError(w, r, apperr.TokenRequired())
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isSimpleContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct == ""
	}
	return mt == "multipart/form-data" || mt == "application/x-www-form-urlencoded" || mt == "text/plain"
}

// graphqlOverHTTP adjusts gqlgen's status codes to the GraphQL-over-HTTP
// specification: with `application/json` responses, request errors are
// answered 200 (gqlgen says 422); with `application/graphql-response+json`
// they are 4xx without a `data` entry (gqlgen writes "data": null).
func graphqlOverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			next.ServeHTTP(w, r)
			return
		}
		if isMultipart(r) {
			uploadStatus(next, w, r)
			return
		}
		cw := &compatWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		cw.finish()
	})
}

// uploadStatus answers an upload whose file was over the limit with 413,
// as an HTTP client expects, instead of GraphQL's 200 (or gqlgen's 422 when
// it stopped reading the body itself). Upload responses are small, so the
// response is buffered to look at it.
func uploadStatus(next http.Handler, w http.ResponseWriter, r *http.Request) {
	reqBody := r.Body // gqlgen wraps r.Body in a reader of its own
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	if tooLarge := overUploadLimit(reqBody); tooLarge != nil {
		httpx.WriteError(w, r, tooLarge)
		return
	}
	var resp struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	status, body := rec.status, rec.body.Bytes()
	if json.Unmarshal(body, &resp) == nil {
		for _, e := range resp.Errors {
			if e.Extensions["code"] == string(apperr.CodeTooLarge) {
				httpx.WriteError(w, r, apperr.TooLarge("%s", strings.TrimPrefix(e.Message, "failed to parse multipart form, ")))
				return
			}
		}
	}
	if status == http.StatusUnprocessableEntity {
		status = http.StatusOK
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(code int)        { b.status = code }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

type compatWriter struct {
	http.ResponseWriter
	status  int
	buffer  *bytes.Buffer // set while holding back a 4xx graphql-response+json body
	written bool
}

func (c *compatWriter) WriteHeader(code int) {
	if c.written {
		return
	}
	c.written = true
	mt, _, _ := mime.ParseMediaType(c.Header().Get("Content-Type"))
	switch {
	case code == http.StatusUnprocessableEntity && mt == "application/json":
		code = http.StatusOK
	case code >= 400 && code < 500 && mt == "application/graphql-response+json":
		c.status = code
		c.buffer = new(bytes.Buffer)
		return
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *compatWriter) Write(b []byte) (int, error) {
	if !c.written {
		c.WriteHeader(http.StatusOK)
	}
	if c.buffer != nil {
		return c.buffer.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

func (c *compatWriter) Flush() {
	if c.buffer != nil {
		return
	}
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *compatWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *compatWriter) finish() {
	if c.buffer == nil {
		return
	}
	body := c.buffer.Bytes()
	var resp map[string]json.RawMessage
	if json.Unmarshal(body, &resp) == nil {
		if d, ok := resp["data"]; ok && string(d) == "null" {
			delete(resp, "data")
			if b, err := json.Marshal(resp); err == nil {
				body = b
			}
		}
	}
	c.Header().Del("Content-Length")
	c.ResponseWriter.WriteHeader(c.status)
	_, _ = c.ResponseWriter.Write(body)
}
