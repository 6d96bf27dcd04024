package httpx

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rollcall/rollcall/internal/metrics"
)

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack is needed for WebSocket upgrades.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer does not support hijacking")
	}
	r.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

// Flush passes through for streamed responses.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// AccessLog writes one log line per request (id, method, path, status,
// duration) and records the request in the HTTP metrics under its route
// pattern, never the raw path, to keep label values bounded.
func AccessLog(logger *slog.Logger, m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			notes := &logNotes{}
			r = r.WithContext(context.WithValue(r.Context(), logNotesKey{}, notes))
			defer func() {
				if rec.status == 0 {
					rec.status = http.StatusOK
				}
				elapsed := time.Since(start)
				route := "unmatched"
				if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePattern() != "" {
					route = rctx.RoutePattern()
				}
				m.HTTPRequests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
				m.HTTPDuration.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
				level := slog.LevelInfo
				if rec.status >= 500 {
					level = slog.LevelError
				}
				if route == "/healthz" || route == "/readyz" || route == "/metrics" {
					level = slog.LevelDebug
				}
				attrs := append([]slog.Attr{
					slog.String("request_id", RequestID(r.Context())),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", rec.status),
					slog.Int64("bytes", rec.bytes),
					slog.Duration("duration", elapsed),
					slog.String("remote", r.RemoteAddr),
				}, notes.get()...)
				logger.LogAttrs(r.Context(), level, "request", attrs...)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

type logNotesKey struct{}

// logNotes are attributes that the handlers of a request add to its access
// log line (the GraphQL operation's name and type, say).
type logNotes struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

func (n *logNotes) get() []slog.Attr {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.attrs
}

// SetLogAttr sets an attribute of the access log line of the request ctx
// belongs to, replacing one of the same key (a WebSocket's line, written
// when it closes, shows its last operation). Outside a request it does
// nothing.
func SetLogAttr(ctx context.Context, a slog.Attr) {
	n, _ := ctx.Value(logNotesKey{}).(*logNotes)
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.attrs {
		if n.attrs[i].Key == a.Key {
			n.attrs[i] = a
			return
		}
	}
	n.attrs = append(n.attrs, a)
}
