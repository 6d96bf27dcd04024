package graph

// WebSocket sessions (graphql-transport-ws).
//
// gqlgen authenticates a connection once, in InitFunc, and runs every
// operation of the connection in the context InitFunc returned. Left at
// that, a socket keeps the identity, role and restriction it was opened with
// for as long as it stays open (after its token is revoked or its user
// disabled), and its operations get neither the request timeout nor loaders
// of their own (the router's middleware runs once, for the upgrade request).
//
// A session therefore re-reads its token and user (one query by primary
// key) before every operation, and gives the operation the viewer as of
// now, fresh loaders and, for queries and mutations, the request timeout.
// It also watches users.AccessChannel, which the users service notifies in
// the transaction of every revocation, disabling, role or restriction
// change, on whichever node: when woken (or on a timer, or at the token's
// expiry) it re-checks, closes the connection with 4403 if access is gone,
// and ends the subscriptions started under a role or restriction that no
// longer holds.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/internal/users"
)

const (
	// closeForbidden closes a connection whose credentials are bad or no
	// longer valid (graphql-transport-ws's Forbidden). Clients must not
	// take it for a normal close: graphql-ws reconnects at once after a
	// 1000 while it has subscriptions, but retries a 4403 only
	// retryAttempts times, with back-off.
	closeForbidden = 4403
	// closeInitTimeout closes a connection that did not send
	// connection_init within wsInitTimeout.
	closeInitTimeout = 4408
	// closeTryLater closes a connection that could not be authenticated
	// for an internal reason (the database is unreachable, say): graphql-ws
	// retries 1013 with back-off, as it should a passing failure.
	closeTryLater = 1013
	// sessionRecheck is how often an open session re-checks its access
	// without being told to: notifications are lost while a node's
	// listening connection is down (see users.AccessChannel).
	sessionRecheck = time.Minute
)

// wsSessions makes WebSocket connections into sessions; see the file's
// comment.
type wsSessions struct {
	users          *users.Service
	services       *app.Services
	requestTimeout time.Duration
	presenter      graphql.ErrorPresenterFunc
	logger         *slog.Logger
}

func newWSSessions(svc *app.Services, requestTimeout time.Duration, presenter graphql.ErrorPresenterFunc, logger *slog.Logger) *wsSessions {
	return &wsSessions{users: svc.Users, services: svc, requestTimeout: requestTimeout, presenter: presenter, logger: logger}
}

// websocketTransport is gqlgen's WebSocket transport with a session per
// connection.
type websocketTransport struct {
	transport.Websocket
	sessions *wsSessions
	origins  httpx.Origins
}

var _ graphql.Transport = websocketTransport{}

// subprotocols are those gqlgen speaks: graphql-transport-ws (graphql-ws's
// protocol) and the legacy graphql-ws (subscriptions-transport-ws).
var subprotocols = []string{"graphql-transport-ws", "graphql-ws"}

// Do serves one connection: the session rides in the request's context,
// where InitFunc and every operation find it.
//
// The upgrade is done here, before gqlgen's transport runs: a page from an
// origin the policy refuses gets 403 with an error code, and any refused
// upgrade logs one structured line. (gqlgen's own upgrade logs a refusal
// with the standard logger and then writes a second response over the one
// the WebSocket library wrote.)
func (t websocketTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	refused := func(reason string) {
		t.sessions.logger.WarnContext(r.Context(), "websocket upgrade refused",
			slog.String("request_id", httpx.RequestID(r.Context())),
			slog.String("origin", r.Header.Get("Origin")), slog.String("reason", reason))
	}
	if !t.origins.Allows(r) {
		refused("origin not allowed")
		httpx.WriteError(w, r, apperr.Forbidden("a page from %s may not open a WebSocket here: add the origin to ROLLCALL_CORS_ORIGINS", r.Header.Get("Origin")))
		return
	}
	// The origin is checked above, by the same policy as CORS; the
	// library's own check (same host only) would refuse allowed origins.
	conn, err := transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{InsecureSkipVerify: true}}.
		Accept(w, r, transport.WebsocketAcceptOptions{ResponseHeader: http.Header{}, Subprotocols: subprotocols})
	if err != nil {
		refused(err.Error()) // the library has answered (400, 426, ...)
		return
	}
	s := &wsSession{m: t.sessions, ops: map[*wsOperation]struct{}{}, requestID: httpx.RequestID(r.Context())}
	defer s.end()
	ws := t.Websocket
	ws.Implementation = accepted{&sessionConn{WebsocketConn: conn, s: s}}
	ws.Do(w, r.WithContext(context.WithValue(r.Context(), wsSessionKey{}, s)), exec)
}

// accepted hands gqlgen's transport the connection Do has accepted.
type accepted struct{ conn transport.WebsocketConn }

