package districtgen

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"io"
	"maps"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// orWantHeaders are the files of a bulk export and their headers, spelled
// out here from the OneRoster CSV specifications rather than taken from the
// implementation.
var orWantHeaders = map[string]map[string]string{
	"1.1": {
		"manifest.csv":         "propertyName,value",
		"orgs.csv":             "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
		"academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear",
		"courses.csv":          "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes",
		"classes.csv":          "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
		"users.csv":            "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,metadata.language",
		"demographics.csv":     "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus",
		"enrollments.csv":      "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate",
	},
	"1.2": {
		"manifest.csv":         "propertyName,value",
		"orgs.csv":             "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
		"academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear",
		"courses.csv":          "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes",
		"classes.csv":          "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
		"users.csv":            "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns,metadata.language",
		"roles.csv":            "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId",
		"demographics.csv":     "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus",
		"enrollments.csv":      "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate",
	},
}

var orWantEntities = map[string][]string{
	"1.1": {"academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
		"demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users"},
	"1.2": {"academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
		"demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users",
		"roles", "userProfiles", "userResources", "scoreScales", "lineItemLearningObjectiveIds",
		"lineItemScoreScales", "resultLearningObjectiveIds", "resultScoreScales"},
}

// orTable is one CSV file of an export, or the state a bulk file and the
// deltas applied to it leave.
type orTable struct {
	header []string
	col    map[string]int
	order  []string // sourcedIds in file order
	rows   map[string][]string
	all    [][]string // every row, in order (a delta's, with its statuses)
}

func (tb *orTable) get(r []string, name string) string {
	i, ok := tb.col[name]
	if !ok {
		panic("no column " + name)
	}
	return r[i]
}

func (tb *orTable) clone() *orTable {
	c := *tb
	c.rows = maps.Clone(tb.rows)
	c.order = nil
	c.all = nil
	return &c
}

type orExportFiles struct {
	files    map[string]*orTable
	modified map[string]time.Time
	raw      map[string][]byte
	manifest map[string]string
	names    []string // in zip order
}

func renderOneRoster(t testing.TB, opts Options, or OneRoster) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteOneRoster(&b, opts, or))
	return b.Bytes()
}

// readOneRoster reads an export back with archive/zip and encoding/csv,
// checking that no file has two rows of one sourcedId.
func readOneRoster(t testing.TB, data []byte) *orExportFiles {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	ex := &orExportFiles{files: map[string]*orTable{}, modified: map[string]time.Time{}, raw: map[string][]byte{},
		manifest: map[string]string{}}
	for _, f := range zr.File {
		require.Equal(t, zip.Deflate, f.Method, f.Name)
		rc, err := f.Open()
		require.NoError(t, err)
		raw, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		ex.raw[f.Name] = raw
		ex.modified[f.Name] = f.Modified
		ex.names = append(ex.names, f.Name)

		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\uFEFF")))).ReadAll()
		require.NoError(t, err, f.Name)
		require.NotEmpty(t, recs, f.Name)
		tb := &orTable{header: recs[0], col: map[string]int{}, rows: map[string][]string{}, all: recs[1:]}
		for i, h := range tb.header {
			tb.col[h] = i
		}
		ex.files[f.Name] = tb
		if f.Name == "manifest.csv" {
			for _, r := range recs[1:] {
				_, dup := ex.manifest[r[0]]
				require.False(t, dup, "manifest repeats %s", r[0])
				ex.manifest[r[0]] = r[1]
			}
			continue
		}
		for _, r := range recs[1:] {
			id := r[0]
			require.NotEmpty(t, id, f.Name)
			_, dup := tb.rows[id]
			require.False(t, dup, "%s: sourcedId %s twice", f.Name, id)
			tb.rows[id] = r
			tb.order = append(tb.order, id)
		}
	}
	return ex
}

func orList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// userKind says from the sourcedId which kind of user a row is (see OneRoster).
func userKind(id string) byte { return id[0] }

// orFlat is a flat file's rows by student id.
type orFlat struct {
	rows  [][]string
	byID  map[string][]string
	order []string
}

func newORFlat(rows [][]string) *orFlat {
	f := &orFlat{rows: rows, byID: map[string][]string{}}
	for _, r := range rows {
		f.byID[r[0]] = r
		f.order = append(f.order, r[0])
	}
	return f
}

func cedsOf(grade string) string {
	switch {
	case grade == "K":
		return "KG"
	case len(grade) == 1:
		return "0" + grade
	}
	return grade
}

// phoneDigits is the ten digits of a phone as the flat file writes it (or
// none), without the country code some write.
func phoneDigits(s string) string {
	d := digits(s)
	if len(d) == 11 {
		d = d[1:]
	}
	return d
}

