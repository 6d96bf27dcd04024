package mapping

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// UserField is a user attribute a column of an employee file can feed.
type UserField int

const (
	UserEmail UserField = iota
	userName
	userFirstName
	userLastName
	userRole
	userSchools
	numUserFields
)

// userFieldNames are the Field values of a USER import's mapping.
var userFieldNames = [numUserFields]string{
	UserEmail:     "email",
	userName:      "name",
	userFirstName: "firstName",
	userLastName:  "lastName",
	userRole:      "role",
	userSchools:   "schools",
}

func (f UserField) String() string { return userFieldNames[f] }

func parseUserField(s string) (UserField, bool) {
	s = strings.TrimSpace(s)
	for f, name := range userFieldNames {
		if name == s {
			return UserField(f), true
		}
	}
	return 0, false
}

// userSynonyms lists, per field, the header keys (see headerKey) that map to
// it, best first.
var userSynonyms = [numUserFields][]string{
	UserEmail:     {"email", "emailaddress", "workemail", "workemailaddress", "staffemail", "employeeemail", "primaryemail"},
	userName:      {"name", "fullname", "displayname", "employeename", "staffname"},
	userFirstName: {"firstname", "first", "givenname", "fname", "preferredfirstname", "legalfirstname"},
	userLastName:  {"lastname", "last", "surname", "familyname", "lname", "legallastname"},
	userRole:      {"role", "userrole", "access", "accesslevel", "rollcallrole"},
	userSchools:   {"schools", "school", "buildings", "building", "campuses", "campus", "sites", "site", "schoolnames", "schoolname"},
}

// ValidateUsers checks the explicit mapping of a USER import: fields
// email (the key, required), name, firstName, lastName, role and schools,
// each from one column, and a name (or first and last names).
func ValidateUsers(field string, m Mapping) (Mapping, error) {
	if len(m) == 0 {
		return nil, apperr.Invalid(field, "a mapping needs at least the email and name columns; omit it to map by header names")
	}
	out := make(Mapping, 0, len(m))
	columns := map[string]int{}
	fields := map[UserField]int{}
	for i, e := range m {
		at := fmt.Sprintf("%s[%d]", field, i)
		col, err := claimColumn(columns, at, i, e.Column)
		if err != nil {
			return nil, err
		}
		f, ok := parseUserField(e.Field)
		if !ok {
			return nil, apperr.Invalid(at+".field", "unknown field %q for a USER import: use email, name, firstName, lastName, role or schools", e.Field)
		}
		if j, dup := fields[f]; dup {
			return nil, apperr.Invalid(at+".field", "field %s is already mapped by entry %d", f, j)
		}
		fields[f] = i
		if e.Label != nil {
			return nil, apperr.Invalid(at+".label", "label applies only to phone and email fields of RECIPIENT imports")
		}
		out = append(out, Entry{Column: col, Field: f.String()})
	}
	if _, ok := fields[UserEmail]; !ok {
		return nil, apperr.Invalid(field, "the mapping has no email column: one column must be the users' email (the key)")
	}
	_, name := fields[userName]
	_, first := fields[userFirstName]
	_, last := fields[userLastName]
	if !name && !first && !last {
		return nil, apperr.Invalid(field, "the mapping has no name column: map a column to name, or columns to firstName and lastName")
	}
	return out, nil
}

// AutoUsers maps an employee file's header by names. Columns it does
// not recognize are left out (a USER import ignores them).
func AutoUsers(header []string) Mapping {
	keys := make([]string, len(header))
	for i, h := range header {
		keys[i] = headerKey(h)
	}
	field := make([]int, len(header)) // UserField+1, 0: unmapped
	for f := UserField(0); f < numUserFields; f++ {
	next:
		for _, syn := range userSynonyms[f] {
			for i, k := range keys {
				if field[i] == 0 && k == syn {
					field[i] = int(f) + 1
					break next
				}
			}
		}
	}
	m := Mapping{}
	for i, h := range header {
		if field[i] > 0 {
			m = append(m, Entry{Column: h, Field: UserField(field[i] - 1).String()})
		}
	}
	return m
}

// UserPlan is a USER mapping resolved against one file's header.
type UserPlan struct {
	header  []string
	col     [numUserFields]int // column index, or -1
	ignored []string           // header names of the columns not used
	seed    uint64             // row-hash seed: the plan and the normalizer version
}

