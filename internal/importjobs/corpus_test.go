package importjobs

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/apply"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/filestore"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/mapping"
	"github.com/rollcall/rollcall/internal/opt"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
	"github.com/rollcall/rollcall/internal/users"
)

// The corpus: bad (and tricky but valid) files, each run through the real
// upload and pipeline on top of an import that already holds the 40
// students of corpusBase, and, where it matters, on an empty import too.
// After every run the data is compared with what it was before:
//
//   - a run that is not applied (FAILED, HELD, a dry run) or an upload that
//     is refused leaves the recipients byte-identical (and stores no file);
//   - an applied run changes exactly the recipients the case lists, the way
//     it lists them (created, updated, removed, restored, or only re-hashed);
//     every other recipient, the keys of rejected rows included, is
//     byte-identical, and the counts agree with what changed.
//
// Line numbers: the header is line 1 and the row of S0nn is line nn+1.

// Columns of corpusBase.
const (
	corpusColID = iota
	corpusColFirst
	corpusColLast
	corpusColGrade
	corpusColSchool
	corpusColPhone
	corpusColEmail
)

const (
	corpusHeader = "student_id,first_name,last_name,grade,school,guardian1_phone,guardian1_email"
	corpusN      = 40
)

var (
	corpusFirsts  = []string{"Ana", "Ben", "Chloé", "Dev", "Eve", "Finn", "Gia", "Hugo", "Iris", "Jon"}
	corpusLasts   = []string{"García", "Núñez", "Smith", "Lee", "Patel", "Okafor", "Kowalski", "Haddad", "Johansson", "Tanaka", "Müller"}
	corpusGrades  = []string{"PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
	corpusSchools = []string{"Lincoln Elementary", "Jefferson Middle", "Roosevelt High"}
)

func corpusKey(i int) string { return fmt.Sprintf("S%03d", i) }

func corpusRow(i int) []string {
	return []string{corpusKey(i), corpusFirsts[(i-1)%len(corpusFirsts)], corpusLasts[(i-1)%len(corpusLasts)],
		corpusGrades[(i-1)%len(corpusGrades)], corpusSchools[(i-1)%len(corpusSchools)],
		fmt.Sprintf("612-555-%04d", 1000+i), fmt.Sprintf("parent%d@example.org", i)}
}

// corpusFile is a file as rows of raw CSV text (a value with a quote or a
// delimiter must be given quoted). Its methods return modified copies.
type corpusFile struct {
	header []string
	rows   [][]string
}

// corpusSheet is students S001…S0n.
func corpusSheet(n int) corpusFile {
	s := corpusFile{header: strings.Split(corpusHeader, ",")}
	for i := 1; i <= n; i++ {
		s.rows = append(s.rows, corpusRow(i))
	}
	return s
}

// corpusBase is the file every case starts from.
var corpusBase = corpusSheet(corpusN)

func (s corpusFile) clone() corpusFile {
	c := corpusFile{header: slices.Clone(s.header)}
	for _, r := range s.rows {
		c.rows = append(c.rows, slices.Clone(r))
	}
	return c
}

// set sets the raw text of key's column col.
func (s corpusFile) set(key string, col int, raw string) corpusFile {
	c := s.clone()
	for _, r := range c.rows {
		if r[corpusColID] == key {
			r[col] = raw
			return c
		}
	}
	panic("no row " + key)
}

// keep keeps the first n rows.
func (s corpusFile) keep(n int) corpusFile {
	c := s.clone()
	c.rows = c.rows[:n]
	return c
}

func (s corpusFile) add(rows ...[]string) corpusFile {
	c := s.clone()
	for _, r := range rows {
		c.rows = append(c.rows, slices.Clone(r))
	}
	return c
}

// row returns a copy of key's row.
func (s corpusFile) row(key string) []string {
	for _, r := range s.rows {
		if r[corpusColID] == key {
			return slices.Clone(r)
		}
	}
	panic("no row " + key)
}

// insertColumn adds a column at position at, valued per row by value.
func (s corpusFile) insertColumn(at int, name string, value func(key string) string) corpusFile {
	c := s.clone()
	c.header = slices.Insert(c.header, at, name)
	for i, r := range c.rows {
		c.rows[i] = slices.Insert(r, at, value(r[corpusColID]))
	}
	return c
}

func (s corpusFile) lines(sep string) []string {
	out := []string{strings.Join(s.header, sep)}
	for _, r := range s.rows {
		out = append(out, strings.Join(r, sep))
	}
	return out
}

func (s corpusFile) csv() string { return corpusJoin(s.lines(","), "\n") }

func (s corpusFile) delimited(sep, eol string) string { return corpusJoin(s.lines(sep), eol) }

func corpusJoin(ls []string, eol string) string { return strings.Join(ls, eol) + eol }

// replaceLine replaces the line of key's row with raw text.
func corpusReplaceLine(ls []string, key, raw string) []string {
	out := slices.Clone(ls)
	for i, l := range out {
		if strings.HasPrefix(l, key+",") {
			out[i] = raw
			return out
		}
	}
	panic("no line " + key)
}

func corpusGzip(s string, level int) string {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		panic(err)
	}
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		panic(err)
	}
	return b.String()
}

func corpusWin1252(s string) string {
	out, err := charmap.Windows1252.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return out
}

func corpusPNG() string {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		panic(err)
	}
	return b.String()
}

// xlsxFile is a ZIP archive, as an .xlsx workbook is.
func corpusXLSX() string {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		panic(err)
	}
	_, _ = w.Write([]byte(`<worksheet><sheetData/></worksheet>`))
	if err := z.Close(); err != nil {
		panic(err)
	}
	return b.String()
}

