// Package schedule is when an import expects its file: days of the week
// at a time of day, or a cron expression, in a time zone; and the pure time
// arithmetic of its next slot (daylight saving time included) and its
// description. It knows nothing of imports or the database.
package schedule

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rollcall/rollcall/internal/apperr"
)

// Schedule is when an import expects its file: on some days of the week at a
// time of day, or by a cron expression, in a time zone.
type Schedule struct {
	// Days are the days of the week (empty: every day). With Time only.
	Days []Weekday
	// Time is the time of day, "HH:MM".
	Time *string
	// Cron is a cron expression (five fields, or six with seconds first).
	Cron *string
	// TimeZone is an IANA time zone name, e.g. "America/Chicago".
	TimeZone string
}

// Weekday is a day of the week, as the API names it.
type Weekday string

// The days, as the API names them.
const (
	Sunday    Weekday = "SUNDAY"
	Monday    Weekday = "MONDAY"
	Tuesday   Weekday = "TUESDAY"
	Wednesday Weekday = "WEDNESDAY"
	Thursday  Weekday = "THURSDAY"
	Friday    Weekday = "FRIDAY"
	Saturday  Weekday = "SATURDAY"
)

var weekdays = []Weekday{Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday}

func (d Weekday) index() int { return slices.Index(weekdays, d) }

// Number is the day's number, Sunday = 0, as stored.
func (d Weekday) Number() int { return d.index() }

// WeekdayNumbered returns the day numbered n (Sunday = 0), and false if
// there is none.
func WeekdayNumbered(n int) (Weekday, bool) {
	if n < 0 || n >= len(weekdays) {
		return "", false
	}
	return weekdays[n], true
}

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate checks a schedule and returns it cleaned; field names the input
// in errors.
func (s Schedule) Validate(field string) (Schedule, error) {
	out := Schedule{TimeZone: strings.TrimSpace(s.TimeZone)}
	if out.TimeZone == "" {
		return out, apperr.Invalid(field+".timeZone", "timeZone is required, e.g. America/Chicago")
	}
	if _, err := time.LoadLocation(out.TimeZone); err != nil || strings.EqualFold(out.TimeZone, "local") {
		return out, apperr.Invalid(field+".timeZone", "%q is not an IANA time zone name such as America/Chicago", s.TimeZone)
	}
	hasTime := s.Time != nil && strings.TrimSpace(*s.Time) != ""
	hasCron := s.Cron != nil && strings.TrimSpace(*s.Cron) != ""
	switch {
	case hasTime == hasCron:
		return out, apperr.Invalid(field, "give either time (with days) or cron")
	case hasCron:
		if len(s.Days) > 0 {
			return out, apperr.Invalid(field+".days", "days go with time, not with cron")
		}
		c := strings.Join(strings.Fields(*s.Cron), " ")
		if strings.HasPrefix(strings.ToUpper(c), "CRON_TZ=") || strings.HasPrefix(strings.ToUpper(c), "TZ=") {
			return out, apperr.Invalid(field+".cron", "give the time zone in timeZone, not in the expression")
		}
		if _, err := cronParser.Parse(c); err != nil {
			return out, apperr.Invalid(field+".cron", "%q is not a cron expression: %v", *s.Cron, err)
		}
		out.Cron = &c
	default:
		t := strings.TrimSpace(*s.Time)
		if _, err := time.Parse("15:04", t); err != nil || len(t) != 5 {
			return out, apperr.Invalid(field+".time", "%q is not a time of day such as 02:00", *s.Time)
		}
		out.Time = &t
		seen := map[Weekday]bool{}
		for _, d := range s.Days {
			if d.index() < 0 {
				return out, apperr.Invalid(field+".days", "%q is not a day of the week", d)
			}
			if !seen[d] {
				seen[d] = true
				out.Days = append(out.Days, d)
			}
		}
		slices.SortFunc(out.Days, func(a, b Weekday) int { return a.index() - b.index() })
		if len(out.Days) == 7 {
			out.Days = nil // every day
		}
	}
	return out, nil
}

