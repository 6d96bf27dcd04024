package users_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/notify"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/internal/users"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// TestAccessChanges: every change to what a user may do notifies the
// user's watchers (on any node: through PostgreSQL), and Recheck then gives
// the viewer as it is now, or refuses it as Authenticate would.
func TestAccessChanges(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	svc := users.NewService(d, nil)
	hub := notify.NewHub(d.Pool, slog.New(slog.DiscardHandler), users.AccessChannel)
	svc.UseNotifications(hub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	_, adminToken, err := svc.BootstrapAdmin(ctx, "admin@district.test", "", "test")
	require.NoError(t, err)
	admin, err := svc.Authenticate(ctx, adminToken)
	require.NoError(t, err)
	asAdmin := authz.WithViewer(ctx, admin)
	// A second administrator, so that the first may demote and disable it.
	u, err := svc.Create(asAdmin, users.CreateUserInput{Email: "watched@district.test", Name: "Watched", Role: users.RoleSystemAdmin})
	require.NoError(t, err)
	tok, err := svc.CreateToken(asAdmin, &u.ID, "socket", nil)
	require.NoError(t, err)
	v, err := svc.Authenticate(ctx, tok.Token)
	require.NoError(t, err)

	wake, stop := svc.WatchAccess(u.ID)
	defer stop()
	hub.Start(ctx)
	defer hub.Stop()
	waitWake := func(what string) {
		t.Helper()
		select {
		case <-wake:
		case <-time.After(30 * time.Second):
			t.Fatalf("no wake-up %s", what)
		}
	}
	waitWake("when the hub started listening")

	restriction := json.RawMessage(`{"school": {"eq": "Lincoln Elementary"}}`)
	for _, step := range []struct {
		name   string
		change func() error
		check  func(*authz.Viewer, error)
	}{
		{"Demote", func() error {
			role := users.RoleUser
			_, err := svc.Update(asAdmin, u.ID, users.UpdateUserInput{Role: &role})
			return err
		}, func(v *authz.Viewer, err error) {
			require.NoError(t, err)
			require.Equal(t, string(users.RoleUser), v.Role)
			require.False(t, v.IsAdmin())
		}},
		{"Restrict", func() error {
			_, err := svc.SetRestriction(asAdmin, u.ID, restriction)
			return err
		}, func(v *authz.Viewer, err error) {
			require.NoError(t, err)
			require.JSONEq(t, string(restriction), string(v.Restriction))
		}},
		{"Unrestrict", func() error {
			_, err := svc.SetRestriction(asAdmin, u.ID, nil)
			return err
		}, func(v *authz.Viewer, err error) {
			require.NoError(t, err)
			require.Empty(t, v.Restriction)
		}},
		{"PromoteByCommandLine", func() error {
			_, err := svc.EnsureAdmin(ctx, u.Email, "")
			return err
		}, func(v *authz.Viewer, err error) {
			require.NoError(t, err)
			require.True(t, v.IsAdmin())
		}},
		{"Disable", func() error {
			disabled := true
			_, err := svc.Update(asAdmin, u.ID, users.UpdateUserInput{Disabled: &disabled})
			return err
		}, func(_ *authz.Viewer, err error) {
			require.ErrorIs(t, err, apperr.ErrUnauthenticated)
			require.ErrorContains(t, err, "disabled")
		}},
		{"Enable", func() error {
			enabled := false
			_, err := svc.Update(asAdmin, u.ID, users.UpdateUserInput{Disabled: &enabled})
			return err
		}, func(v *authz.Viewer, err error) {
			require.NoError(t, err)
			require.Equal(t, u.ID, v.UserID)
		}},
		// Any writer, not only this service: a USER import run restricts
		// and disables accounts with statements of its own.
		{"RestrictedByAnotherWriter", func() error {
			_, err := d.ExecContext(ctx, `UPDATE users SET restriction = '{"version":1,"filter":{"all":true}}' WHERE id = ?`, u.ID)
			return err
		}, func(v *authz.Viewer, err error) {
			require.NoError(t, err)
			require.NotEmpty(t, v.Restriction)
		}},
		{"DisabledByAnotherWriter", func() error {
			_, err := d.ExecContext(ctx, `UPDATE users SET disabled = true WHERE id = ?`, u.ID)
			return err
		}, func(_ *authz.Viewer, err error) {
			require.ErrorIs(t, err, apperr.ErrUnauthenticated)
		}},
		{"EnableAgain", func() error {
			enabled := false
			_, err := svc.Update(asAdmin, u.ID, users.UpdateUserInput{Disabled: &enabled})
			return err
		}, func(v *authz.Viewer, err error) {
			require.NoError(t, err)
		}},
		{"RevokeToken", func() error {
			_, err := svc.RevokeToken(asAdmin, v.TokenID)
			return err
		}, func(_ *authz.Viewer, err error) {
			require.ErrorIs(t, err, apperr.ErrUnauthenticated)
			require.ErrorContains(t, err, "revoked")
		}},
	} {
		require.NoError(t, step.change(), step.name)
		waitWake("after " + step.name)
		step.check(svc.Recheck(ctx, v))
	}
}

// TestRecheckExpiry: a token that expires fails Recheck from then on, by
// the service's clock, and ExpiresIn counts down to it.
func TestRecheckExpiry(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	now := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	svc := users.NewService(d, func() time.Time { return now })
	ctx := context.Background()
	_, adminToken, err := svc.BootstrapAdmin(ctx, "admin@district.test", "", "test")
	require.NoError(t, err)
	admin, err := svc.Authenticate(ctx, adminToken)
	require.NoError(t, err)
	_, left := svc.ExpiresIn(admin)
	require.False(t, left, "a token without expiry")

	expiresAt := now.Add(time.Hour)
	tok, err := svc.CreateToken(authz.WithViewer(ctx, admin), nil, "short", &expiresAt)
	require.NoError(t, err)
	v, err := svc.Authenticate(ctx, tok.Token)
	require.NoError(t, err)
	in, ok := svc.ExpiresIn(v)
	require.True(t, ok)
	require.Equal(t, time.Hour, in)

	now = expiresAt
	_, err = svc.Recheck(ctx, v)
	require.ErrorIs(t, err, apperr.ErrUnauthenticated)
	require.ErrorContains(t, err, "expired")
}
