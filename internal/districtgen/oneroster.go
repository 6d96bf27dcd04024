package districtgen

import (
	"archive/zip"
	"bufio"
	"cmp"
	"compress/flate"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OneRoster describes a OneRoster CSV export (a zip) of the district
// Write(opts) describes: the same students, with the same ids, names,
// grades, schools, languages and birth dates, and the same guardians, with
// the phones and addresses the flat file gives them.
//
// SourcedIds are stable, so that a delta can name what a bulk export wrote:
//
//   - students: the flat file's student_id ("S0010234");
//   - guardians: "G", the number of the student id of the family's first
//     student (the first of its children in Write's file, or the new student
//     of a family that is new on a next day), "-" and 1 or 2 for the flat
//     file's guardian1 or guardian2 ("G0010234-2"); brothers and sisters list
//     the same guardians;
//   - teachers: "T", the school's number, its grade and its homeroom section
//     ("T3-KG-2": the second kindergarten homeroom of the third school);
//   - the district org "DIST"; schools "SCH" and their number, 1 for the
//     first of Schools(opts) ("SCH3");
//   - academic sessions "YEAR2026-27", "SEM2026-1" and "SEM2026-2";
//   - courses "CRS" + school + grade + subject ("CRS3-09-MATH", "CRS3-KG-HR");
//   - classes "C" + school + grade + subject and section, homerooms with the
//     subject HR ("C3-KG-HR2", "C3-09-MATH1");
//   - enrollments "E" + the user's sourcedId + "-" + the class's
//     ("ES0010234-C3-09-MATH1", "ET3-09-1-C3-09-MATH1");
//   - roles (1.2) "R" + the user's sourcedId + "-" + the org's
//     ("RG0010234-1-SCH3"); demographics the student's sourcedId.
//
// Users: students with the flat file's names (the first name without a
// quoted nickname, which 1.2 gives as preferredGivenName), grades as CEDS
// codes (PK, KG, 01–12), e-mail, school, and home language in the extension
// column metadata.language, last in users.csv; guardians once each, with
// their children as agents and their children's schools as orgs (the first
// child's first), most of them parents, some guardians, a few relatives, the
// name split into given, middle initial and family name (with a suffix:
// "Smith Jr."), the e-mail as the flat file writes it, and the phone in
// phone as their first child's row writes it and, for about a third, in sms
// too; a teacher for each homeroom, at the district's staff domain (in a
// school whose homerooms are named for their teacher, "Mrs. Olson", that
// teacher).
//
// Students enroll in their homeroom and, in grades 6–12, in one section of
// each of the grade's four core courses; the teacher of a homeroom teaches
// the sections of the same number. A student whose next-day grade or school
// has fewer homerooms than their section number is placed in the section of
// that number modulo the number of homerooms (the flat file names a homeroom
// that has no class).
type OneRoster struct {
	Version string // "1.1" or "1.2"
	// Delta: export the changes of NextDay(opts, Change) as a delta: the
	// manifest says delta for users, enrollments and demographics (and roles
	// in 1.2, whose users.csv has no role column) and absent for the other
	// files. It has the changed students (the rows NextDayCounts counts as
	// changed) and the new ones as status active, the withdrawn students as
	// tobedeleted, guardians whose row changed (contacts, children or their
	// schools) as active and those left with no child as tobedeleted, the
	// enrollments these changes add (active) or end (tobedeleted), and in
	// 1.2 the roles of each user it names (active, and tobedeleted at a
	// school they leave). Else a bulk export of Write(opts).
	Delta  bool
	Change Change // for Delta
}

// OneRosterCounts says what WriteOneRoster(opts, or) holds, for tests' exact
// expectations. Students and Guardians count the rows of users.csv of each
// role, whatever their status; Deleted those of them with status
// tobedeleted; GuardianLinks the entries of the guardians' agentSourcedIds.
// A delta has no teachers, schools or classes.
type OneRosterCounts struct {
	Students, Guardians, Teachers, Schools, Classes, Enrollments int
	Deleted                                                      int
	GuardianLinks                                                int
}

// WriteOneRoster writes the zip to w (archive/zip, deflate). The output is
// byte-identical for the same arguments: the zip's times are fixed (the
// export's date, 2026-09-01 for a bulk export and Change.Day days later for
// a delta). It streams: memory does not grow with opts.Rows, except for a
// delta's new students who join enrolled families (16 bytes each).
func WriteOneRoster(w io.Writer, opts Options, or OneRoster) error {
	x, err := newORExport(opts, or)
	if err != nil {
		return err
	}
	x.zw = zip.NewWriter(w)
	// Deflate's fastest level: at archive/zip's default one, compression
	// took 10 s of the 17 s of a 1M-student export (BenchmarkWriteOneRoster);
	// at this one the export takes 10.4 s, for a zip of 139 MB, not 112.
	x.zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	if err := x.run(); err != nil {
		return fmt.Errorf("oneroster %s: %w", x.file, err)
	}
	return x.zw.Close()
}

// OneRosterCountsOf returns what WriteOneRoster(opts, or) writes, without
// writing it (it makes the same rows, so it takes a good part of the time).
func OneRosterCountsOf(opts Options, or OneRoster) OneRosterCounts {
	if or.Version != "1.2" {
		or.Version = "1.1" // the counts are the same
	}
	x, _ := newORExport(opts, or)
	_ = x.run() // nothing is written, so nothing fails
	return x.n
}

// The school year of the export and its two semesters. The flat file's
// birth dates fit the grades of 2025–26 (gen.go's schoolYear); the export is
// of the following year, as its brief asked.
const (
	orYearID    = "YEAR2026-27"
	orYearTitle = "2026-2027"
	orYear      = "2027" // OneRoster's schoolYear is the year the school year ends
	orYearStart = "2026-08-24"
	orYearEnd   = "2027-06-04"
	orSem1End   = "2027-01-15"
	orSem2Start = "2027-01-19"
	orTerms     = "SEM2026-1,SEM2026-2"
)

const (
	orDistrictID  = "DIST"
	orActive      = "active"
	orToBeDeleted = "tobedeleted"
	orSystemName  = "Rollcall districtgen"
	orSystemCode  = "districtgen"
)

// Shares of the export's own choices.
const (
	orParentPct    = 0.86 // guardians whose role is parent; then guardian, then relative
	orGuardianPct  = 0.11
	orSMSPct       = 1.0 / 3 // guardians whose phone is in sms too
	orWomenTeacher = 0.75
)

// orExported is when a bulk export is made; a delta is Change.Day days later.
var orExported = time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC)

