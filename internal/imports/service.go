package imports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/filestore"
	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/notify"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/schedule"
	"github.com/rollcall/rollcall/internal/users"
)

// Config tunes imports.
type Config struct {
	// SchedulerInterval is how often due schedules are looked for.
	SchedulerInterval time.Duration
	// MaxUploadBytes bounds a file (0: no limit).
	MaxUploadBytes int64
	// RunTimeout bounds one attempt of a run.
	RunTimeout time.Duration
	// StaleAfter is how long a running run may go without a heartbeat before
	// its worker is presumed dead and the run is recovered.
	StaleAfter time.Duration
	// MaxRunAttempts is how many times a run is started before it fails.
	MaxRunAttempts int
	// Retention is how long a deleted import stays restorable before it is
	// purged, and how long an applied run can be reverted.
	Retention time.Duration
	// Limits bound what reading a file may cost.
	Limits importfile.Limits
	// SegmentRows: a first load of at least this many rows gets a segment
	// of its own (apply.Spec.SegmentRows); 0: never.
	SegmentRows int
}

// DefaultRetention is Config.Retention's default.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxUploadBytes: 1 << 30, RunTimeout: 2 * time.Hour, StaleAfter: 45 * time.Second, MaxRunAttempts: 3,
		SchedulerInterval: 15 * time.Second, Retention: DefaultRetention, Limits: importfile.DefaultLimits(1 << 30),
		SegmentRows: config.DefaultSegmentRows}
}

// ConfigFor is the imports configuration the server settings s make: the
// server and the tests' servers build it the same way.
func ConfigFor(s config.Server) Config {
	c := DefaultConfig()
	c.MaxUploadBytes = s.MaxUploadBytes
	c.RunTimeout = s.RunTimeout
	c.StaleAfter = s.RunStaleAfter
	c.SchedulerInterval = s.SchedulerEvery
	c.Retention = s.Retention
	c.SegmentRows = s.SegmentRows
	c.Limits = importfile.LimitsFor(s.MaxUploadBytes, s.MaxDecompressed, s.MaxCompression, s.RunMemoryBytes)
	return c
}

// Service holds the rules about imports, files and runs.
type Service struct {
	db     *db.DB
	jobs   *river.Client[*sql.Tx]
	cfg    Config
	now    func() time.Time
	logger *slog.Logger
	hub    *notify.Hub // optional: run notifications
}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// NewService returns a Service. jobs inserts River jobs inside the
// service's transactions.
func NewService(d *db.DB, jobs *river.Client[*sql.Tx], cfg Config, now func() time.Time, logger *slog.Logger) *Service {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	return &Service{db: d, jobs: jobs, cfg: cfg, now: now, logger: logger}
}

// adminOnly runs read if the viewer is a system administrator: imports are
// system data.
func adminOnly[T any](ctx context.Context, read func() (T, error)) (T, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		var zero T
		return zero, err
	}
	return read()
}

// Get returns an import (admins only).
func (s *Service) Get(ctx context.Context, id int64) (*Import, error) {
	return adminOnly(ctx, func() (*Import, error) { return GetImport(ctx, s.db, id) })
}

// GetMany returns imports by id, for dataloaders. Users reach an import
// only as a recipient's: they get its id, name and whether it is deleted,
// nothing else of it.
func (s *Service) GetMany(ctx context.Context, ids []int64) ([]Import, error) {
	v, err := authz.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	imps, err := GetImports(ctx, s.db, ids)
	if err != nil || v.IsAdmin() {
		return imps, err
	}
	for i, imp := range imps {
		imps[i] = Import{ID: imp.ID, Name: imp.Name, DeletedAt: imp.DeletedAt}
	}
	return imps, nil
}

// List returns a page of imports by name, deleted ones only with
// includeDeleted (admins only).
func (s *Service) List(ctx context.Context, req page.Request, includeDeleted bool) (page.Page[Import], error) {
	return adminOnly(ctx, func() (page.Page[Import], error) { return ListImports(ctx, s.db, req, includeDeleted) })
}

// Count counts imports, deleted ones only with includeDeleted (admins only).
func (s *Service) Count(ctx context.Context, includeDeleted bool) (int, error) {
	return adminOnly(ctx, func() (int, error) { return CountImports(ctx, s.db, includeDeleted) })
}

