package importjobs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/opt"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

const staffFile = `email,name,role,schools
ana@district.test,Ana García,teacher,Lincoln Elementary
Ben@District.test,Ben Lee,,Lincoln Elementary; Adams Elementary
cy@district.test,Cy Day,admin,*
dee@district.test,Dee Fox,staff,ALL
`

func newUserFixture(t *testing.T, in imports.CreateImportInput) *fixture {
	t.Helper()
	kind := imports.KindUser
	in.Kind = &kind
	if in.Name == "" {
		in.Name = "HR staff"
	}
	return newFixture(t, in)
}

// user reads a user by email.
func (f *fixture) user(email string) users.User {
	f.t.Helper()
	var u users.User
	require.NoError(f.t, f.db.NewSelect().Model(&u).Where("email = ?", email).Scan(f.ctx))
	return u
}

// users is every user of the database as comparable text, by email.
func (f *fixture) users() map[string]string {
	f.t.Helper()
	var rows []struct {
		Email string `bun:"email"`
		Row   string `bun:"row"`
	}
	err := f.db.NewRaw(`SELECT email, jsonb_build_object('name', name, 'role', role, 'disabled', disabled,
		'restriction', restriction, 'import', import_id, 'hash', row_hash, 'updated', updated_at)::text AS row
		FROM users`).Scan(f.ctx, &rows)
	require.NoError(f.t, err)
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Email] = r.Row
	}
	return out
}

// schools decodes a user's restriction to its school list (nil: none).
func schools(t *testing.T, u users.User) []string {
	t.Helper()
	if u.Restriction == nil {
		return nil
	}
	flt, err := recipients.DecodeFilter(u.Restriction)
	require.NoError(t, err)
	require.NotNil(t, flt.School)
	return flt.School.In
}

func (f *fixture) setThresholds(removal, rejection float64) {
	f.t.Helper()
	f.imp.RemovalThreshold, f.imp.RejectionThreshold = removal, rejection
	_, err := f.db.NewUpdate().Model(f.imp).Column("removal_threshold", "rejection_threshold").WherePK().Exec(f.ctx)
	require.NoError(f.t, err)
}

func changeLines(t *testing.T, f *fixture, run *imports.Run) []string {
	t.Helper()
	changes, err := imports.ListRunChanges(f.ctx, f.db, run.ID)
	require.NoError(t, err)
	var saw []string
	for _, c := range changes {
		s := string(c.Action) + " " + c.ExternalID
		if c.Field != nil {
			s += " " + *c.Field + " " + opt.Deref(c.OldValue) + " -> " + opt.Deref(c.NewValue)
		}
		saw = append(saw, s)
	}
	return saw
}

func TestUserImportCreateUpdateUnchanged(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{})

	run := f.runFile(staffFile)
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Created: 4}, counts(run))
	require.Contains(t, run.Message, "0 disabled, 0 re-enabled")

	ana := f.user("ana@district.test")
	require.Equal(t, "Ana García", ana.Name)
	require.Equal(t, users.RoleUser, ana.Role)
	require.False(t, ana.Disabled)
	require.Equal(t, f.imp.ID, *ana.ImportID)
	require.NotNil(t, ana.RowHash)
	require.Equal(t, []string{"Lincoln Elementary"}, schools(t, ana))

	ben := f.user("ben@district.test") // the email is normalized
	require.Equal(t, users.RoleUser, ben.Role, "an empty role is USER")
	require.Equal(t, []string{"Lincoln Elementary", "Adams Elementary"}, schools(t, ben))

	cy := f.user("cy@district.test")
	require.Equal(t, users.RoleSystemAdmin, cy.Role)
	require.Nil(t, cy.Restriction, "* is no restriction")
	require.Nil(t, f.user("dee@district.test").Restriction, "ALL is no restriction")

	n, err := users.CountManaged(f.ctx, f.db, f.imp.ID, true)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	n, err = f.svc.UserCount(f.ctx, f.imp.ID)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.Equal(t, run.ID, *f.imp.LastRunID)

	before := f.users()
	again := f.runFile(staffFile)
	require.Equal(t, imports.StatusSucceeded, again.Status, again.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Unchanged: 4}, counts(again))
	require.Equal(t, before, f.users(), "re-running the same file changes nothing")

	// Ben is renamed and moves school; Ana's role is written differently
	// (same value): only her row hash changes.
	next := strings.Replace(staffFile, "Ben Lee,,Lincoln Elementary; Adams Elementary", "Ben Lee-Ray,,Adams Elementary", 1)
	next = strings.Replace(next, "Ana García,teacher", "Ana García,USER", 1)
	upd := f.runFile(next)
	require.Equal(t, imports.StatusSucceeded, upd.Status, upd.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Updated: 1, Unchanged: 3}, counts(upd))
	require.Equal(t, "Ben Lee-Ray", f.user("ben@district.test").Name)
	require.Equal(t, []string{"Adams Elementary"}, schools(t, f.user("ben@district.test")))
	require.ElementsMatch(t, []string{
		"UPDATE ben@district.test name Ben Lee -> Ben Lee-Ray",
		"UPDATE ben@district.test schools Lincoln Elementary; Adams Elementary -> Adams Elementary",
	}, changeLines(t, f, upd))
	after := f.users()
	require.Equal(t, before["cy@district.test"], after["cy@district.test"])
	require.NotEqual(t, before["ana@district.test"], after["ana@district.test"], "the new row hash is stored")
	require.Equal(t, f.user("ana@district.test").UpdatedAt, ana.UpdatedAt, "a new hash alone is not an update")
}

