// Package fold gives text the one form in which Rollcall compares it without
// regard to case. Imports store each searchable value's folded form beside
// it (first_name_key, school_key…) and filters fold what they look for the
// same way, so a comparison means the same thing whatever the database's
// locale: PostgreSQL's lower() follows LC_CTYPE, and in a database created
// with LC_CTYPE=C it leaves "É" alone while Go lower-cases it, which once
// let `school nin ["École Nord"]` show École Nord's people to a user
// restricted away from them.
package fold

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Key returns s folded: in Unicode normal form C (so "é" typed as e plus a
// combining accent matches the precomposed letter), lower-cased by Go's
// Unicode tables. It is a pure function of s: the stored keys and the
// filters' values agree by construction.
func Key(s string) string {
	return strings.ToLower(norm.NFC.String(s))
}

// Optional folds s, keeping nil as nil.
func Optional(s *string) *string {
	if s == nil {
		return nil
	}
	k := Key(*s)
	return &k
}
