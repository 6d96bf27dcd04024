package imports

import (
	"context"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/internal/authz"
	"github.com/uptrace/bun"
)

// AttentionCode says why an import needs an administrator's attention.
type AttentionCode string

const (
	// AttentionFileNotRun: a file arrived more than a minute after the last
	// run and has not been applied.
	AttentionFileNotRun AttentionCode = "FILE_NOT_RUN"
	// AttentionLastRunFailed: the latest run failed; the data is as before.
	AttentionLastRunFailed AttentionCode = "LAST_RUN_FAILED"
	// AttentionLastRunHeld: the latest run is held for approval.
	AttentionLastRunHeld AttentionCode = "LAST_RUN_HELD"
	// AttentionFileMissing: a scheduled run found no new file.
	AttentionFileMissing AttentionCode = "FILE_MISSING"
	// AttentionLastRunReverted: the latest run undid an earlier one; the
	// data is as before that run until a corrected file is applied.
	AttentionLastRunReverted AttentionCode = "LAST_RUN_REVERTED"
)

// AttentionReason is one reason an import needs attention.
type AttentionReason struct {
	Code    AttentionCode
	Message string
	Since   *time.Time
	RunID   *int64
}

// attentionGrace is how far File Date may run ahead of Last Run before it
// matters (the product's "within a minute").
const attentionGrace = time.Minute

// attentionState is what the reasons are computed from, per import.
type attentionState struct {
	ImportID       int64      `bun:"import_id"`
	LastStatus     *RunStatus `bun:"last_status"`
	LastRunID      *int64     `bun:"last_run_id"`
	LastStatusAt   *time.Time `bun:"last_status_at"`
	LastMessage    *string    `bun:"last_message"`
	LastTrigger    *Trigger   `bun:"last_trigger"`
	LastReverts    *int64     `bun:"last_reverts"`
	LatestTaken    bool       `bun:"latest_taken"`
	HasQueuedOrRun bool       `bun:"has_active"`
}

// Attention returns why each of the imports needs attention, keyed by id
// (imports that need none are absent).
func (s *Service) Attention(ctx context.Context, imps []*Import) (map[int64][]AttentionReason, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	return attention(ctx, s.db, imps, s.now())
}

func attention(ctx context.Context, idb bun.IDB, imps []*Import, now time.Time) (map[int64][]AttentionReason, error) {
	ids := make([]int64, len(imps))
	for i, imp := range imps {
		ids[i] = imp.ID
	}
	var states []attentionState
	err := idb.NewRaw(`SELECT i.id AS import_id,
			lr.status AS last_status, lr.id AS last_run_id, coalesce(lr.finished_at, lr.queued_at) AS last_status_at,
			lr.message AS last_message, lr.trigger AS last_trigger, lr.reverts_run_id AS last_reverts,
			EXISTS (SELECT 1 FROM import_runs r WHERE r.file_id = i.latest_file_id AND NOT r.dry_run
				AND r.status <> 'CANCELED') AS latest_taken,
			EXISTS (SELECT 1 FROM import_runs r WHERE r.import_id = i.id AND r.status IN ('QUEUED', 'RUNNING')) AS has_active
		FROM imports i
		LEFT JOIN LATERAL (SELECT r.status, r.id, r.finished_at, r.queued_at, r.message, r.trigger, r.reverts_run_id FROM import_runs r
			WHERE r.import_id = i.id AND NOT r.dry_run AND r.status NOT IN ('QUEUED', 'RUNNING', 'CANCELED')
			ORDER BY r.id DESC LIMIT 1) lr ON true
		WHERE i.id IN (?)`, bun.List(ids)).Scan(ctx, &states)
	if err != nil {
		return nil, fmt.Errorf("attention: %w", err)
	}
	byID := make(map[int64]*Import, len(imps))
	for _, imp := range imps {
		byID[imp.ID] = imp
	}
	out := map[int64][]AttentionReason{}
	for _, st := range states {
		imp := byID[st.ImportID]
		var reasons []AttentionReason
		// A file no run has taken, a minute after it arrived. Scheduled
		// imports take their file at the next slot (and say so if the slot
		// finds none).
		if imp.FileDate != nil && !st.LatestTaken && !st.HasQueuedOrRun && imp.ScheduleNextAt == nil &&
			now.Sub(*imp.FileDate) > attentionGrace &&
			(imp.LastRunAt == nil || imp.FileDate.Sub(*imp.LastRunAt) > attentionGrace) {
			msg := fmt.Sprintf("a file arrived at %s and has not been applied", imp.FileDate.UTC().Format(time.RFC3339))
			if imp.LastRunAt != nil {
				msg += fmt.Sprintf(" (last run %s)", imp.LastRunAt.UTC().Format(time.RFC3339))
			}
			reasons = append(reasons, AttentionReason{Code: AttentionFileNotRun, Message: msg, Since: imp.FileDate})
		}
		if imp.ScheduleMissedAt != nil {
			reasons = append(reasons, AttentionReason{Code: AttentionFileMissing, Since: imp.ScheduleMissedAt,
				Message: fmt.Sprintf("expected file not received since %s (%s)",
					imp.ScheduleMissedAt.UTC().Format(time.RFC3339), imp.Schedule().Description())})
		}
		if st.LastStatus != nil {
			switch *st.LastStatus {
			case StatusFailed:
				reasons = append(reasons, AttentionReason{Code: AttentionLastRunFailed, RunID: st.LastRunID, Since: st.LastStatusAt,
					Message: fmt.Sprintf("the last run (%d) failed: %s", *st.LastRunID, deref(st.LastMessage))})
			case StatusHeld:
				reasons = append(reasons, AttentionReason{Code: AttentionLastRunHeld, RunID: st.LastRunID, Since: st.LastStatusAt,
					Message: fmt.Sprintf("run %d is held for approval: %s", *st.LastRunID, deref(st.LastMessage))})
			case StatusSucceeded:
				if st.LastTrigger != nil && *st.LastTrigger == TriggerRevert && st.LastReverts != nil {
					reasons = append(reasons, AttentionReason{Code: AttentionLastRunReverted, RunID: st.LastRunID, Since: st.LastStatusAt,
						Message: fmt.Sprintf("run %d was reverted: the data is as before it until a corrected file is applied", *st.LastReverts)})
				}
			}
		}
		if len(reasons) > 0 {
			out[st.ImportID] = reasons
		}
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
