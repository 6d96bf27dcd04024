package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/users"
)

// An import of kind USER turns an employee file into Rollcall user
// accounts: the email is the key; name, role and schools (the restriction
// `school in (…)`) come from their columns. Users are few, so the file's
// rows are held in memory and applied row by row in the run's transaction.
//
// Rules beyond the recipient pipeline's:
//   - a user is matched by email. One made by hand (no import) is taken over
//     by the first USER import whose file names them; one another import
//     manages is a row error.
//   - FULL disables (never deletes) the import's users absent from the file;
//     one present again is re-enabled (restored). A user an administrator
//     disabled stays disabled (users.disabled_by_import).
//   - SYSTEM_ADMIN accounts are never disabled, demoted, or given another
//     restriction by an import; a file may promote a USER to SYSTEM_ADMIN.

// userRow is one data row of the file (the first, for an email repeated).
type userRow struct {
	line     int
	key      string // the normalized email (see userPlan.emailKey)
	hash     int64
	vals     mapping.UserValues
	rejected bool
	conflict bool
}

// userPipeline applies one file to one USER import's accounts.
type userPipeline struct {
	runBase
	tx   *db.Tx
	plan *mapping.UserPlan

	rows    []*userRow          // in file order, one per email
	byEmail map[string]*userRow // every email the file has, rejected rows included
	blank   int
	dups    int

	// what the run does, decided before anything is written
	creates  []*users.User
	updates  []*users.User // changed, re-enabled or taken over, or just a new row hash
	disables []*users.User
	active   int // the import's enabled users before the run
	changes  []Change

	demoted, keptAdmins, takenOver, reenabledByHand, keptDisabled []string
}

