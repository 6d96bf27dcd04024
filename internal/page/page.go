// Package page implements keyset pagination for Relay-style connections:
// clients pass `first` and an opaque `after` cursor; services fetch one row
// more than asked to learn whether another page follows. Offsets are never
// used, so a page costs the same wherever it is in the list.
package page

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/rollcall/rollcall/internal/apperr"
)

const (
	// DefaultFirst is the page size when the client gives none.
	DefaultFirst = 50
	// MaxFirst bounds a page so one request cannot ask for everything.
	MaxFirst = 500
)

// Request is a validated page request. After is the decoded cursor (nil for
// the first page) and must be unpacked with Request.Cursor.
type Request struct {
	First int
	after json.RawMessage
}

// New validates first and after as given by a client.
func New(first *int, after *string) (Request, error) {
	r := Request{First: DefaultFirst}
	if first != nil {
		if *first < 0 || *first > MaxFirst {
			return r, apperr.Invalid("first", "first must be between 0 and %d, got %d", MaxFirst, *first)
		}
		r.First = *first
	}
	if after != nil && *after != "" {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*after, "="))
		if err != nil || !json.Valid(raw) {
			return r, apperr.Invalid("after", "after is not a cursor returned by this API")
		}
		r.after = raw
	}
	return r, nil
}

// HasCursor reports whether the request continues after a cursor.
func (r Request) HasCursor() bool { return r.after != nil }

// Cursor decodes the after cursor into dst (a pointer to the same type the
// cursor was made from).
func (r Request) Cursor(dst any) error {
	if r.after == nil {
		return nil
	}
	if err := json.Unmarshal(r.after, dst); err != nil {
		return apperr.Invalid("after", "after is not a cursor for this list")
	}
	return nil
}

// Limit is the number of rows to fetch: one more than the page, to learn
// whether a next page exists.
func (r Request) Limit() int64 { return int64(r.First) + 1 }

// EncodeCursor makes an opaque cursor from a key (typically a small struct
// or array of the ORDER BY values of a row).
func EncodeCursor(key any) string {
	b, err := json.Marshal(key)
	if err != nil {
		// Keys are plain values built by this program; failing here is a bug.
		panic("page: encode cursor: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Page is one page of results.
type Page[T any] struct {
	Items   []T
	HasNext bool
	// HasPrevious is true when the page was requested after a cursor.
	HasPrevious bool
}

// Trim turns rows fetched with Request.Limit into a page.
func Trim[T any](r Request, rows []T) Page[T] {
	p := Page[T]{Items: rows, HasPrevious: r.HasCursor()}
	if len(rows) > r.First {
		p.Items = rows[:r.First]
		p.HasNext = true
	}
	return p
}
