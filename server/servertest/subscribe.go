package servertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Subscribe opens a graphql-transport-ws subscription at baseURL (http://…)
// authenticated with token in connection_init, and returns each "next"
// payload's data until the server completes it (the channel is then
// closed). Errors end the test.
func Subscribe(ctx context.Context, t testing.TB, baseURL, token, query string, vars map[string]any) <-chan json.RawMessage {
	t.Helper()
	url := "ws" + strings.TrimPrefix(baseURL, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"Origin": []string{baseURL}},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	type message struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	if err := wsjson.Write(ctx, conn, message{Type: "connection_init", Payload: init}); err != nil {
		t.Fatalf("connection_init: %v", err)
	}
	var ack message
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("expected connection_ack, got %+v (%v)", ack, err)
	}
	sub, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(ctx, conn, message{ID: "1", Type: "subscribe", Payload: sub}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	out := make(chan json.RawMessage, 64)
	go func() {
		defer close(out)
		for {
			var m message
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				if ctx.Err() == nil {
					t.Errorf("read: %v", err)
				}
				return
			}
			switch m.Type {
			case "next":
				var p struct {
					Data   json.RawMessage `json:"data"`
					Errors []any           `json:"errors"`
				}
				if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
					t.Errorf("subscription error: %s", m.Payload)
					return
				}
				out <- p.Data
			case "error":
				t.Errorf("subscription error: %s", m.Payload)
				return
			case "complete":
				return
			case "ping":
				_ = wsjson.Write(ctx, conn, message{Type: "pong"})
			case "pong", "ka":
			default:
				t.Errorf("unexpected message %s", fmt.Sprint(m.Type))
				return
			}
		}
	}()
	return out
}
