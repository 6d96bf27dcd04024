package recipients

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/fold"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// people are the recipients the filter table runs against.
const people = `
key  | type    | first  | last     | grade | rank | school              | language   | phones                       | emails                     | custom                              | removed
S1   | STUDENT | Ana    | García   | 5     | 5    | Lincoln Elementary  | Spanish    | +16125550101                 | ana.parent@gmail.com       | {"homeroom":"Room 4","bus":"12"}    | no
S2   | STUDENT | Ben    | O'Brien  | K     | 0    | Lincoln Elementary  | English    | +16125550102                 |                            | {"homeroom":"Room 1"}               | no
S3   | STUDENT | Chloé  | Nguyễn   | 12    | 12   | Jefferson High      | Vietnamese | +16125550103                 | chloe.mom@yahoo.com        | {"homeroom":"Room 12, Bldg B"}      | no
S4   | STUDENT | Dev    | Patel    | PK    | -1   | lincoln elementary  | English    |                              |                            | {}                                  | no
S5   | STUDENT | Eli    | Wong     | 5     | 5    | Adams Elementary    | Mandarin   | +16125550105,+16125550101     | eli@outlook.com            | {"homeroom":"Room 7","bus":"3"}     | no
S6   | STAFF   | Fay    | Ali      | UG    |      | Adams Elementary    |            | +442079460958                | fay.ali@district.org       | {"role":"teacher"}                  | no
S7   | CONTACT | Gus    | Berg     |       |      |                     | English    | +16125550107                 | gus@gmail.com              | {}                                  | no
S8   | STUDENT | Hana   | Kim      | 5     | 5    | Lincoln Elementary  | Korean     |                              |                            | {"homeroom":"Room 4"}               | yes
`

type fixtureRecipients struct {
	db  *db.DB
	ids map[string]int64
}

func loadPeople(t *testing.T) *fixtureRecipients {
	t.Helper()
	return loadRows(t, testdb.New(t), people)
}

// loadRows inserts the recipients of a table like people into d.
func loadRows(t *testing.T, d *db.DB, table string) *fixtureRecipients {
	t.Helper()
	ctx := context.Background()
	var importID int64
	require.NoError(t, d.NewRaw(`INSERT INTO imports (name, method) VALUES ('SIS', 'FULL') RETURNING id`).Scan(ctx, &importID))
	f := &fixtureRecipients{db: d, ids: map[string]int64{}}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		c := strings.Split(line, "|")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		nullable := func(s string) *string {
			if s == "" {
				return nil
			}
			return &s
		}
		contacts := func(s, key, label string) string {
			var out []map[string]string
			for _, v := range strings.Split(s, ",") {
				if n, ok := NormalizeEmail(v); ok && key == "address" {
					v = n // as imports store them
				}
				if v != "" {
					out = append(out, map[string]string{key: v, "label": label})
				}
			}
			b, _ := json.Marshal(out)
			if out == nil {
				return "[]"
			}
			return string(b)
		}
		var rank *int
		if c[5] != "" {
			var r int
			fmt.Sscan(c[5], &r)
			rank = &r
		}
		var custom map[string]string
		require.NoError(t, json.Unmarshal([]byte(c[10]), &custom))
		for k, v := range custom {
			custom[k] = fold.Key(v)
		}
		customKey, _ := json.Marshal(custom)
		var id int64
		err := d.NewRaw(`INSERT INTO recipients (segment_id, import_id, external_id, type, first_name, last_name, grade, grade_rank, school, language,
				phones, emails, custom_fields, row_hash, removed_at,
				first_name_key, last_name_key, school_key, language_key, custom_fields_key)
			VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, 0, CASE WHEN ? THEN now() END, ?, ?, ?, ?, ?::jsonb) RETURNING id`,
			importID, c[0], c[1], c[2], c[3], nullable(c[4]), rank, nullable(c[6]), nullable(c[7]),
			contacts(c[8], "number", "Home"), contacts(c[9], "address", "Home"), c[10], c[11] == "yes",
			fold.Key(c[2]), fold.Key(c[3]), fold.Optional(nullable(c[6])), fold.Optional(nullable(c[7])), string(customKey)).Scan(ctx, &id)
		require.NoError(t, err)
		f.ids[c[0]] = id
	}
	return f
}

