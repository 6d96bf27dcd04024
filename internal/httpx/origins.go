package httpx

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"

	"github.com/rollcall/rollcall/internal/config"
)

// Origins is the cross-origin policy of the whole HTTP surface: which
// browser apps served from other origins may call the API. The same policy
// answers CORS preflights for HTTP and decides WebSocket upgrades, so that a
// front end allowed one way is allowed the other.
//
// Same-origin requests, and requests without an Origin header (curl,
// servers, reporting tools), are always allowed: the policy is about what a
// browser lets a page of another site do, not about who may call the API
// (the bearer token decides that).
type Origins struct {
	allowed map[string]bool
}

// NewOrigins returns the policy that allows the listed origins (see
// config.ParseOrigin for their form) besides the server's own.
func NewOrigins(list []string) (Origins, error) {
	o := Origins{allowed: map[string]bool{}}
	for _, s := range list {
		origin, err := config.ParseOrigin(s)
		if err != nil {
			return Origins{}, err
		}
		o.allowed[origin] = true
	}
	return o, nil
}

// AllowsCrossOrigin reports whether a page served from origin may call the
// API.
func (o Origins) AllowsCrossOrigin(origin string) bool {
	canonical, err := config.ParseOrigin(origin)
	return err == nil && o.allowed[canonical]
}

// Allows reports whether r comes from a page the policy allows: it has no
// Origin header, comes from the server's own origin (by the Host it was
// sent to, as browsers and github.com/coder/websocket compare them), or
// from an allowed one.
func (o Origins) Allows(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return o.AllowsCrossOrigin(origin)
}

// CORS answers preflight requests and adds the Access-Control-* headers to
// the responses of allowed cross-origin requests (github.com/rs/cors). With
// no origin configured it adds nothing: browsers then keep pages of other
// sites out, as they do by default.
//
// Any request header a browser asks for is allowed (Authorization,
// Content-Type, Apollo-Require-Preflight, graphql-*, ...): the origin is
// trusted by configuration, Rollcall sets no cookies, and GraphQL clients
// add headers of their own. Credentials (cookies) are never allowed.
func (o Origins) CORS() func(http.Handler) http.Handler {
	if len(o.allowed) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return cors.New(cors.Options{
		AllowOriginFunc: o.AllowsCrossOrigin,
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"*"},
		ExposedHeaders:  []string{RequestIDHeader},
		MaxAge:          600,
	}).Handler
}
