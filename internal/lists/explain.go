package lists

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rollcall/rollcall/internal/recipients"
)

// parts splits a filter into its top-level conditions, one filter each, so
// that each can be tested and described on its own.
func parts(f *recipients.Filter) []recipients.Filter {
	var out []recipients.Filter
	one := func(g recipients.Filter) { out = append(out, g) }
	if f.All != nil {
		one(recipients.Filter{All: f.All})
	}
	if f.And != nil {
		for _, g := range f.And {
			out = append(out, parts(&g)...)
		}
	}
	if f.Or != nil {
		one(recipients.Filter{Or: f.Or})
	}
	if f.Not != nil {
		one(recipients.Filter{Not: f.Not})
	}
	for _, x := range []struct {
		set bool
		f   recipients.Filter
	}{
		{f.ExternalID != nil, recipients.Filter{ExternalID: f.ExternalID}},
		{f.Type != nil, recipients.Filter{Type: f.Type}},
		{f.FirstName != nil, recipients.Filter{FirstName: f.FirstName}},
		{f.LastName != nil, recipients.Filter{LastName: f.LastName}},
		{f.Grade != nil, recipients.Filter{Grade: f.Grade}},
		{f.School != nil, recipients.Filter{School: f.School}},
		{f.Language != nil, recipients.Filter{Language: f.Language}},
		{f.Email != nil, recipients.Filter{Email: f.Email}},
		{f.Phone != nil, recipients.Filter{Phone: f.Phone}},
		{f.ImportID != nil, recipients.Filter{ImportID: f.ImportID}},
	} {
		if x.set {
			one(x.f)
		}
	}
	for _, c := range f.CustomFields {
		one(recipients.Filter{CustomFields: []recipients.CustomFieldFilter{c}})
	}
	return out
}

// Explain says why a recipient is in the list or not, as the viewer sees
// it: the rule's conditions it meets and fails, added or skipped by hand,
// removed by an import. A recipient the viewer may not see gets one answer
// whether it exists or not, so that nothing leaks outside a restriction.
func (s *Service) Explain(ctx context.Context, l *List, recipientID int64) (*Explanation, error) {
	f, err := l.DecodedFilter()
	if err != nil {
		return nil, err
	}
	var conds []recipients.Filter
	if f != nil {
		conds = parts(f)
	}
	tests := make([]recipients.Cond, len(conds))
	for i := range conds {
		tests[i] = recipients.Matching("filter", &conds[i])
	}
	probe, err := s.recipients.ProbeOne(ctx, recipientID, tests)
	if err != nil {
		return nil, err
	}
	if probe == nil {
		msg := "the recipient does not exist or is outside your data restriction"
		return &Explanation{Reasons: []Reason{{Code: ReasonOutsideRestriction, Message: msg}}}, nil
	}
	removedAt, removedBy, matched := probe.RemovedAt, probe.RemovedBy, probe.Matches
	// The person is one the viewer may see: what the list's own tables say
	// of them.
	var addedAt, excludedAt *time.Time
	if err := s.db.NewRaw(`SELECT (SELECT added_at FROM list_additions WHERE list_id = ? AND recipient_id = ?),
			(SELECT excluded_at FROM list_exclusions WHERE list_id = ? AND recipient_id = ?)`,
		l.ID, recipientID, l.ID, recipientID).Scan(ctx, &addedAt, &excludedAt); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}

	e := &Explanation{}
	ruleMatches := f != nil
	for i, ok := range matched {
		d := recipients.DescribeFilter(&conds[i])
		if ok {
			e.MatchedConditions = append(e.MatchedConditions, d)
		} else {
			e.FailedConditions = append(e.FailedConditions, d)
			ruleMatches = false
		}
	}
	switch {
	case f == nil:
		e.Reasons = append(e.Reasons, Reason{ReasonNoMatch, "the list has no rule: only people added by hand are in it"})
	case ruleMatches:
		e.Reasons = append(e.Reasons, Reason{ReasonRuleMatch, "matches the list's rule: " + recipients.DescribeFilter(f)})
	default:
		e.Reasons = append(e.Reasons, Reason{ReasonNoMatch, "does not match the list's rule: " + strings.Join(e.FailedConditions, "; ") + " fails"})
	}
	if addedAt != nil {
		e.Reasons = append(e.Reasons, Reason{ReasonAdded, "added by hand on " + addedAt.UTC().Format(time.RFC3339)})
	}
	if excludedAt != nil {
		e.Reasons = append(e.Reasons, Reason{ReasonSkipped, "taken off the list by hand on " + excludedAt.UTC().Format(time.RFC3339)})
	}
	if removedAt != nil {
		msg := "removed by its import on " + removedAt.UTC().Format(time.RFC3339)
		if removedBy != nil {
			msg = fmt.Sprintf("removed by import run %d on %s", *removedBy, removedAt.UTC().Format(time.RFC3339))
		}
		e.Reasons = append(e.Reasons, Reason{ReasonRemovedByImport, msg})
	}
	e.Member = removedAt == nil && excludedAt == nil && (ruleMatches || addedAt != nil)
	return e, nil
}