// givenOf is a flat file's first name without a quoted nickname or stray space.
func givenOf(first string) string {
	first = strings.TrimRight(first, " ")
	if i := strings.Index(first, ` "`); i >= 0 {
		first = first[:i]
	}
	return first
}

// checkORState checks the district an export describes (a bulk export, or
// one and a delta applied to it) against the flat file of the same day:
// every reference resolves, the students are the file's, with its names,
// grades, schools, languages and birth dates, their guardians have the
// file's phones and addresses, and enrollments and roles fit them.
// sameHomerooms says that every homeroom is the one the file names (see
// OneRoster on next days' sections).
func checkORState(t *testing.T, version string, st map[string]*orTable, flat *orFlat, sameHomerooms bool) {
	t.Helper()
	v12 := version == "1.2"
	users, orgs, classes := st["users.csv"], st["orgs.csv"], st["classes.csv"]
	courses, sessions, enrolls, demo := st["courses.csv"], st["academicSessions.csv"], st["enrollments.csv"], st["demographics.csv"]

	resolve := func(tb *orTable, id, what string) []string {
		t.Helper()
		r, ok := tb.rows[id]
		require.True(t, ok, "%s %q does not resolve", what, id)
		return r
	}

	// Orgs, sessions, courses and classes.
	schoolByName := map[string]string{}
	for id, r := range orgs.rows {
		switch orgs.get(r, "type") {
		case "district":
			require.Equal(t, "", orgs.get(r, "parentSourcedId"))
		case "school":
			require.Equal(t, "district", orgs.get(resolve(orgs, orgs.get(r, "parentSourcedId"), "parent org"), "type"))
			schoolByName[orgs.get(r, "name")] = id
		default:
			t.Fatalf("org type %q", orgs.get(r, "type"))
		}
	}
	for _, r := range sessions.rows {
		if p := sessions.get(r, "parentSourcedId"); p != "" {
			require.Equal(t, "schoolYear", sessions.get(resolve(sessions, p, "parent session"), "type"))
		}
	}
	for _, r := range courses.rows {
		require.Equal(t, "school", orgs.get(resolve(orgs, courses.get(r, "orgSourcedId"), "course org"), "type"))
		require.Equal(t, "schoolYear", sessions.get(resolve(sessions, courses.get(r, "schoolYearSourcedId"), "school year"), "type"))
	}
	for _, r := range classes.rows {
		c := resolve(courses, classes.get(r, "courseSourcedId"), "course")
		require.Equal(t, courses.get(c, "orgSourcedId"), classes.get(r, "schoolSourcedId"))
		require.Equal(t, courses.get(c, "grades"), classes.get(r, "grades"))
		terms := orList(classes.get(r, "termSourcedIds"))
		require.NotEmpty(t, terms)
		for _, term := range terms {
			require.Equal(t, "semester", sessions.get(resolve(sessions, term, "term"), "type"))
		}
		require.Contains(t, []string{"homeroom", "scheduled"}, classes.get(r, "classType"))
	}

	// Users.
	role := func(r []string) string { // 1.2 has it in roles.csv
		if !v12 {
			return users.get(r, "role")
		}
		return map[byte]string{'S': "student", 'T': "teacher", 'G': "guardian"}[userKind(r[0])]
	}
	orgsOf := func(r []string) []string {
		if v12 {
			return []string{users.get(r, "primaryOrgSourcedId")}
		}
		return orList(users.get(r, "orgSourcedIds"))
	}
	for id, r := range users.rows {
		require.Equal(t, "true", users.get(r, "enabledUser"))
		require.NotEmpty(t, users.get(r, "givenName"), id)
		require.NotEmpty(t, users.get(r, "familyName"), id)
		require.NotEmpty(t, users.get(r, "username"), id)
		os := orgsOf(r)
		require.NotEmpty(t, os, id)
		for _, o := range os {
			require.Equal(t, "school", orgs.get(resolve(orgs, o, "user org"), "type"))
		}
		for _, a := range orList(users.get(r, "agentSourcedIds")) {
			resolve(users, a, "agent of "+id)
		}
		if !v12 {
			switch userKind(id) {
			case 'S':
				require.Equal(t, "student", role(r))
			case 'T':
				require.Equal(t, "teacher", role(r))
			case 'G':
				require.Contains(t, []string{"parent", "guardian", "relative"}, role(r))
			default:
				t.Fatalf("user %s", id)
			}
		}
		if userKind(id) != 'S' {
			require.Empty(t, users.get(r, "metadata.language"), id)
			require.Empty(t, users.get(r, "grades"), id)
		}
	}

	// Students are the flat file's.
	var students []string
	for _, id := range slices.Sorted(maps.Keys(users.rows)) {
		if userKind(id) == 'S' {
			students = append(students, id)
		}
	}
	require.Equal(t, slices.Sorted(slices.Values(flat.order)), students, "the students are the flat file's")
	require.Equal(t, slices.Sorted(maps.Keys(demo.rows)), students, "a demographics row for each student")

	phonesOf := map[string]map[string]bool{} // a guardian's phones as the flat rows of their children write them
	childrenOf := map[string][]string{}      // in the flat file's order
	schoolsOf := map[string][]string{}
	for _, fr := range flat.rows {
		id := fr[0]
		u := users.rows[id]
		require.Equal(t, givenOf(fr[1]), users.get(u, "givenName"), id)
		require.Equal(t, fr[2], users.get(u, "familyName"), id)
		if v12 {
			if i := strings.Index(fr[1], ` "`); i >= 0 {
				require.Equal(t, strings.Trim(strings.TrimRight(fr[1][i+1:], " "), `"`), users.get(u, "preferredGivenName"))
			}
		}
		require.Equal(t, cedsOf(fr[3]), users.get(u, "grades"), id)
		school := schoolByName[fr[4]]
		require.NotEmpty(t, school, fr[4])
		require.Equal(t, []string{school}, orgsOf(u), id)
		require.Equal(t, fr[5], users.get(u, "metadata.language"), id)
		require.Equal(t, fr[12], users.get(u, "email"), id)
		require.Equal(t, id, users.get(u, "identifier"))
		born, err := time.Parse("01/02/2006", fr[14])
		require.NoError(t, err)
		require.Equal(t, born.Format("2006-01-02"), demo.get(demo.rows[id], "birthDate"), id)
		require.Contains(t, []string{"male", "female"}, demo.get(demo.rows[id], "sex"))

		// Guardians: guardian1 then guardian2, as the flat row has them.
		agents := orList(users.get(u, "agentSourcedIds"))
		want := 1
		if fr[9] != "" {
			want = 2
		}
		require.Len(t, agents, want, id)
		for s, gid := range agents {
			require.True(t, strings.HasSuffix(gid, []string{"-1", "-2"}[s]), gid)
			g := users.rows[gid]
			name, phone, email := fr[6+3*s], fr[7+3*s], fr[8+3*s]
			require.Equal(t, email, users.get(g, "email"), "%s of %s", gid, id)
			require.Equal(t, phoneDigits(phone), phoneDigits(users.get(g, "phone")), "%s of %s", gid, id)
			if sms := users.get(g, "sms"); sms != "" {
				require.Equal(t, users.get(g, "phone"), sms)
			}
			up := strings.ToUpper(name)
			require.Contains(t, up, strings.ToUpper(users.get(g, "givenName")), "%s of %s", gid, id)
			require.Contains(t, up, strings.ToUpper(strings.Fields(users.get(g, "familyName"))[0]), "%s of %s", gid, id)
			if phonesOf[gid] == nil {
				phonesOf[gid] = map[string]bool{}
			}
			phonesOf[gid][phone] = true
			childrenOf[gid] = append(childrenOf[gid], id)
			if !slices.Contains(schoolsOf[gid], school) {
				schoolsOf[gid] = append(schoolsOf[gid], school)
			}
		}
	}
	persons := map[string]string{} // brothers and sisters share their guardians: one user per person
	for id, r := range users.rows {
		if userKind(id) != 'G' {
			continue
		}
		if p := phoneDigits(users.get(r, "phone")); p != "" {
			key := p + "|" + strings.ToUpper(users.get(r, "givenName")+"|"+users.get(r, "familyName")+"|"+users.get(r, "email"))
			require.Empty(t, persons[key], "%s and %s are one person", persons[key], id)
			persons[key] = id
		}
		require.Equal(t, childrenOf[id], orList(users.get(r, "agentSourcedIds")), "%s lists the students who list them", id)
		require.True(t, phonesOf[id][users.get(r, "phone")], "%s: phone %q as a child's row writes it", id, users.get(r, "phone"))
		if v12 {
			require.Equal(t, schoolsOf[id][0], users.get(r, "primaryOrgSourcedId"), id)
		} else {
			require.Equal(t, schoolsOf[id], orgsOf(r), "%s: their children's schools", id)
		}
	}

	// Enrollments.
	teachersOf := map[string]int{}
	byStudent := map[string][][]string{}
	for id, r := range enrolls.rows {
		c := resolve(classes, enrolls.get(r, "classSourcedId"), "class of "+id)
		u := resolve(users, enrolls.get(r, "userSourcedId"), "user of "+id)
		require.Equal(t, classes.get(c, "schoolSourcedId"), enrolls.get(r, "schoolSourcedId"), id)
		switch enrolls.get(r, "role") {
		case "teacher":
			require.Equal(t, byte('T'), userKind(u[0]))
			require.Equal(t, "true", enrolls.get(r, "primary"))
			require.Equal(t, orgsOf(u)[0], classes.get(c, "schoolSourcedId"))
			teachersOf[c[0]]++
		case "student":
			require.Equal(t, byte('S'), userKind(u[0]))
			require.Equal(t, "false", enrolls.get(r, "primary"))
			byStudent[u[0]] = append(byStudent[u[0]], c)
		default:
			t.Fatalf("enrollment role %q", enrolls.get(r, "role"))
		}
	}
	for id := range classes.rows {
		require.Equal(t, 1, teachersOf[id], "class %s has one teacher", id)
	}
	otherHomeroom := 0
	for _, fr := range flat.rows {
		id := fr[0]
		homerooms, periods := 0, map[string]bool{}
		courseSet := map[string]bool{}
		for _, c := range byStudent[id] {
			require.Equal(t, schoolByName[fr[4]], classes.get(c, "schoolSourcedId"), id)
			require.Equal(t, cedsOf(fr[3]), classes.get(c, "grades"), id)
			if classes.get(c, "classType") == "homeroom" {
				homerooms++
				if classes.get(c, "title") != "Homeroom "+fr[13] {
					otherHomeroom++
				}
				continue
			}
			p := classes.get(c, "periods")
			require.False(t, periods[p], "%s: two classes in period %s", id, p)
			periods[p] = true
			courseSet[classes.get(c, "courseSourcedId")] = true
		}
		require.Equal(t, 1, homerooms, "%s has one homeroom", id)
		if g := cedsOf(fr[3]); g >= "06" && g <= "12" {
			require.Len(t, courseSet, 4, "%s: a section of each core course", id)
			require.Len(t, periods, 4)
		} else {
			require.Empty(t, courseSet, id)
		}
	}
	if sameHomerooms {
		require.Zero(t, otherHomeroom, "homerooms are the flat file's")
	} else {
		require.Less(t, otherHomeroom, len(flat.rows)/50, "homerooms are the flat file's but for a few moved students")
	}

	if !v12 {
		return
	}
	roles := st["roles.csv"]
	primary := map[string]string{}
	for id, r := range roles.rows {
		u := resolve(users, roles.get(r, "userSourcedId"), "user of role "+id)
		org := roles.get(r, "orgSourcedId")
		resolve(orgs, org, "org of role "+id)
		switch userKind(u[0]) {
		case 'S':
			require.Equal(t, "student", roles.get(r, "role"))
		case 'T':
			require.Equal(t, "teacher", roles.get(r, "role"))
		case 'G':
			require.Contains(t, []string{"parent", "guardian", "relative"}, roles.get(r, "role"))
			require.Contains(t, schoolsOf[u[0]], org, id)
		}
		switch roles.get(r, "roleType") {
		case "primary":
			_, dup := primary[u[0]]
			require.False(t, dup, "%s has two primary roles", u[0])
			primary[u[0]] = org
		case "secondary":
			require.Equal(t, byte('G'), userKind(u[0]))
		default:
			t.Fatalf("roleType %q", roles.get(r, "roleType"))
		}
	}
	for id, r := range users.rows {
		require.Equal(t, users.get(r, "primaryOrgSourcedId"), primary[id], "%s: a primary role at their primary org", id)
	}
	secondaries := map[string]int{}
	for _, r := range roles.rows {
		if roles.get(r, "roleType") == "secondary" {
			secondaries[roles.get(r, "userSourcedId")]++
		}
	}
	for id := range users.rows {
		if userKind(id) == 'G' {
			require.Equal(t, len(schoolsOf[id])-1, secondaries[id], "%s: a role at each child's school", id)
		}
	}
}