var (
	orUsers11Header = []string{"sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
		"username", "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
		"agentSourcedIds", "grades", "password", "metadata.language"}
	orUsers12Header = []string{"sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
		"givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
		"password", "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName", "preferredMiddleName",
		"preferredFamilyName", "primaryOrgSourcedId", "pronouns", "metadata.language"}
	orRolesHeader = []string{"sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
		"beginDate", "endDate", "orgSourcedId", "userProfileSourcedId"}
	orOrgsHeader     = []string{"sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"}
	orSessionsHeader = []string{"sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
		"parentSourcedId", "schoolYear"}
	orCoursesHeader = []string{"sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
		"grades", "orgSourcedId", "subjects", "subjectCodes"}
	orClassesHeader = []string{"sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
		"classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods"}
	orEnrollmentsHeader = []string{"sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
		"userSourcedId", "role", "primary", "beginDate", "endDate"}
	orDemographicsHeader = []string{"sourcedId", "status", "dateLastModified", "birthDate", "sex",
		"americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander",
		"white", "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity", "countryOfBirthCode",
		"stateOfBirthAbbreviation", "cityOfBirth", "publicSchoolResidenceStatus"}
)

// The entities whose files a manifest lists, in alphabetical order as the
// specifications list them.
var (
	orEntities11 = []string{"academicSessions", "categories", "classes", "classResources", "courses",
		"courseResources", "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users"}
	orEntities12 = []string{"academicSessions", "categories", "classes", "classResources", "courses",
		"courseResources", "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems",
		"lineItemScoreScales", "orgs", "resources", "resultLearningObjectiveIds", "results", "resultScoreScales",
		"roles", "scoreScales", "userProfiles", "userResources", "users"}
)

