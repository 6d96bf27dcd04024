package notify_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/notify"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func waitWake(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatalf("no wake-up %s", what)
	}
}

// TestHubWakesOnListenAndNotify: a subscriber is woken once the hub listens
// (whatever was notified before is lost to it), then by notifications of its
// payload only.
func TestHubWakesOnListenAndNotify(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	hub := notify.NewHub(d.Pool, slog.New(slog.DiscardHandler), "test_channel")
	mine := hub.Subscribe("test_channel", 1)
	defer mine.Close()
	other := hub.Subscribe("test_channel", 2)
	defer other.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub.Start(ctx)
	defer hub.Stop()
	waitWake(t, mine.C(), "when the hub started listening")
	waitWake(t, other.C(), "when the hub started listening")

	_, err := d.ExecContext(ctx, "SELECT pg_notify('test_channel', '1')")
	require.NoError(t, err)
	waitWake(t, mine.C(), "after a notification")
	// The notification for 2 is sent after the one for 1, on the same
	// connection, so it arrives after it: once it has, 1's subscriber
	// must not have been woken by it.
	_, err = d.ExecContext(ctx, "SELECT pg_notify('test_channel', '2')")
	require.NoError(t, err)
	waitWake(t, other.C(), "after a notification")
	select {
	case <-mine.C():
		t.Fatal("woken by another payload's notification")
	default:
	}
}