// randomSheet is the base followed by n students with random contacts: it
// compresses poorly, so its gzip is large.
func corpusRandomSheet(n int) corpusFile {
	r := rand.New(rand.NewPCG(1, 2))
	s := corpusBase.clone()
	for i := corpusN + 1; i <= corpusN+n; i++ {
		row := corpusRow(i)
		row[corpusColFirst], row[corpusColLast] = corpusRandomWord(r, 8), corpusRandomWord(r, 12)
		row[corpusColPhone] = fmt.Sprintf("612-%03d-%04d", 200+r.IntN(800), r.IntN(10000))
		row[corpusColEmail] = fmt.Sprintf("p%x%x@example.org", r.Uint64(), r.Uint64())
		s.rows = append(s.rows, row)
	}
	return s
}

func corpusRandomWord(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	b[0] -= 'a' - 'A'
	return string(b)
}

func corpusKeys(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, corpusKey(i))
	}
	return out
}

func corpusWithout(keys []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return slices.Contains(drop, k) })
}

// Kinds of change to a recipient, as corpusDiff reports them.
const (
	corpusCreated  = "created"
	corpusUpdated  = "updated"
	corpusRemoved  = "removed"
	corpusRestored = "restored"
	corpusRehashed = "rehashed" // only the row hash changed (same values, file text differs)
)

// changes builds an expected diff; later arguments win.
func corpusChanges(kind string, keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = kind
	}
	return m
}

func corpusMerge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

type corpusErr struct {
	line    int
	column  string // "" for none
	value   string // "" for none
	message string // substring
}

// corpusOutcome is what a run of a case's file must end with.
type corpusOutcome struct {
	status imports.RunStatus
	counts apply.Counts
	// anyCounts skips the counts check (for BUG cases whose exact counts
	// depend on the fix).
	anyCounts bool
	message   string      // substring of the run's message
	errors    []corpusErr // every stored error, in order
	warnings  []string    // every warning, in order, by substring
	// changes is the diff an applied run makes: every key not listed is
	// byte-identical afterwards.
	changes map[string]string
	check   func(t *testing.T, f *fixture)
}

type corpusRefusal struct {
	code    apperr.Code
	message string
}

type corpusCase struct {
	name    string
	input   imports.CreateImportInput
	content string
	dry     bool
	// maxUpload, when set, is the upload limit for the case's file.
	maxUpload int64
	// header is the header the stored file must have.
	header []string
	// refused: the upload itself is refused and nothing is stored.
	refused *corpusRefusal
	// existing is the outcome on top of corpusBase.
	existing corpusOutcome
	// first, when set, is the outcome on an empty import.
	first *corpusOutcome
}