// cedsGrades are the CEDS grade codes OneRoster uses, by rank+1.
var cedsGrades = [14]string{"PK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}

// orSubject is one of the four core courses of grades 6–12.
type orSubject struct {
	key, subject string
	titles       [7]string // grade 6 to 12
}

var orSubjects = [4]orSubject{
	{"MATH", "Math", [7]string{"Math 6", "Math 7", "Pre-Algebra", "Algebra I", "Geometry", "Algebra II", "Pre-Calculus"}},
	{"ELA", "English Language Arts", [7]string{"English Language Arts 6", "English Language Arts 7",
		"English Language Arts 8", "English 9", "English 10", "English 11", "English 12"}},
	{"SCI", "Science", [7]string{"Science 6", "Life Science", "Physical Science", "Biology", "Chemistry", "Physics",
		"Environmental Science"}},
	{"SS", "Social Studies", [7]string{"World Geography", "World Cultures", "American History", "World History",
		"U.S. History", "U.S. Government", "Economics"}},
}

// orScheduledFrom is the lowest grade with scheduled course sections.
const orScheduledFrom = 6

// orPeriod is the period of section j of subject c: each subject has two
// periods of its own, so that neither a student nor a teacher is in two
// classes at once.
func orPeriod(c, j int) int { return 2*c + 1 + j%2 }

type orTeacher struct {
	id, given, family, email string
	org                      string // the school's sourcedId
}

// orGuardian is one guardian's users row (and roles), as of one day.
type orGuardian struct {
	present                     bool
	id, role                    string
	given, middle, family, nick string
	phone, email                string // phone as their first child's row writes it
	sms                         bool
	hasPhone                    bool
	rawPhone                    [10]byte
	phoneFmt                    int8
	students                    []string // sourcedIds, in the order of the flat file
	schools                     []int    // the children's schools, the first child's first
}

type orFamily struct{ g [2]orGuardian }

// orOpen is a family that later students may still join.
type orOpen struct {
	root, last uint64
	members    []uint64
}

type orAttach struct{ root, k uint64 }

const orNoRoot = math.MaxUint64

// orClass is one row of classes.csv.
type orClass struct {
	id, title, grade, course, code, typ, location, school, subject, period, teacher string
}

// orExport writes one export, or with no zip writer only counts it.
type orExport struct {
	g        *gen
	opts     Options
	v12      bool
	d        *dayCtx // a delta's day; nil for a bulk export
	stamp    string  // dateLastModified of a delta's rows
	modified time.Time
	key      uint64 // the export's own choices: roles, sms, teachers, course sections

	zw   *zip.Writer
	file string
	bw   *bufio.Writer
	cw   *csv.Writer
	rec  []string
	buf  []byte
	n    OneRosterCounts

	schoolIDs []string
	teachers  []orTeacher
	addRoot   []uint64   // a delta's new students: the root of the enrolled family each joins, or orNoRoot
	attached  []orAttach // the new students who join enrolled families, by root
	old, cur  orFamily
	free      [][]uint64
	classes   []string // scratch: a student's classes
	classes2  []string
}

func newORExport(opts Options, or OneRoster) (*orExport, error) {
	if or.Version != "1.1" && or.Version != "1.2" {
		return nil, fmt.Errorf("oneroster: version %q: want 1.1 or 1.2", or.Version)
	}
	g := newGen(opts)
	x := &orExport{g: g, opts: opts, v12: or.Version == "1.2", modified: orExported,
		key: mix64(g.keys[domSchools] ^ 0x6f6e65726f737465)}
	if or.Delta {
		x.d = g.day(or.Change)
		x.modified = orExported.AddDate(0, 0, max(or.Change.Day, 1))
		x.stamp = x.modified.Format("2006-01-02T15:04:05.000Z")
		x.planAdded()
	}
	x.schoolIDs = make([]string, len(g.schools))
	for i := range g.schools {
		x.schoolIDs[i] = "SCH" + strconv.Itoa(i+1)
	}
	x.planTeachers()
	return x, nil
}

func (x *orExport) run() error {
	if x.zw != nil {
		if err := x.writeManifest(); err != nil {
			return err
		}
	}
	if x.d == nil {
		if err := x.writeOrgs(); err != nil {
			return err
		}
		if x.zw != nil {
			if err := x.writeSessions(); err != nil {
				return err
			}
			if err := x.writeCourses(); err != nil {
				return err
			}
		}
		if err := x.writeClasses(); err != nil {
			return err
		}
	}
	if err := x.writeUsers(); err != nil {
		return err
	}
	if x.zw != nil {
		if x.v12 {
			if err := x.writeRoles(); err != nil {
				return err
			}
		}
		if err := x.writeDemographics(); err != nil {
			return err
		}
	}
	if err := x.writeEnrollments(); err != nil {
		return err
	}
	return x.closeFile()
}

// open starts a file of the zip with its header; without a zip writer,
// rows go nowhere.
func (x *orExport) open(name string, header []string) error {
	if err := x.closeFile(); err != nil {
		return err
	}
	x.file = name
	if x.zw == nil {
		return nil
	}
	fw, err := x.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: x.modified})
	if err != nil {
		return err
	}
	if x.bw == nil {
		x.bw = bufio.NewWriterSize(fw, 256<<10)
	} else {
		x.bw.Reset(fw)
	}
	if x.opts.BOM {
		if _, err := x.bw.WriteString("\uFEFF"); err != nil {
			return err
		}
	}
	// csv.NewWriter adopts x.bw as its buffer: it is larger than the default.
	x.cw = csv.NewWriter(x.bw)
	x.cw.UseCRLF = x.opts.CRLF
	return x.cw.Write(header)
}

func (x *orExport) closeFile() error {
	if x.cw == nil {
		return nil
	}
	x.cw.Flush()
	err := x.cw.Error()
	x.cw = nil
	return err
}

// emit writes x.rec.
func (x *orExport) emit() error {
	if x.cw == nil {
		return nil
	}
	return x.cw.Write(x.rec)
}

func (x *orExport) row(fields ...string) error {
	x.rec = append(x.rec[:0], fields...)
	return x.emit()
}

// stampOf is the dateLastModified of a row of the given status.
func (x *orExport) stampOf(status string) string {
	if status == "" {
		return ""
	}
	return x.stamp
}

func (x *orExport) writeManifest() error {
	if err := x.open("manifest.csv", []string{"propertyName", "value"}); err != nil {
		return err
	}
	version, entities := "1.1", orEntities11
	if x.v12 {
		version, entities = "1.2", orEntities12
	}
	if err := x.row("manifest.version", "1.0"); err != nil {
		return err
	}
	if err := x.row("oneroster.version", version); err != nil {
		return err
	}
	for _, e := range entities {
		if err := x.row("file."+e, x.mode(e)); err != nil {
			return err
		}
	}
	if err := x.row("source.systemName", orSystemName); err != nil {
		return err
	}
	return x.row("source.systemCode", orSystemCode)
}

// mode is what the manifest says of an entity's file.
func (x *orExport) mode(entity string) string {
	switch entity {
	case "users", "enrollments", "demographics", "roles":
		if x.d != nil {
			return "delta"
		}
		return "bulk"
	case "orgs", "academicSessions", "courses", "classes":
		if x.d == nil {
			return "bulk"
		}
	}
	return "absent"
}

func (x *orExport) districtName() string {
	n := strings.TrimSuffix(x.g.staffDomain, "schools.org")
	return strings.ToUpper(n[:1]) + n[1:] + " Public Schools"
}

func (x *orExport) writeOrgs() error {
	if err := x.open("orgs.csv", orOrgsHeader); err != nil {
		return err
	}
	if err := x.row(orDistrictID, "", "", x.districtName(), "district", "", ""); err != nil {
		return err
	}
	for i, s := range x.g.schools {
		x.n.Schools++
		if err := x.row(x.schoolIDs[i], "", "", s.Name, "school", "", orDistrictID); err != nil {
			return err
		}
	}
	return nil
}