// match returns the keys the filter selects (removed recipients never).
func (f *fixtureRecipients) match(t *testing.T, filter *Filter) ([]string, error) {
	t.Helper()
	return f.matchScoped(t, filter, &Scope{})
}

// matchScoped returns the keys the filter selects within scope.
func (f *fixtureRecipients) matchScoped(t *testing.T, filter *Filter, scope *Scope) ([]string, error) {
	t.Helper()
	p := &Params{}
	visible, err := scope.visible(false)
	if err != nil {
		return nil, err
	}
	where, err := And(Matching("filter", filter), visible).sql(p)
	if err != nil {
		return nil, err
	}
	rows, err := scanRecipients(context.Background(), f.db, "SELECT "+columns+" FROM recipients AS r WHERE "+where+" ORDER BY r.external_id", p, AllParts, 0)
	require.NoError(t, err)
	keys := []string{}
	for _, r := range rows {
		keys = append(keys, r.ExternalID)
	}
	return keys, nil
}

func s(v string) *string { return &v }
func b(v bool) *bool     { return &v }

func TestFilterSemantics(t *testing.T) {
	t.Parallel()
	f := loadPeople(t)
	student, staff := TypeStudent, TypeStaff
	// S7 is detached: its import was deleted keeping it, then purged.
	var imp int64
	require.NoError(t, f.db.NewRaw(`UPDATE recipients SET import_id = NULL WHERE external_id = 'S7' RETURNING (SELECT min(id) FROM imports)`).
		Scan(context.Background(), &imp))
	cases := []struct {
		name   string
		filter Filter
		want   string // keys, space-separated
	}{
		{"All", Filter{All: b(true)}, "S1 S2 S3 S4 S5 S6 S7"},
		{"GradeEq", Filter{Grade: &GradeFilter{Eq: s("05")}}, "S1 S5"},
		{"GradeKindergartenSynonym", Filter{Grade: &GradeFilter{Eq: s("KG")}}, "S2"},
		{"GradeOrder", Filter{Grade: &GradeFilter{Gte: s("PK"), Lt: s("1")}}, "S2 S4"},
		{"GradeGtK", Filter{Grade: &GradeFilter{Gt: s("K")}}, "S1 S3 S5"},
		{"GradeLte", Filter{Grade: &GradeFilter{Lte: s("5")}}, "S1 S2 S4 S5"},
		{"GradeInWithUngraded", Filter{Grade: &GradeFilter{In: []string{"12", "ug"}}}, "S3 S6"},
		{"GradeNin", Filter{Grade: &GradeFilter{Nin: []string{"5", "K"}}}, "S3 S4 S6 S7"},
		{"GradeNeq", Filter{Grade: &GradeFilter{Neq: s("5")}}, "S2 S3 S4 S6 S7"},
		{"GradeIsNull", Filter{Grade: &GradeFilter{IsNull: b(true)}}, "S7"},
		{"SchoolCaseInsensitive", Filter{School: &StringFilter{Eq: s("LINCOLN ELEMENTARY")}}, "S1 S2 S4"},
		{"SchoolIn", Filter{School: &StringFilter{In: []string{"lincoln elementary", "Adams Elementary"}}}, "S1 S2 S4 S5 S6"},
		{"SchoolNinKeepsNull", Filter{School: &StringFilter{Nin: []string{"Lincoln Elementary", "Adams Elementary"}}}, "S3 S7"},
		{"SchoolNeqKeepsNull", Filter{School: &StringFilter{Neq: s("Jefferson High")}}, "S1 S2 S4 S5 S6 S7"},
		{"SchoolIsNull", Filter{School: &StringFilter{IsNull: b(true)}}, "S7"},
		{"LanguageIsNotNull", Filter{Language: &StringFilter{IsNull: b(false)}}, "S1 S2 S3 S4 S5 S7"},
		{"NotKeepsMissingValues", Filter{Not: &Filter{School: &StringFilter{StartsWith: s("adams")}}}, "S1 S2 S3 S4 S7"},
		{"NameStartsWith", Filter{LastName: &StringFilter{StartsWith: s("o'")}}, "S2"},
		{"NameContainsAccent", Filter{FirstName: &StringFilter{Contains: s("LOÉ")}}, "S3"},
		{"LikeWildcardsAreLiteral", Filter{LastName: &StringFilter{Contains: s("%")}}, ""},
		{"ExternalIDExact", Filter{ExternalID: &StringFilter{In: []string{"S1", "s2"}}}, "S1"},
		{"TypeIn", Filter{Type: &TypeFilter{In: []Type{staff, TypeContact}}}, "S6 S7"},
		{"TypeNeq", Filter{Type: &TypeFilter{Neq: &student}}, "S6 S7"},
		{"EmailEqNormalized", Filter{Email: &StringFilter{Eq: s("Ana.Parent@GMAIL.com")}}, "S1"},
		{"EmailContains", Filter{Email: &StringFilter{Contains: s("gmail")}}, "S1 S7"},
		{"EmailIsNull", Filter{Email: &StringFilter{IsNull: b(true)}}, "S2 S4"},
		{"PhoneAnyNumberWrittenAnyWay", Filter{Phone: &StringFilter{Eq: s("(612) 555-0101")}}, "S1 S5"},
		{"PhoneInternational", Filter{Phone: &StringFilter{StartsWith: s("+44")}}, "S6"},
		{"PhoneNin", Filter{Phone: &StringFilter{Nin: []string{"612-555-0101"}}}, "S2 S3 S4 S6 S7"},
		{"CustomEq", Filter{CustomFields: []CustomFieldFilter{{Key: "homeroom", Eq: s("Room 4")}}}, "S1"},
		{"CustomIn", Filter{CustomFields: []CustomFieldFilter{{Key: "bus", In: []string{"3", "12"}}}}, "S1 S5"},
		{"CustomIsNull", Filter{CustomFields: []CustomFieldFilter{{Key: "homeroom", IsNull: b(true)}}}, "S4 S6 S7"},
		{"CustomContainsCase", Filter{CustomFields: []CustomFieldFilter{{Key: "homeroom", Contains: s("bldg")}}}, "S3"},
		{"CustomGt", Filter{CustomFields: []CustomFieldFilter{{Key: "bus", Gt: s("2")}}}, "S5"},
		{"CustomNeqKeepsMissing", Filter{CustomFields: []CustomFieldFilter{{Key: "role", Neq: s("teacher")}}}, "S1 S2 S3 S4 S5 S7"},
		{"AndOfFields", Filter{Grade: &GradeFilter{Eq: s("5")}, School: &StringFilter{In: []string{"Lincoln Elementary", "Adams Elementary"}}}, "S1 S5"},
		{"Or", Filter{Or: []Filter{{Grade: &GradeFilter{Eq: s("K")}}, {Type: &TypeFilter{Eq: &staff}}}}, "S2 S6"},
		{"Not", Filter{Not: &Filter{Type: &TypeFilter{Eq: &student}}}, "S6 S7"},
		{"Nested", Filter{And: []Filter{
			{Or: []Filter{{School: &StringFilter{StartsWith: s("lincoln")}}, {School: &StringFilter{StartsWith: s("adams")}}}},
			{Not: &Filter{Grade: &GradeFilter{Gte: s("1")}}},
		}}, "S2 S4 S6"},
		// Groups beside sibling fields: every group binds as a unit.
		{"OrBesideSibling", Filter{Or: []Filter{{School: &StringFilter{Eq: s("Lincoln Elementary")}}, {School: &StringFilter{Eq: s("Adams Elementary")}}},
			Type: &TypeFilter{Eq: &staff}}, "S6"},
		{"OrBesideSiblings", Filter{Or: []Filter{{Grade: &GradeFilter{Eq: s("K")}}, {Grade: &GradeFilter{Eq: s("12")}}},
			Language: &StringFilter{Eq: s("english")}, Not: &Filter{Type: &TypeFilter{Eq: &staff}}}, "S2"},
		{"OrInsideOr", Filter{Or: []Filter{{Or: []Filter{{Grade: &GradeFilter{Eq: s("K")}}, {Grade: &GradeFilter{Eq: s("5")}}}, School: &StringFilter{StartsWith: s("adams")}},
			{Type: &TypeFilter{Eq: &staff}}}}, "S5 S6"},
		{"GradeEqUngradedBesideSibling", Filter{Grade: &GradeFilter{In: []string{"5", "UG"}}, Type: &TypeFilter{Eq: &staff}}, "S6"},
		{"RemovedNeverMatch", Filter{ExternalID: &StringFilter{Eq: s("S8")}}, ""},
		{"ImportEq", Filter{ImportID: &IDFilter{Eq: &imp}}, "S1 S2 S3 S4 S5 S6"},
		{"ImportNeqKeepsDetached", Filter{ImportID: &IDFilter{Neq: &imp}}, "S7"},
		{"ImportNinKeepsDetached", Filter{ImportID: &IDFilter{Nin: []int64{imp}}}, "S7"},
		{"ImportIsNullIsDetached", Filter{ImportID: &IDFilter{IsNull: b(true)}}, "S7"},
		{"ImportIsNotNull", Filter{ImportID: &IDFilter{IsNull: b(false)}}, "S1 S2 S3 S4 S5 S6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := f.match(t, &c.filter)
			require.NoError(t, err)
			want := strings.Fields(c.want)
			if want == nil {
				want = []string{}
			}
			sort.Strings(got)
			require.Equal(t, want, got)
		})
	}
}

