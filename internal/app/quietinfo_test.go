package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestQuietInfo: River's Info records reach the log only at debug level,
// and as DEBUG; its warnings pass at any level.
func TestQuietInfo(t *testing.T) {
	for _, tc := range []struct {
		level     slog.Level
		wantInfo  string // what an Info record becomes ("" for dropped)
		wantWarns bool
	}{
		{slog.LevelInfo, "", true},
		{slog.LevelDebug, "level=DEBUG", true},
		{slog.LevelError, "", false},
	} {
		var buf bytes.Buffer
		logger := slog.New(quietInfo{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level})}).With("component", "river")
		logger.Info("producer: Producer job counts", "num_jobs_running", 1)
		got := buf.String()
		if tc.wantInfo == "" && got != "" || tc.wantInfo != "" && !strings.Contains(got, tc.wantInfo) {
			t.Errorf("at %v, an Info record logged %q", tc.level, got)
		}
		buf.Reset()
		logger.Warn("elector: lost leadership")
		if got := buf.String(); tc.wantWarns != strings.Contains(got, "level=WARN") {
			t.Errorf("at %v, a Warn record logged %q", tc.level, got)
		}
	}
}
