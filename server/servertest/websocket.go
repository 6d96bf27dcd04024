package servertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// WS is a graphql-transport-ws connection, as a front end holds one: any
// number of operations, one after another or at once, over one socket.
type WS struct {
	conn *websocket.Conn

	mu      sync.Mutex
	streams map[string]chan wsMessage
	nextID  int

	done chan struct{} // closed when the connection has ended
	err  error         // why it ended (a *websocket.CloseError for a close); set before done closes
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WSURL is the server's GraphQL endpoint as a ws:// URL.
func (s *Server) WSURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/graphql" }

// DialWS opens a WebSocket to the server's /graphql with the
// graphql-transport-ws subprotocol, without initialising it; header is sent
// with the upgrade request (nil for none).
func (s *Server) DialWS(ctx context.Context, t testing.TB, header http.Header) *WS {
	t.Helper()
	url := s.WSURL()
	h := http.Header{"Origin": []string{s.URL}}
	for k, v := range header {
		h[k] = v
	}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &WS{conn: conn, streams: map[string]chan wsMessage{}, done: make(chan struct{})}
}

// OpenWS dials and initialises a connection authenticated with token in
// connection_init's payload (anonymous if token is empty), failing t unless
// the server acknowledges it.
func (s *Server) OpenWS(ctx context.Context, t testing.TB, token string) *WS {
	t.Helper()
	w := s.DialWS(ctx, t, nil)
	payload := map[string]string{}
	if token != "" {
		payload["Authorization"] = "Bearer " + token
	}
	if err := w.Init(ctx, payload); err != nil {
		t.Fatalf("connection_init: %v", err)
	}
	return w
}

// Init sends connection_init with payload and waits for connection_ack. If
// the server closes the connection instead, the error is the close: see
// CloseStatus. After an ack, messages are read in the background.
func (w *WS) Init(ctx context.Context, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if err := wsjson.Write(ctx, w.conn, wsMessage{Type: "connection_init", Payload: b}); err != nil {
		return fmt.Errorf("write connection_init: %w", err)
	}
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, w.conn, &m); err != nil {
			w.end(err)
			return err
		}
		switch m.Type {
		case "connection_ack":
			go w.read()
			return nil
		case "ping":
			if err := wsjson.Write(ctx, w.conn, wsMessage{Type: "pong"}); err != nil {
				return err
			}
		case "pong":
		default:
			return fmt.Errorf("expected connection_ack, got %s", m.Type)
		}
	}
}

// read hands each message to the operation it belongs to until the
// connection ends.
func (w *WS) read() {
	for {
		var m wsMessage
		if err := wsjson.Read(context.Background(), w.conn, &m); err != nil {
			w.end(err)
			return
		}
		switch m.Type {
		case "ping":
			_ = wsjson.Write(context.Background(), w.conn, wsMessage{Type: "pong"})
		case "next", "error", "complete":
			w.mu.Lock()
			ch := w.streams[m.ID]
			if m.Type != "next" {
				delete(w.streams, m.ID)
			}
			w.mu.Unlock()
			if ch != nil {
				ch <- m
				if m.Type != "next" {
					close(ch)
				}
			}
		}
	}
}

func (w *WS) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return
	default:
	}
	w.err = err
	for id, ch := range w.streams {
		close(ch)
		delete(w.streams, id)
	}
	close(w.done)
}

// start sends a subscribe message and returns the channel of the messages
// answering it (closed after complete or error, or when the connection
// ends).
func (w *WS) start(ctx context.Context, query string, vars map[string]any) (chan wsMessage, error) {
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		return nil, fmt.Errorf("connection ended: %w", w.err)
	default:
	}
	w.nextID++
	id := strconv.Itoa(w.nextID)
	ch := make(chan wsMessage, 256)
	w.streams[id] = ch
	w.mu.Unlock()
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(ctx, w.conn, wsMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return ch, nil
}

// Do runs a query or mutation over the connection and returns its response.
// It fails if the connection ends first (the error then wraps the close).
func (w *WS) Do(ctx context.Context, query string, vars map[string]any) (*Response, error) {
	ch, err := w.start(ctx, query, vars)
	if err != nil {
		return nil, err
	}
	var resp *Response
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				<-w.done
				return nil, fmt.Errorf("connection ended: %w", w.err)
			}
			switch m.Type {
			case "next":
				resp = &Response{Body: m.Payload}
				if err := json.Unmarshal(m.Payload, resp); err != nil {
					return nil, fmt.Errorf("decode %s: %w", m.Payload, err)
				}
			case "error":
				resp = &Response{Body: m.Payload}
				if err := json.Unmarshal(m.Payload, &resp.Errors); err != nil {
					return nil, fmt.Errorf("decode %s: %w", m.Payload, err)
				}
				return resp, nil
			case "complete":
				if resp == nil {
					return nil, errors.New("complete without a response")
				}
				return resp, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// MustDo is Do that fails t on any error and decodes data into v.
func (w *WS) MustDo(ctx context.Context, t testing.TB, query string, vars map[string]any, v any) {
	t.Helper()
	resp, err := w.Do(ctx, query, vars)
	if err != nil {
		t.Fatalf("over WebSocket: %v", err)
	}
	resp.Decode(t, v)
}

// Event is one message of a subscription: Type is "next" (Data or Errors
// set), "error" (Errors set) or "complete".
type Event struct {
	Type   string
	Data   json.RawMessage
	Errors []Error
}

// Subscribe starts a subscription; its events arrive on the channel, which
// is closed after complete or error, or when the connection ends.
func (w *WS) Subscribe(ctx context.Context, t testing.TB, query string, vars map[string]any) <-chan Event {
	t.Helper()
	ch, err := w.start(ctx, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Event, cap(ch))
	go func() {
		defer close(out)
		for m := range ch {
			e := Event{Type: m.Type}
			switch m.Type {
			case "next":
				var p struct {
					Data   json.RawMessage `json:"data"`
					Errors []Error         `json:"errors"`
				}
				_ = json.Unmarshal(m.Payload, &p)
				e.Data, e.Errors = p.Data, p.Errors
			case "error":
				_ = json.Unmarshal(m.Payload, &e.Errors)
			}
			out <- e
		}
	}()
	return out
}

// Done is closed when the connection has ended.
func (w *WS) Done() <-chan struct{} { return w.done }

// WaitClose waits until the connection ends (or ctx does) and returns the
// close code and reason the server sent; -1 if it ended without a close
// frame.
func (w *WS) WaitClose(ctx context.Context) (websocket.StatusCode, string, error) {
	select {
	case <-w.done:
	case <-ctx.Done():
		return -1, "", fmt.Errorf("the connection is still open: %w", ctx.Err())
	}
	return CloseStatus(w.err)
}

// CloseStatus returns the close code and reason err carries (from Init, or
// a connection that ended); -1 if none.
func CloseStatus(err error) (websocket.StatusCode, string, error) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason, nil
	}
	return -1, "", err
}
