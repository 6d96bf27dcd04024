package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
)

// Tx is a transaction that can also reach the pgx connection under it, for
// what database/sql cannot do: COPY and fast binary reads of many rows. Use
// it from one goroutine at a time.
type Tx struct {
	bun.Tx
	conn bun.Conn
}

// Pgx runs fn with the transaction's pgx connection. Statements fn runs are
// part of the transaction. fn must not keep the connection.
func (t *Tx) Pgx(fn func(*pgx.Conn) error) error {
	return t.conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("database driver is %T, not pgx", driverConn)
		}
		return fn(c.Conn())
	})
}

// CopyFrom bulk-loads rows into table with COPY, inside the transaction.
func (t *Tx) CopyFrom(ctx context.Context, table string, columns []string, src pgx.CopyFromSource) (int64, error) {
	var n int64
	err := t.Pgx(func(c *pgx.Conn) error {
		var err error
		n, err = c.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("copy into %s: %w", table, err)
	}
	return n, nil
}

// RunInPgxTx runs fn in a transaction on one dedicated connection, committing
// when fn returns nil and rolling back otherwise (also on panic).
func (d *DB) RunInPgxTx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) (err error) {
	conn, err := d.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("get connection: %w", err)
	}
	defer conn.Close()
	btx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{Tx: btx, conn: conn}
	done := false
	defer func() {
		if !done {
			_ = btx.Rollback()
		}
	}()
	if err := fn(ctx, tx); err != nil {
		done = true
		if rbErr := btx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && !errors.Is(rbErr, context.Canceled) && !errors.Is(rbErr, context.DeadlineExceeded) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	done = true
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// CopyFromText runs a COPY … FROM STDIN statement fed by r (text or CSV
// format, as the statement says), inside the transaction.
func (t *Tx) CopyFromText(ctx context.Context, statement string, r io.Reader) (int64, error) {
	var n int64
	err := t.Pgx(func(c *pgx.Conn) error {
		tag, err := c.PgConn().CopyFrom(ctx, r, statement)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}
