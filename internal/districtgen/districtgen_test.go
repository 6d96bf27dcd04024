package districtgen

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func render(t testing.TB, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Write(&b, opts))
	return b.Bytes()
}

func renderNext(t testing.TB, opts Options, ch Change) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, NextDay(&b, opts, ch))
	return b.Bytes()
}

// parse reads a file back as encoding/csv does, checking every row has
// len(Header) fields, and returns the rows after the header.
func parse(t testing.TB, data []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF"))))
	r.FieldsPerRecord = len(Header)
	recs, err := r.ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	require.Equal(t, Header, recs[0])
	return recs[1:]
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

var keyRE = regexp.MustCompile(`^[a-z]+$`)

var areaCodes = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range regions {
		for _, a := range r {
			m[a] = true
		}
	}
	for _, a := range otherAreaCodes {
		m[a] = true
	}
	return m
}()

// nanp returns the ten digits of a valid North American number written in
// one of the usual formats.
func nanp(t testing.TB, s string) string {
	t.Helper()
	if !phoneRE.MatchString(s) {
		t.Fatalf("phone %q: not a usual format", s)
	}
	d := digits(s)
	if len(d) == 11 {
		d = d[1:] // +1 or 1-
	}
	switch {
	case len(d) != 10:
		t.Fatalf("phone %q: not ten digits", s)
	case d[0] < '2' || d[3] < '2':
		t.Fatalf("phone %q: area code and exchange start with 2-9", s)
	case d[1:3] == "11" || d[4:6] == "11":
		t.Fatalf("phone %q: an N11 code", s)
	case d[3:6] == "555":
		t.Fatalf("phone %q: the fictional 555 exchange", s)
	case !areaCodes[d[:3]]:
		t.Fatalf("phone %q: not a real area code", s)
	}
	return d
}

var phoneRE = regexp.MustCompile(`^(\(\d{3}\) \d{3}-\d{4}|\d{3}-\d{3}-\d{4}|\d{10}|\+1 \d{3} \d{3} \d{4}|\d{3}\.\d{3}\.\d{4}|1-\d{3}-\d{3}-\d{4})$`)

var emailRE = regexp.MustCompile(`^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$`)

func TestDeterministic(t *testing.T) {
	t.Parallel()
	opts := Options{Rows: 3000, Seed: 42}
	a, b := render(t, opts), render(t, opts)
	require.Equal(t, a, b)
	require.NotEqual(t, a, render(t, Options{Rows: 3000, Seed: 43}))
	require.NotEqual(t, a, render(t, Options{Rows: 3000, Seed: 42, Schools: 20}))

	ch := Change{Day: 1}
	require.Equal(t, renderNext(t, opts, ch), renderNext(t, opts, ch))
	require.NotEqual(t, renderNext(t, opts, ch), renderNext(t, opts, Change{Day: 2}))
	require.Equal(t, renderNext(t, opts, Change{}), renderNext(t, opts, Change{Day: 1}), "day 0 is day 1")
}

func TestHeaderAndRows(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 1000} {
		rows := parse(t, render(t, Options{Rows: n, Seed: int64(n)}))
		require.Len(t, rows, n)
	}
	require.Len(t, Header, nFields)
	require.Equal(t, "student_id", Header[0])
}

func TestBOMAndCRLF(t *testing.T) {
	t.Parallel()
	plain := render(t, Options{Rows: 500, Seed: 5})
	require.False(t, bytes.HasPrefix(plain, []byte("\uFEFF")))
	require.NotContains(t, string(plain), "\r")
	require.True(t, bytes.HasPrefix(plain, []byte("student_id,")))

	both := render(t, Options{Rows: 500, Seed: 5, BOM: true, CRLF: true})
	require.True(t, bytes.HasPrefix(both, []byte("\xEF\xBB\xBFstudent_id,")))
	require.Equal(t, bytes.Count(both, []byte("\n")), bytes.Count(both, []byte("\r\n")))
	require.Equal(t, 501, bytes.Count(both, []byte("\r\n")), "no field holds a line break")
	require.True(t, bytes.HasSuffix(both, []byte("\r\n")))
	// The same rows, whatever the line endings.
	require.Equal(t, parse(t, plain), parse(t, both))
	require.Equal(t, plain, bytes.ReplaceAll(bytes.TrimPrefix(both, []byte("\uFEFF")), []byte("\r\n"), []byte("\n")))
}