func corpusCases() []corpusCase {
	all := corpusKeys(1, corpusN)
	base := corpusBase.csv()
	baseLines := corpusBase.lines(",")
	large := corpusSheet(1100)
	random := corpusRandomSheet(2000)
	randomGz := corpusGzip(random.csv(), gzip.DefaultCompression)
	mapping := []mapping.Entry{
		{Column: "student_id", Field: "externalId"},
		{Column: "first_name", Field: "firstName"},
		{Column: "last_name", Field: "lastName"},
		{Column: "guardian1_phone", Field: "phone"},
	}
	atLimit := corpusSheet(1).set("S001", corpusColSchool, "Adams Elementary").csv()
	lastCol := len(corpusBase.header) - 1

	return []corpusCase{
		// Refused at upload: nothing is stored.
		{
			name:    "empty file",
			content: "",
			refused: &corpusRefusal{apperr.CodeBadUserInput, "the file is empty"},
		},
		{
			name:    "only blank lines",
			content: "\n\r\n\n",
			refused: &corpusRefusal{apperr.CodeBadUserInput, "the file is empty"},
		},
		{
			name:    "only a byte-order mark",
			content: "\xEF\xBB\xBF",
			refused: &corpusRefusal{apperr.CodeBadUserInput, "the file is empty"},
		},
		{
			name:    "binary with NUL bytes",
			content: "\x00\x01\x02student_id\x00\xff\xfe\x00",
			refused: &corpusRefusal{apperr.CodeBadUserInput, "not text (it has a NUL byte at offset 0)"},
		},
		{
			name:    "PNG image",
			content: corpusPNG(),
			refused: &corpusRefusal{apperr.CodeBadUserInput, "not text (it has a NUL byte at offset 8)"},
		},
		{
			name:    "ZIP (xlsx workbook)",
			content: corpusXLSX(),
			refused: &corpusRefusal{apperr.CodeBadUserInput, "ZIP archive"},
		},
		{
			name:    "old Excel xls",
			content: "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + strings.Repeat("\x00", 100),
			refused: &corpusRefusal{apperr.CodeBadUserInput, "old Excel .xls"},
		},
		{
			name:    "PDF",
			content: "%PDF-1.7\n1 0 obj << >> endobj\n",
			refused: &corpusRefusal{apperr.CodeBadUserInput, "PDF"},
		},
		{
			name:    "UTF-16 with BOM",
			content: "\xff\xfes\x00t\x00u\x00",
			refused: &corpusRefusal{apperr.CodeBadUserInput, "UTF-16"},
		},
		{
			name:    "UTF-16 without BOM",
			content: "s\x00t\x00u\x00d\x00",
			refused: &corpusRefusal{apperr.CodeBadUserInput, "NUL byte at offset 1"},
		},
		{
			name:      "over the upload limit",
			content:   base,
			maxUpload: 100,
			refused:   &corpusRefusal{apperr.CodeTooLarge, "larger than the upload limit of 100 bytes"},
		},
		{
			name:      "one byte over the upload limit",
			content:   atLimit,
			maxUpload: int64(len(atLimit)) - 1,
			refused:   &corpusRefusal{apperr.CodeTooLarge, "upload limit"},
		},
		{
			name:    "header line unreadable",
			content: strings.Replace(base, "first_name", `first"name`, 1),
			refused: &corpusRefusal{apperr.CodeBadUserInput, "the header line cannot be read"},
		},
		{
			name:    "truncated gzip",
			content: corpusGzip(base, gzip.DefaultCompression)[:200],
			refused: &corpusRefusal{apperr.CodeBadUserInput, "gzip-compressed file is damaged"},
		},

		// Accepted at upload, the run fails: nothing applied.
		{
			name:     "header only",
			content:  corpusHeader + "\n",
			existing: corpusOutcome{status: imports.StatusFailed, errors: []corpusErr{{1, "", "", "the file has a header but no data rows"}}},
			first:    &corpusOutcome{status: imports.StatusFailed, errors: []corpusErr{{1, "", "", "the file has a header but no data rows"}}},
		},
		{
			name:    "missing key column",
			content: strings.Replace(base, "student_id", "pupil", 1),
			existing: corpusOutcome{status: imports.StatusFailed, message: "no key column",
				errors: []corpusErr{{1, "", "", "no key column: the header (pupil, first_name, last_name"}}},
		},
		{
			name:    "mapped column absent",
			input:   imports.CreateImportInput{Mapping: mapping},
			content: strings.ReplaceAll(base, "guardian1_phone", "guardian_cell"),
			existing: corpusOutcome{status: imports.StatusFailed, errors: []corpusErr{{1, "guardian1_phone", "",
				`the mapping takes phone from column "guardian1_phone", which is not in the file's header`}}},
		},
		{
			name: "unbalanced quote",
			content: corpusJoin(corpusReplaceLine(baseLines, "S015",
				`S015,Ana,"Smith,5,Lincoln Elementary,612-555-1015,parent15@example.org`), "\n"),
			existing: corpusOutcome{status: imports.StatusFailed, counts: apply.Counts{RowsRead: 14, Unchanged: 14},
				message: "line 16: a quoted field starting on this line",
				errors:  []corpusErr{{16, "", "", "never closes properly, swallowing lines 16 to 41"}}},
			first: &corpusOutcome{status: imports.StatusFailed, counts: apply.Counts{RowsRead: 14},
				errors: []corpusErr{{16, "", "", "swallowing lines 16 to 41"}}},
		},
		{
			name: "unbalanced quote names its column",
			content: corpusJoin(corpusReplaceLine(baseLines, "S015",
				`S015,Ana,"Smith,5,Lincoln Elementary,612-555-1015,parent15@example.org`), "\n"),
			existing: corpusOutcome{status: imports.StatusFailed, counts: apply.Counts{RowsRead: 14, Unchanged: 14},
				errors: []corpusErr{{16, "", "", "a quoted field starting on this line never closes"}}},
		},
		{
			name: "unbalanced quote in the key column",
			content: corpusJoin(corpusReplaceLine(baseLines, "S015",
				`"S015,Ana,Smith,5,Lincoln Elementary,612-555-1015,parent15@example.org`), "\n"),
			existing: corpusOutcome{status: imports.StatusFailed, counts: apply.Counts{RowsRead: 14, Unchanged: 14},
				errors: []corpusErr{{16, "", "", "swallowing lines 16 to 41"}}},
		},
		{
			name:    "too many rejected rows",
			content: corpusBase.set("S003", corpusColEmail, "parent3").set("S010", corpusColEmail, "parent10@").set("S020", corpusColPhone, "12").csv(),
			existing: corpusOutcome{status: imports.StatusFailed, counts: apply.Counts{RowsRead: 40, Unchanged: 37, Rejected: 3},
				message: "3 of 40 rows (7.5%) were rejected, more than the import's limit of 5%",
				errors: []corpusErr{
					{4, "guardian1_email", "parent3", `"parent3" is not a valid email address`},
					{11, "guardian1_email", "parent10@", `"parent10@" is not a valid email address`},
					{21, "guardian1_phone", "12", `"12" is not a valid phone number`},
				}},
			first: &corpusOutcome{status: imports.StatusFailed, counts: apply.Counts{RowsRead: 40, Rejected: 3},
				message: "3 of 40 rows (7.5%) were rejected",
				errors: []corpusErr{
					{4, "guardian1_email", "parent3", "not a valid email"},
					{11, "guardian1_email", "parent10@", "not a valid email"},
					{21, "guardian1_phone", "12", "not a valid phone"},
				}},
		},
		{
			name:    "FULL missing half the people",
			content: corpusBase.keep(20).csv(),
			existing: corpusOutcome{status: imports.StatusHeld, counts: apply.Counts{RowsRead: 20, Unchanged: 20, Removed: 20},
				message: "would remove 20 of 40 active recipients (50.0%), more than the import's limit of 10%"},
			first: &corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 20, Created: 20},
				changes: corpusChanges(corpusCreated, corpusKeys(1, 20)...)},
		},
		{
			name:    "FULL missing just over the limit",
			content: corpusBase.keep(35).csv(),
			existing: corpusOutcome{status: imports.StatusHeld, counts: apply.Counts{RowsRead: 35, Unchanged: 35, Removed: 5},
				message: "would remove 5 of 40 active recipients (12.5%)"},
		},
		{
			name:     "FULL missing exactly the limit",
			content:  corpusBase.keep(36).csv(),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 36, Unchanged: 36, Removed: 4}, changes: corpusChanges(corpusRemoved, corpusKeys(37, 40)...)},
		},
		{
			name:    "duplicate header names",
			content: corpusBase.insertColumn(lastCol+1, "guardian1_phone", func(string) string { return "" }).csv(),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40},
				changes:  corpusChanges(corpusRehashed, all...),
				warnings: []string{`column name "guardian1_phone" appears twice in the header (columns 6 and 8)`}},
		},
		{
			name:    "Mac CR line endings",
			content: corpusBase.delimited(",", "\r"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40},
				warnings: []string{"the file ends its lines with CR only (old Mac format)"}},
		},
		{
			name:    "two blank header columns (Excel's empty trailing columns)",
			content: corpusBase.insertColumn(lastCol+1, "", func(string) string { return "" }).insertColumn(lastCol+2, "", func(string) string { return "" }).csv(),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40},
				changes: corpusChanges(corpusRehashed, all...)},
		},
		{
			name:     "NUL byte after the first 64KB",
			content:  large.set("S1100", corpusColFirst, "Nu\x00ll").csv(),
			existing: corpusOutcome{status: imports.StatusFailed, anyCounts: true, message: "NUL"},
		},
		{
			name:     "truncated large gzip",
			content:  randomGz[:len(randomGz)*3/4],
			existing: corpusOutcome{status: imports.StatusFailed, anyCounts: true, message: "damaged"},
		},

		// Applied, with rows rejected: the rest applies, rejected keys stay.
		{
			name:    "exact duplicate row",
			content: corpusBase.set("S005", corpusColSchool, "Adams Elementary").add(corpusBase.set("S005", corpusColSchool, "Adams Elementary").row("S005")).csv(),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 41, Updated: 1, Unchanged: 39},
				warnings: []string{"1 row(s) repeated an earlier row exactly (same key and values) and were counted once"},
				changes:  corpusChanges(corpusUpdated, "S005"),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "Adams Elementary", f.recipient("S005")["school"])
				}},
			first: &corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 41, Created: 40},
				warnings: []string{"1 row(s) repeated an earlier row exactly"},
				changes:  corpusChanges(corpusCreated, all...)},
		},
		{
			name:    "conflicting duplicate key",
			content: corpusBase.add(corpusBase.set("S007", corpusColGrade, "9").row("S007")).csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 41, Unchanged: 39, Rejected: 2},
				errors: []corpusErr{
					{8, "student_id", "S007", `key "S007" appears again on line 42 with different values; neither row was applied`},
					{42, "student_id", "S007", `key "S007" already appeared on line 8 with different values; neither row was applied`},
				}},
			first: &corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 41, Created: 39, Rejected: 2},
				errors: []corpusErr{
					{8, "student_id", "S007", "appears again on line 42"},
					{42, "student_id", "S007", "already appeared on line 8"},
				},
				changes: corpusChanges(corpusCreated, corpusWithout(all, "S007")...)},
		},
		{
			name:  "conflicting duplicate keys, first row a change",
			input: imports.CreateImportInput{RejectionThreshold: new(10.0)},
			content: corpusBase.set("S008", corpusColSchool, "Adams Elementary").
				add(corpusBase.set("S007", corpusColGrade, "9").row("S007"), corpusBase.set("S008", corpusColSchool, "Baker Elementary").row("S008")).csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 42, Unchanged: 38, Rejected: 4},
				errors: []corpusErr{
					{8, "student_id", "S007", "appears again on line 42"},
					{42, "student_id", "S007", "already appeared on line 8"},
					{9, "student_id", "S008", "appears again on line 43"},
					{43, "student_id", "S008", "already appeared on line 9"},
				}},
			first: &corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 42, Created: 38, Rejected: 4},
				errors: []corpusErr{
					{8, "student_id", "S007", "appears again on line 42"},
					{42, "student_id", "S007", "already appeared on line 8"},
					{9, "student_id", "S008", "appears again on line 43"},
					{43, "student_id", "S008", "already appeared on line 9"},
				},
				changes: corpusChanges(corpusCreated, corpusWithout(all, "S007", "S008")...)},
		},
		{
			name:    "exact duplicate of a rejected row",
			content: corpusBase.set("S009", corpusColPhone, "555-0199").add(corpusBase.set("S009", corpusColPhone, "555-0199").row("S009")).csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 41, Unchanged: 39, Rejected: 1},
				errors:   []corpusErr{{10, "guardian1_phone", "555-0199", `"555-0199" is not a valid phone number`}},
				warnings: []string{"1 row(s) repeated an earlier row exactly"}},
		},
		{
			name: "too many and too few fields",
			content: corpusJoin(corpusReplaceLine(corpusReplaceLine(baseLines, "S020", strings.Join(corpusRow(20), ",")+",extra"),
				"S021", strings.Join(corpusRow(21)[:6], ",")), "\n"),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Unchanged: 38, Rejected: 2},
				errors: []corpusErr{
					{21, "", "", "expected 7 fields (as in the header), found 8"},
					{22, "", "", "expected 7 fields (as in the header), found 6"},
				}},
			first: &corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Created: 38, Rejected: 2},
				errors: []corpusErr{
					{21, "", "", "found 8"},
					{22, "", "", "found 6"},
				},
				changes: corpusChanges(corpusCreated, corpusWithout(all, "S020", "S021")...)},
		},
		{
			name: "malformed row then the same key again",
			content: corpusJoin(append(corpusReplaceLine(baseLines, "S020", strings.Join(corpusRow(20), ",")+",extra"),
				strings.Join(corpusRow(20), ",")), "\n"),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 41, Unchanged: 39, Rejected: 2},
				errors: []corpusErr{
					{21, "", "", "found 8"},
					{42, "student_id", "S020", "already appeared on line 21"},
				}},
		},
		{
			name: "stray quote inside a field",
			content: corpusJoin(corpusReplaceLine(baseLines, "S015",
				`S015,Ana,Sm"ith,5,Lincoln Elementary,612-555-1015,parent15@example.org`), "\n"),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Unchanged: 39, Rejected: 1},
				errors: []corpusErr{{16, "", "", `a " appears inside an unquoted field at column 12`}}},
		},
		{
			name:    "invalid phone",
			content: corpusBase.set("S009", corpusColPhone, "555-0199").csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Unchanged: 39, Rejected: 1},
				errors: []corpusErr{{10, "guardian1_phone", "555-0199", `"555-0199" is not a valid phone number`}}},
			first: &corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Created: 39, Rejected: 1},
				errors:  []corpusErr{{10, "guardian1_phone", "555-0199", "not a valid phone number"}},
				changes: corpusChanges(corpusCreated, corpusWithout(all, "S009")...)},
		},
		{
			name:    "invalid phone, dry run",
			content: corpusBase.set("S009", corpusColPhone, "555-0199").set("S001", corpusColSchool, "Adams Elementary").csv(),
			dry:     true,
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 38, Rejected: 1},
				errors: []corpusErr{{10, "guardian1_phone", "555-0199", "not a valid phone number"}}},
		},
		{
			name:    "invalid email",
			content: corpusBase.set("S011", corpusColEmail, "parent11 at example.org").csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Unchanged: 39, Rejected: 1},
				errors: []corpusErr{{12, "guardian1_email", "parent11 at example.org", `"parent11 at example.org" is not a valid email address`}}},
		},
		{
			name: "unknown type value",
			content: corpusBase.insertColumn(1, "type", func(k string) string {
				switch k {
				case "S002":
					return "Staff"
				case "S010":
					return "Alien"
				}
				return "Student"
			}).csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 38, Rejected: 1},
				errors: []corpusErr{{11, "type", "Alien", `unknown type "Alien": use STUDENT, STAFF, CONTACT or OTHER`}},
				// A new column changes every row's hash: the rows whose
				// values are the same take the new hash only.
				changes: corpusMerge(corpusChanges(corpusRehashed, corpusWithout(all, "S002", "S010")...), corpusChanges(corpusUpdated, "S002")),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "STAFF", f.recipient("S002")["type"])
				}},
		},
		{
			name:    "multiple emails and phones in a cell",
			content: corpusBase.set("S004", corpusColPhone, "612-555-1004; (612) 555-2004").set("S004", corpusColEmail, `"a@example.org, b@example.org;"`).set("S005", corpusColEmail, "ok@example.org;not-an-email").csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 38, Rejected: 1},
				errors:  []corpusErr{{6, "guardian1_email", "not-an-email", `"not-an-email" is not a valid email address`}},
				changes: corpusChanges(corpusUpdated, "S004"),
				check: func(t *testing.T, f *fixture) {
					s4 := f.recipient("S004")
					require.Equal(t, []any{
						map[string]any{"number": "+16125551004", "label": "Guardian 1"},
						map[string]any{"number": "+16125552004", "label": "Guardian 1"},
					}, s4["phones"])
					require.Equal(t, []any{
						map[string]any{"address": "a@example.org", "label": "Guardian 1"},
						map[string]any{"address": "b@example.org", "label": "Guardian 1"},
					}, s4["emails"])
				}},
		},
		{
			name: "quoted newlines and quotes, errors on later lines",
			content: corpusBase.set("S010", corpusColSchool, "\"Lincoln Elementary\nAnnex B\"").
				set("S011", corpusColLast, `"O""Neil"`).set("S012", corpusColEmail, "parent12@").csv(),
			existing: corpusOutcome{status: imports.StatusSucceededWithErrors, counts: apply.Counts{RowsRead: 40, Updated: 2, Unchanged: 37, Rejected: 1},
				// S012 is on line 14: S010's row spans lines 11 and 12.
				errors:  []corpusErr{{14, "guardian1_email", "parent12@", "not a valid email"}},
				changes: corpusChanges(corpusUpdated, "S010", "S011"),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "Lincoln Elementary\nAnnex B", f.recipient("S010")["school"])
					require.Equal(t, `O"Neil`, f.recipient("S011")["last"])
				}},
		},
		{
			name:    "trailing line of commas shorter than the header",
			content: base + ",,,\n",
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40},
				warnings: []string{"1 blank row(s) skipped"}},
		},

		// Tricky but valid.
		{
			name:    "blank lines and trailing lines of commas",
			content: corpusJoin(slices.Concat(baseLines[:11], []string{"", "   "}, baseLines[11:], []string{", ,,\t,,,", ",,,,,,", ""}), "\n"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40},
				warnings: []string{"3 blank row(s) skipped"}},
			first: &corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Created: 40},
				warnings: []string{"3 blank row(s) skipped"},
				changes:  corpusChanges(corpusCreated, all...)},
		},
		{
			name:    "UTF-8 byte-order mark",
			content: "\xEF\xBB\xBF" + corpusBase.set("S006", corpusColSchool, "Adams Elementary").csv(),
			header:  corpusBase.header,
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				changes: corpusChanges(corpusUpdated, "S006")},
		},
		{
			name:     "UTF-8 byte-order mark before a quoted header",
			content:  "\xEF\xBB\xBF\"student_id\",\"first_name\"" + strings.TrimPrefix(base, "student_id,first_name"),
			header:   corpusBase.header,
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40}},
		},
		{
			name:    "Windows-1252 names",
			content: corpusWin1252(corpusBase.set("S003", corpusColFirst, "José").set("S003", corpusColLast, "García").csv()),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				warnings: []string{"field(s) were not valid UTF-8 and were read as Windows-1252 (first on line 2)"},
				changes:  corpusChanges(corpusUpdated, "S003"),
				check: func(t *testing.T, f *fixture) {
					r := f.recipient("S003")
					require.Equal(t, "José", r["first"])
					require.Equal(t, "García", r["last"])
				}},
			first: &corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Created: 40},
				warnings: []string{"Windows-1252"},
				changes:  corpusChanges(corpusCreated, all...),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "José", f.recipient("S003")["first"])
					require.Equal(t, "Chloé", f.recipient("S013")["first"])
				}},
		},
		{
			name: "one Windows-1252 field in a UTF-8 file",
			content: strings.Replace(corpusBase.set("S003", corpusColFirst, "José").csv(),
				"José", corpusWin1252("José"), 1),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				warnings: []string{"1 field(s) were not valid UTF-8 and were read as Windows-1252 (first on line 4)"},
				changes:  corpusChanges(corpusUpdated, "S003"),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "José", f.recipient("S003")["first"])
				}},
		},
		{
			name:    "CRLF line endings",
			content: corpusBase.set("S010", corpusColSchool, "\"Lincoln Elementary\r\nAnnex B\"").delimited(",", "\r\n"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				changes: corpusChanges(corpusUpdated, "S010"),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "Lincoln Elementary\nAnnex B", f.recipient("S010")["school"])
				}},
		},
		{
			name:    "semicolon-delimited",
			content: corpusBase.set("S006", corpusColSchool, "Adams Elementary, Annex").set("S004", corpusColEmail, "a@example.org,b@example.org").delimited(";", "\n"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 2, Unchanged: 38},
				changes: corpusChanges(corpusUpdated, "S004", "S006"),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "Adams Elementary, Annex", f.recipient("S006")["school"])
					require.Len(t, f.recipient("S004")["emails"], 2)
				}},
		},
		{
			name:     "semicolon-delimited after a blank first line",
			content:  "\n" + corpusBase.delimited(";", "\n"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40}},
		},
		{
			name:    "tab-delimited",
			content: corpusBase.set("S006", corpusColSchool, "Adams Elementary, Annex").delimited("\t", "\n"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				changes: corpusChanges(corpusUpdated, "S006")},
		},
		{
			name:    "pipe-delimited",
			content: corpusBase.set("S006", corpusColSchool, "Adams Elementary").delimited("|", "\n"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				changes: corpusChanges(corpusUpdated, "S006")},
		},
		{
			name:    "gzip-compressed",
			content: corpusGzip(corpusBase.set("S006", corpusColSchool, "Adams Elementary").csv(), gzip.BestCompression),
			header:  corpusBase.header,
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				changes: corpusChanges(corpusUpdated, "S006")},
		},
		{
			name:    "gzip of a BOM, CRLF, semicolon file",
			content: corpusGzip("\xEF\xBB\xBF"+corpusBase.set("S006", corpusColSchool, "Adams Elementary").delimited(";", "\r\n"), gzip.DefaultCompression),
			header:  corpusBase.header,
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				changes: corpusChanges(corpusUpdated, "S006")},
		},
		{
			name:    "large gzip (over 64KB compressed)",
			content: randomGz,
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 2040, Created: 2000, Unchanged: 40},
				changes: corpusChanges(corpusCreated, corpusKeys(41, 2040)...)},
		},
		{
			name:    "large gzip stored without compression",
			content: corpusGzip(large.csv(), gzip.NoCompression),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 1100, Created: 1060, Unchanged: 40},
				changes: corpusChanges(corpusCreated, corpusKeys(41, 1100)...)},
		},
		{
			name:    "grade outside PK-12",
			content: corpusBase.set("S013", corpusColGrade, "UG").set("S014", corpusColGrade, "13").csv(),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 2, Unchanged: 38},
				warnings: []string{"2 row(s) have a grade outside PK, K, 1–12 (first on line 14); it is kept (in capitals, without a leading \"Grade\") but grade ranges do not include them"},
				changes:  corpusChanges(corpusUpdated, "S013", "S014"),
				check: func(t *testing.T, f *fixture) {
					r := f.recipient("S013")
					require.Equal(t, "UG", r["grade"])
					require.Nil(t, r["rank"])
				}},
		},
		{
			name: "mixed-case header names with spaces",
			content: strings.Replace(corpusBase.set("S002", corpusColFirst, "Benjamin").csv(), corpusHeader,
				"Student ID,First Name,LAST NAME, Grade ,School,Guardian1 Phone,Guardian1 Email", 1),
			header: []string{"Student ID", "First Name", "LAST NAME", "Grade", "School", "Guardian1 Phone", "Guardian1 Email"},
			// The same plan as the base's: the hashes do not change.
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Updated: 1, Unchanged: 39},
				changes: corpusChanges(corpusUpdated, "S002"),
				check: func(t *testing.T, f *fixture) {
					require.Equal(t, "Benjamin", f.recipient("S002")["first"])
				}},
		},
		{
			name:    "key padded with spaces",
			content: corpusBase.set("S005", corpusColID, "  S005 ").csv(),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40},
				changes: corpusChanges(corpusRehashed, "S005")},
		},
		{
			name:    "trailing comma on every line",
			content: corpusJoin(corpusBase.lines(","), ",\n"),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 40, Unchanged: 40},
				changes: corpusChanges(corpusRehashed, all...)},
		},
		{
			name:      "exactly the upload limit",
			input:     imports.CreateImportInput{Method: imports.MethodUpdate},
			content:   atLimit,
			maxUpload: int64(len(atLimit)),
			existing: corpusOutcome{status: imports.StatusSucceeded, counts: apply.Counts{RowsRead: 1, Updated: 1},
				changes: corpusChanges(corpusUpdated, "S001")},
		},
	}
}

