package graph_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/server/servertest"
)

// zipOf builds a zip holding files (name → content), in name order.
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.Create(n)
		require.NoError(t, err)
		_, err = w.Write([]byte(files[n]))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// manifest11 is a OneRoster 1.1 manifest with modes for users and orgs
// (and demographics, when given).
func manifest(version string, modes map[string]string) string {
	var b strings.Builder
	b.WriteString("propertyName,value\nmanifest.version,1.0\noneroster.version," + version + "\n")
	for _, e := range []string{"academicSessions", "classes", "courses", "demographics", "enrollments", "orgs", "roles", "users"} {
		if version == "1.1" && e == "roles" {
			continue
		}
		m := modes[e]
		if m == "" {
			m = "absent"
		}
		b.WriteString("file." + e + "," + m + "\n")
	}
	b.WriteString("source.systemName,Test SIS\nsource.systemCode,TEST\n")
	return b.String()
}

const orgsCSV = `sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
DIST,,,Springfield District,district,,
SCH1,,,Lincoln Elementary,school,,DIST
SCH2,,,Roosevelt Middle,school,,DIST
`

// users11 is a OneRoster 1.1 users.csv: two students (siblings) sharing a
// parent and a guardian, a student of the other school, a teacher.
const users11 = `sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,metadata.language
S1,,,true,SCH1,student,ana,,Ana,Lopez,,1001,ana@students.test,,,"P1,G1",KG,,Spanish
S2,,,true,SCH1,student,ben,,Ben,Lopez,,1002,,,,P1,03,,Spanish
S3,,,true,SCH2,student,cy,,Cy,Young,,1003,,,,,07,,English
P1,,,true,SCH1,parent,,,Maria,Lopez,,,maria@home.test,(217) 555-0101,(217) 555-0101,"S1,S2",,,
G1,,,true,SCH1,guardian,,,Jose,Ruiz,,,,217-555-0102,,S1,,,
T1,,,true,"DIST,SCH2",teacher,parker,,Pat,Parker,,,pparker@district.test,,,,,,
`

func createOneRosterImport(t *testing.T, s *servertest.Server, token, name, method string, extra string) string {
	t.Helper()
	var out struct{ CreateImport struct{ ID, Format string } }
	s.MustQuery(t, token, `mutation($n: String!, $m: ImportMethod!) { createImport(input: {name: $n, method: $m, format: ONEROSTER`+extra+`}) { id format } }`,
		map[string]any{"n": name, "m": method}, &out)
	require.Equal(t, "ONEROSTER", out.CreateImport.Format)
	return out.CreateImport.ID
}

func uploadZipAndRun(t *testing.T, s *servertest.Server, token, importID string, content []byte) servertest.RunState {
	t.Helper()
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": importID, "run": true}, "oneroster.zip", content)
	var out uploadOut
	resp.Decode(t, &out)
	require.NotNil(t, out.UploadImportFile.Run, string(resp.Body))
	return s.WaitRun(t, token, out.UploadImportFile.Run.ID)
}

type orPerson struct {
	ExternalID, Type, FirstName, LastName string
	Grade, School, Language               *string
	Phones                                []struct{ Number, Label string }
	Emails                                []struct{ Address, Label string }
	CustomFields                          json.RawMessage
}

func orPeople(t *testing.T, s *servertest.Server, token, importID string) map[string]orPerson {
	t.Helper()
	var out struct {
		Recipients struct{ Nodes []orPerson }
	}
	s.MustQuery(t, token, `query($id: ID!) { recipients(importId: $id, first: 500) { nodes {
		externalId type firstName lastName grade school language phones { number label } emails { address label } customFields } } }`,
		map[string]any{"id": importID}, &out)
	people := map[string]orPerson{}
	for _, p := range out.Recipients.Nodes {
		people[p.ExternalID] = p
	}
	return people
}

func TestOneRosterBulkExport(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")

	for _, version := range []string{"1.1", "1.2"} {
		t.Run(version, func(t *testing.T) {
			files := map[string]string{"manifest.csv": manifest(version, map[string]string{"users": "bulk", "orgs": "bulk", "demographics": "bulk", "roles": "bulk"}),
				"orgs.csv": orgsCSV,
				"demographics.csv": "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n" +
					"S1,,,2020-04-01,female,,,,,,,true,,,,\n"}
			files["users.csv"] = users11
			if version == "1.2" {
				files["users.csv"], files["roles.csv"] = users12(t, users11)
			}
			id := createOneRosterImport(t, s, admin, "OneRoster "+version, "FULL", "")
			run := uploadZipAndRun(t, s, admin, id, zipOf(t, files))
			require.Equal(t, "SUCCEEDED", run.Status, run.Message)
			require.Equal(t, 6, run.RowsRead)
			require.Equal(t, 6, run.Created)

			people := orPeople(t, s, admin, id)
			require.Len(t, people, 6)
			ana := people["S1"]
			require.Equal(t, "STUDENT", ana.Type)
			require.Equal(t, "Ana", ana.FirstName)
			require.Equal(t, "K", *ana.Grade)
			require.Equal(t, "Lincoln Elementary", *ana.School)
			require.Equal(t, "Spanish", *ana.Language)
			// The guardians' phones and e-mails, labelled with the relation.
			require.ElementsMatch(t, []struct{ Number, Label string }{
				{"+12175550101", "Parent: Maria Lopez"}, {"+12175550102", "Guardian: Jose Ruiz"}}, ana.Phones)
			require.ElementsMatch(t, []struct{ Address, Label string }{
				{"ana@students.test", "Email"}, {"maria@home.test", "Parent: Maria Lopez"}}, ana.Emails)
			var custom map[string]string
			require.NoError(t, json.Unmarshal(ana.CustomFields, &custom))
			require.Equal(t, "1001", custom["identifier"])
			require.Equal(t, "2020-04-01", custom["birthDate"])
			require.Equal(t, "female", custom["sex"])

			// A sibling linked from the parent's side only.
			ben := people["S2"]
			require.Equal(t, "3", *ben.Grade)
			require.Equal(t, []struct{ Number, Label string }{{"+12175550101", "Parent: Maria Lopez"}}, ben.Phones)
			require.Equal(t, "7", *people["S3"].Grade)
			require.Empty(t, people["S3"].Phones)

			require.Equal(t, "CONTACT", people["P1"].Type)
			require.Equal(t, []struct{ Number, Label string }{{"+12175550101", "Phone"}}, people["P1"].Phones,
				"the same number as sms and phone is one contact point")
			require.Equal(t, "CONTACT", people["G1"].Type)
			// A teacher of the district and a school: the school is theirs.
			require.Equal(t, "STAFF", people["T1"].Type)
			require.Equal(t, "Roosevelt Middle", *people["T1"].School)

			var imp struct{ Import struct{ KeyColumn string } }
			s.MustQuery(t, admin, `query($id: ID!) { import(id: $id) { keyColumn } }`, map[string]any{"id": id}, &imp)
			require.Equal(t, "sourcedId", imp.Import.KeyColumn)
			resp := s.Query(t, admin, `query($id: ID!) { proposeMapping(importId: $id) { column } }`, map[string]any{"id": id})
			require.Equal(t, "CONFLICT", resp.Errors[0].Code(), "%s", resp.Body)

			// The same export again changes nothing.
			again := uploadZipAndRun(t, s, admin, id, zipOf(t, files))
			require.Equal(t, "SUCCEEDED", again.Status, again.Message)
			require.Equal(t, 6, again.Unchanged)
		})
	}
}