// countsOf counts what an export holds, as OneRosterCounts says.
func countsOf(ex *orExportFiles) OneRosterCounts {
	var c OneRosterCounts
	if users := ex.files["users.csv"]; users != nil {
		for _, r := range users.all {
			switch userKind(r[0]) {
			case 'S':
				c.Students++
			case 'G':
				c.Guardians++
				c.GuardianLinks += len(orList(users.get(r, "agentSourcedIds")))
			case 'T':
				c.Teachers++
			}
			if users.get(r, "status") == "tobedeleted" {
				c.Deleted++
			}
		}
	}
	if orgs := ex.files["orgs.csv"]; orgs != nil {
		for _, r := range orgs.all {
			if orgs.get(r, "type") == "school" {
				c.Schools++
			}
		}
	}
	if classes := ex.files["classes.csv"]; classes != nil {
		c.Classes = len(classes.all)
	}
	c.Enrollments = len(ex.files["enrollments.csv"].all)
	return c
}

func headerOf(tb *orTable) string { return strings.Join(tb.header, ",") }

func TestOneRosterBulk(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"1.1", "1.2"} {
		t.Run("V"+strings.ReplaceAll(version, ".", ""), func(t *testing.T) {
			t.Parallel()
			opts := Options{Rows: 3000, Seed: 7, Schools: 5}
			or := OneRoster{Version: version}
			ex := readOneRoster(t, renderOneRoster(t, opts, or))
			flat := newORFlat(parse(t, render(t, opts)))

			want := orWantHeaders[version]
			require.ElementsMatch(t, slices.Collect(maps.Keys(want)), ex.names)
			require.Equal(t, "manifest.csv", ex.names[0], "the manifest first")
			for name, tb := range ex.files {
				require.Equal(t, want[name], headerOf(tb), name)
				require.Equal(t, time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC), ex.modified[name].UTC(), name)
				if name == "manifest.csv" {
					continue
				}
				for _, r := range tb.all {
					require.Equal(t, []string{"", ""}, r[1:3], "%s: bulk rows have no status or date", name)
				}
			}

			// The manifest.
			wantManifest := map[string]string{"manifest.version": "1.0", "oneroster.version": version,
				"source.systemName": "Rollcall districtgen", "source.systemCode": "districtgen"}
			for _, e := range orWantEntities[version] {
				wantManifest["file."+e] = "absent"
				if _, ok := want[e+".csv"]; ok {
					wantManifest["file."+e] = "bulk"
				}
			}
			require.Equal(t, wantManifest, ex.manifest)

			// The schools are the flat file's.
			var schools []string
			for _, id := range ex.files["orgs.csv"].order {
				r := ex.files["orgs.csv"].rows[id]
				if r[4] == "school" {
					schools = append(schools, r[3])
				}
			}
			var names []string
			for _, s := range Schools(opts) {
				names = append(names, s.Name)
			}
			require.Equal(t, names, schools)

			require.Equal(t, flat.order, slices.DeleteFunc(slices.Clone(ex.files["users.csv"].order),
				func(id string) bool { return userKind(id) != 'S' }), "students in the flat file's order")
			checkORState(t, version, ex.files, flat, true)

			// Teachers: one per homeroom, named for it where the homeroom is.
			users, classes := ex.files["users.csv"], ex.files["classes.csv"]
			homerooms := 0
			for _, c := range classes.all {
				if classes.get(c, "classType") == "homeroom" {
					homerooms++
				}
			}
			got := countsOf(ex)
			require.Equal(t, homerooms, got.Teachers)
			emails := map[string]bool{}
			domain := ""
			for _, fr := range flat.rows {
				if at := strings.Index(fr[12], "@students."); at >= 0 {
					domain = fr[12][at+len("@students."):]
				}
			}
			for _, id := range users.order {
				r := users.rows[id]
				if userKind(id) != 'T' {
					continue
				}
				e := users.get(r, "email")
				require.True(t, strings.HasSuffix(e, "@"+domain), e)
				require.False(t, emails[e], "teacher e-mail %s twice", e)
				emails[e] = true
			}
			for _, c := range classes.all {
				title := classes.get(c, "title")
				for _, tt := range []string{"Ms. ", "Mrs. ", "Mr. "} {
					if rest, ok := strings.CutPrefix(title, "Homeroom "+tt); ok {
						last, _, _ := strings.Cut(rest, ",")
						teacher := strings.Replace(c[0], "-HR", "-", 1)
						teacher = "T" + teacher[1:]
						require.Equal(t, last, users.get(users.rows[teacher], "familyName"), title)
					}
				}
			}

			require.Equal(t, opts.Rows, got.Students)
			require.Equal(t, len(Schools(opts)), got.Schools)
			require.Equal(t, got, OneRosterCountsOf(opts, or))
			require.Zero(t, got.Deleted)
			roles := users // 1.1: the users' role column; 1.2: their primary roles
			if version == "1.2" {
				roles = ex.files["roles.csv"]
			}
			require.InDelta(t, 0.86, float64(countRole(roles, "parent"))/float64(got.Guardians), 0.04)
			require.Positive(t, countRole(roles, "guardian"))
			require.Positive(t, countRole(roles, "relative"))
			if version == "1.1" {
				smsShare := 0
				for _, r := range users.all {
					if users.get(r, "sms") != "" {
						smsShare++
					}
				}
				require.InDelta(t, 1.0/3, float64(smsShare)/float64(got.Guardians), 0.05, "about a third with sms")
			}
		})
	}
}

