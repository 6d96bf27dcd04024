package users

import (
	"context"
	"fmt"
	"strconv"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/notify"
)

// AccessChannel is the PostgreSQL notification channel that announces a
// change to what a user may do (a token revoked, the user disabled or
// enabled, a new role or restriction), with the user's id as payload. Every
// node listens, so that sessions held open on any of them (WebSocket
// connections) re-check their access at once.
const AccessChannel = "rollcall_user_access"

// NotifyAccessChanged announces, when idb's transaction commits, that the
// access of user userID changed. Whatever changes a user's role, disabled
// flag or restriction, or revokes a token, calls it in the same transaction;
// sessions also re-check on a timer, for notifications lost while a node's
// listening connection was down and for writers that do not call it.
func NotifyAccessChanged(ctx context.Context, idb bun.IDB, userID int64) error {
	if _, err := idb.ExecContext(ctx, "SELECT pg_notify(?, ?)", AccessChannel, strconv.FormatInt(userID, 10)); err != nil {
		return fmt.Errorf("notify access change of user %d: %w", userID, err)
	}
	return nil
}

// UseNotifications makes WatchAccess follow notifications from h, which
// must listen on AccessChannel.
func (s *Service) UseNotifications(h *notify.Hub) { s.hub = h }

// WatchAccess returns a channel that receives a value after the access of
// user userID may have changed (see NotifyAccessChanged), and a function
// that ends the watch. Wake-ups coalesce and carry nothing: re-check with
// Recheck. Without notifications the channel never receives.
func (s *Service) WatchAccess(userID int64) (<-chan struct{}, func()) {
	if s.hub == nil {
		return nil, func() {}
	}
	sub := s.hub.Subscribe(AccessChannel, userID)
	return sub.C(), sub.Close
}
