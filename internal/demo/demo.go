// Package demo seeds a small demo district for `make run`: an administrator,
// a few staff accounts, and a nightly SIS import of a few hundred students,
// once.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/page"
	"github.com/rollcall/rollcall/internal/schedule"
	"github.com/rollcall/rollcall/internal/users"
)

// demoUsers are the district's staff accounts.
var demoUsers = []users.CreateUserInput{
	{Email: "principal.lincoln@demo.rollcall.test", Name: "Pat Rivera", Role: users.RoleUser},
	{Email: "teacher.adams@demo.rollcall.test", Name: "Sam Okafor", Role: users.RoleUser},
	{Email: "it.director@demo.rollcall.test", Name: "Jordan Lee", Role: users.RoleSystemAdmin},
}

// ImportName is the demo district's student import.
const ImportName = "SIS students (nightly)"

// Students is how many students the demo district has.
const Students = 300

// Seed creates the demo data if it is not there yet. It is safe to run on
// every start: an existing import of that name means the district is seeded.
func Seed(ctx context.Context, svc *app.Services, adminEmail string) error {
	admin, err := svc.Users.EnsureAdmin(ctx, adminEmail, "Demo Administrator")
	if err != nil {
		return err
	}
	ctx = authz.WithViewer(ctx, users.AsViewer(admin))
	for _, in := range demoUsers {
		if _, err := svc.Users.Create(ctx, in); err != nil && !errors.Is(err, apperr.ErrConflict) {
			return fmt.Errorf("demo user %s: %w", in.Email, err)
		}
	}
	seeded, err := hasImport(ctx, svc)
	if err != nil || seeded {
		return err
	}
	imp, err := svc.Imports.Create(ctx, imports.CreateImportInput{
		Name:        ImportName,
		Description: new("Demo: the SIS pushes its nightly export; each file is applied on arrival."),
		Method:      imports.MethodFull,
		Schedule:    &schedule.Schedule{Time: new("02:00"), TimeZone: "America/Chicago"},
		RunOnUpload: new(true),
	})
	if err != nil {
		return fmt.Errorf("demo import: %w", err)
	}
	file, err := districtFile()
	if err != nil {
		return err
	}
	if _, _, err := svc.Imports.Upload(ctx, imp.ID, "students.csv", bytes.NewReader(file), true); err != nil {
		return fmt.Errorf("demo upload: %w", err)
	}
	return nil
}

func hasImport(ctx context.Context, svc *app.Services) (bool, error) {
	req, _ := page.New(new(page.MaxFirst), nil)
	p, err := svc.Imports.List(ctx, req, false)
	if err != nil {
		return false, err
	}
	for _, imp := range p.Items {
		if imp.Name == ImportName {
			return true, nil
		}
	}
	return false, nil
}

// districtFile generates the demo district's export with contacts that
// cannot reach anyone (districtgen.Fictional): phone numbers in the 555-01XX
// range reserved for fiction, addresses at .example domains (RFC 2606).
// Siblings keep sharing their guardians' contacts.
func districtFile() ([]byte, error) {
	var raw bytes.Buffer
	if err := districtgen.Write(&raw, districtgen.Options{Rows: Students, Seed: 2026, Schools: 4}); err != nil {
		return nil, err
	}
	return districtgen.Fictional(raw.Bytes(), map[string]string{})
}
