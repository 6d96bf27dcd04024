package lists

import (
	"context"
	"fmt"
	"io"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
)

// Every read of a list's people goes through the recipients package with
// a condition saying who the list holds; that package adds the viewer's
// scope (removed people out, the viewer's restriction in) to each.

// membership is who list l holds: the people its rule matches or who were
// added by hand, less those skipped by hand.
func membership(l *List) (recipients.Cond, error) {
	f, err := l.DecodedFilter()
	if err != nil {
		return recipients.Cond{}, err
	}
	member := recipients.Nobody()
	if f != nil {
		member = recipients.Matching("filter", f)
	}
	if l.HasAdditions {
		member = recipients.Or(member, recipients.AddedTo(l.ID))
	}
	if l.HasExclusions {
		member = recipients.And(member, recipients.Not(recipients.SkippedFrom(l.ID)))
	}
	return member, nil
}

// Members returns a page of a list's members the viewer may see.
func (s *Service) Members(ctx context.Context, l *List, o recipients.Order, parts recipients.Parts, req page.Request) (page.Page[recipients.Recipient], error) {
	c, err := membership(l)
	if err != nil {
		return page.Page[recipients.Recipient]{}, err
	}
	return s.recipients.Select(ctx, c, o, parts, req)
}

// MemberCount counts a list's members the viewer may see.
func (s *Service) MemberCount(ctx context.Context, l *List) (int, error) {
	counts, err := s.MemberCounts(ctx, []*List{l})
	if err != nil {
		return 0, err
	}
	return counts[l.ID], nil
}

// MemberCounts counts the members of several lists in one statement (for a
// page of lists: one query, not one per list).
func (s *Service) MemberCounts(ctx context.Context, ls []*List) (map[int64]int, error) {
	conds := make([]recipients.Cond, len(ls))
	for i, l := range ls {
		c, err := membership(l)
		if err != nil {
			return nil, err
		}
		conds[i] = c
	}
	counts, err := s.recipients.CountEach(ctx, conds)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int, len(ls))
	for i, l := range ls {
		out[l.ID] = counts[i]
	}
	return out, nil
}

// Preview is what a filter selects, before a list is saved.
type Preview struct {
	Count      int
	Recipients []recipients.Recipient
}

// Preview counts and returns the first page of what f selects for the
// viewer, without saving anything.
func (s *Service) Preview(ctx context.Context, f *recipients.Filter, o recipients.Order, parts recipients.Parts, first *int) (*Preview, error) {
	if _, err := authz.RequireViewer(ctx); err != nil {
		return nil, err
	}
	if err := recipients.ValidateFilter("filter", f); err != nil {
		return nil, err
	}
	req, err := page.New(first, nil)
	if err != nil {
		return nil, err
	}
	c := recipients.Matching("filter", f)
	n, err := s.recipients.CountOf(ctx, c)
	if err != nil {
		return nil, err
	}
	pg, err := s.recipients.Select(ctx, c, o, parts, req)
	if err != nil {
		return nil, err
	}
	return &Preview{Count: n, Recipients: pg.Items}, nil
}

// ExportCSV streams a list's members as the viewer sees them, with their
// phones and emails, for reporting tools.
func (s *Service) ExportCSV(ctx context.Context, id int64, w io.Writer) error {
	_, l, err := s.load(ctx, s.db, id, accessRead)
	if err != nil {
		return err
	}
	c, err := membership(l)
	if err != nil {
		return err
	}
	return s.recipients.ExportCSV(ctx, c, w)
}

// ContactPoints returns a page of the phone numbers or email addresses of a
// list's members (as the viewer sees them), each once, with the members it
// reaches: what a messaging system needs to send to the list.
func (s *Service) ContactPoints(ctx context.Context, l *List, kind recipients.ContactKind, req page.Request) (page.Page[recipients.ContactPoint], error) {
	c, err := membership(l)
	if err != nil {
		return page.Page[recipients.ContactPoint]{}, err
	}
	return s.recipients.ContactPoints(ctx, c, kind, req)
}

// CountContactPoints counts a list's distinct phones or emails.
func (s *Service) CountContactPoints(ctx context.Context, l *List, kind recipients.ContactKind) (int, error) {
	c, err := membership(l)
	if err != nil {
		return 0, err
	}
	return s.recipients.CountContactPoints(ctx, c, kind)
}

// Additions returns a page of the people added to the list by hand, as
// the viewer sees them. A removed person stays in the table (a run that
// restores them brings them back to the list) but is shown to no one.
func (s *Service) Additions(ctx context.Context, l *List, parts recipients.Parts, req page.Request) (page.Page[recipients.Recipient], error) {
	return s.recipients.Select(ctx, recipients.AddedTo(l.ID), recipients.OrderLastName, parts, req)
}

// CountAdditions counts what Additions pages through.
func (s *Service) CountAdditions(ctx context.Context, l *List) (int, error) {
	return s.recipients.CountOf(ctx, recipients.AddedTo(l.ID))
}

// Exclusions returns a page of the people skipped by hand, as Additions.
func (s *Service) Exclusions(ctx context.Context, l *List, parts recipients.Parts, req page.Request) (page.Page[recipients.Recipient], error) {
	return s.recipients.Select(ctx, recipients.SkippedFrom(l.ID), recipients.OrderLastName, parts, req)
}

// CountExclusions counts what Exclusions pages through.
func (s *Service) CountExclusions(ctx context.Context, l *List) (int, error) {
	return s.recipients.CountOf(ctx, recipients.SkippedFrom(l.ID))
}

// CanEdit reports whether the viewer may change l.
func (s *Service) CanEdit(ctx context.Context, l *List) bool {
	v := authz.ViewerFrom(ctx)
	return v != nil && (v.IsAdmin() || v.UserID == l.OwnerID)
}

// Impact is how removing some recipients would change a list.
type Impact struct {
	List          *List
	MembersBefore int
	MembersAfter  int
}

// ImpactOfRemoving returns the lists whose membership would shrink if the
// active recipients of importID were removed, with their member counts
// before and after, as an administrator counts them (no restriction). One
// statement counts every list, in tx (the delete's own transaction, so the
// report and the removal see the same rows).
func ImpactOfRemoving(ctx context.Context, tx bun.Tx, importID int64) ([]Impact, error) {
	var all []List
	if err := selectLists(tx.NewSelect().Model(&all)).OrderExpr("l.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	conds := make([]recipients.Cond, len(all))
	for i := range all {
		c, err := membership(&all[i])
		if err != nil {
			return nil, err
		}
		conds[i] = c
	}
	before, lost, err := recipients.AdminCountEach(ctx, tx.Tx, conds, recipients.InImport(importID))
	if err != nil {
		return nil, fmt.Errorf("count list members: %w", err)
	}
	var out []Impact
	for i := range all {
		if lost[i] > 0 {
			out = append(out, Impact{List: &all[i], MembersBefore: before[i], MembersAfter: before[i] - lost[i]})
		}
	}
	return out, nil
}
