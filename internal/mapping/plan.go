package mapping

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/rollcall/rollcall/internal/fold"
	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/recipients"
)

// normalizerVersion is part of every row hash. Bump it when normalization
// changes what a row becomes, so that the next run rewrites every row.
const normalizerVersion = 1

type labeledColumn struct {
	idx   int
	label string
	from  int // the column holding each row's label (Entry.LabelColumn), or -1
}

type namedColumn struct {
	idx  int
	name string
}

// Plan is a mapping resolved against one file's header: which column
// index feeds which field.
type Plan struct {
	header []string
	single [numSingleFields]int // column index, or -1
	phones []labeledColumn
	emails []labeledColumn
	custom []namedColumn
	// customJSON: the column of a JSON object of more custom fields
	// (Entry.CustomJSON), or -1; customTaken the names it may not use.
	customJSON  int
	customTaken map[string]bool
	seed        uint64 // row-hash seed: the plan and the normalizer version
	mapping     Mapping
}

// NewPlan resolves m (nil: map by header names) against header.
// Repeated header names are reported to n.
func NewPlan(header []string, m Mapping, n *importfile.Notes) (*Plan, error) {
	if len(header) == 0 || len(header) == 1 && header[0] == "" {
		return nil, &importfile.FileError{Line: 1, Message: "the header line is empty"}
	}
	explicit := m != nil
	warnRepeatedHeaders(header, n)
	if !explicit {
		if err := checkNamedOnce[fieldKind](header, synonyms[:]); err != nil {
			return nil, err
		}
		m = Auto(header)
	}
	p := &Plan{header: header, mapping: m, customJSON: -1}
	for i := range p.single {
		p.single[i] = -1
	}
	used := make([]bool, len(header))
	customNames := map[string]bool{}
	for i, e := range m {
		idx := i // Auto has one entry per column, in order
		if explicit {
			var err error
			if idx, err = findColumn(header, e.Column); err != nil {
				return nil, err
			}
		}
		if idx < 0 {
			kind, _, _ := parseField(e.Field)
			return nil, &importfile.FileError{Line: 1, Column: e.Column, Message: fmt.Sprintf(
				"the mapping takes %s from column %q, which is not in the file's header (%s)", kind, e.Column, strings.Join(header, ", "))}
		}
		used[idx] = true
		kind, name, _ := parseField(e.Field)
		from := -1
		if e.LabelColumn != "" {
			var err error
			if from, err = findColumn(header, e.LabelColumn); err != nil {
				return nil, err
			}
			if from < 0 {
				return nil, &importfile.FileError{Line: 1, Column: e.LabelColumn, Message: fmt.Sprintf(
					"the mapping labels column %q from column %q, which is not in the file's header", e.Column, e.LabelColumn)}
			}
			used[from] = true
		}
		switch kind {
		case fieldPhone:
			p.phones = append(p.phones, labeledColumn{idx, labelOf(e), from})
		case fieldEmail:
			p.emails = append(p.emails, labeledColumn{idx, labelOf(e), from})
		case fieldCustom:
			if e.CustomJSON {
				p.customJSON = idx
				continue
			}
			base := name
			for n := 2; customNames[name]; n++ {
				name = fmt.Sprintf("%s (%d)", base, n)
			}
			p.custom = append(p.custom, namedColumn{idx, name})
			customNames[name] = true
		default:
			if prev := p.single[kind]; prev >= 0 && prev != idx {
				return nil, &importfile.FileError{Line: 1, Column: header[idx], Message: fmt.Sprintf(
					"the mapping takes %s from two columns, %d (%q) and %d (%q): map it from one",
					kind, prev+1, header[prev], idx+1, header[idx])}
			}
			p.single[kind] = idx
		}
	}
	if p.single[fieldExternalID] < 0 {
		return nil, &importfile.FileError{Line: 1, Message: fmt.Sprintf(
			"no key column: the header (%s) has none of the names used for the key (%s); add a mapping with an externalId column",
			strings.Join(header, ", "), strings.Join(AcceptedKeyHeaders(), ", "))}
	}
	// Columns the mapping does not name are kept as custom fields.
	for i, h := range header {
		if used[i] {
			continue
		}
		name := customName(h, i)
		for n := 2; customNames[name]; n++ {
			name = fmt.Sprintf("%s (%d)", customName(h, i), n)
		}
		customNames[name] = true
		p.custom = append(p.custom, namedColumn{i, name})
	}
	if p.customJSON >= 0 {
		p.customTaken = customNames
	}
	d := xxhash.New()
	fmt.Fprintf(d, "v%d|%d|", normalizerVersion, len(header))
	for _, c := range p.single {
		fmt.Fprintf(d, "%d,", c)
	}
	// A label read from a column is part of the seed only when there is
	// one: the seeds of existing plans, hence their row hashes, stay.
	for _, c := range p.phones {
		fmt.Fprintf(d, "p%d:%s,", c.idx, c.label)
		if c.from >= 0 {
			fmt.Fprintf(d, "from%d,", c.from)
		}
	}
	for _, c := range p.emails {
		fmt.Fprintf(d, "e%d:%s,", c.idx, c.label)
		if c.from >= 0 {
			fmt.Fprintf(d, "from%d,", c.from)
		}
	}
	for _, c := range p.custom {
		fmt.Fprintf(d, "c%d:%s,", c.idx, c.name)
	}
	if p.customJSON >= 0 {
		fmt.Fprintf(d, "json%d,", p.customJSON)
	}
	p.seed = d.Sum64()
	return p, nil
}