// Next returns the first slot strictly after t.
//
// Days at a time: the wall-clock time in the zone, on the next matching day.
// On the night clocks spring forward, a time that does not exist (02:30 in
// Chicago) fires when it would have been (03:30 daylight time); on the night
// they fall back, a time that happens twice (01:30) fires once, at its first
// occurrence. Cron expressions follow robfig/cron.
func (s Schedule) Next(t time.Time) (time.Time, error) {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.Time{}, err
	}
	if s.Cron != nil {
		sched, err := cronParser.Parse(*s.Cron)
		if err != nil {
			return time.Time{}, err
		}
		return sched.Next(t.In(loc)).UTC(), nil
	}
	if s.Time == nil {
		return time.Time{}, fmt.Errorf("schedule has neither time nor cron")
	}
	clock, err := time.Parse("15:04", *s.Time)
	if err != nil {
		return time.Time{}, err
	}
	local := t.In(loc)
	for i := 0; i <= 8; i++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+i, 12, 0, 0, 0, loc) // noon: safe from transitions
		if !s.onDay(day.Weekday()) {
			continue
		}
		slot := wallClock(day.Year(), day.Month(), day.Day(), clock.Hour(), clock.Minute(), loc)
		if slot.After(t) {
			return slot.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("schedule has no day")
}

// wallClock is the instant a clock in loc shows y-m-d hh:mm. Around a
// daylight-saving change time.Date only promises "one of the two zones";
// the rule here is explicit: a time that happens twice is its first
// occurrence, and a time that never happens (the spring-forward gap) is
// read with the offset from before the change, which lands just after the
// gap (02:30 → 03:30 daylight time), so a job is late, never early.
func wallClock(y int, m time.Month, d, hh, mm int, loc *time.Location) time.Time {
	naive := time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
	_, before := naive.Add(-36 * time.Hour).In(loc).Zone()
	_, after := naive.Add(36 * time.Hour).In(loc).Zone()
	var best time.Time
	for _, off := range []int{before, after} {
		inst := naive.Add(-time.Duration(off) * time.Second)
		l := inst.In(loc)
		if l.Hour() == hh && l.Minute() == mm && l.Day() == d && (best.IsZero() || inst.Before(best)) {
			best = inst
		}
	}
	if best.IsZero() {
		best = naive.Add(-time.Duration(before) * time.Second)
	}
	return best.In(loc)
}

func (s Schedule) onDay(d time.Weekday) bool {
	if len(s.Days) == 0 {
		return true
	}
	return slices.Contains(s.Days, weekdays[d])
}

// Description reads like the product's Description column: "Daily at 02:00
// (America/Chicago)", "Weekdays at 06:30 (…)", "Mon, Wed, Fri at …",
// "Cron 0 2 * * 1-5 (…)".
func (s *Schedule) Description() string {
	if s == nil {
		return "Manual"
	}
	if s.Cron != nil {
		return fmt.Sprintf("Cron %s (%s)", *s.Cron, s.TimeZone)
	}
	return fmt.Sprintf("%s at %s (%s)", s.daysText(), *s.Time, s.TimeZone)
}

func (s *Schedule) daysText() string {
	idx := make([]int, len(s.Days))
	for i, d := range s.Days {
		idx[i] = d.index()
	}
	switch {
	case len(idx) == 0:
		return "Daily"
	case slices.Equal(idx, []int{1, 2, 3, 4, 5}):
		return "Weekdays"
	case slices.Equal(idx, []int{0, 6}):
		return "Weekends"
	}
	names := make([]string, len(s.Days))
	for i, d := range s.Days {
		names[i] = string(d[0]) + strings.ToLower(string(d[1:3]))
	}
	return strings.Join(names, ", ")
}
