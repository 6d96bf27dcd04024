package oneroster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/internal/importfile"
)

// maxManifestBytes bounds manifest.csv.
const maxManifestBytes = 64 << 10

// Manifest is what an export's manifest.csv says: the version, and what
// each entity file does.
type Manifest struct {
	Version Version
	modes   map[string]Mode // by entity name (users, orgs, …); absent when not listed
}

// Mode returns what the manifest says of entity (Absent when it is not
// listed).
func (m *Manifest) Mode(entity string) Mode {
	if mode, ok := m.modes[entity]; ok {
		return mode
	}
	return Absent
}

// ReadManifest reads manifest.csv and checks it against the archive: a
// known version, a valid mode for every file, and every file declared bulk
// or delta present.
func ReadManifest(a *Archive, limits importfile.Limits) (*Manifest, error) {
	if !a.Has(manifestFile) {
		return nil, &importfile.FileError{Message: fmt.Sprintf("the zip has no manifest.csv, which every OneRoster CSV export starts with (it holds %s): is this a OneRoster export?",
			strings.Join(sortedNames(a), ", "))}
	}
	rc, err := a.Open(manifestFile)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// A manifest is a few dozen lines; what is held of it must not grow
	// with a crafted one.
	head, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(head) > maxManifestBytes {
		return nil, &importfile.FileError{File: manifestFile, Message: fmt.Sprintf("manifest.csv is larger than %s: a manifest is a few dozen lines", importfile.FormatBytes(maxManifestBytes))}
	}
	notes := &importfile.Notes{}
	rr, err := importfile.NewReader(bytes.NewReader(head), notes, false, limits)
	if err != nil {
		return nil, inFile(manifestFile, err)
	}
	header, err := rr.Header()
	if err != nil {
		return nil, inFile(manifestFile, err)
	}
	cols, err := match(manifestFile, header, []string{"propertyName", "value"}, []string{"propertyName", "value"}, false)
	if err != nil {
		return nil, err
	}
	m := &Manifest{modes: map[string]Mode{}}
	seen := map[string]int{}
	for {
		rec, line, err := rr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, inFile(manifestFile, err)
		}
		name, value := strings.TrimSpace(rec[cols[0]]), strings.TrimSpace(rec[cols[1]])
		if name == "" {
			continue
		}
		if prev, dup := seen[name]; dup {
			return nil, &importfile.FileError{Line: line, Column: "propertyName", Message: fmt.Sprintf("manifest.csv: %s is given twice (lines %d and %d)", name, prev, line)}
		}
		seen[name] = line
		switch {
		case name == manifestVersionKey:
			switch Version(value) {
			case V11, V12:
				m.Version = Version(value)
			default:
				return nil, &importfile.FileError{Line: line, Column: "value", Message: fmt.Sprintf(
					"manifest.csv: oneroster.version is %q; Rollcall reads OneRoster 1.1 and 1.2 CSV exports", value)}
			}
		case strings.HasPrefix(name, "file."):
			mode := Mode(strings.ToLower(value))
			if mode != Bulk && mode != Delta && mode != Absent {
				return nil, &importfile.FileError{Line: line, Column: "value", Message: fmt.Sprintf(
					"manifest.csv: %s is %q; use bulk, delta or absent", name, value)}
			}
			m.modes[strings.TrimPrefix(name, "file.")] = mode
		}
	}
	if m.Version == "" {
		return nil, &importfile.FileError{Message: "manifest.csv: no oneroster.version (1.1 or 1.2): the export's version cannot be told"}
	}
	for entity, mode := range m.modes {
		if mode != Absent && !a.Has(entity+".csv") {
			return nil, &importfile.FileError{Line: seen["file."+entity], Message: fmt.Sprintf(
				"manifest.csv declares %s.csv (%s) but the zip does not hold it: the export is incomplete, nothing was applied", entity, mode)}
		}
	}
	return m, nil
}

func sortedNames(a *Archive) []string {
	names := a.Names()
	slices.Sort(names)
	return names
}

// inFile names file in a reading error (a file error, or a row error that
// stops reading).
func inFile(file string, err error) error {
	var fe *importfile.FileError
	if errors.As(err, &fe) {
		out := *fe
		out.File = file
		if !strings.HasPrefix(out.Message, file) {
			out.Message = file + ": " + out.Message
		}
		return &out
	}
	var re *importfile.RowError
	if errors.As(err, &re) {
		return &importfile.FileError{File: file, Line: re.Line, Column: re.Column, Message: file + ": " + re.Message}
	}
	return err
}
