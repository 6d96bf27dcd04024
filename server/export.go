package server

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/httpx"
)

// exportMembers is GET /lists/{id}/members.csv: a list's members (as the
// viewer sees them, within their restriction) with phones and emails,
// streamed for reporting tools.
//
//	curl -H "Authorization: Bearer $TOKEN" localhost:8080/lists/7/members.csv
func exportMembers(svc *app.Services, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := authz.RequireViewer(r.Context()); err != nil {
			writeErr(w, r, logger, err)
			return
		}
		id, err := pathID(r)
		if err != nil {
			writeErr(w, r, logger, err)
			return
		}
		if _, err := svc.Lists.Get(r.Context(), id); err != nil {
			writeErr(w, r, logger, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="list-`+strconv.FormatInt(id, 10)+`-members.csv"`)
		if err := svc.Lists.ExportCSV(r.Context(), id, w); err != nil {
			// The header is sent; all that can be done is to stop and log.
			logger.ErrorContext(r.Context(), "export list", slog.Int64("list_id", id), slog.String("request_id", httpx.RequestID(r.Context())), slog.String("error", err.Error()))
		}
	}
}

// writeErr answers an error from a service: its code, or a scrubbed 500.
func writeErr(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	httpx.WriteError(w, r, httpx.Scrub(r.Context(), logger, "request failed", err))
}
