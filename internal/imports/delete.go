package imports

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/filestore"
	"github.com/rollcall/rollcall/internal/lists"
	"github.com/rollcall/rollcall/internal/recipients"
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
	if out.Recipients, err = recipients.CountActiveOf(ctx, tx, imp.ID); err != nil {
		return nil, err
	}
	if mode == DeleteRemove && !imp.Deleted() {
		if out.Recipients > 0 {
			if out.Lists, err = lists.ImpactOfRemoving(ctx, tx, imp.ID); err != nil {
				return nil, err
			}
		}
		if out.Users, err = users.CountManaged(ctx, tx, imp.ID, false); err != nil {
			return nil, err
		}
	}
	if out.Files, err = filestore.CountOf(ctx, tx, imp.ID); err != nil {
		return nil, fmt.Errorf("count files: %w", err)
	}
	if out.Runs, err = CountRuns(ctx, tx, imp.ID); err != nil {
		return nil, fmt.Errorf("count runs: %w", err)
	}
	return out, nil
}

// deletionColumns are the columns a delete and a restore write.
var deletionColumns = []string{"deleted_at", "deleted_by", "delete_mode", "purge_after", "deleted_user_ids",
	"schedule_next_at", "schedule_missed_at"}

// purgeDue selects the deleted imports whose retention ended at ?.
const purgeDue = "deleted_at IS NOT NULL AND purge_after <= ?"

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
		// cancels itself (LockForApply).
		if free, err := apply.TryLock(ctx, tx, imp.ID); err != nil || !free {
			if err != nil {
				return err
			}
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
			n, err := recipients.RemoveAllOf(ctx, tx, imp.ID, now)
			if err != nil {
				return err
			}
			if n != impact.Recipients {
				return fmt.Errorf("removed %d recipients, counted %d", n, impact.Recipients)
			}
			if imp.DeletedUserIDs, err = users.DisableManaged(ctx, tx, imp.ID, now); err != nil {
				return err
			}
		}
		purge := now.Add(s.cfg.Retention)
		imp.DeletedAt, imp.DeletedBy, imp.DeleteMode, imp.PurgeAfter = &now, &v.UserID, &mode, &purge
		imp.ScheduleNextAt, imp.ScheduleMissedAt = nil, nil
		if err := updateImport(ctx, tx, imp, "", deletionColumns...); err != nil {
			return err
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
	var imp *Import
	err := s.inAdminTx(ctx, func(ctx context.Context, tx bun.Tx, v *authz.Viewer) error {
		var err error
		if imp, err = getImport(ctx, tx, id, "NO KEY UPDATE"); err != nil {
			return err
		}
		if !imp.Deleted() {
			return apperr.Conflict("import %q is not deleted", imp.Name)
		}
		deletedAt, mode := *imp.DeletedAt, *imp.DeleteMode
		var restored int
		if mode == DeleteRemove {
			if restored, err = recipients.RestoreAllOf(ctx, tx, imp.ID, deletedAt); err != nil {
				return err
			}
			if err := users.EnableManaged(ctx, tx, imp.ID, imp.DeletedUserIDs, s.now()); err != nil {
				return err
			}
		}
		enabled := imp.DeletedUserIDs
		imp.DeletedAt, imp.DeletedBy, imp.DeleteMode, imp.PurgeAfter, imp.DeletedUserIDs = nil, nil, nil, nil, nil
		if err := imp.setSchedule(imp.Schedule(), s.now()); err != nil {
			return err
		}
		if err := updateImport(ctx, tx, imp, "another import is now named %q: rename it first, then restore this one",
			deletionColumns...); err != nil {
			return err
		}
		return s.record(ctx, tx, v, audit.ImportRestored, imp.auditTarget(), audit.Details{
			"recipients": mode, "recipientsRestored": restored, "usersEnabled": enabled, "deletedAt": deletedAt})
	})
	if err != nil {
		return nil, err
	}
	return imp, nil
}

// Purge deletes, for good, each deleted import whose retention has ended,
// one transaction per import, and returns their ids. Its files and runs go
// with it, a OneRoster import's records of its exports, and the
// recipients a REMOVE delete (or its runs) removed; kept
// recipients stay, detached (import_id NULL), as do the accounts of a USER
// import.
func (s *Service) Purge(ctx context.Context) ([]int64, error) {
	due, err := importIDs(ctx, s.db, "id", purgeDue, s.now())
	if err != nil {
		return nil, err
	}
	var done []int64
	for _, id := range due {
		purged := false
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			imp, err := lockImportIf(ctx, tx, id, purgeDue, s.now())
			if err != nil || imp == nil {
				return err // nil: restored meanwhile, or another node has it
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

// PruneUndo drops the undo data of runs that finished longer ago than the
// retention period: they can no longer be reverted. It returns how many
// runs it pruned.
func (s *Service) PruneUndo(ctx context.Context) (int, error) {
	var n int
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) (err error) {
		n, err = pruneUndo(ctx, tx, s.now().Add(-s.cfg.Retention))
		return err
	})
	return n, err
}
