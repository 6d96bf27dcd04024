package oneroster

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rollcall/rollcall/internal/importfile"
)

// match finds columns (as the standard spells them) in a file's header:
// the index of each, -1 when the header lacks it. A required column
// missing fails the file. OneRoster 1.2 makes header names case-sensitive;
// 1.1 exports are matched ignoring case (many spell birthdate or
// SourcedId their own way).
func match(file string, header, columns, required []string, caseSensitive bool) ([]int, error) {
	idx := make([]int, len(columns))
	for i, c := range columns {
		idx[i] = -1
		for j, h := range header {
			if h == c || !caseSensitive && strings.EqualFold(h, c) {
				if idx[i] >= 0 {
					return nil, &importfile.FileError{File: file, Line: 1, Column: c, Message: fmt.Sprintf(
						"%s: column %s appears twice in the header (columns %d and %d)", file, c, idx[i]+1, j+1)}
				}
				idx[i] = j
			}
		}
	}
	var missing []string
	for _, r := range required {
		for i, c := range columns {
			if c == r && idx[i] < 0 {
				missing = append(missing, r)
			}
		}
	}
	if len(missing) > 0 {
		hint := ""
		if caseSensitive {
			hint = " (OneRoster 1.2 header names are case-sensitive)"
		}
		return nil, &importfile.FileError{File: file, Line: 1, Column: missing[0], Message: fmt.Sprintf(
			"%s: the header lacks %s, which Rollcall needs%s; the header has %s", file, strings.Join(missing, ", "), hint, strings.Join(header, ", "))}
	}
	return idx, nil
}

// table reads one entity file of the export.
type table struct {
	e      *entity
	rc     io.ReadCloser
	rr     *importfile.Reader
	header []string
	cols   []int // by entity column: the file's column, or -1
	extra  []int // the file's columns the entity does not name (extension columns)
	notes  *importfile.Notes
	own    *importfile.Notes // the reader's warnings, until close
}

// openTable opens e's file and matches its header.
func openTable(a *Archive, e *entity, v Version, notes *importfile.Notes, limits importfile.Limits) (*table, error) {
	rc, err := a.Open(e.file())
	if err != nil {
		return nil, err
	}
	// The reader's warnings (an encoding, line endings) are the file's:
	// they go to the run's notes named by it (close).
	t := &table{e: e, rc: rc, notes: notes, own: &importfile.Notes{}}
	if t.rr, err = importfile.NewReader(rc, t.own, false, limits); err != nil {
		rc.Close()
		return nil, inFile(e.file(), err)
	}
	if t.header, err = t.rr.Header(); err != nil {
		rc.Close()
		return nil, inFile(e.file(), err)
	}
	if t.cols, err = match(e.file(), t.header, e.columns, e.required, v == V12); err != nil {
		rc.Close()
		return nil, err
	}
	known := make([]bool, len(t.header))
	for _, c := range t.cols {
		if c >= 0 {
			known[c] = true
		}
	}
	for i, h := range t.header {
		if !known[i] && h != "" {
			t.extra = append(t.extra, i)
		}
	}
	return t, nil
}

// read returns the next record and its line; io.EOF at the end. A row
// that cannot be read whole is returned with its *importfile.RowError
// (its File set): the caller decides what becomes of it.
func (t *table) read() ([]string, int, error) {
	for {
		rec, line, err := t.rr.Read()
		var re *importfile.RowError
		if errors.As(err, &re) {
			re.File = t.e.file()
			return rec, line, re
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, 0, io.EOF
			}
			return nil, 0, inFile(t.e.file(), err)
		}
		if importfile.AllBlank(rec) {
			continue
		}
		if len(rec) != len(t.header) {
			return rec, line, &importfile.RowError{File: t.e.file(), Line: line,
				Message: fmt.Sprintf("expected %d fields (as in the header), found %d", len(t.header), len(rec))}
		}
		return rec, line, nil
	}
}

// get returns entity column i of rec, trimmed ("" when the file lacks the
// column or the row is short).
func (t *table) get(rec []string, i int) string {
	if c := t.cols[i]; c >= 0 && c < len(rec) {
		return strings.TrimSpace(rec[c])
	}
	return ""
}

// close finishes reading the file.
func (t *table) close() {
	t.rr.Finish()
	t.rc.Close()
	for _, w := range t.own.AllWarnings() {
		t.notes.Warn(t.e.file() + ": " + w)
	}
}
