package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/server/servertest"
)

// streamedBody is a request body of a multipart prefix followed by filler
// bytes, up to a total size, that counts how much of it the client's
// transport took: what the server consumed, plus at most what the sockets
// between them buffer. It is closed by the transport once it is done with
// it, which the test waits for before it reads the count.
type streamedBody struct {
	prefix []byte
	suffix []byte
	total  int64

	read      atomic.Int64
	closed    chan struct{}
	closeOnce sync.Once
}

func newStreamedBody(prefix, suffix []byte, total int64) *streamedBody {
	return &streamedBody{prefix: prefix, suffix: suffix, total: total, closed: make(chan struct{})}
}

func (b *streamedBody) Read(p []byte) (int, error) {
	off := b.read.Load()
	if off >= b.total {
		return 0, io.EOF
	}
	n := int64(len(p))
	if rest := b.total - off; n > rest {
		n = rest
	}
	fillerEnd := b.total - int64(len(b.suffix))
	for i := int64(0); i < n; i++ {
		at := off + i
		switch {
		case at < int64(len(b.prefix)):
			p[i] = b.prefix[at]
		case at >= fillerEnd:
			p[i] = b.suffix[at-fillerEnd]
		case (at-int64(len(b.prefix)))%64 == 63:
			p[i] = '\n'
		default:
			p[i] = 'x'
		}
	}
	b.read.Add(n)
	return int(n), nil
}

func (b *streamedBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

// consumed waits until the transport has let go of the body and returns
// how many bytes it read.
func (b *streamedBody) consumed(t *testing.T) int64 {
	t.Helper()
	select {
	case <-b.closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("the client never finished sending the body (%d bytes read so far)", b.read.Load())
	}
	return b.read.Load()
}

// graphQLUploadBody frames a GraphQL multipart upload of one file of
// fileSize bytes (the multipart request spec, as Apollo's client sends it).
func graphQLUploadBody(t *testing.T, importID string, fileSize int64) (*streamedBody, string) {
	t.Helper()
	ops, err := json.Marshal(map[string]any{"query": uploadMutation, "variables": map[string]any{"id": importID, "file": nil}})
	require.NoError(t, err)
	var head bytes.Buffer
	w := multipart.NewWriter(&head)
	require.NoError(t, w.WriteField("operations", string(ops)))
	require.NoError(t, w.WriteField("map", `{"0": ["variables.file"]}`))
	_, err = w.CreateFormFile("0", "huge.csv")
	require.NoError(t, err)
	tail := "\r\n--" + w.Boundary() + "--\r\n"
	prefix := head.Bytes()
	return newStreamedBody(prefix, []byte(tail), int64(len(prefix))+fileSize+int64(len(tail))), w.FormDataContentType()
}

// restUploadBody frames POST /imports/{id}/file's multipart field "file".
func restUploadBody(t *testing.T, fileSize int64) (*streamedBody, string) {
	t.Helper()
	var head bytes.Buffer
	w := multipart.NewWriter(&head)
	_, err := w.CreateFormFile("file", "huge.csv")
	require.NoError(t, err)
	tail := "\r\n--" + w.Boundary() + "--\r\n"
	prefix := head.Bytes()
	return newStreamedBody(prefix, []byte(tail), int64(len(prefix))+fileSize+int64(len(tail))), w.FormDataContentType()
}

type uploadAttempt struct {
	url, token, contentType string
	body                    *streamedBody
	declared                bool // send Content-Length (else chunked)
}

// send posts the attempt on a connection of its own and returns the
// response (status and GraphQL-shaped errors) and the bytes consumed.
func (a uploadAttempt) send(t *testing.T) (*servertest.Response, int64) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url, a.body)
	require.NoError(t, err)
	req.ContentLength = -1
	if a.declared {
		req.ContentLength = a.body.total
	}
	req.Header.Set("Content-Type", a.contentType)
	req.Header.Set("Apollo-Require-Preflight", "true")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	// A small send buffer keeps what the client's kernel holds out of the
	// count (loopback otherwise lets it take up to tcp_wmem, 4 MB).
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(64 << 10)
		}
		return c, err
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err, "the server must answer, not drop the connection")
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &servertest.Response{Status: resp.StatusCode, Body: raw}
	require.Contains(t, resp.Header.Get("Content-Type"), "application/json", string(raw))
	require.NoError(t, json.Unmarshal(raw, out), string(raw))
	n := a.body.consumed(t)
	t.Logf("status %d; the client sent %d of %d bytes", out.Status, n, a.body.total)
	return out, n
}

// refusedUploadBound is the most a refused upload may take from its
// client: what the server reads while it answers (Go's HTTP server reads at
// most 256 KiB of an unread body before it gives up on a connection), plus
// what the server's socket buffer and the client's (kept small) hold. Runs
// here took 0.1–0.7 MB; the bodies sent are 64–96 MB.
const refusedUploadBound = 4 << 20

