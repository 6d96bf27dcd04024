package db_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

// TestPgxTxCommitsAfterItsWorkIsDone: a transaction whose work finished is
// committed even if its context ends just then (a shutdown arriving as a
// run commits). database/sql rolls a transaction back when its context
// ends, which once raced the commit: PostgreSQL committed the run while
// the worker reported "commit: context canceled; nothing was applied".
// A statement still running when the context ends is canceled as before.
func TestPgxTxCommitsAfterItsWorkIsDone(t *testing.T) {
	t.Parallel()
	d := testdb.Open(t, testdb.URL(t))
	ctx := context.Background()
	_, err := d.ExecContext(ctx, "CREATE TABLE tx_probe (n int)")
	require.NoError(t, err)

	runCtx, cancel := context.WithCancel(ctx)
	err = d.RunInPgxTx(runCtx, func(ctx context.Context, tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO tx_probe VALUES (1)"); err != nil {
			return err
		}
		cancel() // the shutdown arrives: the work is done, the commit follows
		return nil
	})
	require.NoError(t, err)
	var n int
	require.NoError(t, d.QueryRowContext(ctx, "SELECT count(*) FROM tx_probe").Scan(&n))
	require.Equal(t, 1, n)

	runCtx, cancel = context.WithCancel(ctx)
	cancel()
	err = d.RunInPgxTx(runCtx, func(ctx context.Context, tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO tx_probe VALUES (2)")
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, d.QueryRowContext(ctx, "SELECT count(*) FROM tx_probe").Scan(&n))
	require.Equal(t, 1, n, "work under an ended context is not applied")
}
