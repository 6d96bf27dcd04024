package users

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// tokenPrefix marks Rollcall tokens so that secret scanners and people can
// recognize them.
const tokenPrefix = "rc_"

// APIToken is a credential. The clear token is shown once, at creation; only
// its SHA-256 hash is stored. 256 random bits make a slow password hash
// unnecessary: there is nothing to guess.
type APIToken struct {
	bun.BaseModel `bun:"table:api_tokens"`

	ID         int64     `bun:",pk,autoincrement"`
	UserID     int64     `bun:",notnull"`
	Name       string    `bun:",notnull"`
	TokenHash  []byte    `bun:",notnull"`
	Prefix     string    `bun:",notnull"`
	CreatedAt  time.Time `bun:",nullzero,notnull,default:current_timestamp"`
	LastUsedAt *time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
}

// Active reports whether the token can authenticate at time now (ignoring the
// state of its user).
func (t *APIToken) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// newToken returns a fresh clear token and its hash.
func newToken() (clear string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	clear = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return clear, hashToken(clear)
}

func hashToken(clear string) []byte {
	h := sha256.Sum256([]byte(clear))
	return h[:]
}

// displayPrefix is the part of a clear token that may be shown again later.
func displayPrefix(clear string) string { return clear[:len(tokenPrefix)+6] }

// looksLikeToken rejects obviously malformed credentials before a query.
func looksLikeToken(s string) bool {
	return strings.HasPrefix(s, tokenPrefix) && len(s) == len(tokenPrefix)+43
}

// TokenActive reports whether t can be used now: not revoked, not expired.
func (s *Service) TokenActive(t *APIToken) bool { return t.Active(s.now()) }
