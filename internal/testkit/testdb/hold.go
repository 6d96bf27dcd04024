package testdb

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/rollcall/rollcall/internal/db"
)

// Hold is a lock taken by a test in a transaction of its own, so that a
// background run stops at a known point (the first statement needing a
// conflicting lock) for as long as the test needs, instead of racing it.
type Hold struct {
	d    *db.DB
	pid  int
	tx   bun.Tx
	once sync.Once
}

// HoldWrites locks table in SHARE mode: readers go on, every writer
// (INSERT, UPDATE, DELETE, COPY) waits until Release (or the end of t).
func HoldWrites(t testing.TB, d *db.DB, table string) *Hold {
	t.Helper()
	return hold(t, d, "LOCK TABLE ? IN SHARE MODE", bun.Ident(table))
}

func hold(t testing.TB, d *db.DB, query string, args ...any) *Hold {
	t.Helper()
	ctx := context.Background()
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("hold: begin: %v", err)
	}
	h := &Hold{d: d, tx: tx}
	t.Cleanup(h.Release)
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("hold: %s: %v", query, err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&h.pid); err != nil {
		t.Fatalf("hold: backend pid: %v", err)
	}
	return h
}

// Release lets the waiters go. It may be called more than once.
func (h *Hold) Release() { h.once.Do(func() { _ = h.tx.Rollback() }) }

// Waiter waits (up to within) until a session is blocked by this hold and
// returns its application_name. It is how a test knows that a background
// run has reached the held point.
func (h *Hold) Waiter(t testing.TB, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var apps []string
		err := h.d.NewRaw(`SELECT application_name FROM pg_stat_activity
			WHERE datname = current_database() AND ? = ANY (pg_blocking_pids(pid))`, h.pid).Scan(context.Background(), &apps)
		if err != nil {
			t.Fatalf("hold: find waiters: %v", err)
		}
		if len(apps) > 0 {
			return apps[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("hold: no session blocked by the hold after %v", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