func TestUserImportNamesAndIgnoredColumns(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{})
	run := f.runFile(`Work Email,First Name,Last Name,Building,Phone,Dept
ana@district.test,Ana,García,Lincoln Elementary,612-555-0101,Math
`)
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, "Ana García", f.user("ana@district.test").Name)
	require.Equal(t, []string{"Lincoln Elementary"}, schools(t, f.user("ana@district.test")))
	require.Contains(t, run.Warnings, "2 column(s) are not used for users and were ignored: Phone, Dept")

	key, err := f.svc.KeyColumn(f.ctx, f.imp)
	require.NoError(t, err)
	require.Equal(t, "Work Email", *key)
	m, err := f.svc.ProposeMapping(f.ctx, f.imp.ID)
	require.NoError(t, err)
	require.Equal(t, mapping.Mapping{{Column: "Work Email", Field: "email"}, {Column: "First Name", Field: "firstName"},
		{Column: "Last Name", Field: "lastName"}, {Column: "Building", Field: "schools"}}, m)

	// Without a schools column, new users see everything: the run says so.
	f.setThresholds(100, 5)
	run = f.runFile("email,full name\nben@district.test,Ben Lee\n")
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Nil(t, f.user("ben@district.test").Restriction)
	require.Contains(t, strings.Join(run.Warnings, "\n"), "the file has no schools column")

	// No name at all: the file fails.
	run = f.runFile("email,schools\ncy@district.test,Lincoln\n")
	require.Equal(t, imports.StatusFailed, run.Status)
	require.Contains(t, run.Message, "no name column")
	run = f.runFile("mail,name\ncy@district.test,Cy\n")
	require.Equal(t, imports.StatusFailed, run.Status)
	require.Contains(t, run.Message, "no email column")
}

