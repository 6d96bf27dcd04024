package recipients

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"golang.org/x/text/unicode/norm"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/fold"
	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

// The differential test of the filter compiler: random filters, run as SQL
// against a real database and through the evaluator of filter_eval_test.go,
// must select the same people, as a filter and as a restriction beside the
// viewer's own filter. It is here so that a precedence bug ("A OR B AND C"
// widening a restriction) or a case-folding bug (lower() in a C database)
// cannot come back unnoticed; when written, it found that empty text was
// not null to eq, neq, in, nin, startsWith and contains, and that a value
// holding U+0000 failed in the database instead of validation.

// sqlSelect runs filter within scope through the package's query path and
// returns the ids it selects, in order. It is the one place that knows that
// path: when the internal query API changes, only this function does.
func sqlSelect(ctx context.Context, d *db.DB, filter *Filter, scope *Scope) ([]int64, error) {
	p := &Params{}
	visible, err := scope.visible(false)
	if err != nil {
		return nil, err
	}
	selected := Everyone() // only the restriction
	if filter != nil {
		selected = Matching("filter", filter)
	}
	where, err := And(selected, visible).sql(p)
	if err != nil {
		return nil, err
	}
	rows, err := d.Pool.Query(ctx, "SELECT r.id FROM recipients AS r WHERE "+where+" ORDER BY r.id", p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("query recipients: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// diffCorpusSize is how many random filters, and as many pairs of a
// restriction and a filter, every database runs in a normal `go test`.
const diffCorpusSize = 300

// diffLocales are the databases the differential test runs in: the test
// server's default (C.UTF-8 where it exists), one whose LC_CTYPE is C
// (where PostgreSQL's lower() leaves "É" alone), and one whose collation is
// ICU's en-US (where text does not sort in byte order).
var diffLocales = []struct {
	name string
	open func(t testing.TB) *db.DB
}{
	{"Default", func(t testing.TB) *db.DB { return testdb.New(t) }},
	{"C", func(t testing.TB) *db.DB { return testdb.NewInLocale(t, "C") }},
	{"ICU", newICUDatabase},
}

func TestFilterDifferential(t *testing.T) {
	t.Parallel()
	for _, locale := range diffLocales {
		t.Run(locale.name, func(t *testing.T) {
			t.Parallel()
			d := locale.open(t)
			data := loadDiffData(t, d)
			rng := rand.New(rand.NewPCG(20261129, 1))
			var st diffStats
			for i := range diffCorpusSize {
				g := &filterGen{c: randChooser{rng}, data: data, maxDepth: MaxFilterDepth}
				g.shape()
				f := g.filter(0)
				st.add(diffCheck(t, d, data, &f, nil))

				g.shape()
				r := g.filter(0)
				var own *Filter
				if i%8 != 0 { // sometimes the viewer gives no filter at all
					g.shape()
					o := g.filter(0)
					own = &o
				}
				st.add(diffCheck(t, d, data, own, &r))
			}
			t.Logf("%s: %s", locale.name, st)
			// The generator must keep exercising the compiler: most filters
			// valid, and most of those selecting some people but not all.
			require.Greater(t, st.valid, st.checks*6/10, "too few valid filters")
			require.Greater(t, st.some, st.valid/2, "too few filters select some people but not all")
		})
	}
}

// Hand-written cases, the fuzzer's seeds (which a plain `go test` runs, in
// the default and the C database): the historic bugs first. Import ids are
// those of a fresh database: 1, 2, 3.
var diffSeeds = []string{
	// An or-group beside a sibling field once compiled to "A OR B AND C":
	// as a restriction it let a user see every Lincoln student.
	`{"filter":{"or":[{"school":{"eq":"Lincoln Elementary"}},{"school":{"eq":"École Nord"}}],"type":{"eq":"STUDENT"}}}`,
	`{"restriction":{"or":[{"school":{"eq":"Lincoln Elementary"}},{"school":{"eq":"École Nord"}}],"type":{"eq":"STUDENT"}},"filter":{"all":true}}`,
	`{"restriction":{"or":[{"grade":{"eq":"K"}},{"grade":{"eq":"5"}}],"school":{"eq":"lincoln elementary"}},"filter":{"or":[{"type":{"eq":"STAFF"}},{"language":{"eq":"english"}}]}}`,
	// In a C database lower() left "É" alone: nin kept École Nord's people.
	`{"restriction":{"school":{"nin":["École Nord"]}},"filter":{"grade":{"gte":"PK"}}}`,
	`{"restriction":{"not":{"school":{"eq":"ÉCOLE NORD"}}},"filter":{"school":{"startsWith":"e\u0301cole"}}}`,
	`{"filter":{"firstName":{"contains":"LOÉ"},"lastName":{"startsWith":"ñ"}}}`,
	// Missing values: neq, nin and not include them.
	`{"filter":{"grade":{"neq":"5"},"importId":{"nin":[1]},"customFields":[{"key":"bus","neq":"12"}]}}`,
	`{"filter":{"not":{"or":[{"email":{"contains":"gmail"}},{"phone":{"startsWith":"+44"}}]}}}`,
	// LIKE's wildcards and escape are literal.
	`{"filter":{"or":[{"lastName":{"contains":"%"}},{"school":{"startsWith":"a_"}},{"customFields":[{"key":"note","contains":"\\"}]},{"externalId":{"contains":"_"}}]}}`,
	// Grades: synonyms, ungraded text, order.
	`{"filter":{"grade":{"in":["05","ug","Adult","TK"]}}}`,
	`{"filter":{"grade":{"gt":"KG","lte":"Grade 5"},"not":{"grade":{"eq":"PK"}}}}`,
	// Contacts: any number, written any way.
	`{"filter":{"phone":{"in":["(612) 555-0101","+44 20 7946 0958"]},"email":{"neq":"ANA.PARENT@GMAIL.COM"}}}`,
	// Custom fields: exact, byte order, folded startsWith.
	`{"filter":{"customFields":[{"key":"club","gt":"Zz"},{"key":"homeroom","startsWith":"ROOM"}]}}`,
	`{"filter":{"customFields":[{"key":"club","eq":"élan"},{"key":"note","isNull":true}]}}`,
	`{"filter":{"importId":{"isNull":true},"type":{"in":["CONTACT","OTHER"]}}}`,
	`{"filter":{"and":[{"not":{"not":{"and":[{"not":{"not":{"and":[{"not":{"not":{"school":{"isNull":false}}}}]}}}]}}}]}}`,
	// Empty text is null to every operator (people without a first name).
	`{"filter":{"firstName":{"in":["","Ana"]},"lastName":{"nin":[""]}}}`,
	`{"restriction":{"or":[{"firstName":{"startsWith":""}},{"school":{"contains":""}}]},"filter":{"lastName":{"neq":""}}}`,
	// U+0000 is bad input, not a database error.
	`{"filter":{"school":{"eq":"a\u0000b"}}}`,
	`{"filter":{"customFields":[{"key":"a\u0000b","isNull":true}]}}`,
	`{"filter":{"grade":{"in":["5","a\u0000b"]}}}`,
	// Custom-field keys are trimmed, as imports trim header names.
	`{"filter":{"customFields":[{"key":" club ","startsWith":"é"}]}}`,
	`{"filter":{"customFields":[{"key":"  ","eq":"x"}]}}`,
}

// FuzzFilterDifferential runs the differential check open-ended: the input
// is either a JSON case ({"filter":…,"restriction":…}, as the seeds are) or
// bytes that the filter generator reads as its choices, deterministically.
// Filters that fail validation are skipped, once both sides agree that they
// are invalid and the error is a BAD_USER_INPUT naming a field.
func FuzzFilterDifferential(f *testing.F) {
	for _, seed := range diffSeeds {
		f.Add([]byte(seed))
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 16 {
		b := make([]byte, 8+rng.IntN(120))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		f.Add(b)
	}
	type target struct {
		d    *db.DB
		data *diffData
	}
	var targets []target
	for _, locale := range diffLocales[:2] { // the default and C: the ICU database costs a second migration
		d := locale.open(f)
		targets = append(targets, target{d, loadDiffData(f, d)})
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, tg := range targets {
			filter, restriction := decodeFuzzCase(in, tg.data)
			diffCheck(t, tg.d, tg.data, filter, restriction)
		}
	})
}

// diffCase is a hand-written case: a filter, and a restriction (either may
// be absent, but not both).
type diffCase struct {
	Filter      *Filter `json:"filter"`
	Restriction *Filter `json:"restriction"`
}

func decodeJSONCase(in []byte) (diffCase, bool) {
	var c diffCase
	dec := json.NewDecoder(strings.NewReader(string(in)))
	dec.DisallowUnknownFields()
	if dec.Decode(&c) != nil || (c.Filter == nil && c.Restriction == nil) {
		return diffCase{}, false
	}
	return c, true
}

// decodeFuzzCase turns fuzz bytes into a filter and maybe a restriction.
func decodeFuzzCase(in []byte, data *diffData) (filter, restriction *Filter) {
	if len(in) > 0 && in[0] == '{' {
		if c, ok := decodeJSONCase(in); ok {
			return c.Filter, c.Restriction
		}
	}
	c := &byteChooser{data: in}
	// One level beyond the limit, so that depth errors are checked too.
	g := &filterGen{c: c, data: data, maxDepth: MaxFilterDepth + 1, groupChance: 4, budget: 40, oneIn: 40}
	mode := c.intn(4)
	if mode != 1 {
		f := g.filter(0)
		filter = &f
	}
	if mode != 0 {
		r := g.filter(0)
		restriction = &r
	}
	return filter, restriction
}

// diffResult is what one check found.
type diffResult int

const (
	diffInvalid diffResult = iota // refused by both sides
	diffNone                      // valid, selects nobody
	diffSome                      // valid, selects some
	diffAll                       // valid, selects everyone not removed
)

type diffStats struct{ checks, valid, invalid, none, some, all int }

func (s *diffStats) add(r diffResult) {
	s.checks++
	switch r {
	case diffInvalid:
		s.invalid++
	case diffNone:
		s.none++
	case diffSome:
		s.some++
	case diffAll:
		s.all++
	}
	if r != diffInvalid {
		s.valid++
	}
}

func (s diffStats) String() string {
	return fmt.Sprintf("%d checks: %d invalid, %d selecting nobody, %d some, %d everyone", s.checks, s.invalid, s.none, s.some, s.all)
}

// diffCheck runs filter within a scope restricted by restriction (either
// may be nil) through SQL and through the evaluator and fails t when they
// disagree: on validity, or on the people selected.
func diffCheck(t testing.TB, d *db.DB, data *diffData, filter, restriction *Filter) diffResult {
	t.Helper()
	ctx := context.Background()
	describe := func() string {
		b, _ := json.Marshal(diffCase{Filter: filter, Restriction: restriction})
		return string(b)
	}
	invalid := false
	for _, f := range []*Filter{filter, restriction} {
		if f == nil {
			continue
		}
		err := ValidateFilter("filter", f)
		why, long := evalInvalid(f)
		if err != nil {
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.CodeBadUserInput || ae.Field == "" {
				t.Fatalf("validation error is not a BAD_USER_INPUT naming a field: %v\ncase: %s", err, describe())
			}
		}
		// Values over the length limit in bytes: the compiler may refuse
		// them where the docs (characters) would not.
		if long && err != nil && why == "" {
			why = "long value"
		}
		if (err != nil) != (why != "") {
			t.Fatalf("validity differs: compiler says %v, evaluator says %q\ncase: %s", err, why, describe())
		}
		invalid = invalid || err != nil
	}
	scope := &Scope{Restriction: restriction}
	got, err := sqlSelect(ctx, d, filter, scope)
	if invalid {
		if err == nil {
			t.Fatalf("the query path accepts what validation refuses\ncase: %s", describe())
		}
		if apperr.CodeOf(err) != apperr.CodeBadUserInput {
			t.Fatalf("the query path refuses an invalid filter with %v, not BAD_USER_INPUT\ncase: %s", err, describe())
		}
		return diffInvalid
	}
	if err != nil {
		t.Fatalf("query: %v\ncase: %s", err, describe())
	}
	want := []int64{}
	live := 0
	for _, r := range data.people {
		if r.Removed {
			continue
		}
		live++
		if (filter == nil || evalMatches(filter, r)) && (restriction == nil || evalMatches(restriction, r)) {
			want = append(want, r.ID)
		}
	}
	if got == nil {
		got = []int64{}
	}
	if !slices.Equal(want, got) {
		var b strings.Builder
		fmt.Fprintf(&b, "SQL and the evaluator disagree\ncase: %s\n", describe())
		for _, r := range data.people {
			inSQL, inEval := slices.Contains(got, r.ID), slices.Contains(want, r.ID)
			if inSQL != inEval {
				rb, _ := json.Marshal(r)
				fmt.Fprintf(&b, "  SQL %v, evaluator %v: %s\n", inSQL, inEval, rb)
			}
		}
		t.Fatal(b.String())
	}
	switch len(got) {
	case 0:
		return diffNone
	case live:
		return diffAll
	}
	return diffSome
}

// diffData is the generated dataset, as the evaluator sees it.
type diffData struct {
	people  []*evalRecipient
	imports []int64
	// values of each text field, for the filter generator to draw from
	externalIDs, firstNames, lastNames, schools, languages, emails, phones, classNames []string
	customKeys                                                                         []string
	customValues                                                                       map[string][]string
}

// The pools the dataset draws from: case and accent variants (precomposed
// and decomposed), LIKE's wildcards and escape, empty text.
var (
	diffFirstNames = []string{"Ana", "ana", "ANA", "Élodie", "ÉLODIE", "élodie", "E\u0301lodie", "Chloé", "CHLOE\u0301",
		"Zoë", "İlker", "ilker", "Ben", "Eli", "Σοφία", "ΣΟΦΊΑ", "ǅemal", "100%", "a_b", "A_B", "Back\\slash", ""}
	diffLastNames = []string{"García", "GARCÍA", "garcia", "Ñúñez", "ÑÚÑEZ", "N\u0303u\u0301n\u0303ez", "Straße", "STRASSE",
		"O'Brien", "o'brien", "50%_off", "x_y", "x\\y", "Wong", "Nguyễn", "NGUYỄN", ""}
	diffSchools = []string{"Lincoln Elementary", "LINCOLN ELEMENTARY", "lincoln elementary", "École Nord", "ÉCOLE NORD",
		"école nord", "e\u0301cole nord", "E\u0301COLE NORD", "École Sud", "Adams Elementary", "100% Prep", "A_B Academy",
		"Back\\slash High", "Ørsted Skole"}
	diffLanguages = []string{"English", "english", "ENGLISH", "Français", "FRANÇAIS", "franc\u0327ais", "Español",
		"Türkçe", "TÜRKÇE"}
	// Grades as files write them; stored as NormalizeGrade reads them.
	diffGrades = []string{"PK", "Pre-K", "TK", "K", "KG", "1", "01", "2nd", "3", "Grade 5", "5th", "05", "5", "8",
		"12", "UG", "ug", "Adult", "ADULT", "grade grade 5"}
	diffPhones = []string{"(612) 555-0101", "612-555-0102", "612.555.0103", "+1 612 555 0104", "16125550105",
		"(651) 555-0199", "+44 20 7946 0958", "+33 1 42 68 53 00"}
	diffEmails = []string{"ana.parent@gmail.com", "Ben.Dad@GMAIL.com", "élo@école.fr", "ÉLODIE@ÉCOLE.FR",
		"100%_off@shop.com", "a_b@x.org", "eli@outlook.com", "gus@gmail.com", "fay.ali@district.org"}
	diffCustom = map[string][]string{
		"homeroom": {"Room 4", "room 4", "ROOM 4", "Room 12, Bldg B", "Room 1", ""},
		"bus":      {"12", "3", "100", "9", "100%", ""},
		"club":     {"Élan", "élan", "e\u0301lan", "ÉLAN VITAL", "Zebra", "zebra", "Ä", "ß", ""},
		"Club":     {"chess", "Chess"},
		"note":     {"a_b", "a%b", "a\\b", "A_B", "x", ""},
	}
	diffTypes = []Type{TypeStudent, TypeStudent, TypeStudent, TypeStaff, TypeContact, TypeOther}
	// Classes of a OneRoster import: sourcedId, classCode, title.
	diffClasses = [][3]string{
		{"C-1", "ALG1-3", "Algebra I - Period 3"}, {"c-1b", "alg1-3", "ALGEBRA I - PERIOD 3"},
		{"C%2", "a_b", "École Nord HR"}, {"É-3", "", "e\u0301cole nord hr"}, {"C4", "BIO", "Biology"},
		{"C5", "Back\\slash", "100% Chemistry"}, {"HR-K", "HR-K", "Homeroom K"},
	}
)

const diffPeople = 320

// loadDiffData generates the dataset (the same every time) and inserts it
// into d as imports store recipients: normalized grades, phones and
// addresses, and the folded keys beside the values.
func loadDiffData(t testing.TB, d *db.DB) *diffData {
	t.Helper()
	ctx := context.Background()
	data := &diffData{customValues: map[string][]string{}}
	for i := range 3 {
		var id int64
		require.NoError(t, d.NewRaw(`INSERT INTO imports (name, method) VALUES (?, 'FULL') RETURNING id`, fmt.Sprintf("SIS %d", i)).Scan(ctx, &id))
		data.imports = append(data.imports, id)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vs []string) string { return vs[rng.IntN(len(vs))] }
	optional := func(vs []string) *string {
		switch rng.IntN(10) {
		case 0:
			return nil
		case 1:
			e := "" // empty text counts as null (imports store NULL; older rows may not)
			return &e
		}
		v := pick(vs)
		return &v
	}
	for i := range diffPeople {
		r := &evalRecipient{Type: diffTypes[rng.IntN(len(diffTypes))], Custom: map[string]string{}}
		if rng.IntN(10) > 0 {
			r.ImportID = &data.imports[rng.IntN(len(data.imports))]
		}
		r.Removed = rng.IntN(10) == 0
		r.ExternalID = fmt.Sprintf("S%03d", i)
		switch rng.IntN(12) {
		case 0:
			r.ExternalID = fmt.Sprintf("s%03d_", i)
		case 1:
			r.ExternalID = fmt.Sprintf("X%%%d", i)
		case 2:
			r.ExternalID = fmt.Sprintf("É-%d", i)
		case 3:
			r.ExternalID = fmt.Sprintf("e\u0301-%d\\", i)
		}
		r.FirstName, r.LastName = pick(diffFirstNames), pick(diffLastNames)
		// Imports store an empty grade as NULL, and leave out empty custom
		// fields: neither is ever "".
		if g := optional(diffGrades); g != nil && *g != "" {
			text, rank, ok := NormalizeGrade(*g)
			r.Grade = &text
			if ok {
				r.GradeRank = &rank
			}
		}
		r.School, r.Language = optional(diffSchools), optional(diffLanguages)
		for range rng.IntN(4) {
			p, ok := NormalizePhone(pick(diffPhones))
			require.True(t, ok)
			if !slices.Contains(r.Phones, p) {
				r.Phones = append(r.Phones, p)
			}
		}
		for range rng.IntN(4) {
			e, ok := NormalizeEmail(pick(diffEmails))
			require.True(t, ok)
			if !slices.Contains(r.Emails, e) {
				r.Emails = append(r.Emails, e)
			}
		}
		for _, k := range []string{"homeroom", "bus", "club", "Club", "note"} {
			if v := pick(diffCustom[k]); rng.IntN(3) > 0 && v != "" {
				r.Custom[k] = v
			}
		}
		data.people = append(data.people, r)
	}
	batch := &pgx.Batch{}
	for _, r := range data.people {
		type contact struct {
			Number  string `json:"number,omitempty"`
			Address string `json:"address,omitempty"`
			Label   string `json:"label"`
		}
		phones, emails := []contact{}, []contact{}
		for _, p := range r.Phones {
			phones = append(phones, contact{Number: p, Label: "Home"})
		}
		for _, e := range r.Emails {
			emails = append(emails, contact{Address: e, Label: "Home"})
		}
		customKey := map[string]string{}
		for k, v := range r.Custom {
			customKey[k] = fold.Key(v)
		}
		jsonText := func(v any) string {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			return string(b)
		}
		batch.Queue(`INSERT INTO recipients (segment_id, import_id, external_id, type, first_name, last_name, grade, grade_rank, school, language,
				phones, emails, custom_fields, row_hash, removed_at,
				first_name_key, last_name_key, school_key, language_key, custom_fields_key)
			VALUES (0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12::jsonb, 0, CASE WHEN $13::boolean THEN now() END,
				$14, $15, $16, $17, $18::jsonb) RETURNING id`,
			r.ImportID, r.ExternalID, string(r.Type), r.FirstName, r.LastName, r.Grade, r.GradeRank, r.School, r.Language,
			jsonText(phones), jsonText(emails), jsonText(r.Custom), r.Removed,
			fold.Key(r.FirstName), fold.Key(r.LastName), fold.Optional(r.School), fold.Optional(r.Language), jsonText(customKey),
		).QueryRow(func(row pgx.Row) error { return row.Scan(&r.ID) })
	}
	require.NoError(t, d.Pool.SendBatch(ctx, batch).Close())
	loadDiffClasses(t, d, data, rng)

	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, r := range data.people {
		add(&data.externalIDs, r.ExternalID)
		add(&data.firstNames, r.FirstName)
		add(&data.lastNames, r.LastName)
		for _, v := range []struct {
			list *[]string
			v    *string
		}{{&data.schools, r.School}, {&data.languages, r.Language}} {
			if v.v != nil {
				add(v.list, *v.v)
			}
		}
		for _, p := range r.Phones {
			add(&data.phones, p)
		}
		for _, e := range r.Emails {
			add(&data.emails, e)
		}
	}
	for _, c := range diffClasses {
		for _, n := range c {
			if n != "" {
				add(&data.classNames, n)
			}
		}
	}
	for k, vs := range diffCustom {
		data.customKeys = append(data.customKeys, k)
		data.customValues[k] = vs
	}
	slices.Sort(data.customKeys)
	return data
}

// loadDiffClasses gives each import the classes of diffClasses, as a
// OneRoster import keeps them (oneroster_records), and enrolls people of
// the import in some: current records, and closed ones (replaced by a
// later run) that must not count. An import also enrolls the external ids
// of another import's people, who must not be taken for its own.
func loadDiffClasses(t testing.TB, d *db.DB, data *diffData, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	batch := &pgx.Batch{}
	record := func(imp int64, entity, id string, data map[string]string, match []string, closed bool) {
		var toRun *int64
		if closed {
			one := int64(1)
			toRun = &one
		}
		b, err := json.Marshal(data)
		require.NoError(t, err)
		batch.Queue(`INSERT INTO oneroster_records (import_id, entity, sourced_id, data, match, from_run, to_run) VALUES ($1, $2, $3, $4::jsonb, $5, 1, $6)`,
			imp, entity, id, string(b), match, toRun)
	}
	for _, imp := range data.imports {
		for _, c := range diffClasses {
			var match []string
			for _, n := range c {
				if n != "" {
					match = append(match, fold.Key(n))
				}
			}
			record(imp, "classes", c[0], map[string]string{"title": c[2], "classCode": c[1]}, match, false)
		}
		// A class a run replaced: its old title no longer names it.
		record(imp, "classes", "C4", map[string]string{"title": "Old Biology"}, []string{"c4", "old biology"}, true)
	}
	for i, r := range data.people {
		if r.ImportID == nil {
			continue
		}
		for k, c := range diffClasses {
			if rng.IntN(4) != 0 {
				continue
			}
			closed := rng.IntN(6) == 0
			record(*r.ImportID, "enrollments", fmt.Sprintf("E%d-%d", i, k),
				map[string]string{"userSourcedId": r.ExternalID, "classSourcedId": c[0], "role": "student"}, nil, closed)
			if !closed {
				r.Classes = append(r.Classes, c[:]...)
			}
		}
		if other := data.imports[(slices.Index(data.imports, *r.ImportID)+1)%len(data.imports)]; rng.IntN(5) == 0 {
			record(other, "enrollments", fmt.Sprintf("X%d", i),
				map[string]string{"userSourcedId": r.ExternalID, "classSourcedId": "C4", "role": "student"}, nil, false)
		}
	}
	require.NoError(t, d.Pool.SendBatch(ctx, batch).Close())
}

// chooser makes the generator's choices: from a seeded random source, or
// from fuzz bytes.
type chooser interface {
	// intn returns a number in [0, n).
	intn(n int) int
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

// byteChooser reads choices from bytes, and chooses 0 once they run out:
// the generator's 0 is always the smallest valid option (a field, not a
// group; nothing invalid), so every input decodes to a finite filter.
type byteChooser struct {
	data []byte
	pos  int
}

func (c *byteChooser) intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := 0
	for range 1 + (n-1)/256 {
		if c.pos < len(c.data) {
			v = v<<8 | int(c.data[c.pos])
			c.pos++
		}
	}
	return v % n
}

// filterGen generates random filters: every field and operator, groups
// nested to maxDepth beside sibling fields, values drawn mostly from the
// dataset (in other cases and forms), and now and then an invalid one.
type filterGen struct {
	c        chooser
	data     *diffData
	maxDepth int
	// groupChance (in tenths) is the chance that a condition is a group;
	// budget is how many conditions the filter may still get.
	groupChance, budget int
	// oneIn is how rarely the generator makes a part of the filter invalid
	// on purpose: one time in oneIn (0: diffInvalidOneIn).
	oneIn int
}

// diffInvalidOneIn keeps most generated filters valid: a filter has a dozen
// parts, and a restriction with a filter two.
const diffInvalidOneIn = 150

// invalid reports whether to make this part invalid (never when a
// byteChooser has run out).
func (g *filterGen) invalid() bool {
	n := g.oneIn
	if n == 0 {
		n = diffInvalidOneIn
	}
	return g.c.intn(n) == n-1
}

// shape picks the next filter's size: mostly small, sometimes deep.
func (g *filterGen) shape() {
	g.groupChance = []int{2, 3, 4, 8}[g.c.intn(4)]
	g.budget = 12 + g.c.intn(30)
}

func (g *filterGen) pick(vs []string) string { return vs[g.c.intn(len(vs))] }
func (g *filterGen) chance(tenths int) bool  { return g.c.intn(10) >= 10-tenths } // never on 0
func (g *filterGen) str(v string) *string    { return &v }

// filter returns a filter depth levels below the top.
func (g *filterGen) filter(depth int) Filter {
	var f Filter
	n := 1 + g.c.intn(3)
	if g.c.intn(3) > 0 {
		n = 1
	}
	for range n {
		g.budget--
		if depth < g.maxDepth && g.budget > 0 && g.chance(g.groupChance) {
			g.group(&f, depth)
		} else {
			g.field(&f)
		}
	}
	return f
}

func (g *filterGen) group(f *Filter, depth int) {
	list := func() []Filter {
		n := 1 + g.c.intn(3)
		if g.invalid() {
			return []Filter{} // a group needs a filter
		}
		out := make([]Filter, n)
		for i := range out {
			out[i] = g.filter(depth + 1)
		}
		return out
	}
	switch g.c.intn(3) {
	case 0:
		n := g.filter(depth + 1)
		f.Not = &n
	case 1:
		f.Or = list()
	default:
		f.And = list()
	}
}

// field sets one field's condition (customFields add one).
func (g *filterGen) field(f *Filter) {
	d := g.data
	switch g.c.intn(15) {
	case 0:
		f.School = g.text(d.schools)
	case 1:
		f.Grade = g.grade()
	case 2:
		f.Type = g.typ()
	case 3:
		f.FirstName = g.text(d.firstNames)
	case 4:
		f.LastName = g.text(d.lastNames)
	case 5:
		f.Language = g.text(d.languages)
	case 6:
		f.ExternalID = g.text(d.externalIDs)
	case 7:
		f.Email = g.email()
	case 8:
		f.Phone = g.phone()
	case 9:
		f.ImportID = g.importID()
	case 10, 11:
		f.CustomFields = append(f.CustomFields, g.custom())
	case 12:
		t := !g.invalid() // all can only be true
		f.All = &t
	case 13:
		f.Class = g.text(d.classNames)
	default:
		f.School = g.text(d.schools)
	}
}

// operators returns which of ops a field filter gets: one, sometimes two
// or three, rarely none (invalid).
func (g *filterGen) operators(ops int) []int {
	if g.invalid() {
		return nil
	}
	n := 1
	if g.chance(2) {
		n += 1 + g.c.intn(2)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = g.c.intn(ops)
	}
	return out
}

// values returns one to four values (rarely none: invalid).
func (g *filterGen) values(one func() string) []string {
	if g.invalid() {
		return []string{}
	}
	out := make([]string, 1+g.c.intn(4))
	for i := range out {
		out[i] = one()
	}
	return out
}

// oddities are values that are nowhere in the data but test the edges.
var oddities = []string{"", " ", "%", "_", "\\", "%%", "a%", "_a", "\\%", "É", "é", "e\u0301", "\u0301", "ß", "SS", "İ", "i\u0307", "Σ", "ς", "'", "\"", "5"}

// arbitrary is a short string from an alphabet of troublesome characters,
// or (one time in four) of any bytes, made valid UTF-8 as JSON would make
// them.
func (g *filterGen) arbitrary() string {
	if g.c.intn(4) == 3 {
		b := make([]byte, g.c.intn(9))
		for i := range b {
			b[i] = byte(g.c.intn(256))
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	alphabet := []string{"a", "A", "e", "é", "É", "e\u0301", "\u0301", "ß", "İ", "i", "%", "_", "\\", " ", "'", "0", "5", "@", ".", "+", "ς", "Σ", "l", "o", "N"}
	var b strings.Builder
	for range g.c.intn(7) {
		b.WriteString(alphabet[g.c.intn(len(alphabet))])
	}
	return b.String()
}

// variant returns s as someone might type it: as is, in another case or
// normal form, a part of it (for startsWith and contains), or an oddity.
func (g *filterGen) variant(s string, part bool) string {
	switch g.c.intn(12) {
	case 0, 1, 2, 3:
	case 4:
		s = strings.ToUpper(s)
	case 5:
		s = strings.ToLower(s)
	case 6:
		s = norm.NFD.String(s)
	case 7:
		return g.pick(oddities)
	case 8:
		return g.arbitrary()
	default:
		if part {
			r := []rune(s)
			i := g.c.intn(len(r) + 1)
			j := i + g.c.intn(len(r)-i+1)
			if g.c.intn(2) == 0 {
				i = 0 // a prefix
			}
			s = string(r[i:j])
		}
	}
	return s
}

// text is a StringFilter over values of the data.
func (g *filterGen) text(pool []string) *StringFilter {
	val := func(part bool) string { return g.variant(g.pick(pool), part) }
	return g.textWith(func() string { return val(false) }, func() string { return val(true) })
}

// textWith is a StringFilter whose equality values come from eq and whose
// startsWith and contains values come from part.
func (g *filterGen) textWith(eq, part func() string) *StringFilter {
	f := &StringFilter{}
	for _, op := range g.operators(7) {
		switch op {
		case 0:
			f.Eq = g.str(eq())
		case 1:
			f.Neq = g.str(eq())
		case 2:
			f.In = g.values(eq)
		case 3:
			f.Nin = g.values(eq)
		case 4:
			f.StartsWith = g.str(part())
		case 5:
			f.Contains = g.str(part())
		case 6:
			f.IsNull = g.bool()
		}
	}
	return f
}

func (g *filterGen) bool() *bool { b := g.c.intn(2) == 0; return &b }

func (g *filterGen) email() *StringFilter {
	eq := func() string {
		if g.invalid() {
			return g.pick([]string{"nope", "", "a@b", "@x.org"})
		}
		a := g.pick(g.data.emails)
		switch g.c.intn(4) {
		case 0:
			a = strings.ToUpper(a)
		case 1:
			a = " " + norm.NFD.String(a)
		}
		return a
	}
	part := func() string { return g.variant(g.pick(g.data.emails), true) }
	return g.textWith(eq, part)
}

func (g *filterGen) phone() *StringFilter {
	eq := func() string {
		if g.invalid() {
			return g.pick([]string{"call me", "", "555", "+1 211 555 0101"})
		}
		p := g.pick(g.data.phones)
		if strings.HasPrefix(p, "+1") && len(p) == 12 {
			n := p[2:]
			switch g.c.intn(5) {
			case 0:
				p = "(" + n[:3] + ") " + n[3:6] + "-" + n[6:]
			case 1:
				p = n[:3] + "." + n[3:6] + "." + n[6:]
			case 2:
				p = "1-" + n
			case 3:
				p = n + " x12"
			}
		}
		return p
	}
	part := func() string {
		if g.c.intn(4) == 0 {
			return g.pick([]string{"+1612", "612", "(612)", "+44", "0101", "555-01", ""})
		}
		return g.variant(g.pick(g.data.phones), true)
	}
	return g.textWith(eq, part)
}

var gradeValues = []string{"PK", "pre-k", "TK", "K", "kg", "Kindergarten", "0", "1", "01", "2nd", "3rd", "4", "Grade 5", "5th",
	"05", "6", "8", "10", "11", "12", "13", "UG", "ug", "Adult", "adult", "grade grade 5", "GRADE 5", "", " 5 "}

func (g *filterGen) grade() *GradeFilter {
	val := func() string {
		if g.c.intn(10) == 0 {
			return g.variant(g.pick(gradeValues), false)
		}
		return g.pick(gradeValues)
	}
	ordered := func() string {
		if g.invalid() {
			return g.pick([]string{"UG", "Adult", ""}) // no order
		}
		for {
			if v := val(); isGraded(v) {
				return v
			}
		}
	}
	f := &GradeFilter{}
	for _, op := range g.operators(9) {
		switch op {
		case 0:
			f.Eq = g.str(val())
		case 1:
			f.Neq = g.str(val())
		case 2:
			f.In = g.values(val)
		case 3:
			f.Nin = g.values(val)
		case 4:
			f.Gt = g.str(ordered())
		case 5:
			f.Gte = g.str(ordered())
		case 6:
			f.Lt = g.str(ordered())
		case 7:
			f.Lte = g.str(ordered())
		case 8:
			f.IsNull = g.bool()
		}
	}
	return f
}

func isGraded(v string) bool { _, _, ok := NormalizeGrade(v); return ok }

func (g *filterGen) typ() *TypeFilter {
	types := []Type{TypeStudent, TypeStaff, TypeContact, TypeOther}
	one := func() Type {
		if g.invalid() {
			return "ALIEN"
		}
		return types[g.c.intn(len(types))]
	}
	list := func() []Type {
		out := make([]Type, 1+g.c.intn(3))
		for i := range out {
			out[i] = one()
		}
		return out
	}
	f := &TypeFilter{}
	for _, op := range g.operators(4) {
		t := one()
		switch op {
		case 0:
			f.Eq = &t
		case 1:
			f.Neq = &t
		case 2:
			f.In = list()
		case 3:
			f.Nin = list()
		}
	}
	return f
}

func (g *filterGen) importID() *IDFilter {
	one := func() int64 {
		if g.c.intn(8) == 0 {
			return 999999 // no such import
		}
		return g.data.imports[g.c.intn(len(g.data.imports))]
	}
	list := func() []int64 {
		out := make([]int64, 1+g.c.intn(3))
		for i := range out {
			out[i] = one()
		}
		return out
	}
	f := &IDFilter{}
	for _, op := range g.operators(5) {
		id := one()
		switch op {
		case 0:
			f.Eq = &id
		case 1:
			f.Neq = &id
		case 2:
			f.In = list()
		case 3:
			f.Nin = list()
		case 4:
			f.IsNull = g.bool()
		}
	}
	return f
}

func (g *filterGen) custom() CustomFieldFilter {
	var f CustomFieldFilter
	switch {
	case g.invalid():
		f.Key = g.pick([]string{"", "  "}) // a key is required
	case g.c.intn(8) == 0:
		f.Key = g.pick([]string{"missing", "HOMEROOM", "club ", " note"})
	default:
		f.Key = g.pick(g.data.customKeys)
	}
	pool := g.data.customValues[f.Key]
	if pool == nil {
		pool = oddities
	}
	val := func() string { return g.variant(g.pick(pool), false) }
	part := func() string { return g.variant(g.pick(pool), true) }
	for _, op := range g.operators(11) {
		switch op {
		case 0:
			f.Eq = g.str(val())
		case 1:
			f.Neq = g.str(val())
		case 2:
			f.In = g.values(val)
		case 3:
			f.Nin = g.values(val)
		case 4:
			f.Gt = g.str(val())
		case 5:
			f.Gte = g.str(val())
		case 6:
			f.Lt = g.str(val())
		case 7:
			f.Lte = g.str(val())
		case 8:
			f.StartsWith = g.str(part())
		case 9:
			f.Contains = g.str(part())
		case 10:
			f.IsNull = g.bool()
		}
	}
	return f
}

// newICUDatabase returns a new, migrated database whose default collation
// is ICU's en-US (text sorts "a" < "B", not in byte order), dropped when t
// ends; it skips t when the server has no ICU.
func newICUDatabase(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	admin, err := db.Open(ctx, testdb.ServerURL(t), db.Options{MaxConns: 1})
	require.NoError(t, err)
	defer admin.Close()
	name := fmt.Sprintf("testdb_icu_%x", rand.Uint64())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE ? TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
		bun.Ident(name)); err != nil {
		t.Skipf("no ICU database on this server: %v", err)
	}
	t.Cleanup(func() {
		admin, err := db.Open(context.Background(), testdb.ServerURL(t), db.Options{MaxConns: 1})
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name))
	})
	pc, err := pgconn.ParseConfig(testdb.ServerURL(t))
	require.NoError(t, err)
	d := testdb.Open(t, fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", pc.User, pc.Password, pc.Host, pc.Port, name))
	_, err = db.Migrate(ctx, d.DB)
	require.NoError(t, err)
	return d
}
