package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/pgcluster"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

func TestMain(m *testing.M) {
	// The cluster tests run this test binary as rollcall itself.
	if os.Getenv("ROLLCALL_TEST_MAIN") == "1" {
		main()
		return
	}
	testdb.Main(m)
}

func TestAdminCreateTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)

	create := func() string {
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"admin", "create", "--database-url", url, "--email", "Root@District.test", "--name", "District Admin"}, &out, &errOut)
		require.Equal(t, 0, code, errOut.String())
		token := strings.TrimSpace(out.String())
		require.NotContains(t, token, "\n", "stdout holds only the token")
		return token
	}
	first := create()
	second := create()
	require.NotEqual(t, first, second)

	d := testdb.Open(t, url)
	a, err := app.New(d, app.Options{})
	require.NoError(t, err)
	svc := a.Services
	for _, tok := range []string{first, second} {
		v, err := svc.Users.Authenticate(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, "root@district.test", v.Email)
		require.True(t, v.IsAdmin())
	}
	var n int
	require.NoError(t, d.NewRaw("SELECT count(*) FROM users").Scan(ctx, &n))
	require.Equal(t, 1, n)
}

func TestAdminCreateReenablesAndPromotes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	d := testdb.Open(t, url)
	_, err := d.NewRaw(`INSERT INTO users (email, name, role, disabled) VALUES ('x@district.test', 'X', 'USER', true)`).Exec(ctx)
	require.NoError(t, err)

	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"admin", "create", "--database-url", url, "--email", "x@district.test"}, &out, &errOut), errOut.String())
	a, err := app.New(d, app.Options{})
	require.NoError(t, err)
	v, err := a.Services.Users.Authenticate(ctx, strings.TrimSpace(out.String()))
	require.NoError(t, err)
	require.True(t, v.IsAdmin())
	u, err := a.Services.Users.Get(authz.WithViewer(ctx, v), v.UserID)
	require.NoError(t, err)
	require.Equal(t, "X", u.Name, "the existing name is kept")
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--database-url", ""}, &out, &errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "DATABASE_URL is not set")

	errOut.Reset()
	code = run(context.Background(), []string{"admin", "create"}, &out, &errOut)
	require.Equal(t, 2, code)
	require.Contains(t, errOut.String(), "--email")
}

// TestAdminCreateFindsDevDatabase: after `make run`, `rollcall admin
// create` needs no DATABASE_URL: it uses the development database in the
// data folder, whether its server is running or not.
func TestAdminCreateFindsDevDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := t.TempDir()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"admin", "create", "--database-url", "", "--data-dir", dataDir, "--email", "a@district.test"}, &out, &errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "make run")

	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dataDir, "pg"), Ephemeral: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cluster.Stop() })
	require.NoError(t, cluster.CreateDatabase(ctx, devDatabaseName))

	for _, email := range []string{"running@district.test", "stopped@district.test"} {
		out.Reset()
		errOut.Reset()
		code := run(ctx, []string{"admin", "create", "--database-url", "", "--data-dir", dataDir, "--email", email}, &out, &errOut)
		require.Equal(t, 0, code, errOut.String())
		require.True(t, strings.HasPrefix(out.String(), "rc_"), out.String())
		// The server it found running is left running; the second time
		// it is started and stopped again.
		require.NoError(t, cluster.Stop())
	}
	_, err = os.Stat(filepath.Join(dataDir, "pg", "postmaster.pid"))
	require.True(t, os.IsNotExist(err), "the server admin create started is stopped again")
}
