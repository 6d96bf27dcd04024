package graph_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/server/servertest"
)

// TestHostileRunShowsProgressAndStops: a run reading a file of endless
// blank lines (here below the compression-ratio limit, which is off) is
// seen to move while it reads, and cancelImportRun stops it in the middle
// of the file, not after reading all of it. It once sat at RUNNING with
// rowsRead 0, and reading could not be interrupted.
func TestHostileRunShowsProgressAndStops(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.MaxCompression = 0 }})
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "FULL")

	const blankLines = 2 << 30 // two gigabytes, about 2 MB compressed
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write([]byte(studentsCSV))
	require.NoError(t, err)
	block := bytes.Repeat([]byte{'\n'}, 1<<20)
	for range blankLines >> 20 {
		_, err = zw.Write(block)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())

	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id, "run": true}, "bomb.csv.gz", gz.Bytes())
	var up uploadOut
	resp.Decode(t, &up)
	runID := up.UploadImportFile.Run.ID

	type progressOut struct {
		ImportRun struct {
			Status   string
			Progress *struct {
				Phase         string
				RowsProcessed int64
				RowsTotal     *int64
			}
		}
	}
	var p progressOut
	require.Eventually(t, func() bool {
		s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { status progress { phase rowsProcessed rowsTotal } } }`, map[string]any{"id": runID}, &p)
		return p.ImportRun.Status == "RUNNING" && p.ImportRun.Progress != nil && p.ImportRun.Progress.RowsProcessed > 100
	}, time.Minute, 20*time.Millisecond, "the run shows it reads past the 10 rows, into the blank lines")
	require.Equal(t, "READING", p.ImportRun.Progress.Phase)

	var c struct{ CancelImportRun struct{ Status string } }
	s.MustQuery(t, token, `mutation($id: ID!) { cancelImportRun(id: $id) { status } }`, map[string]any{"id": runID}, &c)
	done := s.WaitRun(t, token, runID)
	require.Equal(t, "CANCELED", done.Status, done.Message)
	// It says how far it had read: well short of the end.
	var at, total int64
	_, err = fmt.Sscanf(done.Message, "canceled while reading the file, at line %d of about %d", &at, &total)
	require.NoError(t, err, done.Message)
	require.Greater(t, total, int64(blankLines))
	t.Logf("canceled at line %d of %d", at, total)
	// Canceled about a second into a file it reads in ten, it stops within
	// the first quarter (about 6% here); before, only the file's own
	// reader noticed, at about half.
	require.Less(t, at, total/4, "the run stopped early in the file")
	var cnt struct{ Import struct{ RecipientCount int } }
	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { recipientCount } }`, map[string]any{"id": id}, &cnt)
	require.Zero(t, cnt.Import.RecipientCount, "nothing applied")
	require.NotContains(t, strings.ToLower(done.Message), "internal")
}
