package schedule

import (
	"testing"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/testkit/clock"
	"github.com/stretchr/testify/require"
)

func TestScheduleNext(t *testing.T) {
	t.Parallel()
	daily := func(clock, zone string, days ...Weekday) Schedule {
		return Schedule{Time: &clock, TimeZone: zone, Days: days}
	}
	cronIn := func(expr, zone string) Schedule { return Schedule{Cron: &expr, TimeZone: zone} }
	cases := []struct {
		name  string
		s     Schedule
		after string
		want  []string // the next slots, in order
	}{
		{"DailyChicago", daily("02:00", "America/Chicago"), "2026-11-25T12:00:00Z",
			[]string{"2026-11-26T08:00:00Z", "2026-11-27T08:00:00Z"}},
		// Clocks spring forward at 02:00 on 8 March 2026: 02:30 does not
		// exist and fires at 03:30 CDT, once; the next day is back to 02:30.
		{"SpringForwardGap", daily("02:30", "America/Chicago"), "2026-03-07T12:00:00Z",
			[]string{"2026-03-08T08:30:00Z", "2026-03-09T07:30:00Z"}},
		// Clocks fall back at 02:00 on 1 November 2026: 01:30 happens twice
		// and fires once, at its first occurrence (CDT).
		{"FallBackTwice", daily("01:30", "America/Chicago"), "2026-10-31T12:00:00Z",
			[]string{"2026-11-01T06:30:00Z", "2026-11-02T07:30:00Z"}},
		{"Weekdays", daily("06:15", "America/New_York", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"), "2026-11-27T12:00:00Z", // a Friday
			[]string{"2026-11-30T11:15:00Z", "2026-12-01T11:15:00Z"}},
		{"LondonAcrossBST", daily("02:00", "Europe/London"), "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z" /* 02:00 does not exist: 03:00 BST */, "2026-03-30T01:00:00Z"}},
		{"KolkataHalfHour", daily("23:45", "Asia/Kolkata"), "2026-11-25T00:00:00Z",
			[]string{"2026-11-25T18:15:00Z", "2026-11-26T18:15:00Z"}},
		{"CronWeekdaysInZone", cronIn("0 2 * * 1-5", "America/Chicago"), "2026-11-27T12:00:00Z",
			[]string{"2026-11-30T08:00:00Z", "2026-12-01T08:00:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			at := clock.MustParse(t, c.after)
			for _, want := range c.want {
				next, err := c.s.Next(at)
				require.NoError(t, err)
				require.Equal(t, clock.MustParse(t, want), next, "after %s", at)
				at = next
			}
		})
	}
}

func TestScheduleValidateAndDescribe(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	ok := []struct {
		in   Schedule
		desc string
	}{
		{Schedule{Time: str("02:00"), TimeZone: "America/Chicago"}, "Daily at 02:00 (America/Chicago)"},
		{Schedule{Time: str("02:00"), TimeZone: "America/Chicago", Days: []Weekday{"FRIDAY", "MONDAY", "WEDNESDAY", "MONDAY"}}, "Mon, Wed, Fri at 02:00 (America/Chicago)"},
		{Schedule{Time: str("06:30"), TimeZone: "Europe/London", Days: []Weekday{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}}, "Weekdays at 06:30 (Europe/London)"},
		{Schedule{Time: str("06:30"), TimeZone: "UTC", Days: []Weekday{"SUNDAY", "SATURDAY"}}, "Weekends at 06:30 (UTC)"},
		{Schedule{Cron: str("0  2 * * 1-5"), TimeZone: "America/Denver"}, "Cron 0 2 * * 1-5 (America/Denver)"},
	}
	for _, c := range ok {
		s, err := c.in.Validate("input.schedule")
		require.NoError(t, err)
		require.Equal(t, c.desc, s.Description())
	}
	require.Equal(t, "Manual", (*Schedule)(nil).Description())

	bad := []struct {
		in    Schedule
		field string
	}{
		{Schedule{Time: str("02:00")}, "input.schedule.timeZone"},
		{Schedule{Time: str("02:00"), TimeZone: "Mars/Olympus"}, "input.schedule.timeZone"},
		{Schedule{Time: str("2am"), TimeZone: "UTC"}, "input.schedule.time"},
		{Schedule{Time: str("24:00"), TimeZone: "UTC"}, "input.schedule.time"},
		{Schedule{TimeZone: "UTC"}, "input.schedule"},
		{Schedule{Time: str("02:00"), Cron: str("0 2 * * *"), TimeZone: "UTC"}, "input.schedule"},
		{Schedule{Cron: str("every night"), TimeZone: "UTC"}, "input.schedule.cron"},
		{Schedule{Cron: str("CRON_TZ=UTC 0 2 * * *"), TimeZone: "UTC"}, "input.schedule.cron"},
		{Schedule{Cron: str("0 2 * * *"), TimeZone: "UTC", Days: []Weekday{"MONDAY"}}, "input.schedule.days"},
	}
	for _, c := range bad {
		_, err := c.in.Validate("input.schedule")
		require.Error(t, err)
		require.Contains(t, err.Error(), "")
		ae, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, c.field, ae.Field, "%+v", c.in)
	}
}
