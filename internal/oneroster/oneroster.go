// Package oneroster reads a OneRoster 1.1 or 1.2 CSV export, the zip of
// the 1EdTech standard's files that student information systems produce,
// for an import: the archive within limits (archive.go), the manifest that
// names the version and what each file does (manifest.go), each entity
// file by its header names (table.go), all staged into temporary tables of
// the run's transaction, checked there for references that do not resolve
// (stage.go), and turned into one record per person (people.go) that the
// apply pipeline reads as it reads a flat district file. A student's
// record carries their guardians' phones and e-mails, labelled with the
// relation ("Guardian: Maria Lopez").
//
// PostgreSQL does the joins (guardians to students, people to schools):
// the run holds no more per person in memory than a flat file's run does
// (the pipeline's key index), and the export's files are read, never held.
package oneroster

import (
	"fmt"

	"github.com/rollcall/rollcall/internal/importfile"
)

// Version is the OneRoster version of an export, from its manifest.
type Version string

const (
	V11 Version = "1.1"
	V12 Version = "1.2"
)

// Mode is what the manifest says of one entity file.
type Mode string

const (
	// Bulk: the file is the complete set of its entity.
	Bulk Mode = "bulk"
	// Delta: the file holds changes: its rows apply, a row with status
	// tobedeleted removes its record.
	Delta Mode = "delta"
	// Absent: the export does not carry the entity; it stays as it was.
	Absent Mode = "absent"
)

// Row status values (delta files; bulk files leave status empty).
const (
	statusActive       = "active"
	statusToBeDeleted  = "tobedeleted"
	manifestFile       = "manifest.csv"
	manifestVersionKey = "oneroster.version"
)

// entity is one of the standard's CSV files that Rollcall reads: its file
// name, the columns it reads (as the standard spells them), and those it
// cannot do without. Columns of the file it does not know are kept as
// extension columns (users.csv: custom fields).
type entity struct {
	name     string // as in the manifest: file.<name>
	columns  []string
	required []string
}

func (e *entity) file() string { return e.name + ".csv" }

// The people's entities read, per version. Other files of an export
// (academic sessions, user profiles, results, …) are not read.
var (
	orgsEntity = entity{name: "orgs",
		columns:  []string{"sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"},
		required: []string{"sourcedId", "name", "type"}}
	users11Entity = entity{name: "users",
		columns: []string{"sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
			"userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds",
			"grades", "password"},
		required: []string{"sourcedId", "orgSourcedIds", "role", "givenName", "familyName"}}
	users12Entity = entity{name: "users",
		columns: []string{"sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName",
			"familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password",
			"userMasterIdentifier", "resourceSourcedIds", "preferredGivenName", "preferredMiddleName",
			"preferredFamilyName", "primaryOrgSourcedId", "pronouns"},
		required: []string{"sourcedId", "givenName", "familyName"}}
	rolesEntity = entity{name: "roles",
		columns: []string{"sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
			"endDate", "orgSourcedId", "userProfileSourcedId"},
		required: []string{"sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"}}
	demographicsEntity = entity{name: "demographics",
		columns: []string{"sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative",
			"asian", "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white",
			"demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity", "countryOfBirthCode",
			"stateOfBirthAbbreviation", "cityOfBirth", "publicSchoolResidenceStatus"},
		required: []string{"sourcedId"}}
)

// Classes, their courses, and who is enrolled in them (both versions).
var (
	coursesEntity = entity{name: "courses",
		columns: []string{"sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode", "grades",
			"orgSourcedId", "subjects", "subjectCodes"},
		required: []string{"sourcedId", "title"}}
	classesEntity = entity{name: "classes",
		columns: []string{"sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
			"classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods"},
		required: []string{"sourcedId", "title"}}
	enrollmentsEntity = entity{name: "enrollments",
		columns: []string{"sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId",
			"role", "primary", "beginDate", "endDate"},
		required: []string{"sourcedId", "classSourcedId", "userSourcedId", "role"}}
)

// guardiansEntity is not a file: the links between students and their
// guardians, derived by each run from users.csv's agentSourcedIds and
// kept as records like the files' (internal/recipients reads them).
var guardiansEntity = entity{name: "guardians", columns: []string{"sourcedId", "student", "guardian", "relation", "ord"}}

// fileError is a problem with one file of the export as a whole: the run
// fails before anything applies.
func fileError(file, format string, args ...any) *importfile.FileError {
	return &importfile.FileError{Message: file + ": " + fmt.Sprintf(format, args...)}
}
