package users

import (
	"github.com/rollcall/rollcall/internal/notify"
)

// AccessChannel is the PostgreSQL notification channel that announces a
// change to what a user may do (a token revoked, the user disabled or
// enabled, a new role or restriction), with the user's id as payload.
// Triggers on users and api_tokens send it (migration 0009), whatever
// writes them. Every node listens, so that sessions held open on any of
// them (WebSocket connections) re-check their access at once.
const AccessChannel = "rollcall_user_access"

// UseNotifications makes WatchAccess follow notifications from h, which
// must listen on AccessChannel.
func (s *Service) UseNotifications(h *notify.Hub) { s.hub = h }

// WatchAccess returns a channel that receives a value after the access of
// user userID may have changed (see AccessChannel), and a function
// that ends the watch. Wake-ups coalesce and carry nothing: re-check with
// Recheck. Without notifications the channel never receives.
func (s *Service) WatchAccess(userID int64) (<-chan struct{}, func()) {
	if s.hub == nil {
		return nil, func() {}
	}
	sub := s.hub.Subscribe(AccessChannel, userID)
	return sub.C(), sub.Close
}
