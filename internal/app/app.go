// Package app assembles Rollcall's domain services over one database, so
// that the server, the command line and the tests build them the same way.
package app

import (
	"log/slog"
	"time"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/metrics"
	"github.com/rollcall/rollcall/internal/users"
)

// Options are what the services depend on besides the database.
type Options struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Services are the domain services.
type Services struct {
	Users *users.Service
}

// NewServices builds the services over d.
func NewServices(d *db.DB, opts Options) *Services {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Services{
		Users: users.NewService(d, now),
	}
}
