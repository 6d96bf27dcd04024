// Package lists owns users' recipient lists: a saved filter over recipients
// plus people added or skipped by hand, so that membership follows every
// import by itself; shared with other users, each of whom sees only the
// members inside their own data restriction.
package lists

import (
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/recipients"
)

// List is a user's recipient group.
type List struct {
	bun.BaseModel `bun:"table:lists,alias:l"`

	ID          int64           `bun:",pk,autoincrement"`
	OwnerID     int64           `bun:",notnull"`
	Name        string          `bun:",notnull"`
	Description string          `bun:",notnull"`
	Filter      json.RawMessage `bun:",type:jsonb,nullzero"`
	CreatedAt   time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	UpdatedAt   time.Time       `bun:",nullzero,notnull,default:current_timestamp"`

	// HasAdditions and HasExclusions say whether the list has people
	// added or skipped by hand, read with the list (see selectLists), so
	// that membership queries leave out what a list does not use: most
	// lists are a rule alone, and a rule alone lets the planner use the
	// filter indexes. A true that has become false costs only speed.
	HasAdditions  bool `bun:",scanonly"`
	HasExclusions bool `bun:",scanonly"`
}

// DecodedFilter returns the list's filter, or nil when it has none.
func (l *List) DecodedFilter() (*recipients.Filter, error) {
	if len(l.Filter) == 0 {
		return nil, nil
	}
	return recipients.DecodeFilter(l.Filter)
}

// CreateListInput defines a list.
type CreateListInput struct {
	Name        string
	Description *string
	// Filter is the rule; nil makes a list of people added by hand.
	Filter *recipients.Filter
	// RecipientIDs are added by hand at once.
	RecipientIDs []int64
}

// UpdateListInput changes a list; nil fields stay as they are.
type UpdateListInput struct {
	Name        *string
	Description *string
	Filter      *recipients.Filter
	// ClearFilter drops the rule (the list keeps its hand-added people).
	ClearFilter *bool
}

// ReasonCode says why a person is in a list or not.
type ReasonCode string

const (
	ReasonRuleMatch          ReasonCode = "RULE_MATCH"
	ReasonNoMatch            ReasonCode = "NO_MATCH"
	ReasonAdded              ReasonCode = "ADDED"
	ReasonSkipped            ReasonCode = "SKIPPED"
	ReasonRemovedByImport    ReasonCode = "REMOVED_BY_IMPORT"
	ReasonOutsideRestriction ReasonCode = "OUTSIDE_RESTRICTION"
)

// Reason is one reason.
type Reason struct {
	Code    ReasonCode
	Message string
}

// Explanation says why a person is in a list or not.
type Explanation struct {
	Member  bool
	Reasons []Reason
	// MatchedConditions and FailedConditions are the rule's top-level
	// conditions, in words, that the person meets and does not.
	MatchedConditions []string
	FailedConditions  []string
}