// corpusEnv is one database shared by the corpus's imports (one import per
// case and variant), to keep the suite fast.
type corpusEnv struct {
	db    *db.DB
	svc   *imports.Service
	admin users.User
	// sem bounds concurrent cases: a run holds two of the pool's eight
	// connections at once.
	sem chan struct{}
}

func newCorpusEnv(t *testing.T) *corpusEnv {
	d := testdb.New(t)
	ctx := context.Background()
	admin, err := users.NewService(d, nil).EnsureAdmin(ctx, "admin@district.test", "Admin")
	require.NoError(t, err)
	svc := imports.NewService(d, nil, imports.DefaultConfig(), time.Now, slog.New(slog.DiscardHandler))
	return &corpusEnv{db: d, svc: svc, admin: *admin, sem: make(chan struct{}, 3)}
}

// fixture creates an import of its own for t.
func (e *corpusEnv) fixture(t *testing.T, in imports.CreateImportInput) *fixture {
	t.Helper()
	e.sem <- struct{}{}
	t.Cleanup(func() { <-e.sem })
	in.Name = t.Name()
	if in.Method == "" {
		in.Method = imports.MethodFull
	}
	// A viewer of its own: Create and Upload point created_by and
	// uploaded_by at the viewer's user id and scan into it.
	ctx := authz.WithViewer(context.Background(), users.AsViewer(&e.admin))
	imp, err := e.svc.Create(ctx, in)
	require.NoError(t, err)
	f := &fixture{t: t, ctx: ctx, db: e.db, imp: imp}
	f.configure(func(*imports.Config) {})
	return f
}

