package imports

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/audit"
	"github.com/rollcall/rollcall/internal/authz"
)

func (imp *Import) auditTarget() audit.Target {
	return audit.Target{Type: audit.TargetImport, ID: imp.ID, Name: imp.Name}
}

// record writes the audit entry of an administrator's action, in tx.
func (s *Service) record(ctx context.Context, tx bun.IDB, v *authz.Viewer, action audit.Action, target audit.Target, d audit.Details) error {
	return audit.Record(ctx, tx, s.now(), audit.ActorOf(v), action, target, d)
}

// recordRun writes the audit entry of an action on run (imp, if known, names
// the import in the details).
func (s *Service) recordRun(ctx context.Context, tx bun.IDB, v *authz.Viewer, action audit.Action, imp *Import, run *Run, d audit.Details) error {
	if d == nil {
		d = audit.Details{}
	}
	d["importId"] = run.ImportID
	if imp != nil {
		d["import"] = imp.Name
	}
	d["fileId"], d["dryRun"], d["trigger"] = run.FileID, run.DryRun, run.Trigger
	return s.record(ctx, tx, v, action, audit.Target{Type: audit.TargetImportRun, ID: run.ID}, d)
}

// importChanges are the fields an update changed, old → new.
func importChanges(before, after *Import) audit.Details {
	d := audit.Details{}
	d.Change("name", before.Name, after.Name)
	d.Change("description", before.Description, after.Description)
	d.Change("mapping", before.Mapping, after.Mapping)
	d.Change("defaultRecipientType", before.DefaultRecipientType, after.DefaultRecipientType)
	d.Change("removalThreshold", before.RemovalThreshold, after.RemovalThreshold)
	d.Change("rejectionThreshold", before.RejectionThreshold, after.RejectionThreshold)
	d.Change("schedule", before.Schedule().Description(), after.Schedule().Description())
	d.Change("runOnUpload", before.RunOnUpload, after.RunOnUpload)
	d.Change("provisionTeacherAccounts", before.ProvisionTeacherAccounts, after.ProvisionTeacherAccounts)
	return d
}

// inAdminTx runs fn in one transaction for an administrator (imports are
// system data), handing it the viewer for the audit log.
func (s *Service) inAdminTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx, v *authz.Viewer) error) error {
	v, err := authz.RequireAdmin(ctx)
	if err != nil {
		return err
	}
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx, v) })
}