// accented are people whose names, school, language and custom fields
// need Unicode case folding.
const accented = `
key | type    | first  | last   | grade | rank | school      | language | phones | emails            | custom                  | removed
E1  | STUDENT | Élodie | Ñúñez  | 3     | 3    | École Nord  | Français |        | ÉLO@ÉCOLE.FR      | {"club":"Élan Vital"}   | no
E2  | STUDENT | ÉLODIE | ÑÚÑEZ  | 3     | 3    | ÉCOLE NORD  | français |        |                   | {"club":"élan"}         | no
E3  | STUDENT | Zoë    | Smith  | 4     | 4    | Lincoln     | English  |        |                   | {"club":"Zebra"}        | no
E4  | STAFF   | İlker  | Straße |       |      | École Sud   | Türkçe   |        | ilker@example.org | {}                      | no
`

// TestFoldingAgreesInEveryLocale: text compared without regard to case
// means the same in a database whose LC_CTYPE is C (where PostgreSQL's
// lower() leaves "É" alone) as in one with a UTF-8 locale. It once did not:
// a user restricted away from École Nord still saw its people.
func TestFoldingAgreesInEveryLocale(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		filter Filter
		want   string
	}{
		{"SchoolEqFolds", Filter{School: &StringFilter{Eq: s("école nord")}}, "E1 E2"},
		{"SchoolNin", Filter{School: &StringFilter{Nin: []string{"École Nord"}}}, "E3 E4"},
		{"NotSchoolEq", Filter{Not: &Filter{School: &StringFilter{Eq: s("École Nord")}}}, "E3 E4"},
		{"SchoolNeq", Filter{School: &StringFilter{Neq: s("ÉCOLE NORD")}}, "E3 E4"},
		{"SchoolStartsWith", Filter{School: &StringFilter{StartsWith: s("éCOLE")}}, "E1 E2 E4"},
		{"FirstNameStartsWith", Filter{FirstName: &StringFilter{StartsWith: s("éL")}}, "E1 E2"},
		{"LastNameContains", Filter{LastName: &StringFilter{Contains: s("úñ")}}, "E1 E2"},
		{"LanguageIn", Filter{Language: &StringFilter{In: []string{"FRANÇAIS"}}}, "E1 E2"},
		{"DecomposedAccentMatches", Filter{School: &StringFilter{Eq: s("e\u0301cole nord")}}, "E1 E2"},
		{"EmailContainsFolds", Filter{Email: &StringFilter{Contains: s("@école")}}, "E1"},
		{"CustomContainsFolds", Filter{CustomFields: []CustomFieldFilter{{Key: "club", Contains: s("ÉLAN")}}}, "E1 E2"},
		{"CustomEqIsExact", Filter{CustomFields: []CustomFieldFilter{{Key: "club", Eq: s("élan vital")}}}, ""},
		{"CustomOrderIsBytes", Filter{CustomFields: []CustomFieldFilter{{Key: "club", Gt: s("Zz")}}}, "E1 E2"},
		{"ExternalIDIsExact", Filter{ExternalID: &StringFilter{StartsWith: s("e")}}, ""},
	}
	for _, locale := range []string{"C", "C.UTF-8"} {
		t.Run(locale, func(t *testing.T) {
			t.Parallel()
			f := loadRows(t, testdb.NewInLocale(t, locale), accented)
			for _, c := range cases {
				got, err := f.match(t, &c.filter)
				require.NoError(t, err)
				require.ElementsMatch(t, strings.Fields(c.want), got, c.name)
			}
			// As a restriction, with the viewer's own filter and-ed in.
			restricted := &Scope{Restriction: &Filter{Not: &Filter{School: &StringFilter{Eq: s("École Nord")}}}}
			got, err := f.matchScoped(t, &Filter{All: b(true)}, restricted)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"E3", "E4"}, got)
			restricted = &Scope{Restriction: &Filter{School: &StringFilter{Nin: []string{"ÉCOLE NORD", "école sud"}}}}
			got, err = f.matchScoped(t, &Filter{Grade: &GradeFilter{Gte: s("PK")}}, restricted)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"E3"}, got)
		})
	}
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	deep := Filter{All: b(true)}
	for range MaxFilterDepth + 1 {
		deep = Filter{Not: &deep}
	}
	many := Filter{}
	for i := range MaxFilterConditions + 1 {
		many.CustomFields = append(many.CustomFields, CustomFieldFilter{Key: fmt.Sprint(i), Eq: s("x")})
	}
	cases := []struct {
		name   string
		filter *Filter
		field  string
		msg    string
	}{
		{"Nil", nil, "filter", "to select everyone say {all: true}"},
		{"Empty", &Filter{}, "filter", "no conditions"},
		{"EmptyNested", &Filter{And: []Filter{{}}}, "filter.and[0]", "no conditions"},
		{"EmptyList", &Filter{Or: []Filter{}}, "filter.or", "at least one"},
		{"NullOperator", &Filter{Grade: &GradeFilter{}}, "filter.grade", "a null value is not one"},
		{"AllFalse", &Filter{All: b(false)}, "filter.all", "only be true"},
		{"EmptyIn", &Filter{School: &StringFilter{In: []string{}}}, "filter.school.in", "at least one value"},
		{"GradeOrderOfUngraded", &Filter{Grade: &GradeFilter{Gt: s("UG")}}, "filter.grade.gt", "no order"},
		{"BadPhone", &Filter{Phone: &StringFilter{Eq: s("call me")}}, "filter.phone.eq", "not a valid phone number"},
		{"BadEmail", &Filter{Email: &StringFilter{In: []string{"a@b.com", "nope"}}}, "filter.email.in", "not a valid email"},
		{"CustomNoKey", &Filter{CustomFields: []CustomFieldFilter{{Eq: s("x")}}}, "filter.customFields[0].key", "key is required"},
		{"BadType", &Filter{Type: &TypeFilter{Eq: new(Type("ALIEN"))}}, "filter.type.eq", "unknown recipient type"},
		{"TooDeep", &deep, "", "nests more than"},
		{"TooMany", &many, "", "more than 100 conditions"},
		{"TooLong", &Filter{School: &StringFilter{Eq: s(strings.Repeat("x", MaxFilterText+1))}}, "filter.school.eq", "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateFilter("filter", c.filter)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.msg)
			if c.field != "" {
				ae, ok := apperrAs(err)
				require.True(t, ok)
				require.Equal(t, c.field, ae.Field)
			}
			_, err = compileFilter("filter", c.filter, &Params{})
			require.Error(t, err, "compiling refuses what validation refuses")
		})
	}
}

