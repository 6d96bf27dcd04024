package recipients

import (
	"encoding/json"
	"fmt"

	"github.com/rollcall/rollcall/internal/apperr"
)

// Filter selects recipients: the RecipientFilter of the API, saved on lists
// and user restrictions as JSON (with a version). Conditions at one level
// are and-ed. A filter must say something: an empty one is an error, and
// "everyone" is said with All.
type Filter struct {
	All        *bool         `json:"all,omitempty"`
	And        []Filter      `json:"and,omitempty"`
	Or         []Filter      `json:"or,omitempty"`
	Not        *Filter       `json:"not,omitempty"`
	ExternalID *StringFilter `json:"externalId,omitempty"`
	Type       *TypeFilter   `json:"type,omitempty"`
	FirstName  *StringFilter `json:"firstName,omitempty"`
	LastName   *StringFilter `json:"lastName,omitempty"`
	Grade      *GradeFilter  `json:"grade,omitempty"`
	School     *StringFilter `json:"school,omitempty"`
	Language   *StringFilter `json:"language,omitempty"`
	Email      *StringFilter `json:"email,omitempty"`
	Phone      *StringFilter `json:"phone,omitempty"`
	ImportID   *IDFilter     `json:"importId,omitempty"`
	// Class: the classes a recipient is enrolled in (OneRoster imports),
	// each named by its sourcedId, classCode and title (links.go).
	Class        *StringFilter       `json:"class,omitempty"`
	CustomFields []CustomFieldFilter `json:"customFields,omitempty"`
}

// StringFilter compares text. Names, school, language and email ignore case
// (they compare folded forms, fold.Key, whatever the database's locale);
// externalId is exact in every operator.
type StringFilter struct {
	Eq         *string  `json:"eq,omitempty"`
	Neq        *string  `json:"neq,omitempty"`
	In         []string `json:"in,omitempty"`
	Nin        []string `json:"nin,omitempty"`
	StartsWith *string  `json:"startsWith,omitempty"`
	Contains   *string  `json:"contains,omitempty"`
	IsNull     *bool    `json:"isNull,omitempty"`
}

// GradeFilter compares grades in school order: PK < K < 1 … 12.
type GradeFilter struct {
	Eq     *string  `json:"eq,omitempty"`
	Neq    *string  `json:"neq,omitempty"`
	In     []string `json:"in,omitempty"`
	Nin    []string `json:"nin,omitempty"`
	Gt     *string  `json:"gt,omitempty"`
	Gte    *string  `json:"gte,omitempty"`
	Lt     *string  `json:"lt,omitempty"`
	Lte    *string  `json:"lte,omitempty"`
	IsNull *bool    `json:"isNull,omitempty"`
}

// TypeFilter compares recipient types.
type TypeFilter struct {
	Eq  *Type  `json:"eq,omitempty"`
	Neq *Type  `json:"neq,omitempty"`
	In  []Type `json:"in,omitempty"`
	Nin []Type `json:"nin,omitempty"`
}

// IDFilter compares ids (of imports).
type IDFilter struct {
	Eq  *int64  `json:"eq,omitempty"`
	Neq *int64  `json:"neq,omitempty"`
	In  []int64 `json:"in,omitempty"`
	Nin []int64 `json:"nin,omitempty"`
	// IsNull: detached recipients (their import was deleted, keeping them,
	// and purged).
	IsNull *bool `json:"isNull,omitempty"`
}

// CustomFieldFilter compares one custom field. Eq is exact (and fast: it
// uses the custom-fields index), as are neq, in and nin; gt/lt compare text
// in byte order; startsWith/contains ignore case.
type CustomFieldFilter struct {
	Key        string   `json:"key"`
	Eq         *string  `json:"eq,omitempty"`
	Neq        *string  `json:"neq,omitempty"`
	In         []string `json:"in,omitempty"`
	Nin        []string `json:"nin,omitempty"`
	Gt         *string  `json:"gt,omitempty"`
	Gte        *string  `json:"gte,omitempty"`
	Lt         *string  `json:"lt,omitempty"`
	Lte        *string  `json:"lte,omitempty"`
	StartsWith *string  `json:"startsWith,omitempty"`
	Contains   *string  `json:"contains,omitempty"`
	IsNull     *bool    `json:"isNull,omitempty"`
}

// FilterVersion is the version of saved filters.
const FilterVersion = 1

// savedFilter is a filter as stored.
type savedFilter struct {
	Version int    `json:"version"`
	Filter  Filter `json:"filter"`
}

// EncodeFilter validates f and returns it in its stored form. field names
// the input in errors.
func EncodeFilter(field string, f *Filter) (json.RawMessage, error) {
	if err := ValidateFilter(field, f); err != nil {
		return nil, err
	}
	return json.Marshal(savedFilter{Version: FilterVersion, Filter: *f})
}

// DecodeFilter reads a stored filter.
func DecodeFilter(raw json.RawMessage) (*Filter, error) {
	var s savedFilter
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("read saved filter: %w", err)
	}
	if s.Version != FilterVersion {
		return nil, fmt.Errorf("saved filter has version %d; this program reads version %d", s.Version, FilterVersion)
	}
	return &s.Filter, nil
}

// FilterJSON is the filter itself (without the version), as the API shows it.
func FilterJSON(raw json.RawMessage) json.RawMessage {
	var s struct {
		Filter json.RawMessage `json:"filter"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return s.Filter
}

// Limits on what one filter may ask.
const (
	MaxFilterDepth      = 8
	MaxFilterConditions = 100
	MaxFilterValues     = 1000
	MaxFilterText       = 500
)

// ValidateFilter checks f: not empty, no empty operators, within limits.
func ValidateFilter(field string, f *Filter) error {
	if f == nil {
		return apperr.Invalid(field, "a filter is required; to select everyone say {all: true}")
	}
	c := &compiler{validateOnly: true}
	_, err := c.filter(field, f, 0)
	return err
}

func invalid(field, format string, args ...any) error { return apperr.Invalid(field, format, args...) }
