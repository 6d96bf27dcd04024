// Package recipients owns the people imports bring in (students, staff,
// contacts): the model, the normalization of what files say about them, and
// the queries that read them.
package recipients

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/uptrace/bun"
)

// Type is what kind of person a recipient is.
type Type string

const (
	TypeStudent Type = "STUDENT"
	TypeStaff   Type = "STAFF"
	TypeContact Type = "CONTACT"
	TypeOther   Type = "OTHER"
)

// IsValid reports whether t is a known type.
func (t Type) IsValid() bool {
	switch t {
	case TypeStudent, TypeStaff, TypeContact, TypeOther:
		return true
	}
	return false
}

// MarshalGQL writes the type as a GraphQL enum value.
func (t Type) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL reads a GraphQL enum value.
func (t *Type) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !Type(s).IsValid() {
		return fmt.Errorf("%v is not a valid RecipientType", v)
	}
	*t = Type(s)
	return nil
}

// Phone is a phone number (E.164) with its label, e.g. "Guardian 1".
type Phone struct {
	Number string `json:"number"`
	Label  string `json:"label"`
}

// Email is an address (lower case) with its label.
type Email struct {
	Address string `json:"address"`
	Label   string `json:"label"`
}

// Recipient is a person an import brought in.
type Recipient struct {
	bun.BaseModel `bun:"table:recipients,alias:r"`

	ID             int64           `bun:",pk,autoincrement"`
	ImportID       int64           `bun:",notnull"`
	ExternalID     string          `bun:",notnull"`
	Type           Type            `bun:",notnull"`
	FirstName      string          `bun:",notnull"`
	LastName       string          `bun:",notnull"`
	Grade          *string         ``
	GradeRank      *int16          ``
	School         *string         ``
	Language       *string         ``
	Phones         []Phone         `bun:",type:jsonb,notnull"`
	Emails         []Email         `bun:",type:jsonb,notnull"`
	CustomFields   json.RawMessage `bun:",type:jsonb,notnull"`
	RowHash        int64           `bun:",notnull"`
	CreatedAt      time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	UpdatedAt      time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	RemovedAt      *time.Time      ``
	RemovedByRunID *int64          ``
}
