package imports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/lists"
	"github.com/rollcall/rollcall/internal/users"
)

// DeleteMode is what deleting an import does to its recipients.
type DeleteMode string

const (
	// DeleteRemove marks the import's active recipients removed: lists stop
	// matching them. For a USER import, the accounts it manages are
	// disabled (system administrators excepted).
	DeleteRemove DeleteMode = "REMOVE"
	// DeleteKeep leaves them active; once the import is purged they stay,
	// detached from any import.
	DeleteKeep DeleteMode = "KEEP"
)

// DeleteImpact is what deleting an import would do.
type DeleteImpact struct {
	// Recipients: the import's active recipients (REMOVE removes them; KEEP
	// leaves them active).
	Recipients int
	// Lists whose membership would change, with their counts before and
	// after.
	Lists []lists.Impact
	// Users: for a USER import, the accounts the delete would disable.
	Users int
	// Files and Runs are kept, restorable, until the import is purged.
	Files int
	Runs  int
}

// DeleteImpact reports what Delete would do with mode, computed as the
// delete computes it (admins only).
func (s *Service) DeleteImpact(ctx context.Context, id int64, mode DeleteMode) (*DeleteImpact, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	var out *DeleteImpact
	err := s.db.RunInTx(ctx, &readOnly, func(ctx context.Context, tx bun.Tx) error {
		imp, err := GetImport(ctx, tx, id)
		if err != nil {
			return err
		}
		out, err = deleteImpact(ctx, tx, imp, mode)
		return err
	})
	return out, err
}

func deleteImpact(ctx context.Context, tx bun.Tx, imp *Import, mode DeleteMode) (*DeleteImpact, error) {
	out := &DeleteImpact{}
	var err error
	if out.Recipients, err = CountActiveRecipients(ctx, tx, imp.ID); err != nil {
		return nil, fmt.Errorf("count recipients: %w", err)
	}
	if mode == DeleteRemove && !imp.Deleted() {
		if out.Recipients > 0 {
			if out.Lists, err = lists.ImpactOfRemoving(ctx, tx, imp.ID); err != nil {
				return nil, err
			}
		}
		if out.Users, err = count(ctx, tx.NewSelect().Model((*users.User)(nil)).Where(disableOnDelete, imp.ID, users.RoleSystemAdmin)); err != nil {
			return nil, fmt.Errorf("count users: %w", err)
		}
	}
	if out.Files, err = count(ctx, tx.NewSelect().Model((*File)(nil)).Where("import_id = ?", imp.ID)); err != nil {
		return nil, fmt.Errorf("count files: %w", err)
	}
	if out.Runs, err = count(ctx, tx.NewSelect().Model((*Run)(nil)).Where("import_id = ?", imp.ID)); err != nil {
		return nil, fmt.Errorf("count runs: %w", err)
	}
	return out, nil
}

func count(ctx context.Context, q *bun.SelectQuery) (int, error) {
	n, err := q.Count(ctx)
	return int(n), err
}

// disableOnDelete selects the accounts a REMOVE delete of a USER import
// disables: those it manages that are enabled, administrators excepted.
const disableOnDelete = "import_id = ? AND NOT disabled AND role <> ?"

// readOnly is how the impact report reads: one snapshot for all its counts.
var readOnly = sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}