// execute runs the pipeline. It returns *Rollback for outcomes that must
// not be committed.
func (p *userPipeline) execute(ctx context.Context, file File) (*Result, error) {
	spec := p.spec
	p.progress.phase.Store(PhaseReading)
	mark := time.Now()
	lap := func(name string) {
		p.timings = append(p.timings, slog.Duration(name, time.Since(mark)))
		mark = time.Now()
	}
	rr, err := importfile.NewReader(file.Stream, p.notes, false, p.spec.Limits)
	if err != nil {
		return p.fail(err)
	}
	rr.Watch(ctx, &p.progress.rows)
	header, err := rr.Header()
	if err != nil {
		return p.fail(err)
	}
	if p.plan, err = mapping.NewUserPlan(header, spec.Mapping, p.notes); err != nil {
		return p.fail(err)
	}
	if err := p.read(ctx, rr); err != nil {
		return p.fail(err)
	}
	rr.Finish()
	lap("read")
	if p.counts.RowsRead == 0 {
		return p.fail(&importfile.FileError{Line: 1, Message: "the file has a header but no data rows; nothing was applied"})
	}

	p.progress.phase.Store(PhaseApplying)
	existing, err := p.loadExisting(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.decide(ctx, existing); err != nil {
		return nil, err
	}
	lap("load_and_compare")
	sort.SliceStable(p.notes.Errors, func(i, j int) bool { return p.notes.Errors[i].Line < p.notes.Errors[j].Line })
	p.counts.Rejected = len(p.notes.Errors) + p.notes.Dropped
	p.warnings()

	if rb := p.guard(len(p.disables), p.active, userWords); rb != nil {
		return rb.Result, rb
	}
	if err := p.write(ctx); err != nil {
		return p.fail(dataError(err))
	}
	lap("apply")
	return p.succeed(p.changes, userWords)
}

// userRowBytes is what one user row of a file costs in memory, for the
// run's budget.
const userRowBytes = 1024

// read reads every data row, normalizing it and setting repeated emails
// apart: an exact repeat is counted once; different values reject every
// row with that email.
func (p *userPipeline) read(ctx context.Context, rr *importfile.Reader) error {
	p.byEmail = map[string]*userRow{}
	digest := xxhash.New()
	budget := p.spec.Limits.RunMemoryBytes
	for n := 1; ; n++ {
		if n%1024 == 0 {
			if err := context.Cause(ctx); err != nil {
				return err
			}
			// A user row is held whole (its values, for comparing with
			// the account): about a kilobyte with the map's overhead.
			if budget > 0 && int64(len(p.byEmail))*userRowBytes > budget {
				return &importfile.FileError{Message: fmt.Sprintf("the file has more than %d distinct users, more than a run may keep in memory (the limit, ROLLCALL_RUN_MEMORY_BYTES, is %s): nothing was applied",
					len(p.byEmail), importfile.FormatBytes(budget))}
			}
		}
		rec, line, err := rr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var re *importfile.RowError
		if errors.As(err, &re) {
			p.counts.RowsRead++
			p.rejectUnreadable(rec, line, *re, digest)
			continue
		}
		if err != nil {
			return err
		}
		p.counts.RowsRead++
		if importfile.AllBlank(rec) {
			p.blank++
			p.counts.RowsRead--
			continue
		}
		if len(rec) != len(p.plan.Header()) {
			p.rejectUnreadable(rec, line, importfile.RowError{Line: line, Message: fmt.Sprintf(
				"expected %d fields (as in the header), found %d", len(p.plan.Header()), len(rec))}, digest)
			continue
		}
		key, _ := p.plan.EmailKey(rec)
		if key == "" {
			p.notes.Reject(importfile.RowError{Line: line, Column: p.plan.Column(mapping.UserEmail), Message: "the email is empty"})
			continue
		}
		hash := p.plan.HashRecord(digest, rec)
		if first, ok := p.byEmail[key]; ok {
			p.repeated(first, hash, line)
			continue
		}
		r := &userRow{line: line, key: key, hash: hash}
		p.byEmail[key] = r
		vals, rerr := p.plan.Normalize(rec, line)
		if rerr != nil {
			r.rejected = true
			p.notes.Reject(*rerr)
			continue
		}
		r.vals = vals
		p.rows = append(p.rows, r)
	}
}

// rejectUnreadable rejects a row that could not be read whole. If its email
// can still be read, the user is kept as they are: the file has a row for
// them, so a FULL run must not disable them.
func (p *userPipeline) rejectUnreadable(rec []string, line int, re importfile.RowError, digest *xxhash.Digest) {
	p.notes.Reject(re)
	if p.plan.EmailIndex() >= len(rec) {
		return
	}
	key, _ := p.plan.EmailKey(rec)
	if _, seen := p.byEmail[key]; key == "" || seen {
		return
	}
	p.byEmail[key] = &userRow{line: line, key: key, hash: p.plan.HashRecord(digest, rec), rejected: true}
}

// repeated handles an email seen before in this file.
func (p *userPipeline) repeated(first *userRow, hash int64, line int) {
	if !first.conflict && first.hash == hash {
		p.dups++
		return
	}
	column := p.plan.Column(mapping.UserEmail)
	if !first.conflict {
		first.conflict = true
		if !first.rejected {
			p.notes.Reject(importfile.RowError{Line: first.line, Column: column, Value: first.key,
				Message: fmt.Sprintf("email %q appears again on line %d with different values; neither row was applied", first.key, line)})
		}
		first.rejected = true
	}
	p.notes.Reject(importfile.RowError{Line: line, Column: column, Value: first.key,
		Message: fmt.Sprintf("email %q already appeared on line %d with different values; neither row was applied", first.key, first.line)})
}

// loadExisting reads, and locks, the import's users and the users the file
// names, by email.
func (p *userPipeline) loadExisting(ctx context.Context) (map[string]*users.User, error) {
	emails := make([]string, 0, len(p.byEmail))
	for k := range p.byEmail {
		emails = append(emails, k)
	}
	var list []users.User
	err := p.tx.NewSelect().Model(&list).
		Where("import_id = ? OR email = ANY(?)", p.spec.ImportID, pgdialect.Array(emails)).
		OrderExpr("id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	out := make(map[string]*users.User, len(list))
	for i := range list {
		u := &list[i]
		out[u.Email] = u
		if p.manages(u) && !u.Disabled {
			p.active++
		}
	}
	return out, nil
}

func (p *userPipeline) manages(u *users.User) bool {
	return u.ImportID != nil && *u.ImportID == p.spec.ImportID
}

// decide works out, row by row, what the run does to each user, and counts
// it.
func (p *userPipeline) decide(ctx context.Context, existing map[string]*users.User) error {
	spec, now := p.spec, p.spec.Now
	others, err := p.otherImports(ctx, existing)
	if err != nil {
		return err
	}
	var changes []Change
	for _, r := range p.rows {
		if r.rejected {
			continue
		}
		v := r.vals
		u := existing[r.key]
		line := r.line
		switch {
		case u == nil:
			role := v.Role
			if role == "" {
				role = users.RoleUser
			}
			id, hash := spec.ImportID, r.hash
			p.creates = append(p.creates, &users.User{Email: v.Email, Name: v.Name, Role: role, Restriction: v.Restriction,
				ImportID: &id, RowHash: &hash, CreatedAt: now, UpdatedAt: now})
			p.counts.Created++
			changes = append(changes, Change{Line: &line, ExternalID: v.Email, Action: ActionCreate})

		case u.ImportID != nil && *u.ImportID != spec.ImportID:
			other := fmt.Sprintf("import %d", *u.ImportID)
			if name, ok := others[*u.ImportID]; ok {
				other += fmt.Sprintf(" (%q)", name)
			}
			p.notes.Reject(importfile.RowError{Line: line, Column: p.plan.Column(mapping.UserEmail), Value: v.Email,
				Message: fmt.Sprintf("user %s is managed by %s; it was left as it is", v.Email, other)})

		case spec.CreateOnly:
			// Existing users, the import's or made by hand, are left alone.
			p.counts.Unchanged++

		case p.manages(u) && (!u.Disabled || !u.DisabledByImport) && u.RowHash != nil && *u.RowHash == r.hash:
			p.counts.Unchanged++
			if u.Disabled {
				p.keptDisabled = append(p.keptDisabled, u.Email)
			}
			if v.Role == users.RoleUser && u.Role == users.RoleSystemAdmin {
				p.demoted = append(p.demoted, u.Email)
			}

		default:
			changes = append(changes, p.update(u, r)...)
		}
	}
	p.changes = changes

	if spec.RemoveAbsent {
		var absent []*users.User
		for _, u := range existing {
			if _, inFile := p.byEmail[u.Email]; !inFile && p.manages(u) && !u.Disabled {
				absent = append(absent, u)
			}
		}
		sort.Slice(absent, func(i, j int) bool { return absent[i].Email < absent[j].Email })
		for _, u := range absent {
			if u.Role == users.RoleSystemAdmin {
				p.keptAdmins = append(p.keptAdmins, u.Email)
				continue
			}
			p.disables = append(p.disables, u)
			p.changes = append(p.changes, Change{ExternalID: u.Email, Action: ActionRemove})
		}
		p.counts.Removed = len(p.disables)
	}
	if len(p.changes) > maxSampleChanges {
		p.changes = p.changes[:maxSampleChanges]
	}
	return nil
}

// update applies a row to an existing user (the import's own, or one made
// by hand that the import takes over) and returns the changes for the
// sample.
func (p *userPipeline) update(u *users.User, r *userRow) []Change {
	v, line := r.vals, r.line
	next := *u
	id, hash := p.spec.ImportID, r.hash
	takeOver := u.ImportID == nil
	// Disabled by an administrator, not by this import: it stays so.
	keptDisabled := u.Disabled && !takeOver && !u.DisabledByImport
	if keptDisabled {
		p.keptDisabled = append(p.keptDisabled, u.Email)
	}
	restored := u.Disabled && !keptDisabled
	next.ImportID, next.RowHash, next.Disabled, next.DisabledByImport, next.UpdatedAt = &id, &hash, keptDisabled, false, p.spec.Now
	next.Name = v.Name
	wasAdmin := u.Role == users.RoleSystemAdmin
	switch {
	case v.Role == users.RoleSystemAdmin:
		next.Role = v.Role
	case v.Role == users.RoleUser && wasAdmin:
		p.demoted = append(p.demoted, u.Email) // never downgraded
	case v.Role == users.RoleUser:
		next.Role = v.Role
	}
	if v.HasSchools && !wasAdmin {
		next.Restriction = v.Restriction
	}
	if takeOver {
		p.takenOver = append(p.takenOver, u.Email)
		if u.Disabled {
			p.reenabledByHand = append(p.reenabledByHand, u.Email)
		}
	}

	action := ActionUpdate
	var out []Change
	if restored {
		action = ActionRestore
		out = append(out, Change{Line: &line, ExternalID: u.Email, Action: action})
	}
	field := func(name string, old, cur *string) {
		f := name
		out = append(out, Change{Line: &line, ExternalID: u.Email, Action: action, Field: &f, OldValue: old, NewValue: cur})
	}
	if next.Name != u.Name {
		field("name", &u.Name, &next.Name)
	}
	if next.Role != u.Role {
		old, cur := string(u.Role), string(next.Role)
		field("role", &old, &cur)
	}
	if !sameJSON(next.Restriction, u.Restriction) {
		field("schools", mapping.SchoolsText(u.Restriction), mapping.SchoolsText(next.Restriction))
	}
	if takeOver {
		name := p.spec.ImportName
		field("import", nil, &name)
	}
	switch {
	case restored:
		p.counts.Restored++
	case len(out) > 0:
		p.counts.Updated++
	default:
		// The file's text changed, not the values (a role written as
		// "teacher" instead of "USER", say): only the row hash is written.
		p.counts.Unchanged++
		next.UpdatedAt = u.UpdatedAt
	}
	p.updates = append(p.updates, &next)
	return out
}

// otherImports names the other imports that manage users of the file.
func (p *userPipeline) otherImports(ctx context.Context, existing map[string]*users.User) (map[int64]string, error) {
	var ids []int64
	seen := map[int64]bool{}
	for _, u := range existing {
		if u.ImportID != nil && *u.ImportID != p.spec.ImportID && !seen[*u.ImportID] {
			seen[*u.ImportID] = true
			ids = append(ids, *u.ImportID)
		}
	}
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	return p.spec.ImportNames(ctx, ids)
}

// warnings reports what the run did differently from what the file says,
// and the rows it counted once or skipped.
func (p *userPipeline) warnings() {
	n := p.notes
	if len(p.demoted) > 0 {
		n.Warn(fmt.Sprintf("%d SYSTEM_ADMIN account(s) are not administrators in the file but were kept SYSTEM_ADMIN (imports never downgrade administrators): %s",
			len(p.demoted), someOf(p.demoted)))
	}
	if len(p.keptAdmins) > 0 {
		n.Warn(fmt.Sprintf("%d SYSTEM_ADMIN account(s) are not in the file but were not disabled (imports never disable administrators): %s",
			len(p.keptAdmins), someOf(p.keptAdmins)))
	}
	if len(p.takenOver) > 0 {
		n.Warn(fmt.Sprintf("%d account(s) created by hand are now managed by this import: %s", len(p.takenOver), someOf(p.takenOver)))
	}
	if len(p.reenabledByHand) > 0 {
		n.Warn(fmt.Sprintf("%d of the accounts taken over were disabled and were re-enabled, as the file lists them: %s",
			len(p.reenabledByHand), someOf(p.reenabledByHand)))
	}
	if len(p.keptDisabled) > 0 {
		n.Warn(fmt.Sprintf("%d account(s) in the file stay disabled, as an administrator disabled them: %s",
			len(p.keptDisabled), someOf(p.keptDisabled)))
	}
	if p.dups > 0 {
		n.Warn(fmt.Sprintf("%d row(s) repeated an earlier row exactly (same email and values) and were counted once", p.dups))
	}
	if p.blank > 0 {
		n.Warn(fmt.Sprintf("%d blank row(s) skipped", p.blank))
	}
}

// someOf lists the first few of a list of emails.
func someOf(emails []string) string {
	const shown = 10
	if len(emails) <= shown {
		return strings.Join(emails, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(emails[:shown], ", "), len(emails)-shown)
}

// write applies the decisions in the run's transaction.
func (p *userPipeline) write(ctx context.Context) error {
	if len(p.creates) > 0 {
		if _, err := p.tx.NewInsert().Model(&p.creates).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("create users: %w", err)
		}
	}
	for _, u := range p.updates {
		if _, err := p.tx.NewUpdate().Model(u).
			Column("name", "role", "disabled", "disabled_by_import", "restriction", "import_id", "row_hash", "updated_at").
			WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update user %s: %w", u.Email, err)
		}
	}
	if len(p.disables) > 0 {
		ids := make([]int64, len(p.disables))
		for i, u := range p.disables {
			ids[i] = u.ID
		}
		if _, err := p.tx.NewUpdate().Model((*users.User)(nil)).
			Set("disabled = true, disabled_by_import = true").Set("updated_at = ?", p.spec.Now).
			Where("id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
			return fmt.Errorf("disable users: %w", err)
		}
	}
	return nil
}

// sameJSON compares two stored filters by meaning (nil: none).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == 0 && len(b) == 0
	}
	x, y := string(a), string(b)
	return sameJSONOrText(&x, &y)
}
