// Package districtgen writes realistic student-information-system export
// files: one row per student with up to two guardians' phones and e-mail
// addresses, as school districts hand them to Rollcall. Tests, benchmarks
// and the demo seed use it.
//
// The files look like the real thing: ids like "S0012345"; first and last
// names from many backgrounds, with diacritics (José, Nguyễn, Müller), or
// without them for some families, as many SIS store them, and with spaces,
// apostrophes and hyphens (Mary Kate, O'Brien, García-López); grades "PK",
// "K", "01"–"12", some unpadded ("7"), each fitting its school's grades; home
// languages, English first, then Spanish and a dozen others, a few blank;
// real area codes and exchanges in mixed formats ("(612) 201-3344",
// "612-201-3344", "6122013344", "+1 612 201 3344", "612.201.3344",
// "1-612-201-3344"); guardian e-mail addresses at free-mail domains or the
// district's, some mixed-case, some empty; no second guardian for a quarter
// of the students; about one family in seven with two or more children in
// the district (same guardians, phones and addresses on each child's row; a
// phone's format may differ from one sibling's row to the other's); fields
// that need quoting ("Smith, Robert", "Room 12, Bldg B", `Elizabeth "Liz"`);
// rare stray trailing spaces and all-caps names; birth dates as MM/DD/YYYY
// that fit the grade for the 2025–26 school year.
//
// The phone numbers and e-mail addresses are made up but plausible: some
// may belong to real people. Never send messages to them.
//
// Every row is derived from the seed and its index alone, so output is
// byte-identical for the same options and memory does not grow with the
// number of rows.
package districtgen

import (
	"bufio"
	"encoding/csv"
	"io"
	"strings"
)

// Options describe a district file.
type Options struct {
	Rows    int   // number of students
	Seed    int64 // same seed and options, same bytes
	Schools int   // number of schools; 12 if 0 (see Schools)
	CRLF    bool  // end lines with \r\n (as Excel and many SIS exports do) instead of \n
	BOM     bool  // start with a UTF-8 byte-order mark
}

// Header is the header row the generator writes, in order.
var Header = []string{"student_id", "first_name", "last_name", "grade", "school", "home_language",
	"guardian1_name", "guardian1_phone", "guardian1_email", "guardian2_name", "guardian2_phone",
	"guardian2_email", "student_email", "homeroom", "birth_date"}

// Write writes the header and opts.Rows students to w, in student id order.
func Write(w io.Writer, opts Options) error {
	g := newGen(opts)
	return write(w, opts, func(emit func([]string) error) error {
		for i := range g.rows {
			if err := emit(g.original(i, nil)); err != nil {
				return err
			}
		}
		return nil
	})
}

// File returns Write(opts) as a string, for tests.
func File(opts Options) string {
	var b strings.Builder
	_ = Write(&b, opts) // a strings.Builder never fails
	return b.String()
}

// NextDayFile returns NextDay(opts, ch) as a string, for tests.
func NextDayFile(opts Options, ch Change) string {
	var b strings.Builder
	_ = NextDay(&b, opts, ch)
	return b.String()
}

// Change describes how the next day's file differs from Write's. Zero
// percentages take the defaults (2, 0.5 and 0.5); a negative one means none.
type Change struct {
	ChangedPct float64 // students whose row changes: a guardian's phone or e-mail, or the student's grade, school, name or homeroom
	RemovedPct float64 // students withdrawn: absent from the file
	AddedPct   float64 // new students, appended with new ids
	Day        int     // 1 is the first next day (also for 0); each day changes different students
}

// NextDay writes the file the district would export ch.Day days after
// Write(opts): the same rows in the same order, except that about
// ch.RemovedPct % are gone and about ch.ChangedPct % changed, followed by
// exactly round(opts.Rows × ch.AddedPct / 100) new students. Their ids are
// above every id of Write(opts); days with the same AddedPct give distinct
// ones. A contact change shows on every row of the family, as it would in a
// real SIS, and new students may join a family already enrolled. Every day
// is a day after Write(opts): day 2 does not build on day 1.
func NextDay(w io.Writer, opts Options, ch Change) error {
	g := newGen(opts)
	d := g.day(ch)
	return write(w, opts, func(emit func([]string) error) error {
		for i := range g.rows {
			if d.removed(i) {
				continue
			}
			if err := emit(g.original(i, d)); err != nil {
				return err
			}
		}
		for k := range d.added {
			if err := emit(g.added(k, d)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Counts describe a NextDay file against the Write file: the students it
// has, and how many of Write's are changed (present in both, with a
// different row), removed, and added.
type Counts struct {
	Rows, Changed, Removed, Added int
}

// NextDayCounts returns the counts of NextDay(w, opts, ch) without writing
// it. It takes time proportional to opts.Rows but no memory.
func NextDayCounts(opts Options, ch Change) Counts {
	g := newGen(opts)
	d := g.day(ch)
	var c Counts
	for i := range g.rows {
		switch {
		case d.removed(i):
			c.Removed++
		case d.studentChanged(i) || d.famChanged(g.root(i)):
			c.Changed++
		}
	}
	c.Added = int(d.added)
	c.Rows = int(g.rows) - c.Removed + c.Added
	return c
}

func write(w io.Writer, opts Options, rows func(emit func([]string) error) error) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if opts.BOM {
		if _, err := bw.WriteString("\uFEFF"); err != nil {
			return err
		}
	}
	// csv.NewWriter adopts bw as its buffer: it is larger than the default.
	cw := csv.NewWriter(bw)
	cw.UseCRLF = opts.CRLF
	if err := cw.Write(Header); err != nil {
		return err
	}
	if err := rows(cw.Write); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
