package importjobs

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/imports"
)

// A first load into a segment of its own finds repeated keys after copying
// the rows, a batch at a time (apply/segment.go); one into the shared
// segment as it reads them. Both must end the same: same counts, same row
// errors, same warnings, same people. The file repeats 6,000 students
// exactly (more than one batch of repeated keys), gives one of them a third
// row with other values, has a new key on two different rows, rows whose
// values are refused (alone, repeated exactly, before a good row with
// their key), and an unreadable row with another student's key.
func TestFirstLoadRepeatsAreResolvedAlikeInBothSegments(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("student_id,first_name,last_name,grade,school,guardian1_phone\n")
	for pass := 0; pass < 2; pass++ {
		for i := range 6000 {
			fmt.Fprintf(&b, "S%05d,First%d,Last%d,%d,School %d,\n", i, i, i, i%12+1, i%7)
		}
	}
	b.WriteString("S00042,Other,Values,3,School 1,\n")
	b.WriteString("S07000,Two,Rows,9,School 1,\nS07000,Two,Rows,4,School 1,\n")
	// Refused values (a phone that is not one): once, repeated exactly,
	// and before a good row with the same key.
	b.WriteString("S07001,Bad,Phone,4,School 1,12\n")
	b.WriteString("S07002,Bad,Phone,4,School 1,12\nS07002,Bad,Phone,4,School 1,12\n")
	b.WriteString("S07003,Bad,Phone,4,School 1,12\nS07003,Good,Phone,4,School 1,\n")
	b.WriteString("S00077,\"unclosed\n")
	file := b.String()

	type outcome struct {
		Counts   any
		Errors   []string
		Warnings []string
		People   map[string]string
	}
	run := func(segmentRows int) outcome {
		f := newFixture(t, imports.CreateImportInput{})
		f.configure(func(cfg *imports.Config) { cfg.SegmentRows = segmentRows })
		r := f.runFile(file)
		require.Equal(t, imports.StatusSucceededWithErrors, r.Status, r.Message)
		var seg int64
		require.NoError(t, f.db.NewRaw(`SELECT segment_id FROM imports WHERE id = ?`, f.imp.ID).Scan(f.ctx, &seg))
		require.Equal(t, segmentRows > 0, seg > 0)
		o := outcome{Counts: counts(r), Warnings: r.Warnings, People: map[string]string{}}
		for _, e := range f.errors(r) {
			o.Errors = append(o.Errors, fmt.Sprintf("%d %s %s: %s", e.Line, deref(e.ColumnName), deref(e.Value), e.Message))
		}
		sort.Strings(o.Errors)
		for key, row := range f.snapshot() {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(row), &m))
			delete(m, "updated")
			s, _ := json.Marshal(m)
			o.People[key] = string(s)
		}
		return o
	}
	shared, own := run(0), run(1)
	require.Equal(t, shared, own)
	require.Len(t, own.People, 6000-1, "S00042 and S07000 conflict")
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
