// Package notify delivers PostgreSQL notifications (LISTEN/NOTIFY) to the
// subscribers of this process, so that something written on any node (a
// run's progress, say) reaches a GraphQL subscription held on another.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgxlisten"
)

// Hub listens on some channels with one dedicated connection and wakes the
// subscribers of each (channel, payload). Wake-ups carry no data and
// coalesce: a subscriber reads the current state when woken. Notifications
// sent while the connection is down are lost, so every subscriber of a
// channel is woken once each time the hub (re)starts listening on it, and
// subscribers may also look again now and then (see Subscription.C's doc).
type Hub struct {
	listener pgxlisten.Listener
	mu       sync.Mutex
	subs     map[key]map[*Subscription]struct{}
	cancel   context.CancelFunc
	done     chan struct{}
}

type key struct{ channel, payload string }

// NewHub returns a hub for channels, connecting through pool.
func NewHub(pool *pgxpool.Pool, logger *slog.Logger, channels ...string) *Hub {
	h := &Hub{subs: map[key]map[*Subscription]struct{}{}}
	h.listener = pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return nil, err
			}
			// The connection leaves the pool: it stays in LISTEN mode.
			return c.Hijack(), nil
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				logger.Warn("notifications", slog.String("error", err.Error()))
			}
		},
		ReconnectDelay: 2 * time.Second,
	}
	for _, ch := range channels {
		h.listener.Handle(ch, channelHandler{h})
	}
	return h
}

// channelHandler delivers one channel's notifications to the hub.
type channelHandler struct{ h *Hub }

func (c channelHandler) HandleNotification(ctx context.Context, n *pgconn.Notification, conn *pgx.Conn) error {
	return c.h.handle(ctx, n, conn)
}

// HandleBacklog runs once the connection listens on channel, at start and
// after each reconnection: whatever was notified before then was lost (or
// happened before anyone listened), so every subscriber of the channel
// looks again. Subscribing before the hub listens thus misses nothing.
func (c channelHandler) HandleBacklog(_ context.Context, channel string, _ *pgx.Conn) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	for k, subs := range c.h.subs {
		if k.channel != channel {
			continue
		}
		for s := range subs {
			s.wake()
		}
	}
	return nil
}

func (h *Hub) handle(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[key{n.Channel, n.Payload}] {
		s.wake()
	}
	return nil
}

func (s *Subscription) wake() {
	select {
	case s.c <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Start listens until Stop.
func (h *Hub) Start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		_ = h.listener.Listen(ctx)
	}()
}

// Stop stops listening.
func (h *Hub) Stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
	}
}

// Subscription is one subscriber's wake-ups.
type Subscription struct {
	c   chan struct{}
	hub *Hub
	key key
}

// C receives a value after a notification of the subscribed payload, and
// when the hub starts listening again after its connection was down (the
// notifications sent meanwhile are lost). A change made while the hub's
// connection is down but not yet known to be down can still go unnoticed
// until the next wake-up: subscribers that must not miss a change also check
// on a timer.
func (s *Subscription) C() <-chan struct{} { return s.c }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	delete(s.hub.subs[s.key], s)
	if len(s.hub.subs[s.key]) == 0 {
		delete(s.hub.subs, s.key)
	}
}

// Subscribe wakes the subscriber on notifications on channel whose payload
// is payload.
func (h *Hub) Subscribe(channel string, payload any) *Subscription {
	s := &Subscription{c: make(chan struct{}, 1), hub: h, key: key{channel, fmt.Sprint(payload)}}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[s.key] == nil {
		h.subs[s.key] = map[*Subscription]struct{}{}
	}
	h.subs[s.key][s] = struct{}{}
	return s
}
