package attention

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/imports"
)

// TestLatestFileCanceled: a file whose run an administrator canceled needs
// attention for that (not as a file not run), whatever the import's
// schedule, and with the canceled run; a file taken otherwise does not.
func TestLatestFileCanceled(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	arrived, canceledAt := now.Add(-time.Hour), now.Add(-30*time.Minute)
	runID := int64(7)
	slot := now.Add(14 * time.Hour)
	for _, c := range []struct {
		name string
		imp  imports.Import
		st   imports.RunState
		want []Code
	}{
		{"Canceled", imports.Import{FileDate: &arrived},
			imports.RunState{LatestTaken: true, LatestCanceledRun: &runID, LatestCanceledAt: &canceledAt}, []Code{LatestFileCanceled}},
		{"CanceledScheduled", imports.Import{FileDate: &arrived, ScheduleNextAt: &slot},
			imports.RunState{LatestTaken: true, LatestCanceledRun: &runID, LatestCanceledAt: &canceledAt}, []Code{LatestFileCanceled}},
		{"NotTaken", imports.Import{FileDate: &arrived}, imports.RunState{}, []Code{FileNotRun}},
		{"Taken", imports.Import{FileDate: &arrived}, imports.RunState{LatestTaken: true}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reasons := reasonsOf(&c.imp, c.st, now)
			var codes []Code
			for _, r := range reasons {
				codes = append(codes, r.Code)
				require.Contains(t, Codes, r.Code)
				if r.Code == LatestFileCanceled {
					require.Equal(t, runID, *r.RunID)
					require.Equal(t, canceledAt, *r.Since)
					require.Contains(t, r.Message, "run 7 of the latest file was canceled")
				}
			}
			require.Equal(t, c.want, codes)
		})
	}
}
