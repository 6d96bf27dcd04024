package apply

import (
	"strconv"
)

// The pipeline writes COPY's text format itself rather than handing values
// to pgx's binary COPY: pgx looks up an encode plan for every value, which
// on a million rows of fifteen columns is seconds of CPU on the path that
// feeds the database. The format is simple: tab-separated, \N for NULL, and
// backslash escapes for backslash, tab, newline and carriage return.

const copyNull = `\N`

// appendCopyText appends s escaped for COPY's text format.
func appendCopyText[S ~string | ~[]byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendCopyOptional appends s, or NULL when it is empty.
func appendCopyOptional(b []byte, s string) []byte {
	if s == "" {
		return append(b, copyNull...)
	}
	return appendCopyText(b, s)
}

func appendCopyInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
