package server

import (
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/internal/imports"
)

// multipartOverhead allows for the multipart framing around a file of the
// maximum size.
const multipartOverhead = 1 << 20

// guardUploads checks an upload before a byte of its body is read: the
// viewer must be a system administrator (401 without a token, 403 for
// anyone else), and a body declared longer than the upload limit (plus
// framing) is refused with 413 at once; a body of unknown length (chunked)
// is cut off at that limit. isUpload picks the requests it applies to.
//
// gqlgen's multipart transport reads every part, to memory or temporary
// files, before any resolver or directive runs, so a check there would come
// after an anonymous client had made the server take in up to the limit
// (1 GiB by default). A refused request's body is left unread and the
// connection is closed after the answer: the server reads no more of it
// than its HTTP library does on the way out (at most 256 KiB).
func guardUploads(maxBytes int64, isUpload func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isUpload(r) {
				next.ServeHTTP(w, r)
				return
			}
			refuse := func(e *apperr.Error) {
				w.Header().Set("Connection", "close")
				httpx.WriteError(w, r, e)
			}
			if authz.ViewerFrom(r.Context()) == nil {
				refuse(apperr.Unauthenticated("uploads need an administrator's token: send Authorization: Bearer <token>"))
				return
			}
			if _, err := authz.RequireAdmin(r.Context()); err != nil {
				refuse(apperr.Forbidden("only system administrators upload files"))
				return
			}
			if maxBytes <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			limit := maxBytes + multipartOverhead
			if r.ContentLength > limit {
				refuse(uploadTooLarge(maxBytes))
				return
			}
			r = r.WithContext(r.Context()) // a copy: the length below is this handler's business
			r.Body = &cappedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), maxBytes: maxBytes}
			if r.ContentLength < 0 {
				// gqlgen keeps a file in memory when the declared length
				// is under its MaxMemory, and "unknown" (-1) is under
				// anything: a chunked upload of any size would be held in
				// memory. Unknown is taken as the most it may be.
				r.ContentLength = limit
			}
			next.ServeHTTP(w, r)
		})
	}
}

func uploadTooLarge(maxBytes int64) *apperr.Error {
	return apperr.TooLarge("the upload is larger than the limit of %d bytes", maxBytes)
}

// cappedBody is a request body cut off at the upload limit that remembers
// whether it was, so that the answer can say 413 whoever read it (gqlgen
// reports only that it could not read a file).
type cappedBody struct {
	io.ReadCloser
	maxBytes int64 // the upload limit, framing not included
	over     atomic.Bool
}

func (c *cappedBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	var maxErr *http.MaxBytesError
	if err != nil && errors.As(err, &maxErr) {
		c.over.Store(true)
		// Whoever reads it (the import service, gqlgen) sees the
		// application's error, code and all.
		tooLarge := uploadTooLarge(c.maxBytes)
		tooLarge.Err = err
		return n, tooLarge
	}
	return n, err
}

// overUploadLimit returns the 413 error to answer with when body was cut
// off at the upload limit, else nil.
func overUploadLimit(body io.Reader) *apperr.Error {
	if c, ok := body.(*cappedBody); ok && c.over.Load() {
		return uploadTooLarge(c.maxBytes)
	}
	return nil
}

// uploadResponse is the JSON answer of POST /imports/{id}/file.
type uploadResponse struct {
	File uploadedFile `json:"file"`
	Run  *queuedRun   `json:"run"`
}

type uploadedFile struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	LineCount  int64     `json:"lineCount"`
	Header     []string  `json:"header"`
	UploadedAt time.Time `json:"uploadedAt"`
}

type queuedRun struct {
	ID       string            `json:"id"`
	Status   imports.RunStatus `json:"status"`
	QueuedAt time.Time         `json:"queuedAt"`
}

// uploadFile is POST /imports/{id}/file, for scripts: the file is the
// multipart field "file" or the raw body (name from ?name= or
// Content-Disposition); ?run=true also queues a run (Submit and Run Now).
//
//	curl -H "Authorization: Bearer $TOKEN" -F file=@students.csv "$URL/imports/1/file?run=true"
//	curl -H "Authorization: Bearer $TOKEN" --data-binary @students.csv "$URL/imports/1/file?name=students.csv"
func uploadFile(svc *app.Services, maxBytes int64, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) { writeErr(w, r, logger, err) }
		if _, err := authz.RequireAdmin(r.Context()); err != nil { // guardUploads checked already; services check again
			fail(err)
			return
		}
		id, err := pathID(r)
		if err != nil {
			fail(err)
			return
		}
		runNow, err := parseBoolParam(r.URL.Query().Get("run"))
		if err != nil {
			fail(apperr.Invalid("run", "run must be true or false"))
			return
		}
		// guardUploads, in front of this handler, caps the body.
		tooLarge := uploadTooLarge(maxBytes)

		name, file := r.URL.Query().Get("name"), io.Reader(r.Body)
		if isMultipart(r) {
			mr, err := r.MultipartReader()
			if err != nil {
				fail(apperr.Invalid("file", "malformed multipart body: %v", err))
				return
			}
			for {
				part, err := mr.NextPart()
				if errors.Is(err, io.EOF) {
					fail(apperr.Invalid("file", "the multipart body has no field named \"file\""))
					return
				}
				if err != nil {
					var maxErr *http.MaxBytesError
					if errors.As(err, &maxErr) {
						fail(tooLarge)
						return
					}
					fail(apperr.Invalid("file", "malformed multipart body: %v", err))
					return
				}
				if part.FormName() == "file" {
					if name == "" {
						name = part.FileName()
					}
					file = part
					break
				}
			}
		} else if name == "" {
			if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
				name = params["filename"]
			}
		}

		f, run, err := svc.Imports.Upload(r.Context(), id, name, file, runNow)
		if err != nil {
			fail(err)
			return
		}
		resp := uploadResponse{File: uploadedFile{ID: strconv.FormatInt(f.ID, 10), Name: f.Name, Size: f.Size,
			SHA256: hex.EncodeToString(f.SHA256), LineCount: f.LineCount, Header: f.Header, UploadedAt: f.UploadedAt.UTC()}}
		if run != nil {
			resp.Run = &queuedRun{ID: strconv.FormatInt(run.ID, 10), Status: run.Status, QueuedAt: run.QueuedAt.UTC()}
		}
		httpx.WriteJSON(w, http.StatusCreated, resp)
	}
}

func parseBoolParam(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}

// everyRequest is guardUploads' choice for routes that only take uploads.
func everyRequest(*http.Request) bool { return true }
