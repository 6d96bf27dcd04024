// Package attention says which imports need an administrator's attention,
// and why, and gathers the administrator's dashboard (the system status):
// the product's "Last Run and File Date differ by more than a minute", a
// failed or held run, a scheduled file that never came, a reverted run, a
// file whose run an administrator canceled.
package attention

import (
	"context"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/opt"
)

// Code says why an import needs an administrator's attention.
type Code string

const (
	// FileNotRun: a file arrived more than a minute after the last run and
	// has not been applied.
	FileNotRun Code = "FILE_NOT_RUN"
	// LastRunFailed: the latest run failed; the data is as before.
	LastRunFailed Code = "LAST_RUN_FAILED"
	// LastRunHeld: the latest run is held for approval.
	LastRunHeld Code = "LAST_RUN_HELD"
	// FileMissing: a scheduled run found no new file.
	FileMissing Code = "FILE_MISSING"
	// LastRunReverted: the latest run undid an earlier one; the data is as
	// before that run until a corrected file is applied.
	LastRunReverted Code = "LAST_RUN_REVERTED"
	// LatestFileCanceled: an administrator canceled the latest file's run
	// (a held one, say): no schedule or upload runs that file again, until
	// a new file arrives or an administrator runs it by hand.
	LatestFileCanceled Code = "LATEST_FILE_CANCELED"
)

// Codes is every code, in the order reasons are given.
var Codes = []Code{FileNotRun, LatestFileCanceled, FileMissing, LastRunFailed, LastRunHeld, LastRunReverted}

// Reason is one reason an import needs attention.
type Reason struct {
	Code    Code
	Message string
	Since   *time.Time
	RunID   *int64
}

// grace is how far File Date may run ahead of Last Run before it matters
// (the product's "within a minute").
const grace = time.Minute

// Service answers what needs attention (administrators only: imports are
// system data).
type Service struct {
	db      *db.DB
	imports *imports.Service
	now     func() time.Time
}

// NewService returns a Service over the imports of svc.
func NewService(d *db.DB, svc *imports.Service, now func() time.Time) *Service {
	return &Service{db: d, imports: svc, now: now}
}

// Reasons returns why each of the imports needs attention, keyed by id
// (imports that need none are absent).
func (s *Service) Reasons(ctx context.Context, imps []*imports.Import) (map[int64][]Reason, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.reasons(ctx, imps)
}

func (s *Service) reasons(ctx context.Context, imps []*imports.Import) (map[int64][]Reason, error) {
	ids := make([]int64, len(imps))
	byID := make(map[int64]*imports.Import, len(imps))
	for i, imp := range imps {
		ids[i], byID[imp.ID] = imp.ID, imp
	}
	states, err := imports.RunStates(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := map[int64][]Reason{}
	for _, st := range states {
		if reasons := reasonsOf(byID[st.ImportID], st, now); len(reasons) > 0 {
			out[st.ImportID] = reasons
		}
	}
	return out, nil
}

// reasonsOf is why imp, whose runs are as st says, needs attention at now.
func reasonsOf(imp *imports.Import, st imports.RunState, now time.Time) []Reason {
	var reasons []Reason
	// A file no run has taken, a minute after it arrived. Scheduled imports
	// take their file at the next slot (and say so if the slot finds none).
	if imp.FileDate != nil && !st.LatestTaken && !st.HasQueuedOrRunning && imp.ScheduleNextAt == nil &&
		now.Sub(*imp.FileDate) > grace &&
		(imp.LastRunAt == nil || imp.FileDate.Sub(*imp.LastRunAt) > grace) {
		msg := fmt.Sprintf("a file arrived at %s and has not been applied", imp.FileDate.UTC().Format(time.RFC3339))
		if imp.LastRunAt != nil {
			msg += fmt.Sprintf(" (last run %s)", imp.LastRunAt.UTC().Format(time.RFC3339))
		}
		reasons = append(reasons, Reason{Code: FileNotRun, Message: msg, Since: imp.FileDate})
	}
	// A file no run took because an administrator canceled its run (the
	// scheduler leaves it: imports.takesFile).
	if st.LatestCanceledRun != nil {
		reasons = append(reasons, Reason{Code: LatestFileCanceled, RunID: st.LatestCanceledRun, Since: st.LatestCanceledAt,
			Message: fmt.Sprintf("run %d of the latest file was canceled: no schedule or upload will run that file; upload a new file, or run it by hand",
				*st.LatestCanceledRun)})
	}
	if imp.ScheduleMissedAt != nil {
		reasons = append(reasons, Reason{Code: FileMissing, Since: imp.ScheduleMissedAt,
			Message: fmt.Sprintf("expected file not received since %s (%s)",
				imp.ScheduleMissedAt.UTC().Format(time.RFC3339), imp.Schedule().Description())})
	}
	if st.LastStatus == nil {
		return reasons
	}
	id, message := *st.LastRunID, opt.Deref(st.LastMessage)
	switch *st.LastStatus {
	case imports.StatusFailed:
		reasons = append(reasons, Reason{Code: LastRunFailed, RunID: st.LastRunID, Since: st.LastStatusAt,
			Message: fmt.Sprintf("the last run (%d) failed: %s", id, message)})
	case imports.StatusHeld:
		reasons = append(reasons, Reason{Code: LastRunHeld, RunID: st.LastRunID, Since: st.LastStatusAt,
			Message: fmt.Sprintf("run %d is held for approval: %s", id, message)})
	case imports.StatusSucceeded:
		if st.LastTrigger != nil && *st.LastTrigger == imports.TriggerRevert && st.LastReverts != nil {
			reasons = append(reasons, Reason{Code: LastRunReverted, RunID: st.LastRunID, Since: st.LastStatusAt,
				Message: fmt.Sprintf("run %d was reverted: the data is as before it until a corrected file is applied", *st.LastReverts)})
		}
	}
	return reasons
}