func TestCorpus(t *testing.T) {
	t.Parallel()
	env := newCorpusEnv(t)
	for _, c := range corpusCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.refused != nil {
				runCorpusRefusal(t, env, c)
				return
			}
			t.Run("existing", func(t *testing.T) {
				t.Parallel()
				f := env.fixture(t, c.input)
				base := f.runFile(corpusBase.csv())
				require.Equal(t, imports.StatusSucceeded, base.Status, base.Message)
				require.Equal(t, apply.Counts{RowsRead: corpusN, Created: corpusN}, counts(base))
				runCorpusCase(t, f, c, c.existing)
			})
			if c.first != nil {
				t.Run("first", func(t *testing.T) {
					t.Parallel()
					runCorpusCase(t, env.fixture(t, c.input), c, *c.first)
				})
				// The same first load into a segment of its own, which
				// finds repeated keys after copying (apply/segment.go).
				t.Run("first_own_segment", func(t *testing.T) {
					t.Parallel()
					f := env.fixture(t, c.input)
					f.configure(func(cfg *imports.Config) { cfg.SegmentRows = 1 })
					runCorpusCase(t, f, c, *c.first)
					var seg, rows int64
					require.NoError(t, f.db.NewRaw(`SELECT segment_id, (SELECT count(*) FROM recipients WHERE import_id = imports.id)
						FROM imports WHERE id = ?`, f.imp.ID).Scan(f.ctx, &seg, &rows))
					require.Equal(t, rows > 0, seg > 0, "an applied first load is in a segment of its own, one that applies nothing makes none")
				})
			}
		})
	}
}