func (a accepted) Accept(http.ResponseWriter, *http.Request, transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	return a.conn, nil
}

type wsSessionKey struct{}

func sessionFrom(ctx context.Context) *wsSession {
	s, _ := ctx.Value(wsSessionKey{}).(*wsSession)
	return s
}

// wsSession is one connection's access.
type wsSession struct {
	m         *wsSessions
	requestID string // of the upgrade request, for logs

	mu sync.Mutex
	// viewer is the newest known state of the connection's token and
	// user; nil for an anonymous connection.
	viewer *authz.Viewer
	// cancel cancels the connection's context: gqlgen then stops every
	// operation and closes the socket.
	cancel context.CancelFunc
	// forbidden is the close reason once access is gone ("" before).
	forbidden string
	// ops are the open subscriptions, each with the viewer it runs as.
	ops map[*wsOperation]struct{}
	// checks numbers re-checks as they start; applied is the newest one
	// whose result is in viewer, so that a slow re-check cannot bring
	// back an older state.
	checks  atomic.Int64
	applied int64

	watcher sync.WaitGroup
}

// wsOperation is an open subscription.
type wsOperation struct {
	ctx    context.Context
	cancel context.CancelFunc
	viewer *authz.Viewer
}

// begin starts the session once the connection is authenticated (v is nil
// for an anonymous one) and returns the connection's context.
func (s *wsSession) begin(ctx context.Context, v *authz.Viewer) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.viewer, s.cancel = v, cancel
	s.mu.Unlock()
	if v != nil {
		s.watcher.Add(1)
		go s.watch(ctx, v)
	}
	return ctx
}

// end runs when the connection is over.
func (s *wsSession) end() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.watcher.Wait()
}

// watch re-checks the session's access when the user's access changes on
// any node, when the token expires, and every sessionRecheck, until the
// connection ends.
func (s *wsSession) watch(ctx context.Context, v *authz.Viewer) {
	defer s.watcher.Done()
	wake, stop := s.m.users.WatchAccess(v.UserID)
	defer stop()
	recheck := time.NewTicker(sessionRecheck)
	defer recheck.Stop()
	var expiry *time.Timer
	var expired <-chan time.Time
	defer func() {
		if expiry != nil {
			expiry.Stop()
		}
	}()
	for {
		// The first round catches a change made between authentication
		// and the subscription to notifications.
		cur, err := s.recheck(ctx, nil)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !isDenied(err) {
				s.m.logger.Warn("websocket session re-check", slog.String("request_id", s.requestID), slog.String("error", err.Error()))
			}
		default:
			if d, ok := s.m.users.ExpiresIn(cur); ok {
				if expiry == nil {
					expiry = time.NewTimer(d)
					expired = expiry.C
				} else {
					expiry.Reset(d)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-expired:
		case <-recheck.C:
		}
	}
}

// recheck re-reads the session's access. It closes the session when access
// is gone; otherwise it ends the subscriptions whose role or restriction no
// longer holds, and returns the viewer an operation starting now runs as,
// after registering op (a subscription) under it if op is not nil.
func (s *wsSession) recheck(ctx context.Context, op *wsOperation) (*authz.Viewer, error) {
	s.mu.Lock()
	base := s.viewer
	s.mu.Unlock()
	var fresh *authz.Viewer
	var seq int64
	if base != nil { // else anonymous: nothing to check
		seq = s.checks.Add(1)
		var err error
		if fresh, err = s.m.users.Recheck(ctx, base); err != nil {
			if isDenied(err) {
				ae, _ := apperr.As(err)
				s.forbid(ae.Message)
			}
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fresh != nil && seq > s.applied {
		s.applied = seq
		if !s.viewer.SameAccess(fresh) {
			s.endOperationsNotRunningAs(fresh)
		}
		s.viewer = fresh
	}
	if op != nil {
		op.viewer = s.viewer
		s.ops[op] = struct{}{}
	}
	return s.viewer, nil
}

// endOperationsNotRunningAs ends, with an error, the subscriptions running
// with another role or restriction than v's. s.mu is held.
func (s *wsSession) endOperationsNotRunningAs(v *authz.Viewer) {
	for op := range s.ops {
		if op.viewer.SameAccess(v) {
			continue
		}
		// gqlgen sends the error when the stream ends; the operation is
		// still registered, so its stream has not ended yet.
		transport.AddSubscriptionError(op.ctx, s.m.presenter(op.ctx, &apperr.Error{Code: apperr.CodeAccessChanged,
			Message: "your role or restriction changed; subscribe again"}))
		op.cancel()
		delete(s.ops, op)
	}
}

// forbid closes the session with 4403: it cancels the connection's context
// and the connection (sessionConn) writes the code.
func (s *wsSession) forbid(reason string) {
	s.mu.Lock()
	first := s.forbidden == ""
	if first {
		s.forbidden = closeReason("Forbidden: " + reason)
	}
	cancel, v := s.cancel, s.viewer
	s.mu.Unlock()
	if first && v != nil {
		s.m.logger.Info("websocket session closed", slog.String("request_id", s.requestID),
			slog.Int64("user_id", v.UserID), slog.Int64("token_id", v.TokenID), slog.String("reason", reason))
	}
	if cancel != nil { // nil only before begin, when nothing runs yet
		cancel()
	}
}

// forbiddenReason returns the close reason once the session is forbidden.
func (s *wsSession) forbiddenReason() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forbidden, s.forbidden != ""
}

// aroundOperation gives each operation over a WebSocket what an HTTP
// request gets from the router's middleware: the viewer as of now, its own
// loaders, and (queries and mutations; subscriptions are long-lived) the
// request timeout. Other transports pass through.
func (m *wsSessions) aroundOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	s := sessionFrom(ctx)
	if s == nil {
		return next(ctx)
	}
	var op *wsOperation
	var cancel context.CancelFunc
	if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		ctx, cancel = context.WithCancel(ctx)
		op = &wsOperation{ctx: ctx, cancel: cancel}
	} else if m.requestTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, m.requestTimeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	v, err := s.recheck(ctx, op)
	if err != nil {
		cancel()
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{m.presenter(ctx, err)}})
	}
	if v != nil {
		ctx = authz.WithViewer(ctx, v)
	}
	ctx = withNewLoaders(ctx, m.services)
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		done := true // also when responses panics
		defer func() {
			if done {
				if op != nil {
					s.mu.Lock()
					delete(s.ops, op)
					s.mu.Unlock()
				}
				cancel()
			}
		}()
		resp := responses(ctx)
		done = resp == nil
		return resp
	}
}