// Create defines an import (admins only).
func (s *Service) Create(ctx context.Context, in CreateImportInput) (*Import, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	creator := v.UserID // a copy: the insert writes the returned row back
	imp := &Import{
		Kind: KindRecipient, Method: in.Method, DefaultRecipientType: recipients.TypeStudent,
		RemovalThreshold: DefaultRemovalThreshold, RejectionThreshold: DefaultRejectionThreshold,
		CreatedBy: &creator, CreatedAt: s.now(), UpdatedAt: s.now(),
	}
	if imp.Name, err = apperr.Name("input.name", in.Name); err != nil {
		return nil, err
	}
	if !in.Method.IsValid() {
		return nil, apperr.Invalid("input.method", "unknown method %q: use FULL, UPDATE or CREATE_ONLY", in.Method)
	}
	if in.Kind != nil {
		if *in.Kind != KindRecipient && *in.Kind != KindUser {
			return nil, apperr.Invalid("input.kind", "unknown kind %q: use RECIPIENT or USER", *in.Kind)
		}
		imp.Kind = *in.Kind
	}
	imp.Format = FormatCSV
	if in.Format != nil {
		if *in.Format != FormatCSV && *in.Format != FormatOneRoster {
			return nil, apperr.Invalid("input.format", "unknown format %q: use CSV or ONEROSTER", *in.Format)
		}
		imp.Format = *in.Format
	}
	if imp.Format == FormatOneRoster && imp.Kind != KindRecipient {
		return nil, apperr.Invalid("input.format", "a OneRoster export brings in recipients: use kind RECIPIENT with format ONEROSTER")
	}
	if err := setProvisioning(imp, in.ProvisionTeacherAccounts); err != nil {
		return nil, err
	}
	if in.Description != nil {
		imp.Description = strings.TrimSpace(*in.Description)
	}
	if err := s.applyCommon(imp, "input", in.Mapping, false, in.DefaultRecipientType, in.RemovalThreshold, in.RejectionThreshold); err != nil {
		return nil, err
	}
	if err := s.applySchedule(imp, "input", in.Schedule, false, in.RunOnUpload); err != nil {
		return nil, err
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := insertImport(ctx, tx, imp); err != nil {
			return err
		}
		return s.record(ctx, tx, v, audit.ImportCreated, imp.auditTarget(), audit.Details{
			"kind": imp.Kind, "method": imp.Method, "format": imp.Format, "schedule": imp.Schedule().Description(), "runOnUpload": imp.RunOnUpload})
	})
	if err != nil {
		return nil, err
	}
	return imp, nil
}

// setProvisioning sets whether the import keeps teachers' accounts (nil:
// as it is); only a OneRoster import has teachers.
func setProvisioning(imp *Import, v *bool) error {
	if v == nil {
		return nil
	}
	if *v && imp.Format != FormatOneRoster {
		return apperr.Invalid("input.provisionTeacherAccounts", "only a OneRoster import (format ONEROSTER) knows teachers and their classes")
	}
	imp.ProvisionTeacherAccounts = *v
	return nil
}

// applyCommon sets the fields create and update share.
func (s *Service) applyCommon(imp *Import, at string, entries []mapping.Entry, clearMapping bool, typ *recipients.Type, removal, rejection *float64) error {
	if clearMapping {
		imp.Mapping = nil
	} else if entries != nil && imp.Format == FormatOneRoster {
		return apperr.Invalid(at+".mapping", "a OneRoster import reads the standard's columns by their names: it takes no mapping")
	} else if entries != nil {
		validate := mapping.Validate
		if imp.Kind == KindUser {
			validate = mapping.ValidateUsers
		}
		m, err := validate(at+".mapping", entries)
		if err != nil {
			return err
		}
		imp.Mapping = m
	}
	if typ != nil {
		if !typ.IsValid() {
			return apperr.Invalid(at+".defaultRecipientType", "unknown recipient type %q", *typ)
		}
		imp.DefaultRecipientType = *typ
	}
	if removal != nil {
		if err := validThreshold(at+".removalThreshold", *removal); err != nil {
			return err
		}
		imp.RemovalThreshold = *removal
	}
	if rejection != nil {
		if err := validThreshold(at+".rejectionThreshold", *rejection); err != nil {
			return err
		}
		imp.RejectionThreshold = *rejection
	}
	return nil
}