// runCorpusRefusal uploads a case's file on top of the base and checks that the
// upload is refused and changes nothing.
func runCorpusRefusal(t *testing.T, env *corpusEnv, c corpusCase) {
	f := env.fixture(t, c.input)
	require.Equal(t, imports.StatusSucceeded, f.runFile(corpusBase.csv()).Status)
	before, files := f.snapshot(), corpusFiles(f)
	latest := *f.imp.LatestFileID
	if c.maxUpload != 0 {
		f.configure(func(cfg *imports.Config) { cfg.MaxUploadBytes = c.maxUpload })
	}

	file, run, err := corpusUpload(f, c.content)
	require.Error(t, err, "the upload is refused")
	require.Nil(t, file)
	require.Nil(t, run)
	require.Equal(t, c.refused.code, apperr.CodeOf(err), err.Error())
	require.Contains(t, err.Error(), c.refused.message)

	require.Equal(t, files, corpusFiles(f), "no file is stored")
	imp, err := imports.GetImport(f.ctx, f.db, f.imp.ID)
	require.NoError(t, err)
	require.Equal(t, latest, *imp.LatestFileID)
	require.Equal(t, before, f.snapshot())
}

// corpusUpload uploads content, reporting a panic as an error.
func corpusUpload(f *fixture, content string) (file *filestore.File, run *imports.Run, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Upload panicked: %v", r)
		}
	}()
	return f.svc.Upload(f.ctx, f.imp.ID, "corpus.csv", strings.NewReader(content), false)
}