func TestFilterEncodingAndDescription(t *testing.T) {
	t.Parallel()
	f := &Filter{Grade: &GradeFilter{Eq: s("5")}, School: &StringFilter{In: []string{"Lincoln", "Adams"}}}
	raw, err := EncodeFilter("filter", f)
	require.NoError(t, err)
	require.JSONEq(t, `{"version":1,"filter":{"grade":{"eq":"5"},"school":{"in":["Lincoln","Adams"]}}}`, string(raw))
	back, err := DecodeFilter(raw)
	require.NoError(t, err)
	require.Equal(t, f, back)
	require.JSONEq(t, `{"grade":{"eq":"5"},"school":{"in":["Lincoln","Adams"]}}`, string(FilterJSON(raw)))
	require.Equal(t, "grade = 5 and school is one of Lincoln, Adams", DescribeFilter(f))

	staff := TypeStaff
	require.Equal(t, `"homeroom" starts with "Room 1" and grade at least 3 and (grade = K or type = staff) and not (language = English)`,
		DescribeFilter(&Filter{
			Or:           []Filter{{Grade: &GradeFilter{Eq: s("K")}}, {Type: &TypeFilter{Eq: &staff}}},
			Not:          &Filter{Language: &StringFilter{Eq: s("English")}},
			CustomFields: []CustomFieldFilter{{Key: "homeroom", StartsWith: s("Room 1")}},
			And:          []Filter{{Grade: &GradeFilter{Gte: s("3")}}},
		}))
	_, err = DecodeFilter([]byte(`{"version":99,"filter":{}}`))
	require.ErrorContains(t, err, "version 99")
}