func TestUserImportExplicitMapping(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{Mapping: []mapping.Entry{
		{Column: "Mail", Field: "email"}, {Column: "Person", Field: "name"}, {Column: "Campus", Field: "schools"},
	}})
	run := f.runFile("Mail,Person,Access Level,Campus\nana@district.test,Ana,admin,Lincoln\n")
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	ana := f.user("ana@district.test")
	require.Equal(t, users.RoleUser, ana.Role, "the unmapped Access Level column is ignored")
	require.Equal(t, []string{"Lincoln"}, schools(t, ana))
	require.Contains(t, run.Warnings, "1 column(s) are not used for users and were ignored: Access Level")

	_, err := f.svc.Update(f.ctx, f.imp.ID, imports.UpdateImportInput{Mapping: []mapping.Entry{
		{Column: "Mail", Field: "email"}, {Column: "Person", Field: "name"}, {Column: "Grade", Field: "grade"},
	}})
	ae := asAppErr(t, err)
	require.Equal(t, apperr.CodeBadUserInput, ae.Code)
	require.Equal(t, "input.mapping[2].field", ae.Field)

	for _, tc := range []struct {
		m     mapping.Mapping
		field string
	}{
		{mapping.Mapping{{Column: "Person", Field: "name"}}, "input.mapping"},
		{mapping.Mapping{{Column: "Mail", Field: "email"}, {Column: "Role", Field: "role"}}, "input.mapping"},
		{mapping.Mapping{{Column: "Mail", Field: "email"}, {Column: "mail", Field: "name"}}, "input.mapping[1].column"},
		{mapping.Mapping{{Column: "Mail", Field: "email"}, {Column: "A", Field: "name"}, {Column: "B", Field: "name"}}, "input.mapping[2].field"},
		{mapping.Mapping{{Column: "Mail", Field: "email", Label: new("Work")}, {Column: "A", Field: "name"}}, "input.mapping[0].label"},
	} {
		_, err := mapping.ValidateUsers("input.mapping", tc.m)
		require.Equal(t, tc.field, asAppErr(t, err).Field, "%v", tc.m)
	}
}

func TestUserImportFullDisablesAndRestores(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{})
	require.Equal(t, imports.StatusSucceeded, f.runFile(staffFile).Status)
	f.setThresholds(60, 50)

	// Dee and Cy (an administrator) are gone; Ben's row is damaged, but his
	// email can be read: he stays.
	next := `email,name,role,schools
ana@district.test,Ana García,teacher,Lincoln Elementary
ben@district.test,Ben Lee,Lincoln Elementary
`
	run := f.runFile(next)
	require.Equal(t, imports.StatusSucceededWithErrors, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 2, Unchanged: 1, Removed: 1, Rejected: 1}, counts(run))
	require.Contains(t, run.Message, "1 disabled")
	dee := f.user("dee@district.test")
	require.True(t, dee.Disabled, "absent users are disabled")
	require.Equal(t, f.imp.ID, *dee.ImportID, "and still managed, not deleted")
	require.False(t, f.user("ben@district.test").Disabled)
	require.False(t, f.user("cy@district.test").Disabled, "administrators are never disabled")
	require.Contains(t, run.Warnings, "1 SYSTEM_ADMIN account(s) are not in the file but were not disabled (imports never disable administrators): cy@district.test")
	require.Contains(t, changeLines(t, f, run), "REMOVE dee@district.test")
	n, err := users.CountManaged(f.ctx, f.db, f.imp.ID, true)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	back := f.runFile(staffFile)
	require.Equal(t, imports.StatusSucceeded, back.Status, back.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Unchanged: 3, Restored: 1}, counts(back))
	require.Contains(t, back.Message, "1 re-enabled")
	require.False(t, f.user("dee@district.test").Disabled)
	require.Contains(t, changeLines(t, f, back), "RESTORE dee@district.test")
}

func TestUserImportMethods(t *testing.T) {
	t.Parallel()
	// Ben renamed, Dee gone, Eve new.
	next := strings.Replace(staffFile, "Ben Lee", "Ben Lee-Ray", 1)
	next = strings.Replace(next, "dee@district.test,Dee Fox,staff,ALL", "eve@district.test,Eve Moss,,Adams Elementary", 1)

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		f := newUserFixture(t, imports.CreateImportInput{Method: imports.MethodUpdate})
		f.runFile(staffFile)
		run := f.runFile(next)
		require.Equal(t, apply.Counts{RowsRead: 4, Created: 1, Updated: 1, Unchanged: 2}, counts(run))
		require.Equal(t, "Ben Lee-Ray", f.user("ben@district.test").Name)
		require.False(t, f.user("dee@district.test").Disabled, "UPDATE never disables")
	})
	t.Run("CreateOnly", func(t *testing.T) {
		t.Parallel()
		f := newUserFixture(t, imports.CreateImportInput{Method: imports.MethodCreateOnly})
		f.runFile(staffFile)
		_, err := users.NewService(f.db, nil).Create(f.ctx, users.CreateUserInput{Email: "hand@district.test", Name: "Hand Made"})
		require.NoError(t, err)
		run := f.runFile(next + "hand@district.test,Hand Made-Smith,,Lincoln Elementary\n")
		require.Equal(t, apply.Counts{RowsRead: 5, Created: 1, Unchanged: 4}, counts(run))
		require.Equal(t, "Ben Lee", f.user("ben@district.test").Name, "CREATE_ONLY leaves existing users untouched")
		require.False(t, f.user("dee@district.test").Disabled)
		hand := f.user("hand@district.test")
		require.Equal(t, "Hand Made", hand.Name)
		require.Nil(t, hand.ImportID, "CREATE_ONLY does not take users over")
		require.Equal(t, "Eve Moss", f.user("eve@district.test").Name)
	})
}

