package bench

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/internal/districtgen"
)

// BenchmarkHostileFile uploads the compression bomb of the report that
// took a node to 19 GB (50 valid rows, then 2.1 billion blank lines: 2 MB
// compressed) to a running server, twice: with the default limits (the
// compression ratio stops it) and with the ratio limit off (only the
// reading itself bounds it: the run reads every line). It reports how
// long each run took to end and how much the server's resident memory
// grew at its peak.
//
//	go test ./internal/bench -run '^$' -bench HostileFile -benchtime 1x -v
func BenchmarkHostileFile(b *testing.B) {
	e := setupEnv(b)
	blank := int64(envInt("ROLLCALL_BENCH_BLANK_LINES", 2_100_000_000))
	path := filepath.Join(e.dir, "bomb.csv.gz")
	var head bytes.Buffer
	if err := districtgen.Write(&head, districtgen.Options{Rows: 50, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	writeFile(b, path, func(f *os.File) error {
		zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(head.Bytes()); err != nil {
			return err
		}
		block := bytes.Repeat([]byte{'\n'}, 1<<20)
		for n := blank; n > 0; n -= int64(len(block)) {
			if _, err := zw.Write(block[:min(n, int64(len(block)))]); err != nil {
				return err
			}
		}
		return zw.Close()
	})
	st, _ := os.Stat(path)
	b.Logf("bomb: %d rows, then %d blank lines; %.1f MB compressed", 50, blank, float64(st.Size())/(1<<20))

	for b.Loop() {
		for _, c := range []struct {
			name string
			env  []string
		}{
			{"default limits", nil},
			{"ratio limit off", []string{"ROLLCALL_MAX_COMPRESSION_RATIO=0"}},
		} {
			s := e.serve(b, e.database(b, "bomb"+strings.ReplaceAll(c.name, " ", "_")), c.env...)
			var created struct{ CreateImport struct{ ID string } }
			s.graphql(b, `mutation { createImport(input: {name: "SIS", method: FULL}) { id } }`, nil, &created)
			time.Sleep(500 * time.Millisecond) // let the server settle before measuring memory
			before := s.rss()
			peak := s.peakRSS()
			start := time.Now()
			runID, uploaded := upload(b, s, created.CreateImport.ID, path)
			status, message := s.end(b, runID)
			took := time.Since(start)
			grew := float64(peak()-before) / (1 << 20)
			b.Logf("%-16s upload %5.1f s, run ended after %6.1f s: %s (%s); server RSS grew %.0f MB at most",
				c.name, uploaded.Seconds(), took.Seconds(), status, message, grew)
			b.ReportMetric(grew, strings.ReplaceAll(c.name, " ", "_")+"_rss_MB")
			b.ReportMetric(took.Seconds(), strings.ReplaceAll(c.name, " ", "_")+"_s")
			s.stop()
		}
	}
}

// end polls a run until it ends and returns its status and message.
func (s *server) end(b *testing.B, runID string) (string, string) {
	b.Helper()
	for {
		var out struct {
			ImportRun struct{ Status, Message string }
		}
		s.graphql(b, `query($id: ID!) { importRun(id: $id) { status message } }`, map[string]any{"id": runID}, &out)
		if out.ImportRun.Status != "QUEUED" && out.ImportRun.Status != "RUNNING" {
			return out.ImportRun.Status, out.ImportRun.Message
		}
		time.Sleep(20 * time.Millisecond)
	}
}
