package oneroster

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/importfile"
)

type entry struct {
	name, content string
	size          int // for a bomb: this many zero bytes instead of content
}

func zipBytes(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		require.NoError(t, err)
		if e.size > 0 {
			_, err = io.Copy(w, io.LimitReader(zeros{}, int64(e.size)))
		} else {
			_, err = io.WriteString(w, e.content)
		}
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var testLimits = importfile.Limits{MaxDecompressedBytes: 8 << 20, MaxCompressionRatio: 100, MaxLineBytes: 1 << 20, MaxColumns: 1000}

func openBytes(t *testing.T, b []byte) (*Archive, error) {
	t.Helper()
	return OpenArchive(bytes.NewReader(b), int64(len(b)), testLimits)
}

func fileErr(t *testing.T, err error) *importfile.FileError {
	t.Helper()
	var fe *importfile.FileError
	require.True(t, errors.As(err, &fe), "want a file error, got %v", err)
	return fe
}

func TestArchiveRefusesWhatIsNotAZip(t *testing.T) {
	t.Parallel()
	_, err := openBytes(t, []byte("sourcedId,name\n1,x\n"))
	require.Contains(t, fileErr(t, err).Message, "not a zip archive")
	// Cut short: the directory at the end is missing.
	b := zipBytes(t, entry{name: "manifest.csv", content: "propertyName,value\n"})
	_, err = openBytes(t, b[:len(b)-30])
	require.Contains(t, fileErr(t, err).Message, "cut short")
}

func TestArchiveBombFailsWithinTheLimit(t *testing.T) {
	t.Parallel()
	// 64 MB of zeros compress to about 64 KB: well past the 8 MB limit.
	b := zipBytes(t, entry{name: "users.csv", size: 64 << 20})
	require.Less(t, len(b), 200<<10)
	a, err := openBytes(t, b)
	require.NoError(t, err)
	// The directory declares the size: refused before reading.
	_, err = a.Open("users.csv")
	require.Contains(t, fileErr(t, err).Message, "expands to more than 8.0 MB")

	// A directory that lies about the size: refused while reading, having
	// expanded no further than the limit.
	lying := lieAboutSize(t, b, "users.csv", 100)
	a, err = openBytes(t, lying)
	require.NoError(t, err)
	rc, err := a.Open("users.csv")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, rc)
	require.Error(t, err)
	require.LessOrEqual(t, n, int64(testLimits.MaxDecompressedBytes)+64<<10)
	require.LessOrEqual(t, a.expanded, int64(testLimits.MaxDecompressedBytes)+64<<10)
}

// lieAboutSize rewrites the uncompressed size the central directory
// declares for name (a crafted bomb's trick).
func lieAboutSize(t *testing.T, b []byte, name string, size uint32) []byte {
	t.Helper()
	out := bytes.Clone(b)
	sig := []byte("PK\x01\x02")
	for i := bytes.Index(out, sig); i >= 0; {
		nameLen := int(out[i+28]) | int(out[i+29])<<8
		if string(out[i+46:i+46+nameLen]) == name {
			out[i+24], out[i+25], out[i+26], out[i+27] = byte(size), byte(size>>8), byte(size>>16), byte(size>>24)
			return out
		}
		next := bytes.Index(out[i+4:], sig)
		if next < 0 {
			break
		}
		i += 4 + next
	}
	t.Fatalf("%s not in the directory", name)
	return nil
}

func TestArchiveRefusesAHugeDirectory(t *testing.T) {
	t.Parallel()
	entries := make([]entry, maxEntries+1)
	for i := range entries {
		entries[i] = entry{name: fmt.Sprintf("f%d.csv", i)}
	}
	_, err := openBytes(t, zipBytes(t, entries...))
	require.Contains(t, fileErr(t, err).Message, fmt.Sprintf("lists %d entries", maxEntries+1))
}

func TestArchiveFindsFilesInAFolder(t *testing.T) {
	t.Parallel()
	a, err := openBytes(t, zipBytes(t, entry{name: "export/manifest.csv", content: "x"}, entry{name: "__MACOSX/export/._manifest.csv", content: "y"}))
	require.NoError(t, err)
	require.True(t, a.Has("manifest.csv"))
	require.Equal(t, []string{"manifest.csv"}, a.Names())
	_, err = openBytes(t, zipBytes(t, entry{name: "a/users.csv", content: "x"}, entry{name: "b/users.csv", content: "y"}))
	require.Contains(t, fileErr(t, err).Message, "holds users.csv twice")
}

func manifestOf(version string, modes ...string) string {
	var b strings.Builder
	b.WriteString("propertyName,value\nmanifest.version,1.0\n")
	if version != "" {
		b.WriteString("oneroster.version," + version + "\n")
	}
	for i := 0; i+1 < len(modes); i += 2 {
		b.WriteString("file." + modes[i] + "," + modes[i+1] + "\n")
	}
	return b.String()
}