// applySchedule sets or clears the schedule and the run-on-upload flag.
func (s *Service) applySchedule(imp *Import, at string, in *schedule.Schedule, clear bool, runOnUpload *bool) error {
	if runOnUpload != nil {
		imp.RunOnUpload = *runOnUpload
	}
	switch {
	case clear:
		return imp.setSchedule(nil, s.now())
	case in != nil:
		sched, err := in.Validate(at + ".schedule")
		if err != nil {
			return err
		}
		if err := imp.setSchedule(&sched, s.now()); err != nil {
			return apperr.Invalid(at+".schedule", "%v", err)
		}
	}
	return nil
}

// Update changes an import's name, description, mapping, guards and
// schedule (admins only). The method cannot change.
func (s *Service) Update(ctx context.Context, id int64, in UpdateImportInput) (*Import, error) {
	var imp *Import
	err := s.inAdminTx(ctx, func(ctx context.Context, tx bun.Tx, v *authz.Viewer) error {
		var err error
		if imp, err = getLiveImport(ctx, tx, id, true); err != nil {
			return err
		}
		before := *imp
		if in.Name != nil {
			if imp.Name, err = apperr.Name("input.name", *in.Name); err != nil {
				return err
			}
		}
		if in.Description != nil {
			imp.Description = strings.TrimSpace(*in.Description)
		}
		if in.ClearMapping != nil && *in.ClearMapping && in.Mapping != nil {
			return apperr.Invalid("input.clearMapping", "give either mapping or clearMapping, not both")
		}
		if err := s.applyCommon(imp, "input", in.Mapping, in.ClearMapping != nil && *in.ClearMapping, in.DefaultRecipientType, in.RemovalThreshold, in.RejectionThreshold); err != nil {
			return err
		}
		if in.ClearSchedule != nil && *in.ClearSchedule && in.Schedule != nil {
			return apperr.Invalid("input.clearSchedule", "give either schedule or clearSchedule, not both")
		}
		if err := s.applySchedule(imp, "input", in.Schedule, in.ClearSchedule != nil && *in.ClearSchedule, in.RunOnUpload); err != nil {
			return err
		}
		if err := setProvisioning(imp, in.ProvisionTeacherAccounts); err != nil {
			return err
		}
		imp.UpdatedAt = s.now()
		if err := updateImport(ctx, tx, imp, "an import named %q already exists",
			"name", "description", "mapping", "default_recipient_type", "removal_threshold", "rejection_threshold", "updated_at",
			"schedule_days", "schedule_time", "schedule_cron", "schedule_time_zone", "schedule_next_at", "schedule_missed_at", "run_on_upload",
			"provision_teacher_accounts"); err != nil {
			return err
		}
		if d := importChanges(&before, imp); len(d) > 0 {
			return s.record(ctx, tx, v, audit.ImportUpdated, imp.auditTarget(), d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return imp, nil
}

// Upload stores a file for an import and, with runNow, queues a run of it
// (Submit and Run Now), all in one transaction: the file is stored whole
// with its metadata or not at all.
func (s *Service) Upload(ctx context.Context, importID int64, name string, r io.Reader, runNow bool) (*filestore.File, *Run, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, nil, err
	}
	imp, err := getLiveImport(ctx, s.db, importID, false)
	if err != nil {
		return nil, nil, err
	}
	if runNow {
		// Fail before reading the upload; the unique index settles races.
		if err := s.checkNoActiveRun(ctx, s.db, importID); err != nil {
			return nil, nil, err
		}
	}
	var f *filestore.File
	var run *Run
	err = s.db.RunInPgxTx(ctx, func(ctx context.Context, tx *db.Tx) error {
		now := s.now()
		uploader := v.UserID
		f = &filestore.File{ImportID: importID, Name: cleanFileName(name), SHA256: make([]byte, 32), Header: []string{}, UploadedBy: &uploader, UploadedAt: now}
		content := filestore.Text
		if imp.Format == FormatOneRoster {
			content = filestore.Zip
		}
		if err := filestore.Store(ctx, tx, f, r, s.cfg.MaxUploadBytes, s.cfg.Limits, content); err != nil {
			return err
		}
		live, err := setFileArrived(ctx, tx, importID, f.ID, now)
		if err != nil {
			return err
		}
		if !live {
			return apperr.Conflict("import %q was deleted during the upload; nothing was stored", imp.Name)
		}
		imp.LatestFileID, imp.FileDate = &f.ID, &now
		if err := s.record(ctx, tx.Tx, v, audit.FileUploaded, audit.Target{Type: audit.TargetFile, ID: f.ID, Name: f.Name},
			audit.Details{"importId": imp.ID, "import": imp.Name, "size": f.Size, "sha256": fmt.Sprintf("%x", f.SHA256)}); err != nil {
			return err
		}
		switch {
		case runNow:
			var err error
			if run, err = s.enqueueRun(ctx, tx.Tx, imp, f.ID, TriggerManual, false, &uploader); err != nil {
				return err
			}
			return s.recordRun(ctx, tx.Tx, v, audit.RunRequested, imp, run, nil)
		case imp.RunOnUpload:
			// Applied on arrival, unless a run is busy: then the file waits,
			// and is taken when that run ends (see followUp).
			active, err := ActiveRun(ctx, tx, importID)
			if err != nil || active != nil {
				return err
			}
			run, err = s.enqueueRun(ctx, tx.Tx, imp, f.ID, TriggerUpload, false, nil)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return f, run, nil
}

func cleanFileName(name string) string {
	name = strings.TrimSpace(path.Base(strings.ReplaceAll(name, "\\", "/")))
	if name == "" || name == "." || name == "/" {
		return "upload.csv"
	}
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}

// RunImport queues a run of the import's latest file.
func (s *Service) RunImport(ctx context.Context, importID int64, dryRun bool) (*Run, error) {
	var run *Run
	err := s.inAdminTx(ctx, func(ctx context.Context, tx bun.Tx, v *authz.Viewer) error {
		// Not locked, so concurrent requests race only on the one-active-run
		// index. A delete committing meanwhile cannot see this run; the
		// worker then cancels it instead of starting it (see StartRun).
		imp, err := getLiveImport(ctx, tx, importID, false)
		if err != nil {
			return err
		}
		if imp.LatestFileID == nil {
			return apperr.Conflict("import %q has no file yet: upload one first", imp.Name)
		}
		requester := v.UserID
		if run, err = s.enqueueRun(ctx, tx, imp, *imp.LatestFileID, TriggerManual, dryRun, &requester); err != nil {
			return err
		}
		return s.recordRun(ctx, tx, v, audit.RunRequested, imp, run, nil)
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

func (s *Service) checkNoActiveRun(ctx context.Context, idb bun.IDB, importID int64) error {
	active, err := ActiveRun(ctx, idb, importID)
	if err != nil {
		return err
	}
	if active != nil {
		return activeRunConflict(active)
	}
	return nil
}

func activeRunConflict(r *Run) *apperr.Error {
	what := strings.ToLower(string(r.Status))
	hint := "wait for it to finish"
	if r.Status == StatusHeld {
		hint = "approve or cancel it first"
	}
	return apperr.Conflict("import run %d is %s: %s", r.ID, what, hint).With("activeRunId", fmt.Sprint(r.ID))
}

// enqueueRun inserts a queued run and its job in tx.
func (s *Service) enqueueRun(ctx context.Context, tx bun.Tx, imp *Import, fileID int64, trigger Trigger, dryRun bool, requestedBy *int64) (*Run, error) {
	if err := s.checkNoActiveRun(ctx, tx, imp.ID); err != nil {
		return nil, err
	}
	run := &Run{ImportID: imp.ID, FileID: fileID, Status: StatusQueued, Trigger: trigger, DryRun: dryRun,
		RequestedBy: requestedBy, Warnings: []string{}}
	// Concurrent requests race on the one-active-run index. The loser names
	// the winner; if the winner has already finished by the time the loser
	// looks (a short run), the import is free again and the loser retries.
	for attempt := 1; ; attempt++ {
		run.QueuedAt = s.now()
		err := insertRun(ctx, tx, run)
		if err == nil {
			break
		}
		if !errors.Is(err, errActiveRun) {
			return nil, err
		}
		active, err := ActiveRun(ctx, tx, imp.ID)
		if err != nil {
			return nil, err
		}
		if active != nil {
			return nil, activeRunConflict(active)
		}
		if attempt == 3 {
			return nil, apperr.Conflict("other runs of import %q keep starting: try again", imp.Name)
		}
	}
	if err := s.insertJob(ctx, tx, run); err != nil {
		return nil, err
	}
	return run, nil
}

// Approve applies a held run as it is, past the removal guard.
func (s *Service) Approve(ctx context.Context, runID int64) (*Run, error) {
	var run *Run
	err := s.inAdminTx(ctx, func(ctx context.Context, tx bun.Tx, v *authz.Viewer) error {
		var err error
		if run, err = GetRun(ctx, tx, runID); err != nil {
			return err
		}
		// The import first (as a delete locks it), and it must be live.
		if _, err := getLiveImport(ctx, tx, run.ImportID, true); err != nil {
			return err
		}
		if run, err = GetRunForUpdate(ctx, tx, runID); err != nil {
			return err
		}
		if run.Status != StatusHeld {
			return apperr.Conflict("import run %d is %s, not HELD: only held runs can be approved", run.ID, run.Status)
		}
		now, approver := s.now(), v.UserID
		run.Status, run.ApprovedBy, run.ApprovedAt = StatusQueued, &approver, &now
		// Queued again: it has not finished (its held counts stay until
		// it applies, as what approval is about to do).
		run.QueuedAt, run.FinishedAt = now, nil
		run.Message = fmt.Sprintf("approved by %s; queued to apply", v.Email)
		if err := updateRun(ctx, tx, run, "status", "approved_by", "approved_at", "queued_at", "finished_at", "message"); err != nil {
			return err
		}
		if err := s.insertJob(ctx, tx, run); err != nil {
			return err
		}
		return s.recordRun(ctx, tx, v, audit.RunApproved, nil, run, audit.Details{"removed": run.Removed})
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// Cancel drops a queued or held run, or asks a running one to stop (it then
// rolls back and ends CANCELED).
func (s *Service) Cancel(ctx context.Context, runID int64) (*Run, error) {
	var run *Run
	err := s.inAdminTx(ctx, func(ctx context.Context, tx bun.Tx, v *authz.Viewer) error {
		var err error
		if run, err = GetRunForUpdate(ctx, tx, runID); err != nil {
			return err
		}
		status, canceler := run.Status, v.UserID
		run.CanceledBy = &canceler // its file is set aside (takesFile)
		switch run.Status {
		case StatusQueued, StatusHeld:
			if err := updateRun(ctx, tx, run, "canceled_by"); err != nil {
				return err
			}
			return s.dropRun(ctx, tx, v, nil, run, "canceled by "+v.Email, audit.Details{"was": status})
		case StatusRunning:
			if run.JobID == nil {
				return apperr.Conflict("import run %d is running without a job", run.ID)
			}
			if err := s.cancelJob(ctx, tx, run); err != nil {
				return err
			}
			run.Message = "cancel requested by " + v.Email
			if err := updateRun(ctx, tx, run, "message", "canceled_by"); err != nil {
				return err
			}
			return s.recordRun(ctx, tx, v, audit.RunCanceled, nil, run, audit.Details{"was": status})
		}
		return apperr.Conflict("import run %d already ended (%s)", run.ID, run.Status)
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// dropRun cancels a queued or held run (and its job) in tx, and audits it.
func (s *Service) dropRun(ctx context.Context, tx bun.Tx, v *authz.Viewer, imp *Import, run *Run, message string, d audit.Details) error {
	now := s.now()
	run.Status, run.Message, run.FinishedAt = StatusCanceled, message, &now
	if err := setRunFinished(ctx, tx, run.ID, run.Status, run.Message, now); err != nil {
		return err
	}
	if err := s.cancelJob(ctx, tx, run); err != nil {
		return err
	}
	return s.recordRun(ctx, tx, v, audit.RunCanceled, imp, run, d)
}

// GetRun returns a run (admins only).
func (s *Service) GetRun(ctx context.Context, id int64) (*Run, error) {
	return adminOnly(ctx, func() (*Run, error) { return GetRun(ctx, s.db, id) })
}

// Runs returns an import's runs, newest first.
func (s *Service) Runs(ctx context.Context, importID int64, req page.Request) (page.Page[Run], error) {
	return adminOnly(ctx, func() (page.Page[Run], error) { return ListRuns(ctx, s.db, importID, req) })
}

// CountRuns counts an import's runs.
func (s *Service) CountRuns(ctx context.Context, importID int64) (int, error) {
	return adminOnly(ctx, func() (int, error) { return CountRuns(ctx, s.db, importID) })
}

// RunErrors returns a page of a run's errors.
func (s *Service) RunErrors(ctx context.Context, runID int64, req page.Request) (page.Page[RunError], error) {
	return adminOnly(ctx, func() (page.Page[RunError], error) { return ListRunErrors(ctx, s.db, runID, req) })
}

// CountRunErrors counts a run's stored errors.
func (s *Service) CountRunErrors(ctx context.Context, runID int64) (int, error) {
	return adminOnly(ctx, func() (int, error) { return CountRunErrors(ctx, s.db, runID) })
}

// RunChanges returns a run's sample of changes.
func (s *Service) RunChanges(ctx context.Context, runID int64) ([]RunChange, error) {
	return adminOnly(ctx, func() ([]RunChange, error) { return ListRunChanges(ctx, s.db, runID) })
}

// File returns a file (admins only).
func (s *Service) File(ctx context.Context, id int64) (*filestore.File, error) {
	return adminOnly(ctx, func() (*filestore.File, error) { return filestore.Get(ctx, s.db, id) })
}

// RecipientCount counts an import's active recipients.
func (s *Service) RecipientCount(ctx context.Context, importID int64) (int, error) {
	return adminOnly(ctx, func() (int, error) { return recipients.CountActiveOf(ctx, s.db, importID) })
}

// UserCount counts the enabled users a USER import manages.
func (s *Service) UserCount(ctx context.Context, importID int64) (int, error) {
	return adminOnly(ctx, func() (int, error) { return users.CountManaged(ctx, s.db, importID, true) })
}

// ProposeMapping returns the mapping a run of the latest file would use:
// the import's own mapping, or one made from the header's names, plus the
// columns kept as custom fields (RECIPIENT imports; USER imports ignore
// other columns).
func (s *Service) ProposeMapping(ctx context.Context, importID int64) (mapping.Mapping, error) {
	imp, err := s.Get(ctx, importID)
	if err != nil {
		return nil, err
	}
	if imp.Format == FormatOneRoster {
		return nil, apperr.Conflict("import %q reads OneRoster exports, whose columns are the standard's: it has no mapping to propose", imp.Name)
	}
	if imp.LatestFileID == nil {
		return nil, apperr.Conflict("import %q has no file yet: upload one to propose a mapping from its header", imp.Name)
	}
	f, err := filestore.Get(ctx, s.db, *imp.LatestFileID)
	if err != nil {
		return nil, err
	}
	if imp.Kind == KindUser {
		if imp.Mapping != nil {
			return imp.Mapping, nil
		}
		return mapping.AutoUsers(f.Header), nil
	}
	return mapping.Effective(f.Header, imp.Mapping), nil
}

// KeyColumn is the column an import takes its key from (externalId; email
// for USER imports): from its mapping, or from the latest file's header.
func (s *Service) KeyColumn(ctx context.Context, imp *Import) (*string, error) {
	if imp.Format == FormatOneRoster {
		key := "sourcedId" // users.csv's
		return &key, nil
	}
	var header []string
	if imp.Mapping == nil {
		if imp.LatestFileID == nil {
			return nil, nil
		}
		f, err := filestore.Get(ctx, s.db, *imp.LatestFileID)
		if err != nil {
			return nil, err
		}
		header = f.Header
	}
	if c := mapping.KeyColumn(header, imp.Mapping, imp.Kind == KindUser); c != "" {
		return &c, nil
	}
	return nil, nil
}

// GetFiles returns files by id, for dataloaders (admins only).
func (s *Service) GetFiles(ctx context.Context, ids []int64) ([]filestore.File, error) {
	return adminOnly(ctx, func() ([]filestore.File, error) { return filestore.GetMany(ctx, s.db, ids) })
}

// GetRuns returns runs by id, for dataloaders (admins only).
func (s *Service) GetRuns(ctx context.Context, ids []int64) ([]Run, error) {
	return adminOnly(ctx, func() ([]Run, error) { return GetRuns(ctx, s.db, ids) })
}

// ScheduleDescription is the product's Description column: the schedule,
// or Manual.
func (s *Service) ScheduleDescription(imp *Import) string { return imp.Schedule().Description() }

// ActiveRun returns the import's queued, running or held run (admins only).
func (s *Service) ActiveRun(ctx context.Context, importID int64) (*Run, error) {
	return adminOnly(ctx, func() (*Run, error) { return ActiveRun(ctx, s.db, importID) })
}