// users12 turns users11 into OneRoster 1.2's users.csv and roles.csv: the
// role and orgs move to roles (the first org primary).
func users12(t *testing.T, v11 string) (users, roles string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(v11), "\n")
	var u, r strings.Builder
	u.WriteString("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns,metadata.language\n")
	r.WriteString("sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\n")
	for i, line := range lines[1:] {
		f := splitCSV(t, line)
		orgs := strings.Split(f[4], ",")
		primary := orgs[len(orgs)-1]
		u.WriteString(joinCSV(f[0], f[1], f[2], f[3], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15], f[16], f[17], "", "", "", "", "", primary, "", f[18]) + "\n")
		for j, org := range orgs {
			typ := "secondary"
			if org == primary {
				typ = "primary"
			}
			r.WriteString(joinCSV("R"+string(rune('a'+i))+string(rune('0'+j)), "", "", f[0], typ, f[5], "", "", org, "") + "\n")
		}
	}
	return u.String(), r.String()
}

func splitCSV(t *testing.T, line string) []string {
	t.Helper()
	rec, err := csv.NewReader(strings.NewReader(line)).Read()
	require.NoError(t, err)
	return rec
}

func joinCSV(fields ...string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(fields) // a strings.Builder never fails
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

type orRunError struct {
	File, Column, Value *string
	Line                int
	Message             string
}

func orRunErrors(t *testing.T, s *servertest.Server, token, runID string) []orRunError {
	t.Helper()
	var out struct {
		ImportRun struct{ Errors struct{ Nodes []orRunError } }
	}
	s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { errors(first: 100) { nodes { file line column value message } } } }`,
		map[string]any{"id": runID}, &out)
	return out.ImportRun.Errors.Nodes
}

func str(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestOneRosterRowErrorsNameFileLineAndColumn(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Rostered", "FULL", ", rejectionThreshold: 60")
	// Jose's name in Windows-1252, as some SIS exports write it.
	users := strings.Replace(users11, "Jose,Ruiz", "Jos\xe9,Ruiz", 1) +
		"S4,,,true,SCH9,student,,,Dee,Nowhere,,,,,,,05,,\n" + // line 8: an org that does not exist
		"X1,,,true,SCH1,janitor,,,Al,Broom,,,,,,,,,\n" + // line 9: not a OneRoster role
		"G2,,,true,SCH1,guardian,,,Bad,Phone,,,bad@home.test,12,,S3,,,\n" + // line 10: an invalid phone
		"S1,,,true,SCH1,student,,,Ana,Other,,,,,,,KG,,\n" // line 11: S1 again, different
	orgs := orgsCSV + "SCH1,,,Lincoln Again,school,,DIST\n" // line 5: SCH1 again
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, map[string]string{
		"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}),
		"orgs.csv":     orgs, "users.csv": users}))
	require.Equal(t, "SUCCEEDED_WITH_ERRORS", run.Status, run.Message)
	require.Equal(t, 10, run.RowsRead)
	require.Contains(t, run.Warnings, "users.csv: 1 field(s) were not valid UTF-8 and were read as Windows-1252 (first on line 6); save the export as CSV UTF-8 to avoid this")
	require.Equal(t, 5, run.Created, "P1, G1, S2, S3, T1: S1's two rows conflict")

	got := map[string]orRunError{}
	for _, e := range orRunErrors(t, s, admin, run.ID) {
		got[str(e.File)+":"+strconv.Itoa(e.Line)] = e
	}
	want := map[string][2]string{ // column, message part
		"orgs.csv:5":   {"sourcedId", "sourcedId SCH1 already appears on line 3"},
		"users.csv:8":  {"orgSourcedIds", "orgSourcedIds names org SCH9, which is not in orgs.csv"},
		"users.csv:9":  {"role", "unknown role janitor"},
		"users.csv:10": {"sms", `"12" is not a valid phone number`},
		"users.csv:2":  {"sourcedId", `key "S1" appears again on line 11`},
		"users.csv:11": {"sourcedId", `key "S1" already appeared on line 2`},
	}
	require.Len(t, got, len(want), "%+v", got)
	for at, w := range want {
		e, ok := got[at]
		require.True(t, ok, "no error at %s: %+v", at, got)
		require.Equal(t, w[0], str(e.Column), at)
		require.Contains(t, e.Message, w[1], at)
	}
	people := orPeople(t, s, admin, id)
	require.NotContains(t, people, "S1")
	require.NotContains(t, people, "G2")
	// S3's guardian was rejected for the phone: S3 keeps the guardian's
	// valid e-mail, not the phone.
	require.Empty(t, people["S3"].Phones)
	require.Equal(t, []struct{ Address, Label string }{{"bad@home.test", "Guardian: Bad Phone"}}, people["S3"].Emails)
}

func TestOneRosterBrokenExportsApplyNothing(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	good := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}), "orgs.csv": orgsCSV, "users.csv": users11}
	with := func(name, content string) map[string]string {
		out := maps.Clone(good)
		if content == "" {
			delete(out, name)
		} else {
			out[name] = content
		}
		return out
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"declared file missing", with("orgs.csv", ""), "manifest.csv declares orgs.csv (bulk) but the zip does not hold it"},
		{"unknown version", with("manifest.csv", manifest("2.0", map[string]string{"users": "bulk", "orgs": "bulk"})), `oneroster.version is "2.0"`},
		{"no manifest", with("manifest.csv", ""), "no manifest.csv"},
		{"header lacks a column", with("users.csv", strings.Replace(users11, "givenName", "firstName", 1)), "users.csv: the header lacks givenName"},
		{"1.2 header names are case-sensitive", map[string]string{
			"manifest.csv": manifest("1.2", map[string]string{"users": "bulk", "orgs": "bulk", "roles": "bulk"}), "orgs.csv": orgsCSV,
			"users.csv": "SourcedId,givenName,familyName\nS1,Ana,Lopez\n",
			"roles.csv": "sourcedId,userSourcedId,roleType,role,orgSourcedId\nR1,S1,primary,student,SCH1\n"}, "case-sensitive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := createOneRosterImport(t, s, admin, "Broken "+c.name, "FULL", "")
			run := uploadZipAndRun(t, s, admin, id, zipOf(t, c.files))
			require.Equal(t, "FAILED", run.Status)
			require.Contains(t, run.Message, c.want)
			require.Empty(t, orPeople(t, s, admin, id))
		})
	}

	// A file that is not a zip is refused at upload, before any run.
	id := createOneRosterImport(t, s, admin, "Not a zip", "FULL", "")
	resp := s.Upload(t, admin, uploadMutation, map[string]any{"id": id, "run": true}, "students.csv", []byte(studentsCSV))
	require.Contains(t, string(resp.Body), "not a zip archive")
	// A OneRoster import takes no mapping, and brings in recipients only.
	resp = s.Query(t, admin, `mutation { createImport(input: {name: "M", method: FULL, format: ONEROSTER, mapping: [{column: "a", field: "externalId"}]}) { id } }`, nil)
	require.Contains(t, string(resp.Body), "takes no mapping")
	resp = s.Query(t, admin, `mutation { createImport(input: {name: "U", method: FULL, format: ONEROSTER, kind: USER}) { id } }`, nil)
	require.Contains(t, string(resp.Body), "use kind RECIPIENT with format ONEROSTER")
	// Teachers' accounts need a OneRoster import.
	resp = s.Query(t, admin, `mutation { createImport(input: {name: "P", method: FULL, provisionTeacherAccounts: true}) { id } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", resp.FirstCode(), "%s", resp.Body)
	require.Contains(t, string(resp.Body), "only a OneRoster import")
}

func TestOneRosterDeltaAppliesRowsAndRemovesToBeDeleted(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Nightly", "FULL", ", removalThreshold: 50")
	bulk := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}), "orgs.csv": orgsCSV, "users.csv": users11}
	require.Equal(t, "SUCCEEDED", uploadZipAndRun(t, s, admin, id, zipOf(t, bulk)).Status)

	header, _, _ := strings.Cut(users11, "\n")
	delta := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "delta", "orgs": "bulk"}), "orgs.csv": orgsCSV,
		"users.csv": header + "\n" +
			"S3,tobedeleted,2026-12-01T02:00:00Z,true,SCH2,student,cy,,Cy,Young,,1003,,,,,07,,English\n" +
			"S2,active,2026-12-01T02:00:00Z,true,SCH1,student,ben,,Ben,Lopez,,1002,,,,P1,04,,Spanish\n" +
			"S5,active,2026-12-01T02:00:00Z,true,SCH2,student,,,Eve,New,,1005,,,,,08,,\n"}
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, delta))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	// A OneRoster run reads the people the import holds once the export
	// applies: the delta's three and the four it left as they were.
	require.Equal(t, servertest.RunState{RowsRead: 6, Created: 1, Updated: 1, Removed: 1, Unchanged: 4},
		servertest.RunState{RowsRead: run.RowsRead, Created: run.Created, Updated: run.Updated, Removed: run.Removed, Unchanged: run.Unchanged})
	people := orPeople(t, s, admin, id)
	require.Len(t, people, 6, "S1, S2, S5, P1, G1, T1: a delta removes only what it says")
	require.NotContains(t, people, "S3")
	require.Equal(t, "4", *people["S2"].Grade)
	// S2 lists P1 again: the guardian's contact points are on the row.
	require.Equal(t, []struct{ Number, Label string }{{"+12175550101", "Parent: Maria Lopez"}}, people["S2"].Phones)

	// A third guardian for Ana, and an extension column no one had: only
	// Ana and the relative change; nobody else is rewritten.
	more := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "delta"}),
		"users.csv": header + ",metadata.bus\n" +
			"R1,active,2026-12-02T02:00:00Z,true,SCH1,relative,,,Rosa,Diaz,,,,217-555-0177,,S1,,,,12\n"}
	run = uploadZipAndRun(t, s, admin, id, zipOf(t, more))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, 1, run.Created)
	require.Equal(t, 1, run.Updated)
	var undone int
	require.NoError(t, s.DB.NewRaw(`SELECT count(*) FROM import_run_undo WHERE run_id = ?`, run.ID).Scan(context.Background(), &undone))
	require.Equal(t, 1, undone, "before-images of Ana only")
	people = orPeople(t, s, admin, id)
	require.Contains(t, people["S1"].Phones, struct{ Number, Label string }{"+12175550177", "Relative: Rosa Diaz"})
	var custom map[string]string
	require.NoError(t, json.Unmarshal(people["R1"].CustomFields, &custom))
	require.Equal(t, "12", custom["metadata.bus"])
}

