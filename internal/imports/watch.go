package imports

import (
	"context"
	"log/slog"
	"time"

	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/notify"
	"github.com/rollcall/rollcall/internal/opt"
)

// RunChannel is the PostgreSQL notification channel that announces run
// changes, with the run's id as payload (a trigger sends it; see migration
// 0004_automation).
const RunChannel = "rollcall_import_run"

// watchPoll is how often a watcher looks at its run even without a
// notification (notifications sent while the listening connection was down
// are lost).
const watchPoll = 5 * time.Second

// UseNotifications makes WatchRun follow notifications from h rather than
// only polling.
func (s *Service) UseNotifications(h *notify.Hub) { s.hub = h }

// ended reports whether a run will not change again. A held run may still
// be approved.
func (s RunStatus) ended() bool {
	return s == StatusSucceeded || s == StatusSucceededWithErrors || s == StatusFailed || s == StatusCanceled
}

// WatchRun sends the run now and again on each change (progress about once
// a second while it runs, wherever it runs) until it ends or ctx is done.
func (s *Service) WatchRun(ctx context.Context, id int64) (<-chan *Run, error) {
	if _, err := authz.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	run, err := GetRun(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	var wake <-chan struct{}
	var sub *notify.Subscription
	if s.hub != nil {
		sub = s.hub.Subscribe(RunChannel, id)
		wake = sub.C()
	}
	out := make(chan *Run, 1)
	go func() {
		defer close(out)
		if sub != nil {
			defer sub.Close()
		}
		poll := time.NewTicker(watchPoll)
		defer poll.Stop()
		last := run
		for {
			select {
			case out <- last:
			case <-ctx.Done():
				return
			}
			if last.Status.ended() {
				return
			}
			for {
				select {
				case <-ctx.Done():
					return
				case <-wake:
				case <-poll.C:
				}
				cur, err := GetRun(ctx, s.db, id)
				if err != nil {
					if ctx.Err() == nil {
						s.logger.Warn("watch run", slog.Int64("run_id", id), slog.String("error", err.Error()))
					}
					return
				}
				if runChanged(last, cur) {
					last = cur
					break
				}
			}
		}
	}()
	return out, nil
}

func runChanged(a, b *Run) bool {
	return a.Status != b.Status || a.RowsProcessed != b.RowsProcessed || opt.Deref(a.Phase) != opt.Deref(b.Phase) ||
		a.Attempts != b.Attempts || a.Message != b.Message || (a.FinishedAt == nil) != (b.FinishedAt == nil)
}