func TestUserImportAdminsAreNeverDowngraded(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{})
	require.Equal(t, imports.StatusSucceeded, f.runFile(staffFile).Status)

	// The file demotes and restricts Cy (an administrator), and promotes Ana.
	next := strings.Replace(staffFile, "cy@district.test,Cy Day,admin,*", "cy@district.test,Cy Day,user,Lincoln Elementary", 1)
	next = strings.Replace(next, "Ana García,teacher", "Ana García,System Admin", 1)
	run := f.runFile(next)
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Updated: 1, Unchanged: 3}, counts(run))
	cy := f.user("cy@district.test")
	require.Equal(t, users.RoleSystemAdmin, cy.Role)
	require.Nil(t, cy.Restriction, "an administrator's restriction is left as it is")
	require.Equal(t, users.RoleSystemAdmin, f.user("ana@district.test").Role, "a file may promote")
	require.Contains(t, run.Warnings, "1 SYSTEM_ADMIN account(s) are not administrators in the file but were kept SYSTEM_ADMIN (imports never downgrade administrators): cy@district.test")
	require.Contains(t, changeLines(t, f, run), "UPDATE ana@district.test role USER -> SYSTEM_ADMIN")

	// The same file again: nothing to do, and still the warning.
	again := f.runFile(next)
	require.Equal(t, apply.Counts{RowsRead: 4, Unchanged: 4}, counts(again))
	require.Contains(t, strings.Join(again.Warnings, "\n"), "kept SYSTEM_ADMIN")
	require.Equal(t, users.RoleSystemAdmin, f.user("cy@district.test").Role)
}

func TestUserImportTakesOverHandMadeUsers(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{})
	usvc := users.NewService(f.db, nil)
	_, err := usvc.Create(f.ctx, users.CreateUserInput{Email: "hand@district.test", Name: "Hand Made"})
	require.NoError(t, err)
	gone, err := usvc.Create(f.ctx, users.CreateUserInput{Email: "gone@district.test", Name: "Gone"})
	require.NoError(t, err)
	_, err = usvc.Update(f.ctx, gone.ID, users.UpdateUserInput{Disabled: new(true)})
	require.NoError(t, err)

	// The fixture's administrator (admin@district.test) is in the file as a
	// user, restricted to a school.
	run := f.runFile(`email,name,role,schools
hand@district.test,Hand Made-Smith,,Lincoln Elementary
admin@district.test,Admin,user,Adams Elementary
gone@district.test,Gone,,Lincoln Elementary
new@district.test,New Person,,Lincoln Elementary
`)
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Created: 1, Updated: 2, Restored: 1}, counts(run))
	hand := f.user("hand@district.test")
	require.Equal(t, f.imp.ID, *hand.ImportID)
	require.Equal(t, "Hand Made-Smith", hand.Name)
	require.Equal(t, []string{"Lincoln Elementary"}, schools(t, hand))
	admin := f.user("admin@district.test")
	require.Equal(t, f.imp.ID, *admin.ImportID)
	require.Equal(t, users.RoleSystemAdmin, admin.Role)
	require.Nil(t, admin.Restriction)
	require.False(t, f.user("gone@district.test").Disabled)
	require.Contains(t, run.Warnings, "3 account(s) created by hand are now managed by this import: hand@district.test, admin@district.test, gone@district.test")
	require.Contains(t, run.Warnings, "1 of the accounts taken over were disabled and were re-enabled, as the file lists them: gone@district.test")
	require.Contains(t, changeLines(t, f, run), "UPDATE hand@district.test import  -> HR staff")

	// Now managed: absent from a FULL file, Hand is disabled; the
	// administrator is not.
	f.setThresholds(100, 5)
	run = f.runFile("email,name,schools\nnew@district.test,New Person,Lincoln Elementary\n")
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, 2, run.Removed)
	require.True(t, f.user("hand@district.test").Disabled)
	require.True(t, f.user("gone@district.test").Disabled)
	require.False(t, f.user("admin@district.test").Disabled)
}

