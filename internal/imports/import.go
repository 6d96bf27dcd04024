// Package imports owns imports, the named sources of recipient data with a
// fixed Method, and their runs: what administrators do with them (create,
// update, upload, run, approve, cancel, revert, delete, restore), the life
// of a run as its worker drives it (running.go), schedules firing
// (scheduler.go), and all SQL over imports and import_runs
// (store_imports.go, store_runs.go). Files are kept by filestore; the
// apply pipeline is apply; the workers are importjobs.
package imports

import (
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/schedule"
)

// Kind is what an import brings in.
type Kind string

const (
	KindRecipient Kind = "RECIPIENT"
	KindUser      Kind = "USER"
)

// Method is how a file's rows are applied. It is chosen at creation and can
// never change.
type Method string

const (
	// MethodFull: the file is the complete set; recipients absent from it are
	// removed (users: disabled, administrators excepted).
	MethodFull Method = "FULL"
	// MethodUpdate adds and updates, never removes.
	MethodUpdate Method = "UPDATE"
	// MethodCreateOnly adds new recipients (users) and leaves existing ones
	// untouched.
	MethodCreateOnly Method = "CREATE_ONLY"
)

// IsValid reports whether m is a known method.
func (m Method) IsValid() bool {
	return m == MethodFull || m == MethodUpdate || m == MethodCreateOnly
}

// Format is what kind of file an import reads. It is chosen at creation
// and never changes.
type Format string

const (
	// FormatCSV: the flat district file, one row per recipient, columns
	// mapped to fields (internal/mapping).
	FormatCSV Format = "CSV"
	// FormatOneRoster: a OneRoster 1.1 or 1.2 CSV export, the zip of the
	// standard's files (internal/oneroster).
	FormatOneRoster Format = "ONEROSTER"
)

// Default guard thresholds, in percent.
const (
	DefaultRemovalThreshold   = 10.0
	DefaultRejectionThreshold = 5.0
)

// Import is a named source of recipient data.
type Import struct {
	bun.BaseModel `bun:"table:imports,alias:i"`

	ID          int64  `bun:",pk,autoincrement"`
	Name        string `bun:",notnull"`
	Description string `bun:",notnull"`
	Kind        Kind   `bun:",notnull"`
	Method      Method `bun:",notnull"`
	Format      Format `bun:",notnull,default:'CSV'"`
	// ProvisionTeacherAccounts (ONEROSTER): keep a restricted USER account
	// for each of the export's teachers (oneroster.Provision).
	ProvisionTeacherAccounts bool            `bun:",notnull"`
	Mapping                  mapping.Mapping `bun:",type:jsonb,nullzero"`
	DefaultRecipientType     recipients.Type `bun:",notnull"`
	RemovalThreshold         float64         `bun:",notnull"`
	RejectionThreshold       float64         `bun:",notnull"`
	CreatedBy                *int64          ``
	CreatedAt                time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	UpdatedAt                time.Time       `bun:",nullzero,notnull,default:current_timestamp"`
	LastRunAt                *time.Time      ``
	LastRunID                *int64          ``
	FileDate                 *time.Time      ``
	LatestFileID             *int64          ``
	ScheduleDays             []int16         `bun:",array"`
	ScheduleTime             *string         ``
	ScheduleCron             *string         ``
	ScheduleTimeZone         *string         ``
	ScheduleNextAt           *time.Time      ``
	ScheduleMissedAt         *time.Time      ``
	RunOnUpload              bool            `bun:",notnull"`
	// Soft deletion: set while a deleted import waits to be purged (see
	// delete.go).
	DeletedAt      *time.Time  ``
	DeletedBy      *int64      ``
	DeleteMode     *DeleteMode ``
	PurgeAfter     *time.Time  ``
	DeletedUserIDs []int64     `bun:"deleted_user_ids,array"`
	// SegmentID is the partition of recipients holding the import's
	// recipients (internal/apply/segment.go). Only a first load writes it;
	// nothing else may.
	SegmentID int64 `bun:",nullzero,notnull,default:0"`
}

// Detached reports whether the recipients of imp (nil: of no import, or
// of a purged one) are detached: no import will update or remove them any
// more.
func Detached(imp *Import) bool { return imp == nil || imp.Deleted() }

// Deleted reports whether the import is deleted (and not yet purged).
func (imp *Import) Deleted() bool { return imp.DeletedAt != nil }

// Schedule returns the import's schedule, or nil for a manual import.
func (imp *Import) Schedule() *schedule.Schedule {
	if imp.ScheduleTimeZone == nil {
		return nil
	}
	s := &schedule.Schedule{Time: imp.ScheduleTime, Cron: imp.ScheduleCron, TimeZone: *imp.ScheduleTimeZone}
	for _, n := range imp.ScheduleDays {
		if d, ok := schedule.WeekdayNumbered(int(n)); ok {
			s.Days = append(s.Days, d)
		}
	}
	return s
}

// setSchedule stores s (nil: manual) and plans its next slot after now.
func (imp *Import) setSchedule(s *schedule.Schedule, now time.Time) error {
	imp.ScheduleDays, imp.ScheduleTime, imp.ScheduleCron, imp.ScheduleTimeZone = nil, nil, nil, nil
	imp.ScheduleNextAt, imp.ScheduleMissedAt = nil, nil
	if s == nil {
		return nil
	}
	next, err := s.Next(now)
	if err != nil {
		return err
	}
	if s.Time != nil {
		imp.ScheduleDays = []int16{}
		for _, d := range s.Days {
			imp.ScheduleDays = append(imp.ScheduleDays, int16(d.Number()))
		}
	}
	imp.ScheduleTime, imp.ScheduleCron, imp.ScheduleTimeZone = s.Time, s.Cron, &s.TimeZone
	imp.ScheduleNextAt = &next
	return nil
}

// CreateImportInput defines a new import.
type CreateImportInput struct {
	Name                     string
	Description              *string
	Kind                     *Kind
	Method                   Method
	Format                   *Format
	ProvisionTeacherAccounts *bool
	Mapping                  []mapping.Entry
	DefaultRecipientType     *recipients.Type
	RemovalThreshold         *float64
	RejectionThreshold       *float64
	Schedule                 *schedule.Schedule
	RunOnUpload              *bool
}

// UpdateImportInput changes an import; nil fields stay. There is no Method:
// it never changes. ClearMapping returns to mapping by header names.
type UpdateImportInput struct {
	Name                 *string
	Description          *string
	Mapping              []mapping.Entry
	ClearMapping         *bool
	DefaultRecipientType *recipients.Type
	RemovalThreshold     *float64
	RejectionThreshold   *float64
	// Schedule sets the schedule; ClearSchedule makes the import Manual.
	Schedule                 *schedule.Schedule
	ClearSchedule            *bool
	RunOnUpload              *bool
	ProvisionTeacherAccounts *bool
}

func validThreshold(field string, v float64) error {
	if v < 0 || v > 100 {
		return apperr.Invalid(field, "%s must be a percentage between 0 and 100, got %g", field[strings.LastIndexByte(field, '.')+1:], v)
	}
	return nil
}