// FuzzCompileFilter: whatever the filter, compiling never panics, and no
// value ever appears in the SQL text (values are parameters).
func FuzzCompileFilter(f *testing.F) {
	for _, seed := range []string{
		`{"grade":{"in":["5","K"]},"school":{"eq":"x"}}`,
		`{"or":[{"phone":{"eq":"612-555-0101"}},{"email":{"contains":"a'b"}}]}`,
		`{"not":{"customFields":[{"key":"k'); DROP TABLE x;--","eq":"v"}]}}`,
		`{"and":[{"lastName":{"startsWith":"%_\\"}}],"importId":{"in":[1,2]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var filter Filter
		if json.Unmarshal(data, &filter) != nil {
			return
		}
		marked := markValues(&filter)
		p := &Params{}
		sql, err := compileFilter("filter", &filter, p)
		if err != nil {
			return
		}
		for _, v := range marked {
			require.NotContains(t, sql, v, "a value reached the SQL text")
		}
		require.NotContains(t, sql, "Zq9")
		require.NoError(t, ValidateFilter("filter", &filter))
	})
}

// markValues prefixes every string value (keys included) with a marker and
// returns them.
func markValues(f *Filter) []string {
	var out []string
	mark := func(p *string) {
		if p != nil {
			*p = "Zq9" + *p
			out = append(out, *p)
		}
	}
	markList := func(vs []string) {
		for i := range vs {
			mark(&vs[i])
		}
	}
	markText := func(sf *StringFilter) {
		if sf == nil {
			return
		}
		mark(sf.Eq)
		mark(sf.Neq)
		mark(sf.StartsWith)
		mark(sf.Contains)
		markList(sf.In)
		markList(sf.Nin)
	}
	for _, sf := range []*StringFilter{f.ExternalID, f.FirstName, f.LastName, f.School, f.Language} {
		markText(sf)
	}
	if g := f.Grade; g != nil {
		for _, p := range []*string{g.Eq, g.Neq, g.Gt, g.Gte, g.Lt, g.Lte} {
			mark(p)
		}
		markList(g.In)
		markList(g.Nin)
	}
	for i := range f.CustomFields {
		c := &f.CustomFields[i]
		mark(&c.Key)
		for _, p := range []*string{c.Eq, c.Neq, c.Gt, c.Gte, c.Lt, c.Lte, c.StartsWith, c.Contains} {
			mark(p)
		}
		markList(c.In)
		markList(c.Nin)
	}
	for i := range f.And {
		out = append(out, markValues(&f.And[i])...)
	}
	for i := range f.Or {
		out = append(out, markValues(&f.Or[i])...)
	}
	if f.Not != nil {
		out = append(out, markValues(f.Not)...)
	}
	return out
}

func apperrAs(err error) (*appErr, bool) { return apperr.As(err) }

type appErr = apperr.Error
