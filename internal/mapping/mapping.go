// Package mapping is how a file's columns become a recipient's or a user's
// fields: the mapping an administrator gives (or the one read from the
// header's names and their synonyms), checked; and, for one file, the plan
// that turns each record into normalized values and a row hash.
package mapping

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rollcall/rollcall/internal/apperr"
)

// Entry maps a file column to a recipient field. Field is one of
// externalId, type, firstName, lastName, grade, school, language, phone,
// email, or custom:<name>. Phones and emails carry a Label ("Guardian 1").
// USER imports map to user fields instead: email, name, firstName,
// lastName, role and schools (see users.go).
type Entry struct {
	Column string  `json:"column"`
	Field  string  `json:"field"`
	Label  *string `json:"label,omitempty"`
	// LabelColumn (phones and emails; not part of an administrator's
	// mapping): the label is read from this column of each row, when not
	// empty there, rather than fixed. A OneRoster import labels a
	// guardian's phone with the guardian's relation and name.
	LabelColumn string `json:"-"`
	// CustomJSON (Field custom:*; not part of an administrator's mapping):
	// the column holds a JSON object of custom fields, name to value,
	// kept beside the named ones (a name already taken is left out). A
	// OneRoster import's extension columns vary from person to person;
	// as one column they leave the records' layout, hence the row hashes,
	// the same.
	CustomJSON bool `json:"-"`
}

// Mapping is an import's list of column mappings. Columns it does not name
// are kept as custom fields named by their header.
type Mapping []Entry

// fieldKind is a recipient field a column can feed.
type fieldKind int

const (
	fieldExternalID fieldKind = iota
	fieldType
	fieldFirstName
	fieldLastName
	fieldGrade
	fieldSchool
	fieldLanguage
	numSingleFields // fields above take one column each
	fieldPhone
	fieldEmail
	fieldCustom
)

var fieldNames = map[string]fieldKind{
	"externalId": fieldExternalID,
	"type":       fieldType,
	"firstName":  fieldFirstName,
	"lastName":   fieldLastName,
	"grade":      fieldGrade,
	"school":     fieldSchool,
	"language":   fieldLanguage,
	"phone":      fieldPhone,
	"email":      fieldEmail,
}

// fieldName is the API name of a single-valued field kind.
func (k fieldKind) String() string {
	for name, kind := range fieldNames {
		if kind == k {
			return name
		}
	}
	return "custom"
}

const customPrefix = "custom:"

// parseField reads a Field value: a known name or custom:<name>.
func parseField(s string) (fieldKind, string, bool) {
	s = strings.TrimSpace(s)
	if k, ok := fieldNames[s]; ok {
		return k, "", true
	}
	if name, ok := strings.CutPrefix(s, customPrefix); ok && strings.TrimSpace(name) != "" {
		return fieldCustom, strings.TrimSpace(name), true
	}
	return 0, "", false
}

// claimColumn checks that entry i (at) of a mapping names a column, once
// across the mapping (columns, by lower-case name, holds those claimed so
// far), and returns the name trimmed.
func claimColumn(columns map[string]int, at string, i int, column string) (string, error) {
	col := strings.TrimSpace(column)
	if col == "" {
		return "", apperr.Invalid(at+".column", "column is required")
	}
	if j, dup := columns[strings.ToLower(col)]; dup {
		return "", apperr.Invalid(at+".column", "column %q is already mapped by entry %d", col, j)
	}
	columns[strings.ToLower(col)] = i
	return col, nil
}

// Validate checks an explicit mapping given by an administrator and
// returns it cleaned (trimmed, with default labels). field is the input's
// name in errors, e.g. "input.mapping".
func Validate(field string, m Mapping) (Mapping, error) {
	if len(m) == 0 {
		return nil, apperr.Invalid(field, "a mapping needs at least the externalId column; omit it to map by header names")
	}
	out := make(Mapping, 0, len(m))
	columns := map[string]int{}
	singles := map[fieldKind]int{}
	customs := map[string]int{}
	for i, e := range m {
		at := fmt.Sprintf("%s[%d]", field, i)
		col, err := claimColumn(columns, at, i, e.Column)
		if err != nil {
			return nil, err
		}
		kind, custom, ok := parseField(e.Field)
		if !ok {
			return nil, apperr.Invalid(at+".field", "unknown field %q: use externalId, type, firstName, lastName, grade, school, language, phone, email or custom:<name>", e.Field)
		}
		entry := Entry{Column: col, Field: strings.TrimSpace(e.Field)}
		switch kind {
		case fieldPhone, fieldEmail:
			label := ""
			if e.Label != nil {
				label = strings.TrimSpace(*e.Label)
			}
			if label == "" {
				label = labelFromHeader(col)
			}
			entry.Label = &label
		case fieldCustom:
			if j, dup := customs[custom]; dup {
				return nil, apperr.Invalid(at+".field", "custom field %q is already mapped by entry %d", custom, j)
			}
			customs[custom] = i
			entry.Field = customPrefix + custom
		default:
			if j, dup := singles[kind]; dup {
				return nil, apperr.Invalid(at+".field", "field %s is already mapped by entry %d", kind, j)
			}
			singles[kind] = i
		}
		if e.Label != nil && kind != fieldPhone && kind != fieldEmail {
			return nil, apperr.Invalid(at+".label", "label applies only to phone and email fields")
		}
		out = append(out, entry)
	}
	if _, ok := singles[fieldExternalID]; !ok {
		return nil, apperr.Invalid(field, "the mapping has no externalId column: one column must be the key")
	}
	return out, nil
}