// warnRepeatedHeaders reports header names that appear more than once.
// checkNamedOnce refuses a header that names a field twice, exactly or
// through its synonyms ("student_id" and "studentnumber"): which column is
// meant cannot be told, and taking either silently once rewrote every
// first name with last names. An explicit mapping settles it.
// table holds each field's synonyms, by field (recipient or USER fields).
func checkNamedOnce[K interface {
	~int
	fmt.Stringer
}](header []string, table [][]string) error {
	for k, names := range table {
		kind := K(k)
		var cols []int
		for i, h := range header {
			if slices.Contains(names, headerKey(h)) {
				cols = append(cols, i)
			}
		}
		if len(cols) > 1 {
			names := make([]string, len(cols))
			for j, i := range cols {
				names[j] = fmt.Sprintf("%d (%q)", i+1, header[i])
			}
			return &importfile.FileError{Line: 1, Column: header[cols[1]], Message: fmt.Sprintf(
				"columns %s all name %s: which one is meant cannot be told; remove the extra column, or map the columns explicitly (updateImport with a mapping)",
				strings.Join(names, " and "), kind)}
		}
	}
	return nil
}

func warnRepeatedHeaders(header []string, n *importfile.Notes) {
	firstAt := map[string]int{}
	for i, h := range header {
		if h == "" {
			continue
		}
		if j, dup := firstAt[strings.ToLower(h)]; dup {
			n.Warn(fmt.Sprintf("column name %q appears twice in the header (columns %d and %d); the second is read as another column", h, j+1, i+1))
			continue
		}
		firstAt[strings.ToLower(h)] = i
	}
}

func labelOf(e Entry) string {
	if e.Label != nil && *e.Label != "" {
		return *e.Label
	}
	return labelFromHeader(e.Column)
}

// findColumn finds a mapped column in the header: exactly (ignoring case and
// surrounding spaces) or, failing that, by its reduced name. Two matches are
// an error: the mapping would be ambiguous.
func findColumn(header []string, column string) (int, error) {
	match := func(eq func(string) bool) (int, error) {
		found := -1
		for i, h := range header {
			if eq(h) {
				if found >= 0 {
					return -1, &importfile.FileError{Line: 1, Column: column, Message: fmt.Sprintf(
						"column %q appears twice in the header (columns %d and %d)", column, found+1, i+1)}
				}
				found = i
			}
		}
		return found, nil
	}
	want := strings.TrimSpace(column)
	idx, err := match(func(h string) bool { return strings.EqualFold(h, want) })
	if err != nil || idx >= 0 {
		return idx, err
	}
	key := headerKey(want)
	if key == "" {
		return -1, nil
	}
	return match(func(h string) bool { return headerKey(h) == key })
}

// HashRecord hashes a row as the file has it, under the plan's seed.
func (p *Plan) HashRecord(d *xxhash.Digest, rec []string) int64 {
	d.ResetWithSeed(p.seed)
	for _, f := range rec {
		_, _ = d.WriteString(f)
		_, _ = d.Write(fieldSeparator)
	}
	return int64(d.Sum64())
}

var fieldSeparator = []byte{0x1f}

// key returns the row's key (trimmed).
func (p *Plan) Key(rec []string) string {
	return strings.TrimSpace(rec[p.single[fieldExternalID]])
}

// Row is a row normalized for the database. Empty optional fields
// are stored as NULL. One is reused for every row.
type Row struct {
	ExternalID string
	Type       recipients.Type
	FirstName  string
	LastName   string
	Grade      string
	GradeRank  int16
	HasRank    bool
	School     string
	Language   string
	Phones     []byte // JSON
	Emails     []byte // JSON
	Custom     []byte // JSON
	// The folded forms filters compare (fold.Key): names, school,
	// language, and the custom fields with folded values.
	FirstNameKey, LastNameKey, SchoolKey, LanguageKey string
	CustomKey                                         []byte // JSON
}