// countRole counts the rows of users.csv (1.1) or the primary roles of
// roles.csv (1.2) with the given role.
func countRole(tb *orTable, role string) int {
	n := 0
	for _, r := range tb.all {
		if tb.get(r, "role") == role && (tb.col["roleType"] == 0 || tb.get(r, "roleType") == "primary") {
			n++
		}
	}
	return n
}

func TestOneRosterDeterministic(t *testing.T) {
	t.Parallel()
	opts := Options{Rows: 1500, Seed: 99}
	for _, or := range []OneRoster{{Version: "1.1"}, {Version: "1.2"}, {Version: "1.2", Delta: true, Change: Change{Day: 3}}} {
		a := renderOneRoster(t, opts, or)
		require.Equal(t, a, renderOneRoster(t, opts, or), "%+v", or)
		require.NotEqual(t, a, renderOneRoster(t, Options{Rows: 1500, Seed: 98}, or))
	}
	require.NotEqual(t, renderOneRoster(t, opts, OneRoster{Version: "1.1", Delta: true, Change: Change{Day: 1}}),
		renderOneRoster(t, opts, OneRoster{Version: "1.1", Delta: true, Change: Change{Day: 2}}))

	// BOM and CRLF in every file, and the same rows.
	plain := readOneRoster(t, renderOneRoster(t, opts, OneRoster{Version: "1.2"}))
	both := readOneRoster(t, renderOneRoster(t, Options{Rows: 1500, Seed: 99, BOM: true, CRLF: true}, OneRoster{Version: "1.2"}))
	require.Equal(t, plain.names, both.names)
	for _, name := range plain.names {
		p, b := plain.raw[name], both.raw[name]
		require.False(t, bytes.HasPrefix(p, []byte("\uFEFF")), name)
		require.NotContains(t, string(p), "\r", name)
		require.True(t, bytes.HasPrefix(b, []byte("\xEF\xBB\xBF"+plain.files[name].header[0]+",")), name)
		require.Equal(t, bytes.Count(b, []byte("\n")), bytes.Count(b, []byte("\r\n")), name)
		require.Equal(t, p, bytes.ReplaceAll(bytes.TrimPrefix(b, []byte("\uFEFF")), []byte("\r\n"), []byte("\n")), name)
	}
}