func TestOneRosterRevertPutsTheRecordsBack(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Reverted", "FULL", ", removalThreshold: 50")
	files := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}), "orgs.csv": orgsCSV, "users.csv": users11}
	require.Equal(t, "SUCCEEDED", uploadZipAndRun(t, s, admin, id, zipOf(t, files)).Status)
	before := orPeople(t, s, admin, id)

	// A delta: Maria's phone changes (on her students too), the district
	// org is renamed, and Jose is no longer Ana's guardian.
	header, _, _ := strings.Cut(users11, "\n")
	delta := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "delta"}),
		"users.csv": header + "\n" +
			"P1,active,2026-12-01T02:00:00Z,true,SCH1,parent,,,Maria,Lopez,,,maria@home.test,(217) 555-0199,(217) 555-0199,\"S1,S2\",,,\n" +
			"G1,tobedeleted,2026-12-01T02:00:00Z,true,SCH1,guardian,,,Jose,Ruiz,,,,217-555-0102,,S1,,,\n"}
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, delta))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, 1, run.Removed)
	require.Equal(t, 3, run.Updated, "Maria, and the phone on Ana's and Ben's records")
	after := orPeople(t, s, admin, id)
	require.Equal(t, []struct{ Number, Label string }{{"+12175550199", "Parent: Maria Lopez"}}, after["S1"].Phones)

	var rev struct{ RevertImportRun struct{ ID string } }
	s.MustQuery(t, admin, `mutation($id: ID!) { revertImportRun(runId: $id) { id } }`, map[string]any{"id": run.ID}, &rev)
	require.Equal(t, "SUCCEEDED", s.WaitRun(t, admin, rev.RevertImportRun.ID).Status)
	require.Equal(t, before, orPeople(t, s, admin, id))

	// The next delta builds on the records as they were before the
	// reverted one: Jose is Ana's guardian again, with his phone.
	next := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "delta"}),
		"users.csv": header + "\n" + "S3,active,2026-12-02T02:00:00Z,true,SCH2,student,cy,,Cy,Young,,1003,,,,,08,,English\n"}
	run = uploadZipAndRun(t, s, admin, id, zipOf(t, next))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Equal(t, 1, run.Updated)
	people := orPeople(t, s, admin, id)
	require.Equal(t, before["S1"], people["S1"])
	require.Equal(t, "8", *people["S3"].Grade)
}