// Delete soft-deletes an import (admins only). confirmName must be the
// import's name exactly. A queued or running run refuses the delete; a
// held one is canceled with it. mode says what happens to the recipients.
// The import stays restorable until the retention period ends, when a
// background job purges it. Everything happens in one transaction.
func (s *Service) Delete(ctx context.Context, id int64, confirmName string, mode DeleteMode) (*Import, *DeleteImpact, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, nil, err
	}
	if mode != DeleteRemove && mode != DeleteKeep {
		return nil, nil, apperr.Invalid("recipients", "unknown mode %q: use REMOVE or KEEP", mode)
	}
	var imp *Import
	var impact *DeleteImpact
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if imp, err = getLiveImport(ctx, tx, id, true); err != nil {
			return err
		}
		if confirmName != imp.Name {
			return apperr.Invalid("confirmName", "confirmName must be the import's name exactly, %q; nothing was deleted", imp.Name)
		}
		// The import's run lock, as a run applying holds it (never waiting
		// for one): a run that starts after this sees the delete and
		// cancels itself (runBase.importDeleted).
		var free bool
		if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", importLockKey(imp.ID)).Scan(ctx, &free); err != nil {
			return fmt.Errorf("lock import: %w", err)
		}
		if !free {
			return apperr.Conflict("a run of import %q is applying: wait for it to finish, then delete", imp.Name)
		}
		if err := s.cancelHeldForDelete(ctx, tx, v, imp); err != nil {
			return err
		}
		if impact, err = deleteImpact(ctx, tx, imp, mode); err != nil {
			return err
		}
		now := s.now()
		if mode == DeleteRemove {
			// Removed with the import's deletion time and no run: that is
			// how Restore knows them.
			res, err := tx.NewUpdate().Table("recipients").Set("removed_at = ?", now).
				Where("import_id = ? AND removed_at IS NULL", imp.ID).Exec(ctx)
			if err != nil {
				return fmt.Errorf("remove recipients: %w", err)
			}
			if n, _ := res.RowsAffected(); int(n) != impact.Recipients {
				return fmt.Errorf("removed %d recipients, counted %d", n, impact.Recipients)
			}
			var disabled []int64
			if err := tx.NewUpdate().Model((*users.User)(nil)).Set("disabled = true").Set("updated_at = ?", now).
				Where(disableOnDelete, imp.ID, users.RoleSystemAdmin).Returning("id").Scan(ctx, &disabled); err != nil && !db.IsNoRows(err) {
				return fmt.Errorf("disable users: %w", err)
			}
			imp.DeletedUserIDs = disabled
		}
		purge := now.Add(s.cfg.Retention)
		imp.DeletedAt, imp.DeletedBy, imp.DeleteMode, imp.PurgeAfter = &now, &v.UserID, &mode, &purge
		imp.ScheduleNextAt, imp.ScheduleMissedAt = nil, nil
		if _, err := tx.NewUpdate().Model(imp).
			Column("deleted_at", "deleted_by", "delete_mode", "purge_after", "deleted_user_ids", "schedule_next_at", "schedule_missed_at").
			WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("delete import %d: %w", imp.ID, err)
		}
		return s.record(ctx, tx, v, audit.ImportDeleted, imp.auditTarget(), audit.Details{
			"recipients": mode, "recipientsAffected": impact.Recipients, "usersDisabled": imp.DeletedUserIDs,
			"listsChanged": len(impact.Lists), "purgeAfter": purge})
	})
	if err != nil {
		return nil, nil, err
	}
	return imp, impact, nil
}

// cancelHeldForDelete refuses a delete while a run is queued or running,
// and cancels a held run (it would apply to a deleted import).
func (s *Service) cancelHeldForDelete(ctx context.Context, tx bun.Tx, v *authz.Viewer, imp *Import) error {
	active, err := ActiveRun(ctx, tx, imp.ID)
	if err != nil || active == nil {
		return err
	}
	// Locked and read again: an approval may have just queued it.
	if active, err = GetRunForUpdate(ctx, tx, active.ID); err != nil {
		return err
	}
	if active.Status != StatusHeld {
		return apperr.Conflict("import run %d is %s: wait for it to finish or cancel it, then delete", active.ID,
			strings.ToLower(string(active.Status))).With("activeRunId", fmt.Sprint(active.ID))
	}
	return s.dropRun(ctx, tx, v, imp, active, "canceled: the import was deleted by "+v.Email,
		audit.Details{"was": StatusHeld, "reason": "import deleted"})
}

// Restore undoes a delete (admins only): recipients the delete removed are
// active again, accounts it disabled are enabled again, and the schedule
// resumes. The name must be free (another import may have taken it).
func (s *Service) Restore(ctx context.Context, id int64) (*Import, error) {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var imp *Import
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if imp, err = getImport(ctx, tx, id, "NO KEY UPDATE"); err != nil {
			return err
		}
		if !imp.Deleted() {
			return apperr.Conflict("import %q is not deleted", imp.Name)
		}
		deletedAt, mode := *imp.DeletedAt, *imp.DeleteMode
		var restored int64
		if mode == DeleteRemove {
			res, err := tx.NewUpdate().Table("recipients").Set("removed_at = NULL").
				Where("import_id = ? AND removed_at = ? AND removed_by_run_id IS NULL", imp.ID, deletedAt).Exec(ctx)
			if err != nil {
				return fmt.Errorf("restore recipients: %w", err)
			}
			restored, _ = res.RowsAffected()
			if len(imp.DeletedUserIDs) > 0 {
				if _, err := tx.NewUpdate().Model((*users.User)(nil)).Set("disabled = false").Set("updated_at = ?", s.now()).
					Where("id = ANY(?) AND import_id = ? AND disabled", pgdialect.Array(imp.DeletedUserIDs), imp.ID).Exec(ctx); err != nil {
					return fmt.Errorf("enable users: %w", err)
				}
			}
		}
		enabled := imp.DeletedUserIDs
		imp.DeletedAt, imp.DeletedBy, imp.DeleteMode, imp.PurgeAfter, imp.DeletedUserIDs = nil, nil, nil, nil, nil
		if err := imp.setSchedule(imp.Schedule(), s.now()); err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model(imp).
			Column("deleted_at", "deleted_by", "delete_mode", "purge_after", "deleted_user_ids", "schedule_next_at", "schedule_missed_at").
			WherePK().Exec(ctx)
		if db.IsUniqueViolation(err, "imports_name_key") {
			return apperr.Conflict("another import is now named %q: rename it first, then restore this one", imp.Name)
		}
		if err != nil {
			return fmt.Errorf("restore import %d: %w", imp.ID, err)
		}
		return s.record(ctx, tx, v, audit.ImportRestored, imp.auditTarget(), audit.Details{
			"recipients": mode, "recipientsRestored": restored, "usersEnabled": enabled, "deletedAt": deletedAt})
	})
	if err != nil {
		return nil, err
	}
	return imp, nil
}