// TestOneRosterDelta applies a delta to the bulk export and checks the
// result against the next day's flat file.
func TestOneRosterDelta(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"1.1", "1.2"} {
		t.Run("V"+strings.ReplaceAll(version, ".", ""), func(t *testing.T) {
			t.Parallel()
			opts := Options{Rows: 5000, Seed: 3, Schools: 7}
			ch := Change{ChangedPct: 10, RemovedPct: 3, AddedPct: 4, Day: 2}
			or := OneRoster{Version: version, Delta: true, Change: ch}
			bulk := readOneRoster(t, renderOneRoster(t, opts, OneRoster{Version: version}))
			delta := readOneRoster(t, renderOneRoster(t, opts, or))
			base, next := newORFlat(parse(t, render(t, opts))), newORFlat(parse(t, renderNext(t, opts, ch)))

			deltaFiles := []string{"manifest.csv", "users.csv", "enrollments.csv", "demographics.csv"}
			if version == "1.2" {
				deltaFiles = append(deltaFiles, "roles.csv")
			}
			require.ElementsMatch(t, deltaFiles, delta.names)
			for _, e := range orWantEntities[version] {
				want := "absent"
				if slices.Contains(deltaFiles, e+".csv") {
					want = "delta"
				}
				require.Equal(t, want, delta.manifest["file."+e], e)
			}
			stamp := time.Date(2026, 9, 3, 6, 0, 0, 0, time.UTC)
			for name, tb := range delta.files {
				require.Equal(t, orWantHeaders[version][name], headerOf(tb), name)
				require.Equal(t, stamp, delta.modified[name].UTC(), name)
				if name == "manifest.csv" {
					continue
				}
				for _, r := range tb.all {
					require.Contains(t, []string{"active", "tobedeleted"}, r[1], name)
					at, err := time.Parse(time.RFC3339, r[2])
					require.NoError(t, err, name)
					require.Equal(t, stamp, at, name)
				}
			}

			// Which students the delta names.
			counts := NextDayCounts(opts, ch)
			removed, changed := map[string]bool{}, map[string]bool{}
			for _, r := range base.rows {
				switch n, ok := next.byID[r[0]]; {
				case !ok:
					removed[r[0]] = true
				case !slices.Equal(n, r):
					changed[r[0]] = true
				}
			}
			for _, r := range next.rows {
				if base.byID[r[0]] == nil {
					changed[r[0]] = true // added
				}
			}
			gotRemoved, gotActive := map[string]bool{}, map[string]bool{}
			users := delta.files["users.csv"]
			for _, r := range users.all {
				if userKind(r[0]) != 'S' {
					continue
				}
				if r[1] == "tobedeleted" {
					gotRemoved[r[0]] = true
				} else {
					gotActive[r[0]] = true
				}
			}
			require.Equal(t, removed, gotRemoved)
			require.Len(t, gotRemoved, counts.Removed)
			require.Equal(t, changed, gotActive, "the changed and the new students")
			require.Len(t, gotActive, counts.Changed+counts.Added)

			// Apply the delta to the bulk export: rows to delete exist, and
			// so do the changed ones; new ones do not.
			st := map[string]*orTable{}
			for name, tb := range bulk.files {
				st[name] = tb.clone()
			}
			for name, tb := range delta.files {
				if name == "manifest.csv" {
					continue
				}
				s := st[name]
				for _, r := range tb.all {
					id := r[0]
					_, had := s.rows[id]
					switch {
					case r[1] == "tobedeleted":
						require.True(t, had, "%s: %s to delete is not in the bulk export", name, id)
						delete(s.rows, id)
					case name == "users.csv" && userKind(id) == 'S':
						require.Equal(t, base.byID[id] != nil, had, "%s: %s", name, id)
						s.rows[id] = r
					default:
						s.rows[id] = r
					}
				}
			}
			checkORState(t, version, st, next, false)
			if version == "1.2" {
				// The delta gives the roles of every user it names.
				roles := delta.files["roles.csv"]
				primary := map[string]bool{}
				for _, r := range roles.all {
					if roles.get(r, "roleType") == "primary" && r[1] == "active" {
						primary[roles.get(r, "userSourcedId")] = true
					}
				}
				for _, r := range users.all {
					require.Equal(t, r[1] == "active", primary[r[0]], "%s %s: an active primary role", r[1], r[0])
				}
			}

			got := countsOf(delta)
			require.Equal(t, got, OneRosterCountsOf(opts, or))
			require.Equal(t, counts.Removed+counts.Changed+counts.Added, got.Students)
			require.Greater(t, got.Deleted, counts.Removed, "guardians left with no child are deleted")
			require.Positive(t, got.Guardians)
			require.Zero(t, got.Teachers+got.Schools+got.Classes)
		})
	}
}

