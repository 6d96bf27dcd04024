package importfile

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzRecordReader: any bytes give records or errors, never a panic, and
// every record's fields are valid UTF-8 without NUL (what COPY needs).
func FuzzRecordReader(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "\xef\xbb\xbfid;name\r\n1;Jos\xe9\r\n", "\"a\nb\",c\n", "x\"y,z\n", "\x1f\x8b\x08", "\x00", "a\tb\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rr, err := NewReader(bytes.NewReader(b), &Notes{}, false, DefaultLimits(1<<30))
		if err != nil {
			return
		}
		for range 1000 {
			rec, _, err := rr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			var fe *FileError
			if errors.As(err, &fe) {
				return
			}
			for _, field := range rec {
				require.NotContains(t, field, "\x00")
				require.True(t, utf8.ValidString(field), "%q", field)
			}
		}
	})
}