func TestOneRosterRecipientsStayWithinARestriction(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Scoped", "FULL", "")
	files := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}), "orgs.csv": orgsCSV, "users.csv": users11}
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, files))
	require.Equal(t, "SUCCEEDED", run.Status)

	u, token := s.User(t, admin, "roosevelt@district.test")
	s.MustQuery(t, admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {school: {eq: "Roosevelt Middle"}}) { id } }`, map[string]any{"u": fmt.Sprint(u.ID)}, nil)
	var out struct {
		Recipients struct{ Nodes []struct{ ExternalID string } }
	}
	s.MustQuery(t, token, `{ recipients(filter: {all: true}, first: 100) { nodes { externalId } } }`, nil, &out)
	var seen []string
	for _, n := range out.Recipients.Nodes {
		seen = append(seen, n.ExternalID)
	}
	require.ElementsMatch(t, []string{"S3", "T1"}, seen, "Roosevelt's student and teacher only")
	// The import's format, and a run's errors, are administrators' only.
	resp := s.Query(t, token, `{ recipients(filter: {all: true}, first: 1) { nodes { import { name format } } } }`, nil)
	require.Equal(t, "FORBIDDEN", resp.Errors[0].Code(), "%s", resp.Body)
	resp = s.Query(t, token, `query($id: ID!) { importRun(id: $id) { errors { nodes { file } } } }`, map[string]any{"id": run.ID})
	require.Equal(t, "FORBIDDEN", resp.Errors[0].Code(), "%s", resp.Body)
}

// The district generator's OneRoster exports, bulk then delta, in both
// versions: exact counts, and each student's guardians' phones and e-mails
// as the flat file of the same district gives them.
func TestOneRosterDistrictExports(t *testing.T) {
	t.Parallel()
	opts := districtgen.Options{Rows: 300, Seed: 20261205, Schools: 3}
	for _, version := range []string{"1.1", "1.2"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			s := servertest.New(t, nil)
			_, admin := s.Admin(t, "admin@district.test")
			id := createOneRosterImport(t, s, admin, "District", "FULL", ", removalThreshold: 100")
			bulk := districtgen.OneRoster{Version: version}
			var zipped bytes.Buffer
			require.NoError(t, districtgen.WriteOneRoster(&zipped, opts, bulk))
			c := districtgen.OneRosterCountsOf(opts, bulk)
			people := c.Students + c.Guardians + c.Teachers
			run := uploadZipAndRun(t, s, admin, id, zipped.Bytes())
			require.Equal(t, "SUCCEEDED", run.Status, run.Message)
			require.Equal(t, people, run.Created)
			require.Zero(t, run.Rejected)

			// Every student's phones and e-mails: their guardians' as the
			// flat file writes them (normalized), each labelled with the
			// relation and the guardian's name.
			flat := flatGuardians(t, districtgen.File(opts))
			got := studentContacts(t, s, admin, id)
			require.Len(t, got, opts.Rows)
			for sid, want := range flat {
				require.ElementsMatch(t, want.phones, got[sid].phones, sid)
				require.Subset(t, got[sid].emails, want.emails, sid)
				for _, l := range got[sid].labels {
					require.Regexp(t, `^(Parent|Guardian|Relative): \S`, l, sid)
				}
			}

			// The next day, as a delta.
			ch := districtgen.Change{Day: 1}
			delta := districtgen.OneRoster{Version: version, Delta: true, Change: ch}
			zipped.Reset()
			require.NoError(t, districtgen.WriteOneRoster(&zipped, opts, delta))
			nc := districtgen.NextDayCounts(opts, ch)
			dc := districtgen.OneRosterCountsOf(opts, delta)
			run = uploadZipAndRun(t, s, admin, id, zipped.Bytes())
			require.Equal(t, "SUCCEEDED", run.Status, run.Message)
			require.Zero(t, run.Rejected)
			require.Equal(t, dc.Deleted, run.Removed, "withdrawn students, and guardians left without a child")
			require.LessOrEqual(t, nc.Removed, dc.Deleted)
			// The flat next-day file and the delta say the same of students.
			next := flatGuardians(t, districtgen.NextDayFile(opts, ch))
			got = studentContacts(t, s, admin, id)
			require.Len(t, got, len(next))
			for sid, want := range next {
				require.ElementsMatch(t, want.phones, got[sid].phones, sid)
			}
		})
	}
}

type contacts struct{ phones, emails, labels []string }

// flatGuardians reads a flat district file's students' guardian phones and
// e-mails, normalized as Rollcall stores them.
func flatGuardians(t *testing.T, file string) map[string]contacts {
	t.Helper()
	r := csv.NewReader(strings.NewReader(file))
	rows, err := r.ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	out := map[string]contacts{}
	for _, row := range rows[1:] {
		var c contacts
		for _, g := range []string{"guardian1", "guardian2"} {
			if p, ok := recipients.NormalizePhone(row[col[g+"_phone"]]); ok {
				c.phones = append(c.phones, p)
			}
			if e, ok := recipients.NormalizeEmail(row[col[g+"_email"]]); ok {
				c.emails = append(c.emails, e)
			}
		}
		out[row[col["student_id"]]] = c
	}
	return out
}

func studentContacts(t *testing.T, s *servertest.Server, token, importID string) map[string]contacts {
	t.Helper()
	out := map[string]contacts{}
	after := ""
	for {
		var page struct {
			Recipients struct {
				Nodes []struct {
					ExternalID string
					Phones     []struct{ Number, Label string }
					Emails     []struct{ Address, Label string }
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		s.MustQuery(t, token, `query($id: ID!, $after: String) { recipients(importId: $id, filter: {type: {eq: STUDENT}}, first: 500, after: $after) {
			nodes { externalId phones { number label } emails { address label } } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"id": importID, "after": opt(after)}, &page)
		for _, n := range page.Recipients.Nodes {
			var c contacts
			for _, p := range n.Phones {
				c.phones = append(c.phones, p.Number)
				c.labels = append(c.labels, p.Label)
			}
			for _, e := range n.Emails {
				c.emails = append(c.emails, e.Address)
			}
			out[n.ExternalID] = c
		}
		if !page.Recipients.PageInfo.HasNextPage {
			return out
		}
		after = page.Recipients.PageInfo.EndCursor
	}
}

