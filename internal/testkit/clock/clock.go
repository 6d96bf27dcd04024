// Package clock is a clock tests can set and move, for services that take
// a `now func() time.Time`.
package clock

import (
	"sync"
	"testing"
	"time"
)

// Clock returns the time it was set to, or the real time while unset.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the set time, or time.Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// Set fixes the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward (from the real time if unset).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Now()
	}
	c.now = c.now.Add(d)
}

// MustParse parses an RFC 3339 time, failing t if it cannot.
func MustParse(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse time %q: %v", s, err)
	}
	return v
}