func corpusFiles(f *fixture) int {
	f.t.Helper()
	n, err := f.db.NewSelect().Model((*filestore.File)(nil)).Where("import_id = ?", f.imp.ID).Count(f.ctx)
	require.NoError(f.t, err)
	return int(n)
}

// runCorpusCase runs a case's file on f's import as it is and checks the
// outcome and what changed.
func runCorpusCase(t *testing.T, f *fixture, c corpusCase, want corpusOutcome) {
	before := f.snapshot()
	lastRun := f.imp.LastRunID
	if c.maxUpload != 0 {
		f.configure(func(cfg *imports.Config) { cfg.MaxUploadBytes = c.maxUpload })
	}
	var opts []func(*imports.Run)
	if c.dry {
		opts = append(opts, dryRun)
	}
	run := f.runFile(c.content, opts...)

	require.Equal(t, want.status, run.Status, run.Message)
	require.Equal(t, c.dry, run.DryRun)
	if !want.anyCounts {
		require.Equal(t, want.counts, counts(run), run.Message)
	}
	if want.message != "" {
		require.Contains(t, run.Message, want.message)
	}
	if want.errors != nil || !want.anyCounts {
		got := f.errors(run)
		require.Len(t, got, len(want.errors), "errors: %s", corpusErrors(got))
		for i, w := range want.errors {
			g := got[i]
			require.Equal(t, w.line, g.Line, "error %d: %s", i, g.Message)
			require.Equal(t, w.column, opt.Deref(g.ColumnName), "error %d: %s", i, g.Message)
			require.Equal(t, w.value, opt.Deref(g.Value), "error %d: %s", i, g.Message)
			require.Contains(t, g.Message, w.message, "error %d", i)
		}
	}
	require.Len(t, run.Warnings, len(want.warnings), "warnings: %q", run.Warnings)
	for i, w := range want.warnings {
		require.Contains(t, run.Warnings[i], w)
	}
	if c.header != nil {
		file, err := filestore.Get(f.ctx, f.db, run.FileID)
		require.NoError(t, err)
		require.Equal(t, c.header, file.Header)
	}

	after := f.snapshot()
	if !run.Applied() {
		require.Empty(t, want.changes, "the case lists changes for a run that does not apply")
		require.Equal(t, before, after, "a %s run changes nothing", run.Status)
		require.Equal(t, lastRun, f.imp.LastRunID, "a run that did not apply is not the Last Run")
		if want.check != nil {
			want.check(t, f)
		}
		return
	}
	diff := corpusDiff(t, before, after)
	require.Equal(t, corpusSorted(want.changes), corpusSorted(diff), "what changed")
	tally := map[string]int{}
	for _, kind := range diff {
		tally[kind]++
	}
	cnt := counts(run)
	require.Equal(t, map[string]int{corpusCreated: cnt.Created, corpusUpdated: cnt.Updated, corpusRemoved: cnt.Removed, corpusRestored: cnt.Restored},
		map[string]int{corpusCreated: tally[corpusCreated], corpusUpdated: tally[corpusUpdated], corpusRemoved: tally[corpusRemoved], corpusRestored: tally[corpusRestored]},
		"the counts agree with the data")
	require.Equal(t, run.ID, *f.imp.LastRunID)
	if want.check != nil {
		want.check(t, f)
	}
}

