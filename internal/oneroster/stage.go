package oneroster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/fold"
	"github.com/rollcall/rollcall/internal/importfile"
)

// Staging: each entity file the export carries is copied, as it is read,
// into a temporary table of the run's transaction (dropped at its end):
// the row's line, sourcedId and status, and its other non-empty columns
// as a JSON object named as the standard (or the export's extension
// columns) name them. A row that cannot be read whole is kept with its
// error and, when it can be read, its sourcedId: the record it names is
// then left as it is.

// fileTable is the name of the temporary table holding e's file.
func fileTable(e *entity) string { return "oneroster_" + strings.ToLower(e.name) + "_file" }

// skipped are the columns staged apart from a record's data: its key, and
// what says when and whether it changed (dateLastModified changes without
// the record changing).
var skipped = map[string]bool{"sourcedId": true, "status": true, "dateLastModified": true}

// staged is an entity file staged.
type staged struct {
	e    *entity
	mode Mode
}

// stage copies the entity file e into its temporary table.
func stage(ctx context.Context, c *pgx.Conn, a *Archive, e *entity, mode Mode, v Version, notes *importfile.Notes, limits importfile.Limits) (*staged, error) {
	t, err := openTable(a, e, v, notes, limits)
	if err != nil {
		return nil, err
	}
	defer t.close()
	s := &staged{e: e, mode: mode}
	if err := emptyFile(ctx, c, e); err != nil {
		return nil, err
	}
	src := &stageSource{t: t, s: s, notes: notes, values: make([]any, 8)}
	cols := []string{"line", "sourcedId", "status", "data", "err_column", "err_value", "err_message", "match"}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{fileTable(e)}, cols, src); err != nil {
		if src.err != nil {
			return nil, src.err
		}
		return nil, fmt.Errorf("stage %s: %w", e.file(), err)
	}
	// Temporary tables get no statistics but these: without them the
	// planner takes the file for a small one and joins it by nested loops.
	if err := run(ctx, c, "stage "+e.file(), "ANALYZE "+fileTable(e)); err != nil {
		return nil, err
	}
	return s, nil
}

// stageSource feeds an entity file's rows to COPY.
type stageSource struct {
	t      *table
	s      *staged
	notes  *importfile.Notes
	values []any
	data   []byte
	err    error
}

func (src *stageSource) Next() bool {
	rec, line, err := src.t.read()
	if errors.Is(err, io.EOF) {
		return false
	}
	clear(src.values)
	src.values[0] = int32(line)
	var re *importfile.RowError
	switch {
	case errors.As(err, &re):
		// People's rows are reported as the pipeline reads them (a
		// rejected row counts against the rejection guard); the other
		// files' here.
		if src.s.e.name != "users" {
			src.notes.Reject(*re)
		}
		src.values[1] = nullIfEmpty(src.t.get(rec, 0)) // sourcedId is every entity's first column
		src.values[4], src.values[5], src.values[6] = nullIfEmpty(re.Column), nullIfEmpty(re.Value), re.Message
	case err != nil:
		src.err = err
		return false
	default:
		src.values[1] = nullIfEmpty(src.t.get(rec, 0))
		src.values[2] = nullIfEmpty(strings.ToLower(src.t.get(rec, 1))) // status
		src.values[3] = src.dataJSON(rec)
		if src.s.e == &classesEntity {
			src.values[7] = classMatch(src.t.get(rec, 0), src.t.get(rec, 6), src.t.get(rec, 3))
		}
		if src.values[1] == nil {
			e := importfile.RowError{File: src.t.e.file(), Line: line, Column: "sourcedId", Message: "the sourcedId is empty"}
			if src.s.e.name != "users" {
				src.notes.Reject(e)
			}
			src.values[3] = nil
			src.values[4], src.values[6] = e.Column, e.Message
		}
	}
	return true
}

// dataJSON returns the row's non-empty columns, but those in skipped, as a
// JSON object.
func (src *stageSource) dataJSON(rec []string) string {
	b := append(src.data[:0], '{')
	add := func(name, value string) {
		if value == "" || skipped[name] {
			return
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(name) // strings always marshal
		v, _ := json.Marshal(value)
		b = append(append(append(b, k...), ':'), v...)
	}
	for i, name := range src.t.e.columns {
		add(name, src.t.get(rec, i))
	}
	for _, i := range src.t.extra {
		add(src.t.header[i], strings.TrimSpace(rec[i]))
	}
	b = append(b, '}')
	src.data = b
	return string(b)
}

// classMatch is what RecipientFilter.class compares of a class: its
// sourcedId, classCode and title, folded (fold.Key), the empty ones left
// out.
func classMatch(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, fold.Key(v))
		}
	}
	return out
}

func (src *stageSource) Values() ([]any, error) { return src.values, nil }
func (src *stageSource) Err() error             { return src.err }

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