// refuseConnection answers a connection_init whose credentials were not
// accepted: 4403 when they are bad (never 1000, which clients take for a
// normal close and reconnect after at once), 1013 when they could not be
// checked. The error is what gqlgen shows the client.
func refuseConnection(ctx context.Context, logger *slog.Logger, err error) (context.Context, *transport.InitPayload, error) {
	if isDenied(err) {
		ae, _ := apperr.As(err)
		ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeForbidden), closeReason("Forbidden: "+ae.Message))
		return ctx, nil, errors.New(ae.Message)
	}
	requestID := httpx.RequestID(ctx)
	logger.ErrorContext(ctx, "websocket authenticate", slog.String("request_id", requestID), slog.String("error", err.Error()))
	ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeTryLater), "Try Again Later")
	return ctx, nil, errors.New("internal error (request id " + requestID + ")")
}

// isDenied reports whether err refuses the credentials (as opposed to
// failing to check them).
func isDenied(err error) bool {
	ae, ok := apperr.As(err)
	return ok && (ae.Code == apperr.CodeUnauthenticated || ae.Code == apperr.CodeForbidden)
}

// closeReason fits a reason into a close frame (123 bytes at most).
func closeReason(s string) string {
	const limit = 123
	if len(s) <= limit {
		return s
	}
	s = s[:limit]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// sessionConn closes a forbidden session with 4403.
//
// A session is ended by cancelling the connection's context: gqlgen then
// stops every operation, and tears the connection down through its one
// writer. But it closes a cancelled connection with 1000 whatever the
// context says (transport.WithWebsocketCloseCode is read only when InitFunc
// fails), and graphql-ws clients take 1000 for a normal end and reconnect
// at once while they hold subscriptions. Closing the socket ourselves
// instead would race gqlgen's writes and teardown; so the connection
// substitutes the code as gqlgen writes the close frame.
type sessionConn struct {
	transport.WebsocketConn
	s *wsSession
}

var (
	_ transport.WebsocketReadLimiter   = (*sessionConn)(nil)
	_ transport.WebsocketReadDeadliner = (*sessionConn)(nil)
)

func (c *sessionConn) WriteClose(code int, message string) error {
	if c.s != nil {
		if reason, ok := c.s.forbiddenReason(); ok {
			code, message = closeForbidden, reason
		}
	}
	// gqlgen closes a connection that sent no connection_init in time with
	// 1002; graphql-transport-ws says 4408.
	if code == transport.WebsocketCloseProtocolError && message == "connection initialisation timeout" {
		code = closeInitTimeout
	}
	return c.WebsocketConn.WriteClose(code, message)
}

// SetReadLimit and SetReadDeadline pass on what gqlgen asks of the
// connection it wraps (optional interfaces that embedding would hide).
func (c *sessionConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *sessionConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