// headerKey is a header reduced for matching: lower case, letters and
// digits only ("Student ID", "student_id" and "StudentID" are the same).
func headerKey(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// synonyms lists, per single-valued field, the header keys that map to it,
// best first.
var synonyms = [numSingleFields][]string{
	fieldExternalID: {"externalid", "studentid", "studentnumber", "studentno", "studentnum", "stuid", "id", "sisid", "localid",
		"personid", "staffid", "employeeid", "employeenumber", "recipientid", "uniqueid", "contactid"},
	fieldType:      {"type", "recipienttype", "persontype"},
	fieldFirstName: {"firstname", "first", "givenname", "fname", "studentfirstname", "legalfirstname", "preferredfirstname"},
	fieldLastName:  {"lastname", "last", "surname", "familyname", "lname", "studentlastname", "legallastname"},
	fieldGrade:     {"grade", "gradelevel", "grd", "currentgrade", "studentgrade"},
	fieldSchool:    {"school", "schoolname", "building", "campus", "site", "schoolbuilding"},
	fieldLanguage:  {"language", "homelanguage", "primarylanguage", "preferredlanguage", "languagepreference", "lang", "contactlanguage"},
}

// AcceptedKeyHeaders lists the header names recognized as the key column.
func AcceptedKeyHeaders() []string { return synonyms[fieldExternalID] }

// Auto maps a header by names: known names become their field,
// columns naming a phone or email become phones and emails labeled from the
// header ("guardian1_phone" → phone "Guardian 1"), and the rest become
// custom fields.
func Auto(header []string) Mapping {
	keys := make([]string, len(header))
	for i, h := range header {
		keys[i] = headerKey(h)
	}
	assigned := make([]bool, len(header))
	m := make(Mapping, len(header))
	for kind := fieldKind(0); kind < numSingleFields; kind++ {
	next:
		for _, syn := range synonyms[kind] {
			for i, k := range keys {
				if !assigned[i] && k == syn {
					assigned[i] = true
					m[i] = Entry{Column: header[i], Field: kind.String()}
					break next
				}
			}
		}
	}
	for i, h := range header {
		if assigned[i] {
			continue
		}
		switch k := keys[i]; {
		case strings.Contains(k, "email") || strings.Contains(k, "emailaddress"):
			label := labelFromHeader(h)
			m[i] = Entry{Column: h, Field: "email", Label: &label}
		case strings.Contains(k, "phone") || strings.HasSuffix(k, "cell") || strings.Contains(k, "mobile"):
			label := labelFromHeader(h)
			m[i] = Entry{Column: h, Field: "phone", Label: &label}
		default:
			m[i] = Entry{Column: h, Field: customPrefix + customName(h, i)}
		}
	}
	return m
}

// labelWordsDropped are the words removed from a header to make a label.
var labelWordsDropped = map[string]bool{"phone": true, "email": true, "e": true, "mail": true, "number": true,
	"no": true, "num": true, "address": true, "addr": true}

// labelFromHeader turns "guardian1_phone" into "Guardian 1", "Home Phone"
// into "Home", "mother_cell" into "Mother Cell", and "phone" into "Primary".
func labelFromHeader(h string) string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range h {
		switch {
		case unicode.IsLetter(r):
			if len(cur) > 0 && (unicode.IsDigit(prev) || unicode.IsUpper(r) && unicode.IsLower(prev)) {
				flush()
			}
			cur = append(cur, r)
		case unicode.IsDigit(r):
			if len(cur) > 0 && !unicode.IsDigit(prev) {
				flush()
			}
			cur = append(cur, r)
		default:
			flush()
		}
		prev = r
	}
	flush()
	kept := words[:0]
	for _, w := range words {
		if !labelWordsDropped[strings.ToLower(w)] {
			first, size := utf8.DecodeRuneInString(w)
			kept = append(kept, string(unicode.ToUpper(first))+strings.ToLower(w[size:]))
		}
	}
	if len(kept) == 0 {
		return "Primary"
	}
	return strings.Join(kept, " ")
}

// customName is the custom-field name of an unmapped column: its header,
// trimmed, or column_N when the header is blank.
func customName(h string, i int) string {
	if n := strings.TrimSpace(h); n != "" {
		return n
	}
	return fmt.Sprintf("column_%d", i+1)
}

// Effective is m (nil: by header names) completed with the header's other
// columns as custom fields. Mapped columns missing from the header are left
// in, so that the caller can see them.
func Effective(header []string, m Mapping) Mapping {
	if m == nil {
		return Auto(header)
	}
	out := append(Mapping(nil), m...)
	used := map[int]bool{}
	for _, e := range m {
		if idx, err := findColumn(header, e.Column); err == nil && idx >= 0 {
			used[idx] = true
		}
	}
	for i, h := range header {
		if !used[i] {
			out = append(out, Entry{Column: h, Field: customPrefix + customName(h, i)})
		}
	}
	return out
}

// KeyColumn is the column m takes the key from (externalId; email for a
// USER import's mapping, users), or "" if none; a nil m maps header by
// names.
func KeyColumn(header []string, m Mapping, users bool) string {
	auto, key := Auto, fieldExternalID.String()
	if users {
		auto, key = AutoUsers, userFieldNames[UserEmail]
	}
	if m == nil {
		m = auto(header)
	}
	for _, e := range m {
		if e.Field == key {
			return e.Column
		}
	}
	return ""
}