// TestOneRosterNoChange: a day without changes is a delta without rows.
func TestOneRosterNoChange(t *testing.T) {
	t.Parallel()
	none := Change{ChangedPct: -1, RemovedPct: -1, AddedPct: -1}
	ex := readOneRoster(t, renderOneRoster(t, Options{Rows: 2000, Seed: 4}, OneRoster{Version: "1.2", Delta: true, Change: none}))
	for name, tb := range ex.files {
		if name != "manifest.csv" {
			require.Empty(t, tb.all, name)
		}
	}
}

// TestOneRosterExample pins the counts of the README's example district.
func TestOneRosterExample(t *testing.T) {
	t.Parallel()
	got := OneRosterCountsOf(ExampleDistrict, OneRoster{Version: "1.1"})
	require.Equal(t, OneRosterCounts{Students: 200, Guardians: 301, Teachers: 86, Schools: 4, Classes: 214,
		Enrollments: 838, GuardianLinks: 347}, got)
	require.Equal(t, got, countsOf(readOneRoster(t, renderOneRoster(t, ExampleDistrict, OneRoster{Version: "1.1"}))))
}

func TestOneRosterErrors(t *testing.T) {
	t.Parallel()
	require.ErrorContains(t, WriteOneRoster(io.Discard, Options{Rows: 10}, OneRoster{Version: "1.0"}), "version")
	require.ErrorIs(t, WriteOneRoster(failWriter{}, Options{Rows: 20000}, OneRoster{Version: "1.1"}), errFail)
	require.ErrorIs(t, WriteOneRoster(failWriter{}, Options{Rows: 20000}, OneRoster{Version: "1.2", Delta: true}), errFail)
}