func TestReadManifest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		entries []entry
		want    string // error message part; "" for none
	}{
		{"1.1", []entry{{name: "manifest.csv", content: manifestOf("1.1", "users", "bulk", "orgs", "delta", "classes", "absent")}, {name: "users.csv"}, {name: "orgs.csv"}}, ""},
		{"1.2 with a BOM and CRLF", []entry{{name: "manifest.csv", content: "\uFEFF" + strings.ReplaceAll(manifestOf("1.2", "users", "bulk"), "\n", "\r\n")}, {name: "users.csv"}}, ""},
		{"no manifest", []entry{{name: "users.csv"}}, "no manifest.csv"},
		{"unknown version", []entry{{name: "manifest.csv", content: manifestOf("1.0", "users", "bulk")}, {name: "users.csv"}}, `oneroster.version is "1.0"`},
		{"no version", []entry{{name: "manifest.csv", content: manifestOf("", "users", "bulk")}, {name: "users.csv"}}, "no oneroster.version"},
		{"declared file missing", []entry{{name: "manifest.csv", content: manifestOf("1.1", "users", "bulk", "enrollments", "delta")}, {name: "users.csv"}}, "declares enrollments.csv (delta) but the zip does not hold it"},
		{"bad mode", []entry{{name: "manifest.csv", content: manifestOf("1.1", "users", "full")}}, `file.users is "full"`},
		{"bad header", []entry{{name: "manifest.csv", content: "name,value\noneroster.version,1.1\n"}}, "lacks propertyName"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, err := openBytes(t, zipBytes(t, c.entries...))
			require.NoError(t, err)
			m, err := ReadManifest(a, testLimits)
			if c.want != "" {
				require.Contains(t, fileErr(t, err).Message, c.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, Bulk, m.Mode("users"))
			require.Equal(t, Absent, m.Mode("courses"))
		})
	}
}

func TestHeaderMatching(t *testing.T) {
	t.Parallel()
	// 1.1: any case; 1.2: as the standard spells it.
	header := []string{"SourcedId", "givenname", "familyName", "orgSourcedIds", "role"}
	idx, err := match("users.csv", header, users11Entity.columns, users11Entity.required, false)
	require.NoError(t, err)
	require.Equal(t, 0, idx[0])
	_, err = match("users.csv", header, users12Entity.columns, users12Entity.required, true)
	fe := fileErr(t, err)
	require.Equal(t, "users.csv", fe.File)
	require.Equal(t, "sourcedId", fe.Column)
	require.Contains(t, fe.Message, "lacks sourcedId, givenName")
	require.Contains(t, fe.Message, "case-sensitive")
}

// understate rewrites the end-of-directory record to declare 7 entries and
// a 1 KB directory, whatever the archive holds (archive/zip reads the
// records that are there).
func understate(t *testing.T, b []byte) []byte {
	t.Helper()
	out := bytes.Clone(b)
	at := bytes.LastIndex(out, []byte("PK\x05\x06"))
	require.GreaterOrEqual(t, at, 0)
	binary.LittleEndian.PutUint16(out[at+8:], 7)
	binary.LittleEndian.PutUint16(out[at+10:], 7)
	binary.LittleEndian.PutUint32(out[at+12:], 1024)
	return out
}

func TestArchiveRefusesADirectoryLongerThanItDeclares(t *testing.T) {
	t.Parallel()
	many := func(n int) []byte {
		entries := make([]entry, n)
		for i := range entries {
			entries[i] = entry{name: fmt.Sprintf("padding-%06d.csv", i)}
		}
		return zipBytes(t, entries...)
	}
	// Refused, whichever check sees it first.
	for _, n := range []int{maxEntries + 500, 40000} {
		_, err := openBytes(t, understate(t, many(n)))
		fileErr(t, err)
	}
	// What bounds the reads while the directory is opened.
	b := &budgetReaderAt{r: bytes.NewReader(make([]byte, 100)), left: 60}
	n, err := b.ReadAt(make([]byte, 50), 0)
	require.NoError(t, err)
	require.Equal(t, 50, n)
	_, err = b.ReadAt(make([]byte, 20), 50)
	require.ErrorIs(t, err, errOverBudget)
	require.Less(t, b.left, int64(0))
	b.left = -1 // unbounded
	n, err = b.ReadAt(make([]byte, 100), 0)
	require.NoError(t, err)
	require.Equal(t, 100, n)
}

func TestArchiveRefusesGzipInside(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte("sourcedId,name\n"))
	require.NoError(t, w.Close())
	a, err := openBytes(t, zipBytes(t, entry{name: "orgs.csv", content: gz.String()}))
	require.NoError(t, err)
	_, err = a.Open("orgs.csv")
	require.Contains(t, fileErr(t, err).Message, "gzip-compressed inside the zip")
}

func TestReadManifestRefusesAHugeOne(t *testing.T) {
	t.Parallel()
	big := manifestOf("1.1", "users", "bulk") + strings.Repeat("x.property,value\n", 10000)
	a, err := openBytes(t, zipBytes(t, entry{name: "manifest.csv", content: big}, entry{name: "users.csv"}))
	require.NoError(t, err)
	_, err = ReadManifest(a, testLimits)
	require.Contains(t, fileErr(t, err).Message, "manifest.csv is larger than 64.0 KB")
}