// TestUploadsAreCheckedBeforeTheirBodies: a multipart request (GraphQL or
// REST) is authenticated, and its user must be an administrator, before the
// server reads its body; a body over the upload limit is refused whether
// its length is declared or not.
func TestUploadsAreCheckedBeforeTheirBodies(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil) // the default upload limit: 1 GiB
	_, admin := s.Admin(t, "admin@district.test")
	_, user := s.User(t, admin, "teacher@district.test")
	importID := createImport(t, s, admin, "SIS", "FULL")
	const fileSize = 96 << 20 // many times the bound; under the limit

	cases := []struct {
		name, token, code string
		status            int
	}{
		{"Anonymous", "", "UNAUTHENTICATED", http.StatusUnauthorized},
		{"User", user, "FORBIDDEN", http.StatusForbidden},
	}
	for _, c := range cases {
		for _, declared := range []bool{false, true} {
			framing := "Chunked"
			if declared {
				framing = "Declared"
			}
			t.Run("GraphQL"+c.name+framing, func(t *testing.T) {
				t.Parallel()
				body, ct := graphQLUploadBody(t, importID, fileSize)
				resp, n := uploadAttempt{url: s.URL + "/graphql", token: c.token, contentType: ct, body: body, declared: declared}.send(t)
				require.Equal(t, c.status, resp.Status, string(resp.Body))
				require.Equal(t, c.code, resp.FirstCode(), string(resp.Body))
				require.NotEmpty(t, resp.Errors[0].Extensions["requestId"])
				require.LessOrEqual(t, n, int64(refusedUploadBound), "the server read the body of a refused upload")
			})
			t.Run("REST"+c.name+framing, func(t *testing.T) {
				t.Parallel()
				body, ct := restUploadBody(t, fileSize)
				resp, n := uploadAttempt{url: s.URL + "/imports/" + importID + "/file", token: c.token, contentType: ct, body: body, declared: declared}.send(t)
				require.Equal(t, c.status, resp.Status, string(resp.Body))
				require.Equal(t, c.code, resp.FirstCode(), string(resp.Body))
				require.LessOrEqual(t, n, int64(refusedUploadBound), "the server read the body of a refused upload")
			})
		}
	}

	t.Run("RESTRawBodyNeedsAnAdministrator", func(t *testing.T) {
		t.Parallel()
		body := newStreamedBody(nil, nil, fileSize)
		resp, n := uploadAttempt{url: s.URL + "/imports/" + importID + "/file?name=x.csv", token: user, contentType: "text/csv", body: body}.send(t)
		require.Equal(t, http.StatusForbidden, resp.Status, string(resp.Body))
		require.LessOrEqual(t, n, int64(refusedUploadBound))
	})

	t.Run("BadTokenIsRefusedBeforeTheBody", func(t *testing.T) {
		t.Parallel()
		body, ct := graphQLUploadBody(t, importID, fileSize)
		resp, n := uploadAttempt{url: s.URL + "/graphql", token: "rc_not_a_token", contentType: ct, body: body}.send(t)
		require.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
		require.LessOrEqual(t, n, int64(refusedUploadBound))
	})
}

// TestUploadLimitCapsEveryFraming: an administrator's upload over the
// limit is refused with 413 at once when its length is declared, and after
// at most the limit when it is not (chunked); one within the limit works
// either way, as Apollo's client sends it.
func TestUploadLimitCapsEveryFraming(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	const multipartFraming = 1 << 20 // graph.multipartOverhead
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.MaxUploadBytes = limit }})
	_, admin := s.Admin(t, "admin@district.test")
	importID := createImport(t, s, admin, "SIS", "FULL")
	const overSize = 64 << 20

	for _, route := range []string{"GraphQL", "REST"} {
		for _, declared := range []bool{false, true} {
			framing := "Chunked"
			if declared {
				framing = "Declared"
			}
			t.Run(route+"OverLimit"+framing, func(t *testing.T) {
				t.Parallel()
				body, ct := graphQLUploadBody(t, importID, overSize)
				url := s.URL + "/graphql"
				if route == "REST" {
					body, ct = restUploadBody(t, overSize)
					url = s.URL + "/imports/" + importID + "/file"
				}
				resp, n := uploadAttempt{url: url, token: admin, contentType: ct, body: body, declared: declared}.send(t)
				require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status, string(resp.Body))
				require.Equal(t, "PAYLOAD_TOO_LARGE", resp.FirstCode(), string(resp.Body))
				require.Contains(t, resp.Errors[0].Message, fmt.Sprint(limit))
				require.LessOrEqual(t, n, int64(limit+multipartFraming+refusedUploadBound), "an upload over the limit was read past it")
			})
		}
	}

	t.Run("WithinLimitChunked", func(t *testing.T) {
		t.Parallel()
		ops, _ := json.Marshal(map[string]any{"query": uploadMutation, "variables": map[string]any{"id": importID, "file": nil}})
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		require.NoError(t, w.WriteField("operations", string(ops)))
		require.NoError(t, w.WriteField("map", `{"0": ["variables.file"]}`))
		part, err := w.CreateFormFile("0", "students.csv")
		require.NoError(t, err)
		_, _ = io.WriteString(part, studentsCSV)
		require.NoError(t, w.Close())
		req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", struct{ io.Reader }{&buf}) // unknown length: chunked
		require.NoError(t, err)
		req.ContentLength = -1
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Apollo-Require-Preflight", "true")
		req.Header.Set("Authorization", "Bearer "+admin)
		resp := s.Do(t, req)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var out uploadOut
		resp.Decode(t, &out)
		require.Equal(t, "students.csv", out.UploadImportFile.File.Name)
		require.Equal(t, len(studentsCSV), out.UploadImportFile.File.Size)
	})
}
