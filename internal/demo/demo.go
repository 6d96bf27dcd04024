// Package demo seeds a small demo district for `make run`: an administrator
// and a few users, once.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/users"
)

// demoUsers are the district's staff accounts.
var demoUsers = []users.CreateUserInput{
	{Email: "principal.lincoln@demo.rollcall.test", Name: "Pat Rivera", Role: users.RoleUser},
	{Email: "teacher.adams@demo.rollcall.test", Name: "Sam Okafor", Role: users.RoleUser},
	{Email: "it.director@demo.rollcall.test", Name: "Jordan Lee", Role: users.RoleSystemAdmin},
}

// Seed creates the demo data if it is not there yet. It is safe to run on
// every start.
func Seed(ctx context.Context, svc *app.Services, adminEmail string) error {
	admin, err := svc.Users.EnsureAdmin(ctx, adminEmail, "Demo Administrator")
	if err != nil {
		return err
	}
	ctx = users.WithViewer(ctx, &users.Viewer{User: *admin})
	for _, in := range demoUsers {
		if _, err := svc.Users.Create(ctx, in); err != nil && !errors.Is(err, apperr.ErrConflict) {
			return fmt.Errorf("demo user %s: %w", in.Email, err)
		}
	}
	return nil
}