func (x *orExport) writeSessions() error {
	if err := x.open("academicSessions.csv", orSessionsHeader); err != nil {
		return err
	}
	if err := x.row(orYearID, "", "", orYearTitle, "schoolYear", orYearStart, orYearEnd, "", orYear); err != nil {
		return err
	}
	if err := x.row("SEM2026-1", "", "", "Fall Semester 2026", "semester", orYearStart, orSem1End, orYearID, orYear); err != nil {
		return err
	}
	return x.row("SEM2026-2", "", "", "Spring Semester 2027", "semester", orSem2Start, orYearEnd, orYearID, orYear)
}

func gradeTitle(rank int) string {
	switch rank {
	case -1:
		return "Pre-K"
	case 0:
		return "Kindergarten"
	}
	return "Grade " + strconv.Itoa(rank)
}

func (x *orExport) courseID(school, rank int, key string) string {
	return "CRS" + strconv.Itoa(school+1) + "-" + cedsGrades[rank+1] + "-" + key
}

func (x *orExport) writeCourses() error {
	if err := x.open("courses.csv", orCoursesHeader); err != nil {
		return err
	}
	for si, s := range x.g.schools {
		for rank := s.Lowest; rank <= s.Highest; rank++ {
			grade := cedsGrades[rank+1]
			if err := x.row(x.courseID(si, rank, "HR"), "", "", orYearID, "Homeroom, "+gradeTitle(rank), "HR-"+grade,
				grade, x.schoolIDs[si], "", ""); err != nil {
				return err
			}
			if rank < orScheduledFrom {
				continue
			}
			for _, sub := range orSubjects {
				if err := x.row(x.courseID(si, rank, sub.key), "", "", orYearID, sub.titles[rank-orScheduledFrom],
					sub.key+"-"+grade, grade, x.schoolIDs[si], sub.subject, ""); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (x *orExport) teacherID(school, rank, section int) string {
	return "T" + strconv.Itoa(school+1) + "-" + cedsGrades[rank+1] + "-" + strconv.Itoa(section+1)
}

func (x *orExport) homeroomClassID(school, rank, section int) string {
	return "C" + strconv.Itoa(school+1) + "-" + cedsGrades[rank+1] + "-HR" + strconv.Itoa(section+1)
}

func (x *orExport) sectionClassID(school, rank, subject, section int) string {
	return "C" + strconv.Itoa(school+1) + "-" + cedsGrades[rank+1] + "-" + orSubjects[subject].key + strconv.Itoa(section+1)
}

// eachClass calls fn with every class, school by school and grade by grade.
func (x *orExport) eachClass(fn func(c *orClass) error) error {
	g := x.g
	var c orClass
	for si, s := range g.schools {
		num := strconv.Itoa(si + 1)
		for rank := s.Lowest; rank <= s.Highest; rank++ {
			grade := cedsGrades[rank+1]
			n := g.sections(si, rank)
			for sec := range n {
				h := hash(g.keys[domHomeroom], uint64(si)<<16|uint64(rank+1)<<8|uint64(sec))
				room := 100*(1+h%3) + (h>>8)%40 + 1 // as gen.homeroom numbers the room
				c = orClass{id: x.homeroomClassID(si, rank, sec),
					title:    "Homeroom " + string(g.homeroom(nil, si, rank, sec)),
					grade:    grade,
					course:   x.courseID(si, rank, "HR"),
					code:     "HR-" + num + "-" + grade + "-" + strconv.Itoa(sec+1),
					typ:      "homeroom",
					location: "Room " + strconv.FormatUint(room, 10),
					school:   x.schoolIDs[si],
					period:   "HR",
					teacher:  x.teacherID(si, rank, sec)}
				if err := fn(&c); err != nil {
					return err
				}
			}
			if rank < orScheduledFrom {
				continue
			}
			for ci, sub := range orSubjects {
				for sec := range n {
					p := strconv.Itoa(orPeriod(ci, sec))
					c = orClass{id: x.sectionClassID(si, rank, ci, sec),
						title:   sub.titles[rank-orScheduledFrom] + " - Period " + p,
						grade:   grade,
						course:  x.courseID(si, rank, sub.key),
						code:    sub.key + "-" + num + "-" + grade + "-" + strconv.Itoa(sec+1),
						typ:     "scheduled",
						school:  x.schoolIDs[si],
						subject: sub.subject,
						period:  p,
						teacher: x.teacherID(si, rank, sec)}
					if err := fn(&c); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func (x *orExport) writeClasses() error {
	if err := x.open("classes.csv", orClassesHeader); err != nil {
		return err
	}
	return x.eachClass(func(c *orClass) error {
		x.n.Classes++
		return x.row(c.id, "", "", c.title, c.grade, c.course, c.code, c.typ, c.location, c.school, orTerms,
			c.subject, "", c.period)
	})
}

// planTeachers names the teacher of every homeroom: in a school whose
// homerooms are named for their teacher ("Mrs. Olson"), that teacher.
func (x *orExport) planTeachers() {
	g := x.g
	used := map[string]int{} // e-mail local parts
	for si, s := range g.schools {
		for rank := s.Lowest; rank <= s.Highest; rank++ {
			for sec := range g.sections(si, rank) {
				h := hash(g.keys[domHomeroom], uint64(si)<<16|uint64(rank+1)<<8|uint64(sec))
				var r rng
				r.seed(x.key, h)
				var first, last name
				if g.schools[si].style == 0 { // as gen.homeroom names it
					title := teacherTitles[(h>>24)%uint64(len(teacherTitles))]
					last = generalLast[(h>>32)%uint64(len(generalLast))]
					first = r.name(generalWomen)
					if title == "Mr." {
						first = r.name(generalMen)
					}
				} else {
					gr := pickGroup(&r)
					first = r.name(gr.men)
					if r.chance(orWomenTeacher) {
						first = r.name(gr.women)
					}
					last = r.name(gr.last)
				}
				local := first.key[:1] + last.key
				if used[local]++; used[local] > 1 {
					local += strconv.Itoa(used[local])
				}
				x.teachers = append(x.teachers, orTeacher{id: x.teacherID(si, rank, sec), given: first.s,
					family: last.s, email: local + "@" + g.staffDomain, org: x.schoolIDs[si]})
			}
		}
	}
}

// planAdded finds the enrolled families a delta's new students join, as
// gen.added draws them.
func (x *orExport) planAdded() {
	g, d := x.g, x.d
	x.addRoot = make([]uint64, d.added)
	var r rng
	for k := range d.added {
		x.addRoot[k] = orNoRoot
		r.seed(d.kAdded, k)
		if g.rows > 0 && r.chance(attachPct) {
			root := g.root(uint64(r.intn(int(g.rows))))
			x.addRoot[k] = root
			x.attached = append(x.attached, orAttach{root, k})
		}
	}
	slices.SortFunc(x.attached, func(a, b orAttach) int {
		return cmp.Or(cmp.Compare(a.root, b.root), cmp.Compare(a.k, b.k))
	})
}

// attachedTo is the new students who join the family of root.
func (x *orExport) attachedTo(root uint64) []orAttach {
	i := sort.Search(len(x.attached), func(i int) bool { return x.attached[i].root >= root })
	j := i
	for j < len(x.attached) && x.attached[j].root == root {
		j++
	}
	return x.attached[i:j]
}

func studentID(id uint64) string {
	var b [8]byte
	return string(appendDigits(append(b[:0], 'S'), int(id), 7))
}

// guardianID is the sourcedId of guardian slot s of the family numbered num.
func guardianID(num uint64, s int) string {
	var b [16]byte
	return string(append(appendDigits(append(b[:0], 'G'), int(num), 7), '-', byte('1'+s)))
}

// famNum is the number of the family of original student i.
func (x *orExport) famNum(i uint64) uint64 { return x.g.id(x.g.root(i)) }

// addedFamNum is the number of the family of a delta's new student k.
func (x *orExport) addedFamNum(k uint64) uint64 {
	if r := x.addRoot[k]; r != orNoRoot {
		return x.g.id(r)
	}
	return x.d.idBase + k
}

// orUser is one row of users.csv.
type orUser struct {
	id, role, orgs, primaryOrg, username, given, middle, family, identifier string
	email, sms, phone, agents, grades, preferred, lang                      string
}

func (x *orExport) user(u *orUser, status string) error {
	if x.v12 {
		x.rec = append(x.rec[:0], u.id, status, x.stampOf(status), "true", u.username, "", u.given, u.family,
			u.middle, u.identifier, u.email, u.sms, u.phone, u.agents, u.grades, "", "", "", u.preferred, "", "",
			u.primaryOrg, "", u.lang)
	} else {
		x.rec = append(x.rec[:0], u.id, status, x.stampOf(status), "true", u.orgs, u.role, u.username, "",
			u.given, u.family, u.middle, u.identifier, u.email, u.sms, u.phone, u.agents, u.grades, "", u.lang)
	}
	if status == orToBeDeleted {
		x.n.Deleted++
	}
	return x.emit()
}

func (x *orExport) writeUsers() error {
	header := orUsers11Header
	if x.v12 {
		header = orUsers12Header
	}
	if err := x.open("users.csv", header); err != nil {
		return err
	}
	if err := x.eachStudent(x.studentUser); err != nil {
		return err
	}
	if err := x.eachFamily(func(old, cur *orFamily) error {
		for s := range cur.g {
			if gu, status := x.guardianChange(old, cur, s); gu != nil {
				if err := x.guardianUser(gu, status); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if x.d != nil {
		return nil
	}
	for i := range x.teachers {
		t := &x.teachers[i]
		x.n.Teachers++
		u := orUser{id: t.id, role: "teacher", orgs: t.org, primaryOrg: t.org, username: t.email,
			given: t.given, family: t.family, email: t.email}
		if err := x.user(&u, ""); err != nil {
			return err
		}
	}
	return nil
}

// eachStudent calls fn with the students the export has, in the flat
// file's order, g.stu and g.fam holding the student as of status (the
// original student if tobedeleted) and rec their flat row; num is their
// family's number.
func (x *orExport) eachStudent(fn func(rec []string, num uint64, status string) error) error {
	g, d := x.g, x.d
	for i := range g.rows {
		switch {
		case d == nil:
			if err := fn(g.original(i, nil), x.famNum(i), ""); err != nil {
				return err
			}
		case d.removed(i):
			if err := fn(g.original(i, nil), x.famNum(i), orToBeDeleted); err != nil {
				return err
			}
		case d.studentChanged(i) || d.famChanged(g.root(i)):
			if err := fn(g.original(i, d), x.famNum(i), orActive); err != nil {
				return err
			}
		}
	}
	if d == nil {
		return nil
	}
	for k := range d.added {
		if err := fn(g.added(k, d), x.addedFamNum(k), orActive); err != nil {
			return err
		}
	}
	return nil
}

func (x *orExport) studentUser(rec []string, num uint64, status string) error {
	g := x.g
	s, f := &g.stu, &g.fam
	x.n.Students++
	agents := guardianID(num, 0)
	if f.g[1].present {
		agents += "," + guardianID(num, 1)
	}
	username := rec[12]
	if username == "" {
		username = rec[0]
	}
	school := x.schoolIDs[s.school]
	u := orUser{id: rec[0], role: "student", orgs: school, primaryOrg: school, username: username,
		given: s.first, family: rec[2], identifier: rec[0], email: rec[12], agents: agents,
		grades: cedsGrades[s.rank+1], preferred: s.nick, lang: rec[5]}
	return x.user(&u, status)
}

// guardianChange says whether guardian s of a family is in the export, and
// with which row and status: in bulk always; in a delta if new, changed
// (contacts, children, or their schools), or left with no child.
func (x *orExport) guardianChange(old, cur *orFamily, s int) (*orGuardian, string) {
	c := &cur.g[s]
	switch {
	case !c.present:
		return nil, ""
	case x.d == nil:
		return c, ""
	case old == nil:
		return c, orActive
	case len(c.students) == 0:
		return &old.g[s], orToBeDeleted
	case !sameGuardian(&old.g[s], c):
		return c, orActive
	}
	return nil, ""
}

func sameGuardian(a, b *orGuardian) bool {
	return a.phone == b.phone && a.email == b.email && slices.Equal(a.students, b.students) &&
		slices.Equal(a.schools, b.schools)
}

func (x *orExport) guardianUser(gu *orGuardian, status string) error {
	x.n.Guardians++
	x.n.GuardianLinks += len(gu.students)
	orgs := x.buf[:0]
	for i, sc := range gu.schools {
		if i > 0 {
			orgs = append(orgs, ',')
		}
		orgs = append(orgs, x.schoolIDs[sc]...)
	}
	x.buf = orgs
	username := strings.ToLower(strings.TrimSpace(gu.email))
	if username == "" {
		username = gu.id
	}
	u := orUser{id: gu.id, role: gu.role, orgs: string(orgs), primaryOrg: x.schoolIDs[gu.schools[0]],
		username: username, given: gu.given, middle: gu.middle, family: gu.family, email: gu.email,
		phone: gu.phone, agents: strings.Join(gu.students, ","), preferred: gu.nick}
	if gu.sms {
		u.sms = gu.phone
	}
	return x.user(&u, status)
}

// eachFamily calls fn with every family once its last child is known, in
// the order of its first child: old is the family as Write's file has it
// (nil for a new family), cur as the export has it (old itself in bulk). A
// family can gain a child up to g.window rows after its last one (see
// gen.root), so the families open at a time are about g.window.
func (x *orExport) eachFamily(fn func(old, cur *orFamily) error) error {
	g := x.g
	var q []orOpen
	head := 0
	for i := range g.rows {
		for head < len(q) && q[head].last+g.window < i {
			if err := x.closeFamily(&q[head], fn); err != nil {
				return err
			}
			x.free = append(x.free, q[head].members[:0])
			q[head].members = nil
			head++
		}
		if head >= 1024 && 2*head >= len(q) {
			n := copy(q, q[head:])
			clear(q[n:])
			q, head = q[:n], 0
		}
		r := g.root(i)
		if r == i {
			var m []uint64
			if n := len(x.free); n > 0 {
				m, x.free = x.free[n-1], x.free[:n-1]
			}
			q = append(q, orOpen{root: i, last: i, members: append(m, i)})
			continue
		}
		k := head + sort.Search(len(q)-head, func(j int) bool { return q[head+j].root >= r })
		if k == len(q) || q[k].root != r {
			return fmt.Errorf("student %d: family %d is closed", i, r) // cannot happen: see gen.root
		}
		q[k].members = append(q[k].members, i)
		q[k].last = i
	}
	for ; head < len(q); head++ {
		if err := x.closeFamily(&q[head], fn); err != nil {
			return err
		}
	}
	if x.d == nil {
		return nil
	}
	for k, root := range x.addRoot {
		if root != orNoRoot {
			continue
		}
		g.added(uint64(k), x.d)
		x.setContacts(&x.cur, x.d.idBase+uint64(k))
		x.addChild(&x.cur)
		if err := fn(nil, &x.cur); err != nil {
			return err
		}
	}
	return nil
}

// affected says whether a delta may change a family's guardians.
func (x *orExport) affected(o *orOpen) bool {
	d := x.d
	if d.famChanged(o.root) || len(x.attachedTo(o.root)) > 0 {
		return true
	}
	for _, m := range o.members {
		if d.removed(m) || d.studentChanged(m) {
			return true
		}
	}
	return false
}

func (x *orExport) closeFamily(o *orOpen, fn func(old, cur *orFamily) error) error {
	g, d := x.g, x.d
	if d != nil && !x.affected(o) {
		return nil
	}
	// As gen.original makes each child's row.
	g.arena = g.arena[:0]
	g.makeFamily(g.keys[domFamily], o.root, o.root)
	num := g.id(o.root)
	x.setContacts(&x.old, num)
	for _, m := range o.members {
		g.rs.seed(g.keys[domStudent], m)
		g.makeStudent(g.id(m))
		x.addChild(&x.old)
	}
	if d == nil {
		return fn(&x.old, &x.old)
	}
	if d.famChanged(o.root) {
		g.mutateFamily(d, o.root)
	}
	x.setContacts(&x.cur, num)
	for _, m := range o.members {
		if d.removed(m) {
			continue
		}
		g.rs.seed(g.keys[domStudent], m)
		g.makeStudent(g.id(m))
		if d.studentChanged(m) {
			g.mutateStudent(d, m)
		}
		x.addChild(&x.cur)
	}
	for _, a := range x.attachedTo(o.root) {
		g.added(a.k, d)
		x.addChild(&x.cur)
	}
	return fn(&x.old, &x.cur)
}

// setContacts fills fm's guardians from g.fam, whose number is num.
func (x *orExport) setContacts(fm *orFamily, num uint64) {
	g := x.g
	f := &g.fam
	for s := range f.g {
		gd, og := &f.g[s], &fm.g[s]
		og.present = gd.present
		og.students, og.schools = og.students[:0], og.schools[:0]
		if !gd.present {
			continue
		}
		og.id = guardianID(num, s)
		og.given, og.middle, og.family, og.nick = splitGuardianName(string(g.arena[gd.name.a:gd.name.b]),
			f.disp(gd.first), f.disp(gd.last))
		og.phone, og.hasPhone, og.rawPhone, og.phoneFmt = "", gd.hasPhone, gd.phone, gd.phoneFmt
		og.email = string(g.arena[gd.email.a:gd.email.b])
		h := hash(x.key, num<<1|uint64(s))
		switch u := unit(h); {
		case u < orParentPct:
			og.role = "parent"
		case u < orParentPct+orGuardianPct:
			og.role = "guardian"
		default:
			og.role = "relative"
		}
		og.sms = gd.hasPhone && unit(mix64(h)) < orSMSPct
	}
}

// addChild adds g.stu to fm's guardians. A guardian's phone is written
// the way their first child's row writes it (most rows of a family write it
// alike, some differently).
func (x *orExport) addChild(fm *orFamily) {
	s := &x.g.stu
	id := studentID(s.id)
	for i := range fm.g {
		og := &fm.g[i]
		if !og.present {
			continue
		}
		if len(og.students) == 0 && og.hasPhone {
			f := og.phoneFmt
			if s.phoneFmt[i] >= 0 {
				f = s.phoneFmt[i]
			}
			x.buf = appendPhone(x.buf[:0], &og.rawPhone, f)
			og.phone = string(x.buf)
		}
		og.students = append(og.students, id)
		if !slices.Contains(og.schools, s.school) {
			og.schools = append(og.schools, s.school)
		}
	}
}

// splitGuardianName splits a guardian's name as the flat file writes it
// ("Maria García", "García, Maria", "GARCIA, MARIA", "Robert J. Smith, Jr.",
// `Elizabeth "Liz" Olson`), knowing the first and last names it was made
// of: given is the first name, middle an initial, family the last name with
// a generational suffix ("Smith Jr."), nick a quoted nickname; the case is
// the file's. A name it cannot read is given as first and last.
func splitGuardianName(written, first, last string) (given, middle, family, nick string) {
	w := strings.TrimRight(written, " ")
	if w == strings.ToUpper(w) {
		first, last = strings.ToUpper(first), strings.ToUpper(last)
	}
	suffix, rest, lastFirst := "", "", false
	if t, ok := strings.CutPrefix(w, last); ok { // "Last[ Suffix], First…"?
		sfx := ""
		for _, s := range suffixes {
			if w == strings.ToUpper(w) {
				s = strings.ToUpper(s)
			}
			if strings.HasPrefix(t, " "+s+", ") {
				sfx, t = s, t[1+len(s):]
				break
			}
		}
		if r, ok := strings.CutPrefix(t, ", "); ok && strings.HasPrefix(r, first) {
			suffix, rest, lastFirst = sfx, r, true
		}
	}
	if !lastFirst {
		if !strings.HasPrefix(w, first) {
			return first, "", last, ""
		}
		rest = w
	}
	t := rest[len(first):]
	if len(t) >= 3 && t[0] == ' ' && t[1] >= 'A' && t[1] <= 'Z' && t[2] == '.' {
		middle, t = t[1:2], t[3:]
	}
	if r, ok := strings.CutPrefix(t, ` "`); ok {
		if end := strings.IndexByte(r, '"'); end >= 0 {
			nick, t = r[:end], r[end+1:]
		}
	}
	if !lastFirst {
		r, ok := strings.CutPrefix(t, " "+last)
		if !ok {
			return first, "", last, ""
		}
		suffix = strings.TrimLeft(r, ", ")
	}
	family = last
	if suffix != "" {
		family += " " + suffix
	}
	return first, middle, family, nick
}

// studentClasses appends to dst the classes of g.stu: their homeroom and,
// in grades 6–12, a section of each core course.
func (x *orExport) studentClasses(dst []string) []string {
	g, s := x.g, &x.g.stu
	n := g.sections(s.school, s.rank)
	dst = append(dst, x.homeroomClassID(s.school, s.rank, s.section%n))
	if s.rank >= orScheduledFrom {
		for c := range orSubjects {
			j := int(hash(x.key^uint64(c+1)*golden, s.id) % uint64(n))
			dst = append(dst, x.sectionClassID(s.school, s.rank, c, j))
		}
	}
	return dst
}

func (x *orExport) enrollment(user, class, school, role, primary, status string) error {
	x.n.Enrollments++
	return x.row("E"+user+"-"+class, status, x.stampOf(status), class, school, user, role, primary, orYearStart,
		orYearEnd)
}

func (x *orExport) writeEnrollments() error {
	if err := x.open("enrollments.csv", orEnrollmentsHeader); err != nil {
		return err
	}
	g, d := x.g, x.d
	if d == nil {
		if err := x.eachClass(func(c *orClass) error {
			return x.enrollment(c.teacher, c.id, c.school, "teacher", "true", "")
		}); err != nil {
			return err
		}
	}
	studentRows := func(classes []string, status string) error {
		id, school := studentID(g.stu.id), x.schoolIDs[g.stu.school]
		for _, c := range classes {
			if err := x.enrollment(id, c, school, "student", "false", status); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range g.rows {
		switch {
		case d == nil:
			g.original(i, nil)
			if err := studentRows(x.studentClasses(x.classes[:0]), ""); err != nil {
				return err
			}
		case d.removed(i):
			g.original(i, nil)
			if err := studentRows(x.studentClasses(x.classes[:0]), orToBeDeleted); err != nil {
				return err
			}
		case d.studentChanged(i):
			// The classes they leave, then those they join.
			g.original(i, nil)
			old, oldSchool := x.studentClasses(x.classes[:0]), g.stu.school
			g.original(i, d)
			cur := x.studentClasses(x.classes2[:0])
			x.classes, x.classes2 = old, cur
			id := studentID(g.stu.id)
			for _, c := range old {
				if !slices.Contains(cur, c) {
					if err := x.enrollment(id, c, x.schoolIDs[oldSchool], "student", "false", orToBeDeleted); err != nil {
						return err
					}
				}
			}
			for _, c := range cur {
				if !slices.Contains(old, c) {
					if err := x.enrollment(id, c, x.schoolIDs[g.stu.school], "student", "false", orActive); err != nil {
						return err
					}
				}
			}
		}
	}
	if d == nil {
		return nil
	}
	for k := range d.added {
		g.added(k, d)
		if err := studentRows(x.studentClasses(x.classes[:0]), orActive); err != nil {
			return err
		}
	}
	return nil
}

func (x *orExport) writeDemographics() error {
	if err := x.open("demographics.csv", orDemographicsHeader); err != nil {
		return err
	}
	g, d := x.g, x.d
	row := func(status string) error {
		s := &g.stu
		b := appendDigits(x.buf[:0], s.by, 4)
		b = append(b, '-')
		b = appendDigits(b, s.bm, 2)
		b = append(b, '-')
		b = appendDigits(b, s.bd, 2)
		x.buf = b
		sex := "male"
		if s.girl {
			sex = "female"
		}
		return x.row(studentID(s.id), status, x.stampOf(status), string(b), sex, "", "", "", "", "", "", "", "", "",
			"", "")
	}
	for i := range g.rows {
		switch {
		case d == nil:
			g.original(i, nil)
			if err := row(""); err != nil {
				return err
			}
		case d.removed(i):
			g.original(i, nil)
			if err := row(orToBeDeleted); err != nil {
				return err
			}
		}
	}
	if d == nil {
		return nil
	}
	for k := range d.added {
		g.added(k, d)
		if err := row(orActive); err != nil {
			return err
		}
	}
	return nil
}

func (x *orExport) role(user, roleType, role, org, status string) error {
	return x.row("R"+user+"-"+org, status, x.stampOf(status), user, roleType, role, "", "", org, "")
}

// writeRoles writes 1.2's roles.csv: a primary role for every user at their
// school, and for a guardian with children at more than one school a
// secondary role at each of the others.
func (x *orExport) writeRoles() error {
	if err := x.open("roles.csv", orRolesHeader); err != nil {
		return err
	}
	g, d := x.g, x.d
	for i := range g.rows {
		switch {
		case d == nil:
			g.original(i, nil)
			if err := x.role(studentID(g.stu.id), "primary", "student", x.schoolIDs[g.stu.school], ""); err != nil {
				return err
			}
		case d.removed(i):
			g.original(i, nil)
			if err := x.role(studentID(g.stu.id), "primary", "student", x.schoolIDs[g.stu.school], orToBeDeleted); err != nil {
				return err
			}
		case d.studentChanged(i) || d.famChanged(g.root(i)):
			// Their role again, as users.csv has them (a delta's roles.csv
			// gives the roles of every user it names), and the school they
			// leave.
			g.original(i, nil)
			old := g.stu.school
			g.original(i, d)
			id := studentID(g.stu.id)
			if g.stu.school != old {
				if err := x.role(id, "primary", "student", x.schoolIDs[old], orToBeDeleted); err != nil {
					return err
				}
			}
			if err := x.role(id, "primary", "student", x.schoolIDs[g.stu.school], orActive); err != nil {
				return err
			}
		}
	}
	if d != nil {
		for k := range d.added {
			g.added(k, d)
			if err := x.role(studentID(g.stu.id), "primary", "student", x.schoolIDs[g.stu.school], orActive); err != nil {
				return err
			}
		}
	}
	if err := x.eachFamily(func(old, cur *orFamily) error {
		for s := range cur.g {
			gu, status := x.guardianChange(old, cur, s)
			if gu == nil {
				continue
			}
			var was []int // the schools of their roles before
			if status == orActive && old != nil {
				was = old.g[s].schools
			}
			for j, sc := range gu.schools {
				if err := x.role(gu.id, roleType(j), gu.role, x.schoolIDs[sc], status); err != nil {
					return err
				}
			}
			for k, sc := range was { // the schools they leave
				if !slices.Contains(gu.schools, sc) {
					if err := x.role(gu.id, roleType(k), gu.role, x.schoolIDs[sc], orToBeDeleted); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if d != nil {
		return nil
	}
	for i := range x.teachers {
		t := &x.teachers[i]
		if err := x.role(t.id, "primary", "teacher", t.org, ""); err != nil {
			return err
		}
	}
	return nil
}

func roleType(j int) string {
	if j == 0 {
		return "primary"
	}
	return "secondary"
}
