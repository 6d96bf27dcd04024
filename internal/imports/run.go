package imports

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apply"
)

// RunStatus is where a run is in its life.
type RunStatus string

const (
	StatusQueued  RunStatus = "QUEUED"
	StatusRunning RunStatus = "RUNNING"
	// StatusSucceeded: every row applied.
	StatusSucceeded RunStatus = "SUCCEEDED"
	// StatusSucceededWithErrors: bad rows rejected, the rest applied.
	StatusSucceededWithErrors RunStatus = "SUCCEEDED_WITH_ERRORS"
	// StatusFailed: nothing applied.
	StatusFailed RunStatus = "FAILED"
	// StatusHeld: the run would remove more than the import allows; nothing
	// applied until an administrator approves or cancels it. Its counts and
	// sample are what it would apply.
	StatusHeld RunStatus = "HELD"
	// StatusCanceled: nothing applied. An administrator's cancel sets the
	// file aside (Run.CanceledBy).
	StatusCanceled RunStatus = "CANCELED"
)

// Active reports whether a run still occupies its import (at most one
// does).
func (s RunStatus) Active() bool {
	return s == StatusQueued || s == StatusRunning || s == StatusHeld
}

// Trigger is what started a run.
type Trigger string

const (
	TriggerManual   Trigger = "MANUAL"
	TriggerUpload   Trigger = "UPLOAD"
	TriggerSchedule Trigger = "SCHEDULE"
	TriggerRevert   Trigger = "REVERT"
)

// Run is one application (or dry run) of a file to an import.
type Run struct {
	bun.BaseModel `bun:"table:import_runs,alias:run"`

	ID            int64      `bun:",pk,autoincrement"`
	ImportID      int64      `bun:",notnull"`
	FileID        int64      `bun:",notnull"`
	Status        RunStatus  `bun:",notnull"`
	Trigger       Trigger    `bun:",notnull"`
	DryRun        bool       `bun:",notnull"`
	RequestedBy   *int64     ``
	ApprovedBy    *int64     ``
	ApprovedAt    *time.Time ``
	CanceledBy    *int64     `` // the administrator who canceled it: its file is set aside (takesFile)
	QueuedAt      time.Time  `bun:",nullzero,notnull,default:current_timestamp"`
	StartedAt     *time.Time ``
	FinishedAt    *time.Time ``
	HeartbeatAt   *time.Time ``
	JobID         *int64     ``
	Attempts      int        `bun:",notnull"`
	Phase         *string    ``
	RowsProcessed int64      `bun:",notnull"`
	RowsTotal     *int64     ``
	RowsRead      int        `bun:",notnull"`
	Created       int        `bun:",notnull"`
	Updated       int        `bun:",notnull"`
	Unchanged     int        `bun:",notnull"`
	Removed       int        `bun:",notnull"`
	Restored      int        `bun:",notnull"`
	Rejected      int        `bun:",notnull"`
	Message       string     `bun:",notnull"`
	Warnings      []string   `bun:",array,notnull"`
	// UndoWatermark is set on an applied run that can be undone: the
	// highest recipient id of the import before the run (see apply.Undo).
	UndoWatermark   *int64 ``
	RevertsRunID    *int64 ``
	RevertedByRunID *int64 ``
}

// Applied reports whether the run's changes are in the data.
func (r *Run) Applied() bool {
	return !r.DryRun && (r.Status == StatusSucceeded || r.Status == StatusSucceededWithErrors)
}

// RunError is a row the run rejected, or the reason a file failed.
type RunError struct {
	bun.BaseModel `bun:"table:import_run_errors,alias:e"`

	RunID      int64   `bun:",pk"`
	Seq        int     `bun:",pk"`
	FileName   *string `bun:"file_name"`
	Line       int     `bun:",notnull"`
	ColumnName *string `bun:"column_name"`
	Value      *string ``
	Message    string  `bun:",notnull"`
}

// RunChange is one entry of a run's sample of changes: a field of a
// recipient or user, old → new (apply.Change, as stored).
type RunChange struct {
	bun.BaseModel `bun:"table:import_run_changes,alias:c"`

	RunID      int64              `bun:",pk"`
	Seq        int                `bun:",pk"`
	Line       *int               ``
	ExternalID string             `bun:",notnull"`
	Action     apply.ChangeAction `bun:",notnull"`
	Field      *string            ``
	OldValue   *string            ``
	NewValue   *string            ``
}

// Progress is how far a running run is.
type Progress struct {
	Phase         apply.Phase
	RowsProcessed int64
	RowsTotal     *int64
}

// Progress returns how far the run is while it runs, else nil.
func (r *Run) Progress() *Progress {
	if r.Status != StatusRunning || r.Phase == nil {
		return nil
	}
	return &Progress{Phase: apply.Phase(*r.Phase), RowsProcessed: r.RowsProcessed, RowsTotal: r.RowsTotal}
}

// UndoAvailable reports whether the run can still be reverted: it applied
// changes, its undo data is kept, and it has not been reverted (a later
// applied run must be reverted first; Revert says so).
func (r *Run) UndoAvailable() bool { return r.UndoWatermark != nil && r.RevertedByRunID == nil }
