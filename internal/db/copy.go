package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sync"

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
	// The transaction does not end with ctx: database/sql would roll it
	// back when ctx ends, racing a COMMIT already sent (PostgreSQL commits,
	// the caller hears "context canceled" and believes nothing applied).
	// fn's statements run under ctx and are canceled with it; fn then
	// fails and the transaction is rolled back here.
	btx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
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
// format, as the statement says), inside the transaction. r is not read
// after CopyFromText returns.
func (t *Tx) CopyFromText(ctx context.Context, statement string, r io.Reader) (int64, error) {
	src := &copySource{r: r}
	defer src.stop()
	var n int64
	err := t.Pgx(func(c *pgx.Conn) error {
		tag, err := c.PgConn().CopyFrom(ctx, src, statement)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// errCopyEnded is what a COPY's source returns once the COPY has returned.
var errCopyEnded = errors.New("copy ended")

// copySource guards a COPY's source. pgconn.CopyFrom reads the source in a
// goroutine of its own and, when the connection fails, returns without
// waiting for it (pgx v5.12), so the caller could close the source while
// that goroutine is still inside Read (the race detector caught it when a
// test cut a worker's connection). stop waits for a Read in progress and
// makes later ones fail.
type copySource struct {
	mu      sync.Mutex
	r       io.Reader
	stopped bool
}

func (s *copySource) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return 0, errCopyEnded
	}
	return s.r.Read(p)
}

func (s *copySource) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}
