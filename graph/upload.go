package graph

import (
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/users"
)

// multipartOverhead allows for the multipart framing around a file of the
// maximum size.
const multipartOverhead = 1 << 20

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
		if _, err := users.RequireViewer(r.Context()); err != nil {
			fail(err)
			return
		}
		id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
		if err != nil || id <= 0 {
			fail(apperr.NotFound("import", chi.URLParam(r, "id")))
			return
		}
		runNow, err := parseBoolParam(r.URL.Query().Get("run"))
		if err != nil {
			fail(apperr.Invalid("run", "run must be true or false"))
			return
		}
		tooLarge := apperr.TooLarge("the file is larger than the upload limit of %d bytes", maxBytes)
		if maxBytes > 0 && r.ContentLength > maxBytes+multipartOverhead {
			fail(tooLarge)
			return
		}
		if maxBytes > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, maxBytes+multipartOverhead)
		}

		name, body := r.URL.Query().Get("name"), io.Reader(r.Body)
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
					body = part
					break
				}
			}
		} else if name == "" {
			if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
				name = params["filename"]
			}
		}

		f, run, err := svc.Imports.Upload(r.Context(), id, name, body, runNow)
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