func TestSplitGuardianName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		written, first, last            string
		given, middle, family, nickname string
	}{
		{"Maria García", "María", "García", "María", "", "García", ""}, // not the written first name: as given
		{"Maria García", "Maria", "García", "Maria", "", "García", ""},
		{"García, Maria", "Maria", "García", "Maria", "", "García", ""},
		{"GARCÍA, MARIA", "Maria", "García", "MARIA", "", "GARCÍA", ""},
		{"Robert J. Smith, Jr.", "Robert", "Smith", "Robert", "J", "Smith Jr.", ""},
		{"Robert Smith III ", "Robert", "Smith", "Robert", "", "Smith III", ""},
		{"Smith Jr., Robert J.", "Robert", "Smith", "Robert", "J", "Smith Jr.", ""},
		{"SMITH SR., ROBERT", "Robert", "Smith", "ROBERT", "", "SMITH SR.", ""},
		{`Elizabeth "Liz" Olson`, "Elizabeth", "Olson", "Elizabeth", "", "Olson", "Liz"},
		{`Olson, Elizabeth A. "Liz"`, "Elizabeth", "Olson", "Elizabeth", "A", "Olson", "Liz"},
		{"Mary Kate O'Brien-Walsh", "Mary Kate", "O'Brien-Walsh", "Mary Kate", "", "O'Brien-Walsh", ""},
		{"Lee Lee", "Lee", "Lee", "Lee", "", "Lee", ""},
		{"Lee, Lee", "Lee", "Lee", "Lee", "", "Lee", ""},
	} {
		g, m, f, n := splitGuardianName(tc.written, tc.first, tc.last)
		require.Equal(t, []string{tc.given, tc.middle, tc.family, tc.nickname}, []string{g, m, f, n}, tc.written)
	}
}