// PurgeArgs is the periodic job that purges deleted imports whose
// retention has ended, and prunes undo data past it.
type PurgeArgs struct{}

func (PurgeArgs) Kind() string { return "import_purge" }

// PurgeWorker purges.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	svc *Service
}

// NewPurgeWorker returns the purge worker.
func NewPurgeWorker(svc *Service) *PurgeWorker { return &PurgeWorker{svc: svc} }

// Timeout allows purging large imports (River's default is a minute).
func (w *PurgeWorker) Timeout(*river.Job[PurgeArgs]) time.Duration { return time.Hour }

func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	_, purgeErr := w.svc.Purge(ctx)
	_, pruneErr := w.svc.PruneUndo(ctx)
	return errors.Join(purgeErr, pruneErr)
}

// Purge deletes, for good, each deleted import whose retention has ended,
// one transaction per import, and returns their ids. Its files and runs go
// with it, and the recipients a REMOVE delete (or its runs) removed; kept
// recipients stay, detached (import_id NULL), as do the accounts of a USER
// import.
func (s *Service) Purge(ctx context.Context) ([]int64, error) {
	var due []int64
	if err := s.db.NewSelect().Model((*Import)(nil)).Column("id").
		Where("deleted_at IS NOT NULL AND purge_after <= ?", s.now()).OrderExpr("id").Scan(ctx, &due); err != nil {
		return nil, fmt.Errorf("imports to purge: %w", err)
	}
	var done []int64
	for _, id := range due {
		purged := false
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			imp := new(Import)
			err := tx.NewSelect().Model(imp).Where("id = ? AND deleted_at IS NOT NULL AND purge_after <= ?", id, s.now()).
				For("UPDATE SKIP LOCKED").Scan(ctx)
			if db.IsNoRows(err) {
				return nil // restored meanwhile, or another node has it
			}
			if err != nil {
				return err
			}
			counts, err := purgeImport(ctx, tx, imp.ID)
			if err != nil {
				return fmt.Errorf("purge import %d: %w", imp.ID, err)
			}
			purged = true
			counts["deletedAt"] = imp.DeletedAt
			return audit.Record(ctx, tx, s.now(), audit.Actor{}, audit.ImportPurged, imp.auditTarget(), counts)
		})
		if err != nil {
			return done, err
		}
		if purged {
			done = append(done, id)
		}
	}
	return done, nil
}

// purgeImport deletes an import and what belongs to it only, in an order
// the foreign keys accept; they set kept recipients' and accounts'
// import_id to NULL.
func purgeImport(ctx context.Context, tx bun.Tx, id int64) (audit.Details, error) {
	d := audit.Details{}
	steps := []struct {
		name, sql string
	}{
		{"", `UPDATE imports SET last_run_id = NULL, latest_file_id = NULL WHERE id = ?`},
		// The hand-made list entries of those recipients go with them (the
		// foreign keys cascade); counted for the audit log.
		{"listAdditionsDeleted", `DELETE FROM list_additions WHERE recipient_id IN
			(SELECT id FROM recipients WHERE import_id = ? AND removed_at IS NOT NULL)`},
		{"listSkipsDeleted", `DELETE FROM list_exclusions WHERE recipient_id IN
			(SELECT id FROM recipients WHERE import_id = ? AND removed_at IS NOT NULL)`},
		{"recipientsDeleted", `DELETE FROM recipients WHERE import_id = ? AND removed_at IS NOT NULL`},
		{"runsDeleted", `DELETE FROM import_runs WHERE import_id = ?`},
		{"filesDeleted", `DELETE FROM import_files WHERE import_id = ?`},
		{"", `DELETE FROM imports WHERE id = ?`},
	}
	for _, st := range steps {
		res, err := tx.NewRaw(st.sql, id).Exec(ctx)
		if err != nil {
			return nil, err
		}
		if st.name != "" {
			d[st.name], _ = res.RowsAffected()
		}
	}
	return d, nil
}

// PruneUndo drops the undo data of runs that finished longer ago than the
// retention period: they can no longer be reverted. It returns how many
// runs it pruned.
func (s *Service) PruneUndo(ctx context.Context) (int, error) {
	var n int
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var ids []int64
		if err := tx.NewUpdate().Model((*Run)(nil)).Set("undo_watermark = NULL").
			Where("undo_watermark IS NOT NULL AND finished_at < ?", s.now().Add(-s.cfg.Retention)).
			Returning("id").Scan(ctx, &ids); err != nil && !db.IsNoRows(err) {
			return fmt.Errorf("prune undo: %w", err)
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		_, err := tx.NewDelete().Table("import_run_undo").Where("run_id = ANY(?)", pgdialect.Array(ids)).Exec(ctx)
		return err
	})
	return n, err
}