func opt(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const coursesCSV = `sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes
CRS1,,,,Algebra I,ALG1,07,SCH2,,
`

const classesCSV = `sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods
C1,,,Algebra I - Period 3,07,CRS1,ALG1-3,scheduled,Room 12,SCH2,,,,3
C2,,,Homeroom K,KG,,HR-K,homeroom,,SCH1,,,,HR
`

const enrollmentsCSV = `sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
E1,,,C1,SCH2,S3,student,,,
E2,,,C1,SCH2,T1,teacher,true,,
E3,,,C2,SCH1,S1,student,,,
E4,,,C2,SCH1,S9,student,,,
E5,,,C9,SCH1,S2,student,,,
`

func TestOneRosterClassesAndGuardianLinks(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Classes", "FULL", ", rejectionThreshold: 50")
	modes := map[string]string{"users": "bulk", "orgs": "bulk", "courses": "bulk", "classes": "bulk", "enrollments": "bulk"}
	files := map[string]string{"manifest.csv": manifest("1.1", modes), "orgs.csv": orgsCSV, "users.csv": users11,
		"courses.csv": coursesCSV, "classes.csv": classesCSV, "enrollments.csv": enrollmentsCSV}
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, files))
	require.Equal(t, "SUCCEEDED_WITH_ERRORS", run.Status, run.Message)
	// Enrollments naming a person or a class the export lacks.
	errs := orRunErrors(t, s, admin, run.ID)
	require.Len(t, errs, 2)
	require.Equal(t, orRunError{File: sp("enrollments.csv"), Line: 5, Column: sp("userSourcedId"), Value: sp("S9"),
		Message: "userSourcedId names user S9, which is not in users.csv"}, errs[0])
	require.Equal(t, orRunError{File: sp("enrollments.csv"), Line: 6, Column: sp("classSourcedId"), Value: sp("C9"),
		Message: "classSourcedId names class C9, which is not in classes.csv"}, errs[1])

	type class struct {
		SourcedID, Title, Role string
		ClassCode, Course      *string
		School                 *string
		Periods                []string
	}
	var out struct {
		Recipients struct {
			Nodes []struct {
				ExternalID string
				Classes    []class
				Guardians  []struct{ ExternalID string }
				Students   []struct{ ExternalID string }
			}
		}
	}
	s.MustQuery(t, admin, `query($id: ID!) { recipients(importId: $id, first: 100, orderBy: EXTERNAL_ID) { nodes { externalId
		classes { sourcedId title classCode course school periods role } guardians { externalId } students { externalId } } } }`,
		map[string]any{"id": id}, &out)
	byID := map[string]int{}
	for i, n := range out.Recipients.Nodes {
		byID[n.ExternalID] = i
	}
	node := func(id string) int { i, ok := byID[id]; require.True(t, ok, id); return i }
	nodes := out.Recipients.Nodes
	require.Equal(t, []class{{SourcedID: "C1", Title: "Algebra I - Period 3", Role: "student", ClassCode: sp("ALG1-3"), Course: sp("Algebra I"),
		School: sp("Roosevelt Middle"), Periods: []string{"3"}}}, nodes[node("S3")].Classes)
	require.Equal(t, "teacher", nodes[node("T1")].Classes[0].Role)
	require.Empty(t, nodes[node("S2")].Classes, "the enrollment naming a missing class is left out")
	require.Equal(t, []struct{ ExternalID string }{{"P1"}, {"G1"}}, nodes[node("S1")].Guardians)
	require.Equal(t, []struct{ ExternalID string }{{"S1"}, {"S2"}}, nodes[node("P1")].Students)
	require.Empty(t, nodes[node("S3")].Guardians)

	// A list of a class follows the exports: Mrs. Parker's algebra class.
	var list struct {
		CreateList struct {
			ID          string
			MemberCount int
		}
	}
	s.MustQuery(t, admin, `mutation { createList(input: {name: "Algebra 3rd period", filter: {class: {eq: "algebra i - period 3"}}}) { id memberCount } }`, nil, &list)
	require.Equal(t, 2, list.CreateList.MemberCount, "S3 and the teacher")
	for _, f := range []struct {
		filter string
		want   []string
	}{
		{`{class: {eq: "ALG1-3"}}`, []string{"S3", "T1"}},
		{`{class: {in: ["C2", "nothing"]}}`, []string{"S1"}},
		{`{class: {startsWith: "homeroom"}}`, []string{"S1"}},
		{`{class: {contains: "period"}, type: {eq: STUDENT}}`, []string{"S3"}},
		{`{class: {neq: "C1"}, type: {eq: STUDENT}}`, []string{"S1", "S2"}},
		{`{class: {isNull: true}, type: {eq: STUDENT}}`, []string{"S2"}},
	} {
		var got struct {
			Recipients struct{ Nodes []struct{ ExternalID string } }
		}
		s.MustQuery(t, admin, `{ recipients(filter: `+f.filter+`, first: 100, orderBy: EXTERNAL_ID) { nodes { externalId } } }`, nil, &got)
		var ids []string
		for _, n := range got.Recipients.Nodes {
			ids = append(ids, n.ExternalID)
		}
		require.Equal(t, f.want, ids, f.filter)
	}

	// The next night's delta: S2 joins the class, S3 leaves it.
	delta := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"enrollments": "delta"}),
		"enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role\n" +
			"E1,tobedeleted,2026-12-01T02:00:00Z,C1,SCH2,S3,student\n" +
			"E6,active,2026-12-01T02:00:00Z,C1,SCH2,S2,student\n"}
	run = uploadZipAndRun(t, s, admin, id, zipOf(t, delta))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	var l struct {
		List struct {
			MemberCount int
			Members     struct{ Nodes []struct{ ExternalID string } }
		}
	}
	s.MustQuery(t, admin, `query($id: ID!) { list(id: $id) { memberCount members(first: 10, orderBy: EXTERNAL_ID) { nodes { externalId } } } }`,
		map[string]any{"id": list.CreateList.ID}, &l)
	require.Equal(t, []struct{ ExternalID string }{{"S2"}, {"T1"}}, l.List.Members.Nodes)

	// A user restricted to Lincoln's students sees the class members at
	// Lincoln, and none of their guardians (contacts, outside the
	// restriction).
	u, token := s.User(t, admin, "lincoln@district.test")
	s.MustQuery(t, admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {school: {eq: "Lincoln Elementary"}, type: {eq: STUDENT}}) { id } }`, map[string]any{"u": fmt.Sprint(u.ID)}, nil)
	var mine struct {
		Recipients struct {
			Nodes []struct {
				ExternalID string
				Guardians  []struct{ ExternalID string }
			}
		}
	}
	s.MustQuery(t, token, `{ recipients(filter: {class: {isNull: false}}, first: 100, orderBy: EXTERNAL_ID) { nodes { externalId guardians { externalId } } } }`, nil, &mine)
	require.Len(t, mine.Recipients.Nodes, 2)
	require.Equal(t, "S1", mine.Recipients.Nodes[0].ExternalID)
	require.Equal(t, "S2", mine.Recipients.Nodes[1].ExternalID)
	require.Empty(t, mine.Recipients.Nodes[0].Guardians)
	// An administrator sees them.
	s.MustQuery(t, admin, `{ recipients(filter: {externalId: {eq: "S1"}}) { nodes { externalId guardians { externalId } } } }`, nil, &mine)
	require.Len(t, mine.Recipients.Nodes[0].Guardians, 2)
}

func sp(s string) *string { return &s }

// A teacher's account sees exactly their students and those students'
// guardians, checked against the database's own links; it follows the
// exports, keeps an administrator's override, and is disabled when the
// teacher leaves.
func TestOneRosterTeacherAccounts(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	// An administrator whose address is a teacher's: left alone.
	s.MustQuery(t, admin, `mutation { createUser(input: {email: "kim@district.test", name: "Kim Admin", role: SYSTEM_ADMIN}) { id } }`, nil, nil)
	id := createOneRosterImport(t, s, admin, "Teachers", "FULL", ", provisionTeacherAccounts: true, removalThreshold: 100")
	users := users11 +
		"T2,,,true,SCH1,teacher,,,Kay,Kinder,,,kkinder@district.test,,,,,,\n" +
		"T3,,,true,SCH1,teacher,,,Kim,Admin,,,kim@district.test,,,,,,\n" +
		"T4,,,true,SCH1,teacher,,,No,Email,,,,,,,,,\n"
	enrollments := "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n" +
		"E1,,,C1,SCH2,S3,student,,,\nE2,,,C1,SCH2,T1,teacher,true,,\nE3,,,C2,SCH1,S1,student,,,\nE4,,,C2,SCH1,T2,teacher,true,,\n"
	files := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk", "courses": "bulk", "classes": "bulk", "enrollments": "bulk"}),
		"orgs.csv": orgsCSV, "users.csv": users, "courses.csv": coursesCSV, "classes.csv": classesCSV, "enrollments.csv": enrollments}
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, files))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Contains(t, run.Warnings, "teachers' accounts: 2 created, 0 updated, 0 disabled; 1 teacher(s) share their e-mail with an administrator or an account another import manages, left as they are")

	type account struct {
		ID, Name, Role         string
		Disabled               bool
		RestrictionFromImport  bool
		RestrictionDescription *string
		ManagedBy              *struct{ ID string }
	}
	accountOf := func(email string) account {
		var out struct{ Users struct{ Nodes []account } }
		s.MustQuery(t, admin, `query($e: String!) { users(search: $e, first: 5) { nodes { id name role disabled restrictionFromImport restrictionDescription managedBy { id } } } }`,
			map[string]any{"e": email}, &out)
		require.Len(t, out.Users.Nodes, 1, email)
		return out.Users.Nodes[0]
	}
	kinder := accountOf("kkinder@district.test")
	require.Equal(t, "Kay Kinder", kinder.Name)
	require.Equal(t, "USER", kinder.Role)
	require.True(t, kinder.RestrictionFromImport)
	require.Equal(t, id, kinder.ManagedBy.ID)
	require.Equal(t, "SYSTEM_ADMIN", accountOf("kim@district.test").Role)

	// What a teacher's token sees: exactly their students and the
	// students' guardians, as the database links them.
	sees := func(userID string) []string {
		var tok struct{ CreateApiToken struct{ Token string } }
		s.MustQuery(t, admin, `mutation($u: ID!) { createApiToken(userId: $u, name: "t") { token } }`, map[string]any{"u": userID}, &tok)
		var out struct {
			Recipients struct{ Nodes []struct{ ExternalID string } }
		}
		s.MustQuery(t, tok.CreateApiToken.Token, `{ recipients(filter: {all: true}, first: 100, orderBy: EXTERNAL_ID) { nodes { externalId } } }`, nil, &out)
		ids := []string{}
		for _, n := range out.Recipients.Nodes {
			ids = append(ids, n.ExternalID)
		}
		return ids
	}
	expected := func(teacher string) []string {
		var ids []string
		require.NoError(t, s.DB.NewRaw(`SELECT DISTINCT x FROM (
				SELECT s.data->>'userSourcedId' AS student FROM oneroster_records e
				JOIN oneroster_records s ON s.import_id = e.import_id AND s.entity = 'enrollments' AND s.to_run IS NULL
					AND s.data->>'classSourcedId' = e.data->>'classSourcedId' AND s.data->>'role' = 'student'
				WHERE e.import_id = ? AND e.entity = 'enrollments' AND e.to_run IS NULL AND e.data->>'userSourcedId' = ? AND e.data->>'role' = 'teacher') st
			CROSS JOIN LATERAL (SELECT st.student UNION ALL SELECT g.data->>'guardian' FROM oneroster_records g
				WHERE g.import_id = ? AND g.entity = 'guardians' AND g.to_run IS NULL AND g.data->>'student' = st.student) p(x)
			ORDER BY x`, id, teacher, id).Scan(context.Background(), &ids))
		return ids
	}
	require.Equal(t, []string{"G1", "P1", "S1"}, expected("T2"))
	require.Equal(t, expected("T2"), sees(kinder.ID))
	parker := accountOf("pparker@district.test")
	require.Equal(t, []string{"S3"}, expected("T1"))
	require.Equal(t, expected("T1"), sees(parker.ID))

	// An administrator overrides Parker's restriction: the next export
	// keeps it. Kinder leaves the export: disabled.
	s.MustQuery(t, admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {school: {eq: "Roosevelt Middle"}}) { id } }`, map[string]any{"u": parker.ID}, nil)
	files["users.csv"] = strings.Replace(users, "T2,,,true,SCH1,teacher,,,Kay,Kinder,,,kkinder@district.test,,,,,,\n", "", 1)
	files["enrollments.csv"] = strings.Replace(enrollments, "E4,,,C2,SCH1,T2,teacher,true,,\n", "", 1)
	run = uploadZipAndRun(t, s, admin, id, zipOf(t, files))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	require.Contains(t, run.Warnings, "teachers' accounts: 0 created, 0 updated, 1 disabled; 1 teacher(s) share their e-mail with an administrator or an account another import manages, left as they are")
	require.True(t, accountOf("kkinder@district.test").Disabled)
	parker = accountOf("pparker@district.test")
	require.False(t, parker.RestrictionFromImport)
	require.Equal(t, "school = Roosevelt Middle", *parker.RestrictionDescription)

	// Reverting that run brings Kinder back, enabled.
	var rev struct{ RevertImportRun struct{ ID string } }
	s.MustQuery(t, admin, `mutation($id: ID!) { revertImportRun(runId: $id) { id } }`, map[string]any{"id": run.ID}, &rev)
	require.Equal(t, "SUCCEEDED", s.WaitRun(t, admin, rev.RevertImportRun.ID).Status)
	require.False(t, accountOf("kkinder@district.test").Disabled)

	// Deleting the import with its recipients disables its teachers'
	// accounts (restoring it would enable them again).
	s.MustQuery(t, admin, `mutation($id: ID!) { deleteImport(id: $id, confirmName: "Teachers", recipients: REMOVE) { impact { users } } }`, map[string]any{"id": id}, nil)
	require.True(t, accountOf("kkinder@district.test").Disabled)
	require.True(t, accountOf("pparker@district.test").Disabled)
	require.False(t, accountOf("kim@district.test").Disabled)
}