// TestSplitGuardianNames checks that every guardian name the generator
// writes splits into its parts (none falls back to first and last).
func TestSplitGuardianNames(t *testing.T) {
	t.Parallel()
	g := newGen(Options{Rows: 30000, Seed: 5})
	styles := map[string]int{}
	for i := range g.rows {
		g.arena = g.arena[:0]
		g.makeFamily(g.keys[domFamily], i, i)
		f := &g.fam
		for s := range f.g {
			gd := &f.g[s]
			if !gd.present {
				continue
			}
			written := string(g.arena[gd.name.a:gd.name.b])
			first, last := f.disp(gd.first), f.disp(gd.last)
			given, middle, family, nick := splitGuardianName(written, first, last)
			w := strings.TrimRight(written, " ")
			if w == strings.ToUpper(w) {
				first, last = strings.ToUpper(first), strings.ToUpper(last)
				styles["upper"]++
			}
			require.Equal(t, first, given, written)
			require.True(t, strings.HasPrefix(family, last), written)
			if middle != "" {
				styles["middle"]++
				require.Contains(t, written, " "+middle+".")
			}
			if nick != "" {
				styles["nick"]++
				require.Contains(t, written, `"`+nick+`"`)
			}
			if family != last {
				styles["suffix"]++
			}
			// Rebuild the name in one of its two orders.
			sfx := strings.TrimPrefix(family, last)
			parts := given
			if middle != "" {
				parts += " " + middle + "."
			}
			if nick != "" {
				parts += ` "` + nick + `"`
			}
			ok := strings.HasPrefix(w, parts+" "+last) && strings.ReplaceAll(w[len(parts+" "+last):], ",", "") == sfx ||
				w == last+sfx+", "+parts
			require.True(t, ok, "%q from %q %q %q %q", written, given, middle, family, nick)
		}
	}
	for _, k := range []string{"upper", "middle", "nick", "suffix"} {
		require.Positive(t, styles[k], k)
	}
}

// peakHeap samples the heap while fn runs and returns its peak (live and
// not yet collected objects) in bytes.
func peakHeap(fn func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var mu sync.Mutex
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		peak = max(peak, sample[0].Value.Uint64())
		mu.Unlock()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read()
			}
		}
	})
	runtime.GC()
	fn()
	close(done)
	wg.Wait()
	read()
	return peak
}

// BenchmarkWriteOneRoster writes the 1M-student district as OneRoster, bulk
// and a next day's delta; peak-heap-MB is the largest heap seen while it
// writes.
func BenchmarkWriteOneRoster(b *testing.B) {
	opts := Options{Rows: 1_000_000, Seed: 1}
	for _, or := range []OneRoster{{Version: "1.1"}, {Version: "1.2"}, {Version: "1.2", Delta: true, Change: Change{Day: 1}}} {
		name := "bulk-" + or.Version
		if or.Delta {
			name = "delta-" + or.Version
		}
		b.Run(name, func(b *testing.B) {
			var size int64
			var peak uint64
			for b.Loop() {
				var c countingWriter
				peak = max(peak, peakHeap(func() {
					if err := WriteOneRoster(&c, opts, or); err != nil {
						b.Fatal(err)
					}
				}))
				size = c.n
			}
			b.ReportMetric(float64(size)/1e6, "zip-MB")
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
		})
	}
}
