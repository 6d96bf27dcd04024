package importfile

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRejectKeepsValuesValidUTF8: a long rejected value is shortened at a
// character boundary, whatever its bytes, so the run's errors can be
// stored as text.
func TestRejectKeepsValuesValidUTF8(t *testing.T) {
	for _, prefix := range []string{"", "a", "ab", "abc"} {
		var n Notes
		value := prefix + strings.Repeat("é€😀", 100)
		n.Reject(RowError{Line: 2, Value: value})
		got := n.Errors[0].Value
		if !utf8.ValidString(got) {
			t.Fatalf("prefix %q: stored value is not valid UTF-8: %q", prefix, got)
		}
		if !strings.HasSuffix(got, "…") || len(got) > maxValueLength+len("…") || len(got) < maxValueLength-3 {
			t.Fatalf("prefix %q: value cut to %d bytes: %q", prefix, len(got), got)
		}
		if !strings.HasPrefix(value, strings.TrimSuffix(got, "…")) {
			t.Fatalf("prefix %q: stored value is not a prefix of the original", prefix)
		}
	}
}