func corpusErrors(errs []imports.RunError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  line %d [%s=%q] %s", e.Line, opt.Deref(e.ColumnName), opt.Deref(e.Value), e.Message)
	}
	return b.String()
}

// corpusSorted renders a diff as sorted lines, for readable failures.
func corpusSorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+" "+v)
	}
	slices.Sort(out)
	return out
}

// corpusDiff says how each recipient changed between two snapshots; keys
// that are byte-identical are left out. Anything but the kinds of change a
// run makes is reported as it is, to fail the comparison.
func corpusDiff(t *testing.T, before, after map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k := range before {
		if _, ok := after[k]; !ok {
			out[k] = "deleted"
		}
	}
	for k, a := range after {
		b, ok := before[k]
		switch {
		case !ok:
			out[k] = corpusCreated
			continue
		case a == b:
			continue
		}
		var x, y map[string]any
		require.NoError(t, json.Unmarshal([]byte(b), &x))
		require.NoError(t, json.Unmarshal([]byte(a), &y))
		hash, stamp := x["hash"] != y["hash"], x["updated"] != y["updated"]
		wasRemoved, isRemoved := x["removed"], y["removed"]
		for _, m := range []map[string]any{x, y} {
			delete(m, "hash")
			delete(m, "updated")
			delete(m, "removed")
		}
		values := !reflect.DeepEqual(x, y)
		switch {
		case wasRemoved == false && isRemoved == true && !values && !hash && stamp:
			out[k] = corpusRemoved
		case wasRemoved == true && isRemoved == false && stamp:
			out[k] = corpusRestored
		case wasRemoved == isRemoved && values && hash && stamp:
			out[k] = corpusUpdated
		case wasRemoved == isRemoved && !values && hash && !stamp:
			out[k] = corpusRehashed
		default:
			out[k] = fmt.Sprintf("odd change (removed %v→%v, values changed %v, hash changed %v, updated_at changed %v)",
				wasRemoved, isRemoved, values, hash, stamp)
		}
	}
	return out
}
