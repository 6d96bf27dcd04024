package attention

import (
	"context"
	"sort"
	"time"

	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/page"
)

// SystemStatus is the administrator's dashboard: what needs attention now.
type SystemStatus struct {
	// ImportsNeedingAttention, by name, with their reasons.
	ImportsNeedingAttention []imports.Import
	// RecentProblemRuns failed or were held in the last 24 hours, newest
	// first.
	RecentProblemRuns []imports.Run
	// ActiveRuns are queued, running or held now.
	ActiveRuns []imports.Run
	// OldestDataImport is the import whose data is oldest: the earliest Last
	// Run among imports that have run.
	OldestDataImport *imports.Import
	OldestDataAt     *time.Time
	CheckedAt        time.Time
}

// OldestDataAgeSeconds is how old the oldest data is.
func (s *SystemStatus) OldestDataAgeSeconds() *int {
	if s.OldestDataAt == nil {
		return nil
	}
	age := int(s.CheckedAt.Sub(*s.OldestDataAt).Seconds())
	return &age
}

// maxImports bounds the imports a dashboard looks at; a district has tens.
const maxImports = 10000

// liveImports returns the imports that are not deleted, by name.
func (s *Service) liveImports(ctx context.Context) ([]imports.Import, error) {
	return imports.LiveImports(ctx, s.db, maxImports)
}

// needingAttention filters all to the imports that need attention (want)
// or not (!want).
func (s *Service) needingAttention(ctx context.Context, all []imports.Import, want bool) ([]imports.Import, error) {
	if len(all) == 0 {
		return nil, nil
	}
	ptrs := make([]*imports.Import, len(all))
	for i := range all {
		ptrs[i] = &all[i]
	}
	reasons, err := s.reasons(ctx, ptrs)
	if err != nil {
		return nil, err
	}
	var out []imports.Import
	for _, imp := range all {
		if (len(reasons[imp.ID]) > 0) == want {
			out = append(out, imp)
		}
	}
	return out, nil
}

// ListImports returns a page of imports by name: with needsAttention,
// those that need attention (or, false, those that do not, deleted ones
// never); else all of them, deleted ones only with includeDeleted
// (administrators only).
func (s *Service) ListImports(ctx context.Context, req page.Request, needsAttention *bool, includeDeleted bool) (page.Page[imports.Import], error) {
	if needsAttention == nil {
		return s.imports.List(ctx, req, includeDeleted)
	}
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return page.Page[imports.Import]{}, err
	}
	after, err := imports.ImportsAfter(req)
	if err != nil {
		return page.Page[imports.Import]{}, err
	}
	all, err := s.liveImports(ctx)
	if err != nil {
		return page.Page[imports.Import]{}, err
	}
	matching, err := s.needingAttention(ctx, all, *needsAttention)
	if err != nil {
		return page.Page[imports.Import]{}, err
	}
	rows := matching[sort.Search(len(matching), func(i int) bool { return after(matching[i]) }):]
	if int64(len(rows)) > req.Limit() {
		rows = rows[:req.Limit()]
	}
	return page.Trim(req, rows), nil
}

// CountImports counts the imports ListImports pages through.
func (s *Service) CountImports(ctx context.Context, needsAttention *bool, includeDeleted bool) (int, error) {
	if needsAttention == nil {
		return s.imports.Count(ctx, includeDeleted)
	}
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return 0, err
	}
	all, err := s.liveImports(ctx)
	if err != nil {
		return 0, err
	}
	matching, err := s.needingAttention(ctx, all, *needsAttention)
	return len(matching), err
}

// SystemStatus gathers the dashboard.
func (s *Service) SystemStatus(ctx context.Context) (*SystemStatus, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	st := &SystemStatus{CheckedAt: now}
	all, err := s.liveImports(ctx)
	if err != nil {
		return nil, err
	}
	if st.ImportsNeedingAttention, err = s.needingAttention(ctx, all, true); err != nil {
		return nil, err
	}
	for i := range all {
		imp := &all[i]
		if imp.LastRunAt != nil && (st.OldestDataAt == nil || imp.LastRunAt.Before(*st.OldestDataAt)) {
			st.OldestDataImport, st.OldestDataAt = imp, imp.LastRunAt
		}
	}
	if st.RecentProblemRuns, err = imports.RecentProblemRuns(ctx, s.db, now.Add(-24*time.Hour)); err != nil {
		return nil, err
	}
	if st.ActiveRuns, err = imports.ActiveRuns(ctx, s.db); err != nil {
		return nil, err
	}
	return st, nil
}