func TestUserImportManagedByAnotherImport(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{RejectionThreshold: new(50.0)})
	kind := imports.KindUser
	imp2, err := f.svc.Create(f.ctx, imports.CreateImportInput{Name: "Contractors", Kind: &kind, Method: imports.MethodFull})
	require.NoError(t, err)
	other := *f
	other.imp = imp2
	require.Equal(t, imports.StatusSucceeded, other.runFile("email,name,schools\nzed@district.test,Zed,Lincoln\n").Status)
	before := f.user("zed@district.test")

	run := f.runFile(staffFile + "zed@district.test,Zed Zee,,Adams\n")
	require.Equal(t, imports.StatusSucceededWithErrors, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 5, Created: 4, Rejected: 1}, counts(run))
	errs := f.errors(run)
	require.Len(t, errs, 1)
	require.Equal(t, 6, errs[0].Line)
	require.Equal(t, "email", *errs[0].ColumnName)
	require.Contains(t, errs[0].Message, `user zed@district.test is managed by import `)
	require.Contains(t, errs[0].Message, `"Contractors"`)
	require.Equal(t, before, f.user("zed@district.test"))
}

func TestUserImportRowErrors(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{RejectionThreshold: new(100.0)})
	run := f.runFile(`email,name,role,schools
good@district.test,Good One,,Lincoln
not-an-email,Bad Email,,Lincoln
nameless@district.test,,,Lincoln
role@district.test,Role Bad,janitor,Lincoln
empty@district.test,Empty Schools,,
mixed@district.test,Mixed,,"Lincoln;*"
,No Email,,Lincoln
twice@district.test,Twice,,Lincoln
twice@district.test,Twice,,Lincoln
clash@district.test,Clash,,Lincoln
clash@district.test,Clash,,Adams
,,,
`)
	require.Equal(t, imports.StatusSucceededWithErrors, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 11, Created: 2, Rejected: 8}, counts(run))
	type e struct {
		line                 int
		column, value, start string
	}
	var got []e
	for _, x := range f.errors(run) {
		msg := x.Message
		if len(msg) > 30 {
			msg = msg[:30]
		}
		got = append(got, e{x.Line, opt.Deref(x.ColumnName), opt.Deref(x.Value), msg})
	}
	require.Equal(t, []e{
		{3, "email", "not-an-email", `"not-an-email" is not a valid `},
		{4, "name", "", "the name is empty"},
		{5, "role", "janitor", `unknown role "janitor": use US`},
		{6, "schools", "", "the schools are empty: give th"},
		{7, "schools", "Lincoln;*", `"*" means all schools and must`},
		{8, "email", "", "the email is empty"},
		{11, "email", "clash@district.test", `email "clash@district.test" ap`},
		{12, "email", "clash@district.test", `email "clash@district.test" al`},
	}, got)
	require.Contains(t, f.errors(run)[3].Message, "give the user's schools, or * for all")
	require.Contains(t, run.Warnings, "1 row(s) repeated an earlier row exactly (same email and values) and were counted once")
	require.Contains(t, run.Warnings, "1 blank row(s) skipped")

	all := f.users()
	require.Contains(t, all, "good@district.test")
	require.Contains(t, all, "twice@district.test")
	require.NotContains(t, all, "clash@district.test")
	require.NotContains(t, all, "empty@district.test", "empty schools never mean everything")
}