// A tiny zip that expands past the limit fails its run, having expanded no
// further than the limit, and applies nothing.
func TestOneRosterZipBomb(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(cfg *config.Server) { cfg.MaxDecompressed = 4 << 20 }})
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Bomb", "FULL", "")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}), "orgs.csv": orgsCSV} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = io.WriteString(w, content)
		require.NoError(t, err)
	}
	w, err := zw.Create("users.csv")
	require.NoError(t, err)
	header, _, _ := strings.Cut(users11, "\n")
	_, err = io.WriteString(w, header+"\n")
	require.NoError(t, err)
	blank := bytes.Repeat([]byte("\n"), 1<<20)
	for range 256 { // 256 MB of blank lines
		_, err = w.Write(blank)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.Less(t, buf.Len(), 1<<20, "the bomb is small")
	run := uploadZipAndRun(t, s, admin, id, buf.Bytes())
	require.Equal(t, "FAILED", run.Status)
	require.Contains(t, run.Message, "users.csv: the export expands to more than 4.0 MB when decompressed")
	require.Empty(t, orPeople(t, s, admin, id))
}

// Every field the OneRoster work added, asked as an anonymous caller
// (refused) and as a restricted USER (administrators' fields refused, the
// others within the restriction).
func TestOneRosterFieldsForRestrictedAndAnonymousCallers(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Fields", "FULL", ", provisionTeacherAccounts: true")
	files := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk", "courses": "bulk", "classes": "bulk", "enrollments": "bulk"}),
		"orgs.csv": orgsCSV, "users.csv": users11, "courses.csv": coursesCSV, "classes.csv": classesCSV,
		"enrollments.csv": strings.Replace(strings.Replace(enrollmentsCSV, "E4,,,C2,SCH1,S9,student,,,\n", "", 1), "E5,,,C9,SCH1,S2,student,,,\n", "", 1)}
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, files))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)

	people := `{ recipients(filter: {class: {isNull: false}}, first: 100, orderBy: EXTERNAL_ID) { nodes { externalId
		classes { sourcedId title classCode course school periods role } guardians { externalId } students { externalId } } } }`
	admins := map[string]string{
		"Import.format":                          `query($id: ID!) { import(id: $id) { format } }`,
		"Import.provisionTeacherAccounts":        `query($id: ID!) { import(id: $id) { provisionTeacherAccounts } }`,
		"ImportRunError.file":                    `query($run: ID!) { importRun(id: $run) { errors { nodes { file } } } }`,
		"createImport(format)":                   `mutation { createImport(input: {name: "X", method: FULL, format: ONEROSTER, provisionTeacherAccounts: true}) { id } }`,
		"updateImport(provisionTeacherAccounts)": `mutation($id: ID!) { updateImport(id: $id, input: {provisionTeacherAccounts: false}) { id } }`,
	}
	vars := map[string]any{"id": id, "run": run.ID}
	for name, q := range admins {
		require.Equal(t, "UNAUTHENTICATED", s.Query(t, "", q, vars).FirstCode(), name)
	}
	require.Equal(t, "UNAUTHENTICATED", s.Query(t, "", people, nil).FirstCode())
	require.Equal(t, "UNAUTHENTICATED", s.Query(t, "", `{ me { restrictionFromImport } }`, nil).FirstCode())

	// Restricted to Roosevelt: S3 and the teacher T1 (class C1); their
	// classes, and no guardians or students outside the restriction.
	u, token := s.User(t, admin, "roosevelt@district.test")
	s.MustQuery(t, admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {school: {eq: "Roosevelt Middle"}}) { id } }`, map[string]any{"u": fmt.Sprint(u.ID)}, nil)
	for name, q := range admins {
		require.Equal(t, "FORBIDDEN", s.Query(t, token, q, vars).FirstCode(), name)
	}
	var out struct {
		Recipients struct {
			Nodes []struct {
				ExternalID string
				Classes    []struct{ SourcedID, Role string }
				Guardians  []struct{ ExternalID string }
				Students   []struct{ ExternalID string }
			}
		}
	}
	s.MustQuery(t, token, people, nil, &out)
	require.Len(t, out.Recipients.Nodes, 2)
	for _, n := range out.Recipients.Nodes {
		require.Contains(t, []string{"S3", "T1"}, n.ExternalID)
		require.Equal(t, "C1", n.Classes[0].SourcedID)
		require.Empty(t, n.Guardians)
		require.Empty(t, n.Students)
	}
	// Her own account: restricted by an administrator, not by an import.
	var me struct {
		Me struct{ RestrictionFromImport bool }
	}
	s.MustQuery(t, token, `{ me { restrictionFromImport } }`, nil, &me)
	require.False(t, me.Me.RestrictionFromImport)
	// A teacher's own account says its restriction is the import's.
	var acct struct {
		Users struct{ Nodes []struct{ ID string } }
	}
	s.MustQuery(t, admin, `{ users(search: "pparker@district.test", first: 1) { nodes { id } } }`, nil, &acct)
	var tok struct{ CreateApiToken struct{ Token string } }
	s.MustQuery(t, admin, `mutation($u: ID!) { createApiToken(userId: $u, name: "t") { token } }`, map[string]any{"u": acct.Users.Nodes[0].ID}, &tok)
	s.MustQuery(t, tok.CreateApiToken.Token, `{ me { restrictionFromImport } }`, nil, &me)
	require.True(t, me.Me.RestrictionFromImport)
}

// Purging a deleted OneRoster import takes its records with it (no
// foreign key does it: migration 0013), and nothing else's.
func TestOneRosterPurgeTakesTheImportsRecords(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	files := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}), "orgs.csv": orgsCSV, "users.csv": users11}
	gone := createOneRosterImport(t, s, admin, "Gone", "FULL", "")
	kept := createOneRosterImport(t, s, admin, "Kept", "FULL", "")
	for _, id := range []string{gone, kept} {
		require.Equal(t, "SUCCEEDED", uploadZipAndRun(t, s, admin, id, zipOf(t, files)).Status)
	}
	records := func(id string) (n int) {
		require.NoError(t, s.DB.NewRaw(`SELECT count(*) FROM oneroster_records WHERE import_id = ?`, id).Scan(context.Background(), &n))
		return n
	}
	held := records(kept)
	require.Equal(t, held, records(gone))
	require.Positive(t, held)

	s.MustQuery(t, admin, `mutation($id: ID!) { deleteImport(id: $id, confirmName: "Gone", recipients: REMOVE) { import { id } } }`,
		map[string]any{"id": gone}, nil)
	s.Clock.Advance(31 * 24 * time.Hour)
	purged, err := s.Services.Imports.Purge(context.Background())
	require.NoError(t, err)
	require.Len(t, purged, 1)
	require.Zero(t, records(gone))
	require.Equal(t, held, records(kept))
	requireNoDanglingReferences(t, s)

	var deleted int
	require.NoError(t, s.DB.NewRaw(`SELECT (details->>'oneRosterRecordsDeleted')::int FROM audit_log WHERE action = 'IMPORT_PURGED'`).Scan(context.Background(), &deleted))
	require.Equal(t, held, deleted, "the purge's audit entry counts them")
}

// A person's language is the extension column (of users.csv or
// demographics.csv) named most like one: metadata.language before
// metadata.homeLanguage before language, a blank one skipped, and of two
// named alike but for case, users.csv's. The other extension columns are
// custom fields; the language columns are not.
func TestOneRosterLanguageFromExtensionColumns(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	users := `sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,metadata.homeLanguage,language,metadata.language,metadata.bus
S1,,,true,SCH1,student,,,Ana,Lopez,,,,,,,01,,Vietnamese,,,12
S2,,,true,SCH1,student,,,Ben,Ng,,,,,,,01,,,French,,
S3,,,true,SCH1,student,,,Cy,Young,,,,,,,01,,,,  ,7
`
	demographics := `sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus,metadata.language,Language
