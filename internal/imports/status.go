package imports

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/page"
)

// SystemStatus is the administrator's dashboard: what needs attention now.
type SystemStatus struct {
	// ImportsNeedingAttention, by name, with their reasons.
	ImportsNeedingAttention []Import
	// RecentProblemRuns failed or were held in the last 24 hours, newest
	// first.
	RecentProblemRuns []Run
	// ActiveRuns are queued, running or held now.
	ActiveRuns []Run
	// OldestDataImport is the import whose data is oldest: the earliest Last
	// Run among imports that have run.
	OldestDataImport *Import
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

// allImports returns every import, by name.
func (s *Service) allImports(ctx context.Context) ([]Import, error) {
	var out []Import
	if err := s.db.NewSelect().Model(&out).Where("deleted_at IS NULL").OrderExpr("lower(btrim(name)), id").Limit(maxImports).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list imports: %w", err)
	}
	return out, nil
}

// needingAttention filters imps to those with reasons.
func (s *Service) needingAttention(ctx context.Context, imps []Import, want bool) ([]Import, error) {
	ptrs := make([]*Import, len(imps))
	for i := range imps {
		ptrs[i] = &imps[i]
	}
	if len(ptrs) == 0 {
		return nil, nil
	}
	reasons, err := attention(ctx, s.db, ptrs, s.now())
	if err != nil {
		return nil, err
	}
	var out []Import
	for _, imp := range imps {
		if (len(reasons[imp.ID]) > 0) == want {
			out = append(out, imp)
		}
	}
	return out, nil
}

// ListByAttention returns a page of the imports that need attention (or,
// with want false, that do not), by name.
func (s *Service) ListByAttention(ctx context.Context, req page.Request, want bool) (page.Page[Import], error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return page.Page[Import]{}, err
	}
	var c importCursor
	if err := req.Cursor(&c); err != nil {
		return page.Page[Import]{}, err
	}
	all, err := s.allImports(ctx)
	if err != nil {
		return page.Page[Import]{}, err
	}
	matching, err := s.needingAttention(ctx, all, want)
	if err != nil {
		return page.Page[Import]{}, err
	}
	start := 0
	if req.HasCursor() {
		start = sort.Search(len(matching), func(i int) bool {
			n := strings.ToLower(strings.TrimSpace(matching[i].Name))
			return n > c.Name || n == c.Name && matching[i].ID > c.ID
		})
	}
	rows := matching[start:]
	if int64(len(rows)) > req.Limit() {
		rows = rows[:req.Limit()]
	}
	return page.Trim(req, rows), nil
}

// CountByAttention counts the imports that need attention (or not).
func (s *Service) CountByAttention(ctx context.Context, want bool) (int, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return 0, err
	}
	all, err := s.allImports(ctx)
	if err != nil {
		return 0, err
	}
	matching, err := s.needingAttention(ctx, all, want)
	return len(matching), err
}

// SystemStatus gathers the dashboard.
func (s *Service) SystemStatus(ctx context.Context) (*SystemStatus, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	st := &SystemStatus{CheckedAt: now}
	all, err := s.allImports(ctx)
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
	if err := s.db.NewSelect().Model(&st.RecentProblemRuns).
		Where("status IN (?, ?)", StatusFailed, StatusHeld).Where("NOT dry_run").
		Where("coalesce(finished_at, queued_at) > ?", now.Add(-24*time.Hour)).
		OrderExpr("id DESC").Limit(100).Scan(ctx); err != nil {
		return nil, fmt.Errorf("problem runs: %w", err)
	}
	if err := s.db.NewSelect().Model(&st.ActiveRuns).
		Where("status IN (?, ?, ?)", StatusQueued, StatusRunning, StatusHeld).OrderExpr("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("active runs: %w", err)
	}
	return st, nil
}