// userNormalizerVersion is part of every user row hash; bump it when
// normalization changes what a row becomes.
const userNormalizerVersion = 1

// NewUserPlan resolves m (nil: map by header names) against header.
func NewUserPlan(header []string, m Mapping, n *importfile.Notes) (*UserPlan, error) {
	if len(header) == 0 || len(header) == 1 && header[0] == "" {
		return nil, &importfile.FileError{Line: 1, Message: "the header line is empty"}
	}
	warnRepeatedHeaders(header, n)
	explicit := m != nil
	if !explicit {
		if err := checkNamedOnce[UserField](header, userSynonyms[:]); err != nil {
			return nil, err
		}
		m = AutoUsers(header)
	}
	p := &UserPlan{header: header}
	for i := range p.col {
		p.col[i] = -1
	}
	used := make([]bool, len(header))
	for _, e := range m {
		f, ok := parseUserField(e.Field)
		if !ok {
			return nil, &importfile.FileError{Line: 1, Column: e.Column, Message: fmt.Sprintf(
				"the mapping has field %q, which USER imports do not know: use email, name, firstName, lastName, role or schools", e.Field)}
		}
		idx, err := findColumn(header, e.Column)
		if err != nil {
			return nil, err
		}
		if idx < 0 {
			return nil, &importfile.FileError{Line: 1, Column: e.Column, Message: fmt.Sprintf(
				"the mapping takes %s from column %q, which is not in the file's header (%s)", f, e.Column, strings.Join(header, ", "))}
		}
		used[idx] = true
		p.col[f] = idx
	}
	if p.col[UserEmail] < 0 {
		return nil, &importfile.FileError{Line: 1, Message: fmt.Sprintf(
			"no email column: the header (%s) has none of the names used for the users' email (email, e-mail, work email, email address); add a mapping with an email column",
			strings.Join(header, ", "))}
	}
	if p.col[userName] < 0 && p.col[userFirstName] < 0 && p.col[userLastName] < 0 {
		return nil, &importfile.FileError{Line: 1, Message: fmt.Sprintf(
			"no name column: the header (%s) has no name, full name or display name column, nor first and last names; add a mapping with a name column",
			strings.Join(header, ", "))}
	}
	for i, h := range header {
		if !used[i] {
			p.ignored = append(p.ignored, customName(h, i))
		}
	}
	if len(p.ignored) > 0 {
		n.Warn(fmt.Sprintf("%d column(s) are not used for users and were ignored: %s", len(p.ignored), strings.Join(p.ignored, ", ")))
	}
	if p.col[userSchools] < 0 {
		n.Warn("the file has no schools column: new users have no restriction (they see all recipients), and existing users' restrictions were left as they are")
	}
	d := xxhash.New()
	fmt.Fprintf(d, "user v%d|", userNormalizerVersion)
	for _, c := range p.col {
		fmt.Fprintf(d, "%d,", c)
	}
	p.seed = d.Sum64()
	return p, nil
}

// hashRecord hashes the used cells of a row as the file has them: columns
// the import ignores do not make a row changed.
func (p *UserPlan) HashRecord(d *xxhash.Digest, rec []string) int64 {
	d.ResetWithSeed(p.seed)
	for _, c := range p.col {
		if c >= 0 && c < len(rec) {
			_, _ = d.WriteString(rec[c])
		}
		_, _ = d.Write(fieldSeparator)
	}
	return int64(d.Sum64())
}