// Normalize fills row from a record, or reports what is wrong with it.
// Unknown grades are kept (with a warning) rather than rejected: many
// districts export ungraded or adult students.
func (p *Plan) Normalize(rec []string, line int, defaultType recipients.Type, n *importfile.Notes, row *Row) *importfile.RowError {
	get := func(kind fieldKind) string {
		if i := p.single[kind]; i >= 0 {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	row.ExternalID = get(fieldExternalID)
	row.Type = defaultType
	row.FirstName = get(fieldFirstName)
	row.LastName = get(fieldLastName)
	row.School = get(fieldSchool)
	row.Language = get(fieldLanguage)
	row.Grade, row.HasRank = "", false
	if v := get(fieldType); v != "" {
		t, ok := recipients.NormalizeType(v)
		if !ok {
			return &importfile.RowError{Line: line, Column: p.header[p.single[fieldType]], Value: v,
				Message: fmt.Sprintf("unknown type %q: use STUDENT, STAFF, CONTACT or OTHER", v)}
		}
		row.Type = t
	}
	if v := get(fieldGrade); v != "" {
		row.Grade, row.GradeRank, row.HasRank = recipients.NormalizeGrade(v)
		if !row.HasRank {
			n.WarnLine("grade", "%d row(s) have a grade outside PK, K, 1–12 (first on line %d); it is kept (in capitals, without a leading \"Grade\") but grade ranges do not include them", line)
		}
	}

	var rerr *importfile.RowError
	if row.Phones, rerr = p.appendContacts(row.Phones[:0], p.phones, rec, line, `{"number":`, recipients.NormalizePhone, "phone number"); rerr != nil {
		return rerr
	}
	if row.Emails, rerr = p.appendContacts(row.Emails[:0], p.emails, rec, line, `{"address":`, recipients.NormalizeEmail, "email address"); rerr != nil {
		return rerr
	}

	b, k := append(row.Custom[:0], '{'), append(row.CustomKey[:0], '{')
	for _, c := range p.custom {
		v := strings.TrimSpace(rec[c.idx])
		if v == "" {
			continue
		}
		if len(b) > 1 {
			b, k = append(b, ','), append(k, ',')
		}
		b = appendJSONString(b, c.name)
		b = append(b, ':')
		b = appendJSONString(b, v)
		k = appendJSONString(k, c.name)
		k = append(k, ':')
		k = appendJSONString(k, fold.Key(v))
	}
	if p.customJSON >= 0 {
		if b, k, rerr = p.appendCustomJSON(b, k, rec, line); rerr != nil {
			return rerr
		}
	}
	row.Custom, row.CustomKey = append(b, '}'), append(k, '}')
	row.FirstNameKey, row.LastNameKey = fold.Key(row.FirstName), fold.Key(row.LastName)
	row.SchoolKey, row.LanguageKey = fold.Key(row.School), fold.Key(row.Language)
	return nil
}

// appendCustomJSON appends the custom fields of the plan's JSON column
// (Entry.CustomJSON) to the objects being built, b and its folded form k,
// in name order; names the named columns took, and empty values, are left
// out.
func (p *Plan) appendCustomJSON(b, k []byte, rec []string, line int) ([]byte, []byte, *importfile.RowError) {
	cell := strings.TrimSpace(rec[p.customJSON])
	if cell == "" {
		return b, k, nil
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(cell), &fields); err != nil {
		return b, k, &importfile.RowError{Line: line, Column: p.header[p.customJSON], Message: "the custom fields are not a JSON object of texts: " + err.Error()}
	}
	names := make([]string, 0, len(fields))
	for name, v := range fields {
		if strings.TrimSpace(v) != "" && !p.customTaken[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		v := strings.TrimSpace(fields[name])
		if len(b) > 1 {
			b, k = append(b, ','), append(k, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = appendJSONString(b, v)
		k = appendJSONString(k, name)
		k = append(k, ':')
		k = appendJSONString(k, fold.Key(v))
	}
	return b, k, nil
}

// appendContacts appends the JSON array of the phones or emails in cols,
// each cell holding one or several (separated by ; or ,).
func (p *Plan) appendContacts(b []byte, cols []labeledColumn, rec []string, line int, open string,
	normalize func(string) (string, bool), what string) ([]byte, *importfile.RowError) {
	b = append(b, '[')
	for _, c := range cols {
		label := c.label
		if c.from >= 0 {
			if l := strings.TrimSpace(rec[c.from]); l != "" {
				label = l
			}
		}
		for _, raw := range splitMulti(rec[c.idx]) {
			v, ok := normalize(raw)
			if !ok {
				return b, &importfile.RowError{Line: line, Column: p.header[c.idx], Value: raw, Message: fmt.Sprintf("%q is not a valid %s", raw, what)}
			}
			b = appendContact(b, open, v, label)
		}
	}
	return append(b, ']'), nil
}

// appendContact appends one {"number"|"address": value, "label": label}.
func appendContact(b []byte, open, value, label string) []byte {
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, open...)
	b = appendJSONString(b, value)
	b = append(b, `,"label":`...)
	b = appendJSONString(b, label)
	return append(b, '}')
}

// splitMulti splits a cell holding several phones or emails ("a@x.org;
// b@y.org") and drops empty parts.
func splitMulti(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if !strings.ContainsAny(s, ";,") {
		return []string{s}
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' })
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Header is the file's header, trimmed.
func (p *Plan) Header() []string { return p.header }

// KeyIndex is the index of the key column.
func (p *Plan) KeyIndex() int { return p.single[fieldExternalID] }

// KeyColumn is the key column's name.
func (p *Plan) KeyColumn() string { return p.header[p.single[fieldExternalID]] }