func TestUserImportGuards(t *testing.T) {
	t.Parallel()

	t.Run("DisablingHeldThenApproved", func(t *testing.T) {
		t.Parallel()
		f := newUserFixture(t, imports.CreateImportInput{})
		f.runFile(staffFile)
		before := f.users()
		run := f.runFile("email,name,role,schools\nana@district.test,Ana García,teacher,Lincoln Elementary\n")
		require.Equal(t, imports.StatusHeld, run.Status)
		require.Equal(t, 2, run.Removed) // Ben and Dee; Cy is an administrator
		require.Contains(t, run.Message, "would disable 2 of 4 active users (50.0%)")
		require.Equal(t, before, f.users(), "a held run applies nothing")
		heldChanges := changeLines(t, f, run)
		require.ElementsMatch(t, []string{"REMOVE ben@district.test", "REMOVE dee@district.test"}, heldChanges)

		ok := f.approve(run)
		require.Equal(t, imports.StatusSucceeded, ok.Status, ok.Message)
		require.Equal(t, 2, ok.Removed)
		require.Equal(t, counts(run), counts(ok), "approval applies what the held run showed")
		require.Equal(t, heldChanges, changeLines(t, f, ok))
		require.True(t, f.user("dee@district.test").Disabled)
		require.True(t, f.user("ben@district.test").Disabled)
		require.False(t, f.user("cy@district.test").Disabled)
	})

	t.Run("TooManyRejected", func(t *testing.T) {
		t.Parallel()
		f := newUserFixture(t, imports.CreateImportInput{})
		f.runFile(staffFile)
		before := f.users()
		run := f.runFile(strings.ReplaceAll(staffFile, "@", "at"))
		require.Equal(t, imports.StatusFailed, run.Status)
		require.Contains(t, run.Message, "looks damaged")
		require.Equal(t, 4, run.Rejected)
		require.Equal(t, before, f.users())
	})

	t.Run("DryRunChangesNothing", func(t *testing.T) {
		t.Parallel()
		f := newUserFixture(t, imports.CreateImportInput{})
		f.runFile(staffFile)
		before := f.users()
		lastRun := *f.imp.LastRunID
		next := strings.Replace(staffFile, "Ben Lee", "Ben Lee-Ray", 1) + "eve@district.test,Eve Moss,,Adams\n"
		run := f.runFile(next, dryRun)
		require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
		require.True(t, run.DryRun)
		require.Equal(t, apply.Counts{RowsRead: 5, Created: 1, Updated: 1, Unchanged: 3}, counts(run))
		require.Contains(t, run.Message, "dry run, nothing applied")
		require.Equal(t, before, f.users())
		require.ElementsMatch(t, []string{"UPDATE ben@district.test name Ben Lee -> Ben Lee-Ray", "CREATE eve@district.test"},
			changeLines(t, f, run))
		require.Equal(t, lastRun, *f.imp.LastRunID, "a dry run is not a Last Run")
	})
}

// TestUserImportKeepsAnAdministratorsDisable: an account an administrator
// disabled stays disabled while the file still lists it (a user the import
// disabled for being absent comes back: TestUserImportFullDisablesAndRestores).
func TestUserImportKeepsAnAdministratorsDisable(t *testing.T) {
	t.Parallel()
	f := newUserFixture(t, imports.CreateImportInput{})
	require.Equal(t, imports.StatusSucceeded, f.runFile(staffFile).Status)
	// As updateUser(disabled: true) leaves it.
	_, err := f.db.NewRaw(`UPDATE users SET disabled = true, disabled_by_import = false WHERE email = 'ana@district.test'`).Exec(f.ctx)
	require.NoError(t, err)

	// The same file, then one that renames her.
	run := f.runFile(staffFile)
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Unchanged: 4}, counts(run))
	require.Contains(t, run.Warnings, "1 account(s) in the file stay disabled, as an administrator disabled them: ana@district.test")
	require.True(t, f.user("ana@district.test").Disabled)

	run = f.runFile(strings.Replace(staffFile, "Ana García", "Ana García-Ruiz", 1))
	require.Equal(t, imports.StatusSucceeded, run.Status, run.Message)
	require.Equal(t, apply.Counts{RowsRead: 4, Unchanged: 3, Updated: 1}, counts(run))
	ana := f.user("ana@district.test")
	require.Equal(t, "Ana García-Ruiz", ana.Name)
	require.True(t, ana.Disabled, "an administrator disabled her")
}