S1,,,,,,,,,,,,,,,,Spanish,
S2,,,,,,,,,,,,,,,,,German
S3,,,,,,,,,,,,,,,,,Somali
`
	files := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk", "demographics": "bulk"}),
		"orgs.csv": orgsCSV, "users.csv": users, "demographics.csv": demographics}
	id := createOneRosterImport(t, s, admin, "Languages", "FULL", "")
	run := uploadZipAndRun(t, s, admin, id, zipOf(t, files))
	require.Equal(t, "SUCCEEDED", run.Status, run.Message)

	people := orPeople(t, s, admin, id)
	for sid, want := range map[string]string{
		"S1": "Spanish", // demographics' metadata.language before users.csv's metadata.homeLanguage
		"S2": "French",  // language and Language: users.csv's
		"S3": "Somali",  // users.csv's metadata.language is blank
	} {
		require.NotNil(t, people[sid].Language, sid)
		require.Equal(t, want, *people[sid].Language, sid)
	}
	var custom map[string]any
	require.NoError(t, json.Unmarshal(people["S1"].CustomFields, &custom))
	require.Equal(t, "12", custom["metadata.bus"])
	for name := range custom {
		require.NotContains(t, strings.ToLower(name), "language", "a language column is the language, not a custom field")
	}
}

// What an administrator decides for a teacher's account stands against
// every later run: one they disabled stays disabled (changed in the
// export, gone from it and back), one whose restriction they cleared stays
// unrestricted; an account the import itself disabled comes back enabled
// with its teacher.
func TestOneRosterTeacherAccountsKeepAdministratorsChoices(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Teachers", "FULL", ", provisionTeacherAccounts: true, removalThreshold: 100, rejectionThreshold: 50")
	kinder := "T2,,,true,SCH1,teacher,,,Kay,Kinder,,,kkinder@district.test,,,,,,\n"
	enrollments := "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n" +
		"E1,,,C1,SCH2,S3,student,,,\nE2,,,C1,SCH2,T1,teacher,true,,\nE3,,,C2,SCH1,S1,student,,,\nE4,,,C2,SCH1,T2,teacher,true,,\n"
	export := func(users, enrollments string) []byte {
		return zipOf(t, map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk", "courses": "bulk", "classes": "bulk", "enrollments": "bulk"}),
			"orgs.csv": orgsCSV, "users.csv": users, "courses.csv": coursesCSV, "classes.csv": classesCSV, "enrollments.csv": enrollments})
	}
	applied := func(users, enrollments string) {
		run := uploadZipAndRun(t, s, admin, id, export(users, enrollments))
		require.Equal(t, "SUCCEEDED", run.Status, run.Message)
	}
	type account struct {
		ID, Name              string
		Disabled              bool
		RestrictionFromImport bool
		Restriction           json.RawMessage
	}
	accountOf := func(email string) account {
		var out struct{ Users struct{ Nodes []account } }
		s.MustQuery(t, admin, `query($e: String!) { users(search: $e, first: 5) { nodes { id name disabled restrictionFromImport restriction } } }`,
			map[string]any{"e": email}, &out)
		require.Len(t, out.Users.Nodes, 1, email)
		return out.Users.Nodes[0]
	}
	// A teacher whose e-mail is not an address gets no account (and, as
	// a recipient, their row is rejected for it).
	bad := "T5,,,true,SCH1,teacher,,,Bea,Typo,,,bea typo@district.test,,,,,,\n"
	run := uploadZipAndRun(t, s, admin, id, export(users11+kinder+bad, enrollments))
	require.Equal(t, "SUCCEEDED_WITH_ERRORS", run.Status, run.Message)
	require.Contains(t, run.Warnings, "teachers' accounts: 2 created, 0 updated, 0 disabled; 1 teacher(s) have an e-mail that is not a valid address, and no account")
	var none struct{ Users struct{ Nodes []account } }
	s.MustQuery(t, admin, `{ users(search: "typo", first: 5) { nodes { id } } }`, nil, &none)
	require.Empty(t, none.Users.Nodes)
	parker := accountOf("pparker@district.test")
	require.False(t, parker.Disabled)
	require.True(t, accountOf("kkinder@district.test").RestrictionFromImport)

	// Parker disabled, Kinder's restriction cleared, by an administrator;
	// the next export renames both.
	s.MustQuery(t, admin, `mutation($u: ID!) { updateUser(id: $u, input: {disabled: true}) { id } }`, map[string]any{"u": parker.ID}, nil)
	s.MustQuery(t, admin, `mutation($u: ID!) { clearUserRestriction(userId: $u) { id } }`, map[string]any{"u": accountOf("kkinder@district.test").ID}, nil)
	renamed := strings.Replace(strings.Replace(users11+kinder, ",Pat,Parker,", ",Patricia,Parker,", 1), ",Kay,Kinder,", ",Kaye,Kinder,", 1)
	applied(renamed, enrollments)
	parker = accountOf("pparker@district.test")
	require.Equal(t, "Patricia Parker", parker.Name)
	require.True(t, parker.Disabled, "an administrator disabled it")
	k := accountOf("kkinder@district.test")
	require.Equal(t, "Kaye Kinder", k.Name)
	require.False(t, k.RestrictionFromImport)
	require.True(t, k.Restriction == nil || string(k.Restriction) == "null", "an administrator cleared it: %s", k.Restriction)

	// Both leave the export, then come back: Kinder's account (disabled by
	// the import) is enabled again, Parker's (by an administrator) is not.
	gone := strings.Replace(strings.Replace(renamed, strings.Replace(kinder, ",Kay,", ",Kaye,", 1), "", 1),
		"T1,,,true,\"DIST,SCH2\",teacher,parker,,Patricia,Parker,,,pparker@district.test,,,,,,\n", "", 1)
	require.NotContains(t, gone, "pparker")
	require.NotContains(t, gone, "kkinder")
	applied(gone, strings.Replace(strings.Replace(enrollments, "E2,,,C1,SCH2,T1,teacher,true,,\n", "", 1), "E4,,,C2,SCH1,T2,teacher,true,,\n", "", 1))
	require.True(t, accountOf("kkinder@district.test").Disabled)
	applied(renamed, enrollments)
	require.False(t, accountOf("kkinder@district.test").Disabled)
	require.True(t, accountOf("pparker@district.test").Disabled)
}

// The guardian links' loader checks the restriction on both ends, the
// recipient asked about too (every resolver reads it within the viewer's
// scope first; this holds without that): a user who may see Ana's
// guardians but not Ana learns nothing of her links.
func TestOneRosterLinksCheckBothEnds(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	id := createOneRosterImport(t, s, admin, "Links", "FULL", "")
	files := map[string]string{"manifest.csv": manifest("1.1", map[string]string{"users": "bulk", "orgs": "bulk"}), "orgs.csv": orgsCSV, "users.csv": users11}
	require.Equal(t, "SUCCEEDED", uploadZipAndRun(t, s, admin, id, zipOf(t, files)).Status)

	var u struct{ CreateUser struct{ ID string } }
	s.MustQuery(t, admin, `mutation { createUser(input: {email: "family@district.test", name: "Family liaison"}) { id } }`, nil, &u)
	s.MustQuery(t, admin, `mutation($u: ID!) { setUserRestriction(userId: $u, filter: {externalId: {in: ["P1", "G1"]}}) { id } }`,
		map[string]any{"u": u.CreateUser.ID}, nil)
	var viewer authz.Viewer
	var restriction []byte
	require.NoError(t, s.DB.NewRaw(`SELECT id, email, restriction FROM users WHERE email = 'family@district.test'`).
		Scan(context.Background(), &viewer.UserID, &viewer.Email, &restriction))
	viewer.Role, viewer.Restriction = "USER", restriction
	ctx := authz.WithViewer(context.Background(), &viewer)
	recipientID := func(externalID string) (n int64) {
		require.NoError(t, s.DB.NewRaw(`SELECT id FROM recipients WHERE import_id = ? AND external_id = ?`, id, externalID).Scan(context.Background(), &n))
		return n
	}

	ana, maria := recipientID("S1"), recipientID("P1")
	guardians, err := s.Services.Recipients.Guardians(ctx, []int64{ana})
	require.NoError(t, err)
	require.Empty(t, guardians, "Ana is outside the restriction")
	students, err := s.Services.Recipients.Students(ctx, []int64{maria})
	require.NoError(t, err)
	require.Empty(t, students[maria], "Maria's students are outside the restriction")

	// An administrator sees the same links.
	all := authz.WithViewer(context.Background(), &authz.Viewer{UserID: 1, Role: authz.RoleSystemAdmin})
	guardians, err = s.Services.Recipients.Guardians(all, []int64{ana})
	require.NoError(t, err)
	require.Len(t, guardians[ana], 2)
}