func (p *UserPlan) get(rec []string, f UserField) string {
	if i := p.col[f]; i >= 0 && i < len(rec) {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

func (p *UserPlan) Column(f UserField) string {
	if i := p.col[f]; i >= 0 {
		return p.header[i]
	}
	return ""
}

// emailKey is the key of a row for matching rows with each other and with
// users: the normalized email, or the cell lower-cased when it is not a
// valid address (so that rejected rows still count as present).
func (p *UserPlan) EmailKey(rec []string) (key string, valid bool) {
	raw := p.get(rec, UserEmail)
	if e, err := users.NormalizeEmail("email", raw); err == nil {
		return e, true
	}
	return strings.ToLower(raw), false
}

// UserValues is a row of an employee file, normalized.
type UserValues struct {
	Email string
	Name  string
	Role  users.Role // "" when the file has no role column
	// restriction is the stored filter for the schools (nil: no
	// restriction), when the file has a schools column (hasSchools).
	Restriction json.RawMessage
	HasSchools  bool
}

// normalize reads a row's values, or says what is wrong with it.
func (p *UserPlan) Normalize(rec []string, line int) (UserValues, *importfile.RowError) {
	var v UserValues
	rowErr := func(f UserField, value, format string, args ...any) *importfile.RowError {
		return &importfile.RowError{Line: line, Column: p.Column(f), Value: value, Message: fmt.Sprintf(format, args...)}
	}
	raw := p.get(rec, UserEmail)
	if raw == "" {
		return v, rowErr(UserEmail, "", "the email is empty")
	}
	email, err := users.NormalizeEmail("email", raw)
	if err != nil {
		return v, rowErr(UserEmail, raw, "%q is not a valid email address", raw)
	}
	v.Email = email

	v.Name = p.get(rec, userName)
	if v.Name == "" {
		v.Name = strings.TrimSpace(p.get(rec, userFirstName) + " " + p.get(rec, userLastName))
	}
	nameField := userName
	if p.col[userName] < 0 {
		nameField = userFirstName
		if p.col[userFirstName] < 0 {
			nameField = userLastName
		}
	}
	switch n := len([]rune(v.Name)); {
	case n == 0:
		return v, rowErr(nameField, "", "the name is empty")
	case n > 200:
		return v, rowErr(nameField, v.Name, "the name is longer than 200 characters")
	}

	if p.col[userRole] >= 0 {
		cell := p.get(rec, userRole)
		role, ok := parseRole(cell)
		if !ok {
			return v, rowErr(userRole, cell, "unknown role %q: use USER (or staff, teacher) or SYSTEM_ADMIN (or admin, administrator)", cell)
		}
		v.Role = role
	}

	if p.col[userSchools] >= 0 {
		v.HasSchools = true
		cell := p.get(rec, userSchools)
		schools := splitSchools(cell)
		switch {
		case len(schools) == 0:
			return v, rowErr(userSchools, cell, "the schools are empty: give the user's schools, or * for all")
		case len(schools) == 1 && isAllSchools(schools[0]):
			v.Restriction = nil
		default:
			for _, s := range schools {
				if isAllSchools(s) {
					return v, rowErr(userSchools, cell, "%q means all schools and must stand alone: give the user's schools, or * for all", s)
				}
			}
			r, err := recipients.EncodeFilter("schools", &recipients.Filter{School: &recipients.StringFilter{In: schools}})
			if err != nil {
				msg := err.Error()
				if ae, ok := apperr.As(err); ok {
					msg = ae.Message
				}
				return v, rowErr(userSchools, cell, "the schools cannot be a restriction: %s", msg)
			}
			v.Restriction = r
		}
	}
	return v, nil
}

// parseRole reads a role cell: empty is USER.
func parseRole(s string) (users.Role, bool) {
	switch headerKey(s) {
	case "", "user", "staff", "teacher":
		return users.RoleUser, true
	case "systemadmin", "admin", "administrator", "systemadministrator":
		return users.RoleSystemAdmin, true
	}
	return "", false
}

// splitSchools splits a schools cell on ; or , and drops empty and repeated
// (ignoring case) names.
func splitSchools(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range splitMulti(s) {
		if k := strings.ToLower(p); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// isAllSchools reports whether a school value means "every school".
func isAllSchools(s string) bool { return s == "*" || strings.EqualFold(s, "ALL") }

// schoolsText shows a stored restriction in a run's changes: its schools
// ("A; B"), * for none, or the filter itself when it is not a list of
// schools (set by hand).
func SchoolsText(r json.RawMessage) *string {
	out := "*"
	if len(r) > 0 {
		out = string(recipients.FilterJSON(r))
		if f, err := recipients.DecodeFilter(r); err == nil && f.School != nil && len(f.School.In) > 0 &&
			isOnlySchoolIn(f) {
			out = strings.Join(f.School.In, "; ")
		}
	}
	return &out
}

func isOnlySchoolIn(f *recipients.Filter) bool {
	only := recipients.Filter{School: &recipients.StringFilter{In: f.School.In}}
	a, errA := json.Marshal(f)
	b, errB := json.Marshal(only)
	return errA == nil && errB == nil && string(a) == string(b)
}

// Header is the file's header, trimmed.
func (p *UserPlan) Header() []string { return p.header }

// EmailIndex is the index of the email column.
func (p *UserPlan) EmailIndex() int { return p.col[UserEmail] }