func TestSchools(t *testing.T) {
	t.Parallel()
	require.Len(t, Schools(Options{}), 12)
	for _, n := range []int{1, 2, 3, 5, 12, 40, 300} {
		schools := Schools(Options{Schools: n, Seed: 9})
		require.Len(t, schools, n)
		names := map[string]bool{}
		var served [14]bool
		for _, s := range schools {
			require.False(t, names[s.Name], "duplicate school %q", s.Name)
			names[s.Name] = true
			require.LessOrEqual(t, -1, s.Lowest)
			require.LessOrEqual(t, s.Lowest, s.Highest)
			require.LessOrEqual(t, s.Highest, 12)
			for r := s.Lowest; r <= s.Highest; r++ {
				served[r+1] = true
			}
			switch {
			case strings.Contains(s.Name, "Elementary"):
				require.Equal(t, 5, s.Highest, s.Name)
			case strings.HasSuffix(s.Name, "Middle School"):
				require.Equal(t, [2]int{6, 8}, [2]int{s.Lowest, s.Highest}, s.Name)
			case strings.HasSuffix(s.Name, "High School"):
				require.Equal(t, [2]int{9, 12}, [2]int{s.Lowest, s.Highest}, s.Name)
			}
		}
		require.Equal(t, [14]bool{true, true, true, true, true, true, true, true, true, true, true, true, true, true}, served, "every grade PK-12 has a school (n=%d)", n)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for _, gr := range groups {
		for _, list := range [][]name{gr.girls, gr.boys, gr.women, gr.men, gr.last} {
			for _, n := range list {
				for i := 0; i < len(n.plain); i++ {
					require.Less(t, n.plain[i], byte(utf8.RuneSelf), "%q folds to ASCII", n.s)
				}
				require.Equal(t, len([]rune(n.s)) >= 2, len(n.key) >= 2, n.s)
				require.Regexp(t, keyRE, n.key)
				require.Equal(t, n.key, strings.ToLower(n.mixed))
			}
		}
	}
	require.Equal(t, "Nguyen", fold("Nguyễn"))
	require.Equal(t, "Garcia-Lopez", fold("García-López"))
	require.Equal(t, "Dang", fold("Đặng"))
}

// TestRealism checks what the package documentation promises about a file.
func TestRealism(t *testing.T) {
	t.Parallel()
	opts := Options{Rows: 20000, Seed: 2025}
	data := render(t, opts)
	rows := parse(t, data)
	require.Len(t, rows, opts.Rows)

	avg := float64(len(data)) / float64(len(rows))
	require.InDelta(t, 200, avg, 20, "about 200 bytes a row")
	require.Regexp(t, `,"[^",]+, [^"]+",`, string(data), "a quoted field with a comma")
	require.Contains(t, string(data), `""`, "an escaped double quote")

	schools := map[string]School{}
	for _, s := range Schools(opts) {
		schools[s.Name] = s
	}
	ids := map[string]bool{}
	var lastID string
	var (
		unpadded, noG2, g1NoEmail, mixedCase, accented, apostrophe, hyphen, space int
		langs                                                                     = map[string]int{}
		family                                                                    = map[string]int{} // students by guardian 1's phone
		gradeSeen                                                                 = map[string]bool{}
	)
	for _, r := range rows {
		checkRow(t, r, schools, 1)
		id := r[0]
		require.False(t, ids[id], "duplicate id %s", id)
		require.Greater(t, id, lastID, "ids increase")
		ids[id], lastID = true, id

		for _, n := range []string{r[1], r[2]} {
			switch {
			case !isASCII(n):
				accented++
			case strings.Contains(n, "'"):
				apostrophe++
			case strings.Contains(n, "-"):
				hyphen++
			case strings.Contains(strings.TrimSpace(n), " "):
				space++
			}
		}
		gradeSeen[r[3]] = true
		if len(r[3]) == 1 && r[3] != "K" {
			unpadded++
		}
		langs[r[5]]++
		if r[7] != "" {
			family[digits(r[7])[len(digits(r[7]))-10:]]++
		}
		if r[9] == "" {
			noG2++
		}
		if r[8] == "" {
			g1NoEmail++
		}
		for _, e := range []string{r[8], r[11], r[12]} {
			if e != strings.ToLower(e) {
				mixedCase++
			}
		}
	}

	for _, g := range []string{"PK", "K", "01", "05", "09", "12", "3", "10"} {
		require.True(t, gradeSeen[g], "grade %q appears", g)
	}
	n := float64(len(rows))
	require.InDelta(t, 0.05, float64(unpadded)/n, 0.02, "some grades unpadded")
	require.InDelta(t, 0.25, float64(noG2)/n, 0.03, "a quarter without a second guardian")
	require.InDelta(t, 0.10, float64(g1NoEmail)/n, 0.03, "some guardians without e-mail")
	require.Greater(t, mixedCase, len(rows)/20, "some mixed-case addresses")
	require.Greater(t, accented, len(rows)/50)
	require.Greater(t, apostrophe, len(rows)/500)
	require.Greater(t, hyphen, len(rows)/100)
	require.Greater(t, space, len(rows)/500)

	require.InDelta(t, 0.76, float64(langs["English"])/n, 0.06)
	require.InDelta(t, 0.12, float64(langs["Spanish"])/n, 0.03)
	for l, c := range langs {
		if l != "English" {
			require.LessOrEqual(t, c, langs["Spanish"], l)
		}
	}
	for _, l := range []string{"Vietnamese", "Arabic", "Somali", "Mandarin", "Haitian Creole", "Hmong", ""} {
		require.Greater(t, langs[l], 20, "language %q", l)
	}

	multi := 0
	for _, c := range family {
		require.LessOrEqual(t, c, 12, "families are of a plausible size")
		if c >= 2 {
			multi++
		}
	}
	require.InDelta(t, 0.15, float64(multi)/float64(len(family)), 0.04, "about 15%% of guardians have two or more children")
}

var idRE = regexp.MustCompile(`^S\d{7}$`)

// checkRow checks the fields of a row one by one: id, names, a grade its
// school teaches, valid phones and addresses, a birth date within ageSlack
// years of the grade's age.
func checkRow(t *testing.T, r []string, schools map[string]School, ageSlack int) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("row %q: "+format, append([]any{r}, args...)...)
	}
	if !idRE.MatchString(r[0]) {
		fail("id")
	}
	if strings.TrimSpace(r[1]) == "" || strings.TrimSpace(r[2]) == "" {
		fail("no name")
	}

	grade, rank := r[3], -1
	switch grade {
	case "PK":
	case "K":
		rank = 0
	default:
		n, err := strconv.Atoi(grade)
		if err != nil || n < 1 || n > 12 || len(grade) == 1 && n >= 10 || len(grade) == 2 && n < 10 && grade[0] != '0' {
			fail("grade %q", grade)
		}
		rank = n
	}
	s, ok := schools[r[4]]
	if !ok || rank < s.Lowest || rank > s.Highest {
		fail("grade %s at %q (%+v)", grade, r[4], s)
	}

	if r[6] == "" {
		fail("no guardian")
	}
	for _, p := range []string{r[7], r[10]} {
		if p != "" {
			nanp(t, p)
		}
	}
	if r[9] == "" && (r[10] != "" || r[11] != "") {
		fail("contacts of no second guardian")
	}
	for _, e := range []string{r[8], r[11], r[12]} {
		if e != "" && !emailRE.MatchString(strings.ToLower(strings.TrimSpace(e))) {
			fail("e-mail %q", e)
		}
	}
	if r[12] != "" && (strings.ToLower(r[12]) != r[12] || !strings.Contains(r[12], "@students.")) {
		fail("student e-mail %q", r[12])
	}
	if r[13] == "" {
		fail("no homeroom")
	}

	born, err := time.Parse("01/02/2006", r[14])
	if err != nil {
		fail("birth date: %v", err)
	}
	sept1 := time.Date(schoolYear, 9, 1, 0, 0, 0, 0, time.UTC)
	age := sept1.Year() - born.Year()
	if born.AddDate(age, 0, 0).After(sept1) {
		age--
	}
	if age < 5+rank-ageSlack || age > 5+rank+ageSlack {
		fail("a %s-grader born %s", grade, r[14])
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func TestNextDay(t *testing.T) {
	t.Parallel()
	opts := Options{Rows: 20000, Seed: 77}
	base := parse(t, render(t, opts))
	byID := map[string][]string{}
	for _, r := range base {
		byID[r[0]] = r
	}
	maxID := base[len(base)-1][0]
	schools := map[string]School{}
	for _, s := range Schools(opts) {
		schools[s.Name] = s
	}

	addedByDay := map[int]map[string]bool{}
	for _, ch := range []Change{{Day: 1}, {Day: 2}, {ChangedPct: 10, RemovedPct: 3, AddedPct: 5, Day: 3}, {ChangedPct: 1, RemovedPct: -1, AddedPct: -1, Day: 4}} {
		next := parse(t, renderNext(t, opts, ch))
		var got Counts
		got.Rows = len(next)
		seen := map[string]bool{}
		added := map[string]bool{}
		var order []string
		kinds := map[int]int{}
		for _, r := range next {
			checkRow(t, r, schools, 2) // a corrected grade may be a year off
			id := r[0]
			require.False(t, seen[id], "duplicate id %s", id)
			seen[id] = true
			old, ok := byID[id]
			if !ok {
				got.Added++
				added[id] = true
				require.Greater(t, id, maxID, "new ids are above the old ones")
				continue
			}
			require.Empty(t, added, "new students follow the others")
			order = append(order, id)
			if !slices.Equal(old, r) {
				got.Changed++
				for k := range r {
					if r[k] != old[k] {
						kinds[k]++
					}
				}
				require.Equal(t, old[5], r[5], "language does not change")
			}
		}
		for _, r := range base {
			if !seen[r[0]] {
				got.Removed++
			}
		}
		require.Equal(t, len(base)-got.Removed+got.Added, got.Rows)
		require.Equal(t, NextDayCounts(opts, ch), got, "%+v", ch)
		require.True(t, slices.IsSorted(order), "rows keep their order")
		addedByDay[ch.Day] = added

		changed, removed, add := pct(ch.ChangedPct, 2), pct(ch.RemovedPct, 0.5), pct(ch.AddedPct, 0.5)
		require.InDelta(t, changed, float64(got.Changed)/float64(len(base)), changed/4+0.002, "%+v", ch)
		require.InDelta(t, removed, float64(got.Removed)/float64(len(base)), removed/4+0.001, "%+v", ch)
		require.Equal(t, int(float64(len(base))*add+0.5), got.Added)
		if changed >= 0.02 {
			for _, k := range []int{2, 3, 4, 7, 8, 13} { // last name, grade, school, phone, e-mail, homeroom
				require.Positive(t, kinds[k], "field %s changes (%+v)", Header[k], ch)
			}
		}
	}
	for id := range addedByDay[1] {
		require.False(t, addedByDay[2][id], "days add different students")
	}
}

func TestNextDayNoChange(t *testing.T) {
	t.Parallel()
	opts := Options{Rows: 2000, Seed: 8, BOM: true, CRLF: true}
	none := Change{ChangedPct: -1, RemovedPct: -1, AddedPct: -1, Day: 5}
	require.Equal(t, render(t, opts), renderNext(t, opts, none))
	require.Equal(t, Counts{Rows: 2000}, NextDayCounts(opts, none))
}

// TestNextDayFamilies checks that a guardian's new phone or address shows on
// every child's row, and that new students can join enrolled families.
func TestNextDayFamilies(t *testing.T) {
	t.Parallel()
	opts := Options{Rows: 20000, Seed: 11}
	ch := Change{ChangedPct: 20, RemovedPct: -1, AddedPct: 5}
	base, next := parse(t, render(t, opts)), parse(t, renderNext(t, opts, ch))
	phones := map[string]string{} // guardian 1's phone digits, old to new
	for i, r := range base {
		old, now := r[7], next[i][7]
		if old == "" || now == "" {
			continue
		}
		o, n := digits(old), digits(now)
		if prev, ok := phones[o]; ok {
			require.Equal(t, prev, n, "a family's phone changes on every child's row")
		}
		phones[o] = n
	}
	joined := 0
	for _, r := range next[len(base):] {
		if r[7] != "" {
			if _, ok := phones[digits(r[7])]; ok {
				joined++
			}
		}
	}
	require.Greater(t, joined, len(next[len(base):])/10, "new students with enrolled brothers and sisters")
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, Write(failWriter{}, Options{Rows: 100000}), errFail)
	require.ErrorIs(t, NextDay(failWriter{}, Options{Rows: 100000}, Change{}), errFail)
}

var errFail = errorString("disk full")

type errorString string

func (e errorString) Error() string { return string(e) }

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func BenchmarkWrite1M(b *testing.B) {
	var size int64
	files := 0
	for b.Loop() {
		var c countingWriter
		if err := Write(&c, Options{Rows: 1_000_000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		size = c.n
		files++
	}
	b.ReportMetric(float64(size)*float64(files)/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(size), "bytes/file")
}

func BenchmarkNextDay1M(b *testing.B) {
	var size int64
	files := 0
	for b.Loop() {
		var c countingWriter
		if err := NextDay(&c, Options{Rows: 1_000_000, Seed: 1}, Change{Day: 1}); err != nil {
			b.Fatal(err)
		}
		size = c.n
		files++
	}
	b.ReportMetric(float64(size)*float64(files)/1e6/b.Elapsed().Seconds(), "MB/s")
}
