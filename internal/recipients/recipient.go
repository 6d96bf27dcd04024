// Package recipients owns the people imports bring in (students, staff,
// contacts): the model, the normalization of what files say about them, and
// the queries that read them.
package recipients

import (
	"encoding/json"
	"fmt"
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

// Phones returns the recipient's phone numbers.
func (r *Recipient) Phones() ([]Phone, error) {
	return decodeContacts[Phone](r, PartContacts, r.PhonesJSON, "phones")
}

// Emails returns the recipient's email addresses.
func (r *Recipient) Emails() ([]Email, error) {
	return decodeContacts[Email](r, PartContacts, r.EmailsJSON, "emails")
}

// CustomFields returns the recipient's custom fields (a JSON object).
func (r *Recipient) CustomFields() (json.RawMessage, error) {
	if err := r.mustHave(PartCustomFields, "customFields"); err != nil {
		return nil, err
	}
	if len(r.CustomFieldsJSON) == 0 {
		return json.RawMessage("{}"), nil
	}
	return r.CustomFieldsJSON, nil
}

// mustHave fails if part was not read: a page read without it was asked
// for it, which is a bug to report, not an empty value to show.
func (r *Recipient) mustHave(part Parts, what string) error {
	if r.read != 0 && r.read&part == 0 {
		return fmt.Errorf("recipient %d: %s were not read", r.ID, what)
	}
	return nil
}

func decodeContacts[T any](r *Recipient, part Parts, data json.RawMessage, what string) ([]T, error) {
	if err := r.mustHave(part, what); err != nil {
		return nil, err
	}
	out := []T{}
	if len(data) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("recipient %s: %w", what, err)
	}
	return out, nil
}

// Recipient is a person an import brought in.
type Recipient struct {
	bun.BaseModel `bun:"table:recipients,alias:r"`

	ID int64 `bun:",pk,autoincrement"`
	// ImportID is nil once the import that brought the person in was
	// purged after a delete that kept its recipients: detached.
	ImportID   *int64  ``
	ExternalID string  `bun:",notnull"`
	Type       Type    `bun:",notnull"`
	FirstName  string  `bun:",notnull"`
	LastName   string  `bun:",notnull"`
	Grade      *string ``
	GradeRank  *int16  ``
	School     *string ``
	Language   *string ``
	// The JSON columns are kept as read ([]Phone, []Email and an object):
	// most pages show names only, and decoding every row's contacts cost
	// a fifth of a page's CPU. Phones, Emails and CustomFields return
	// them.
	PhonesJSON       json.RawMessage `bun:"phones,type:jsonb,notnull"`
	EmailsJSON       json.RawMessage `bun:"emails,type:jsonb,notnull"`
	CustomFieldsJSON json.RawMessage `bun:"custom_fields,type:jsonb,notnull"`
	RowHash          int64           `bun:",notnull"`
	CreatedAt        time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	UpdatedAt        time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	RemovedAt        *time.Time      ``
	RemovedByRunID   *int64          ``

	// read are the Parts read, when not all (0: all).
	read Parts
}
