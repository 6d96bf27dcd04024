package importfile

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// RowError is a problem with one row: the row is rejected, the rest of the
// file goes on.
type RowError struct {
	// File names the file of an archive the line is in (a OneRoster
	// export's users.csv); "" for a file read on its own.
	File    string
	Line    int
	Column  string
	Value   string
	Message string
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// Limits on what a run keeps of its errors and warnings; counts stay exact.
const (
	maxStoredErrors   = 10000
	maxStoredWarnings = 100
	maxValueLength    = 200
)

// notes collects a run's row errors and warnings.
type Notes struct {
	// File is the file of an archive that rejected rows are in, unless
	// their RowError names one (a OneRoster export's users.csv).
	File     string
	Errors   []RowError
	Dropped  int // errors beyond maxStoredErrors
	Warnings []string
	// grouped warnings: a kind seen on many lines becomes one message.
	groups map[string]*warningGroup
}

type warningGroup struct {
	format    string // with %d for the count and %d for the first line
	count     int
	firstLine int
}

func (n *Notes) Reject(e RowError) {
	if e.File == "" {
		e.File = n.File
	}
	if len(e.Value) > maxValueLength {
		// Cut at a character boundary: PostgreSQL refuses text with half
		// a UTF-8 sequence, and the run's errors are stored as text.
		cut := maxValueLength
		for cut > 0 && !utf8.RuneStart(e.Value[cut]) {
			cut--
		}
		e.Value = e.Value[:cut] + "…"
	}
	if len(n.Errors) >= maxStoredErrors {
		n.Dropped++
		return
	}
	n.Errors = append(n.Errors, e)
}

func (n *Notes) Warn(msg string) {
	if len(n.Warnings) < maxStoredWarnings {
		n.Warnings = append(n.Warnings, msg)
	}
}

// warnLine counts a warning that may occur on many lines; format gets the
// count and the first line.
func (n *Notes) WarnLine(kind, format string, line int) {
	if n.groups == nil {
		n.groups = map[string]*warningGroup{}
	}
	g, ok := n.groups[kind]
	if !ok {
		g = &warningGroup{format: format, firstLine: line}
		n.groups[kind] = g
	}
	g.count++
}

// allWarnings returns the warnings with grouped ones summarized, in a stable
// order.
func (n *Notes) AllWarnings() []string {
	out := append([]string(nil), n.Warnings...)
	kinds := make([]string, 0, len(n.groups))
	for k := range n.groups {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		g := n.groups[k]
		out = append(out, fmt.Sprintf(g.format, g.count, g.firstLine))
	}
	if n.Dropped > 0 {
		out = append(out, fmt.Sprintf("%d more rejected rows are counted but their errors are not listed", n.Dropped))
	}
	return out
}
