package graph_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/config"
	"github.com/rollcall/rollcall/server/servertest"
)

const studentsCSV = `student_id,first_name,last_name,grade,school,home_language,guardian1_phone,guardian1_email,homeroom
S001,Ana,García,05,Lincoln Elementary,Spanish,(612) 555-0101,ana.parent@gmail.com,Room 4
S002,Ben,O'Brien,K,Lincoln Elementary,English,612-555-0102,,Room 1
S003,Chloé,Nguyễn,12,Jefferson High,Vietnamese,6125550103,chloe.mom@yahoo.com,"Room 12, Bldg B"
S004,Dev,Patel,PK,Lincoln Elementary,English,,,
S005,Eli,Wong,3,Adams Elementary,Mandarin,612-555-0105,eli.dad@outlook.com,Room 7
S006,Fay,Ali,3,Adams Elementary,Somali,612-555-0106,,Room 7
S007,Gus,Berg,8,Adams Middle,English,612-555-0107,gus.mom@gmail.com,Room 22
S008,Hana,Kim,9,Jefferson High,Korean,612-555-0108,,Room 101
S009,Ivy,Lund,10,Jefferson High,English,612-555-0109,ivy.home@gmail.com,Room 102
S010,Jon,Moe,11,Jefferson High,English,612-555-0110,,Room 103
`

const uploadMutation = `mutation($id: ID!, $file: Upload!, $run: Boolean) {
  uploadImportFile(importId: $id, file: $file, runNow: $run) {
    file { id name size sha256 lineCount header uploadedBy { email } }
    run { id status trigger }
  }
}`

type uploadOut struct {
	UploadImportFile struct {
		File struct {
			ID, Name, Sha256 string
			Size, LineCount  int
			Header           []string
			UploadedBy       struct{ Email string }
		}
		Run *struct{ ID, Status, Trigger string }
	}
}

func createImport(t *testing.T, s *servertest.Server, token, name, method string) string {
	t.Helper()
	var out struct{ CreateImport struct{ ID string } }
	s.MustQuery(t, token, `mutation($n: String!, $m: ImportMethod!) { createImport(input: {name: $n, method: $m}) { id } }`,
		map[string]any{"n": name, "m": method}, &out)
	return out.CreateImport.ID
}

func uploadAndRun(t *testing.T, s *servertest.Server, token, importID, content string) servertest.RunState {
	t.Helper()
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": importID, "run": true}, "students.csv", []byte(content))
	var out uploadOut
	resp.Decode(t, &out)
	require.NotNil(t, out.UploadImportFile.Run, string(resp.Body))
	return s.WaitRun(t, token, out.UploadImportFile.Run.ID)
}

func TestImportWorkflow(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS students", "FULL")

	// Upload without running: File Date moves, Last Run does not.
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id}, "students.csv", []byte(studentsCSV))
	var up uploadOut
	resp.Decode(t, &up)
	require.Nil(t, up.UploadImportFile.Run)
	require.Equal(t, "students.csv", up.UploadImportFile.File.Name)
	require.Equal(t, len(studentsCSV), up.UploadImportFile.File.Size)
	require.Equal(t, 11, up.UploadImportFile.File.LineCount)
	require.Len(t, up.UploadImportFile.File.Sha256, 64)
	require.Equal(t, "admin@district.test", up.UploadImportFile.File.UploadedBy.Email)
	require.Equal(t, "student_id", up.UploadImportFile.File.Header[0])

	var imp struct {
		Import struct {
			ScheduleDescription, Method string
			LastRunAt, FileDate         *string
			KeyColumn                   *string
			LatestFile                  struct{ ID string }
			RecipientCount              int
		}
	}
	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { scheduleDescription method lastRunAt fileDate keyColumn latestFile { id } recipientCount } }`,
		map[string]any{"id": id}, &imp)
	require.Equal(t, "Manual", imp.Import.ScheduleDescription)
	require.Nil(t, imp.Import.LastRunAt)
	require.NotNil(t, imp.Import.FileDate)
	require.Equal(t, "student_id", *imp.Import.KeyColumn)
	require.Equal(t, up.UploadImportFile.File.ID, imp.Import.LatestFile.ID)

	var proposal struct {
		ProposeMapping []struct {
			Column, Field string
			Label         *string
		}
	}
	s.MustQuery(t, token, `query($id: ID!) { proposeMapping(importId: $id) { column field label } }`, map[string]any{"id": id}, &proposal)
	require.Len(t, proposal.ProposeMapping, 9)
	byColumn := map[string]string{}
	for _, e := range proposal.ProposeMapping {
		byColumn[e.Column] = e.Field
		if e.Label != nil {
			byColumn[e.Column] += "/" + *e.Label
		}
	}
	require.Equal(t, map[string]string{"student_id": "externalId", "first_name": "firstName", "last_name": "lastName",
		"grade": "grade", "school": "school", "home_language": "language", "guardian1_phone": "phone/Guardian 1",
		"guardian1_email": "email/Guardian 1", "homeroom": "custom:homeroom"}, byColumn)

	// Run Now.
	var rn struct {
		RunImport struct{ ID, Status, Trigger string }
	}
	s.MustQuery(t, token, `mutation($id: ID!) { runImport(importId: $id) { id status trigger } }`, map[string]any{"id": id}, &rn)
	require.Equal(t, "QUEUED", rn.RunImport.Status)
	require.Equal(t, "MANUAL", rn.RunImport.Trigger)
	first := s.WaitRun(t, token, rn.RunImport.ID)
	require.Equal(t, "SUCCEEDED", first.Status, first.Message)
	require.Equal(t, 10, first.RowsRead)
	require.Equal(t, 10, first.Created)

	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { scheduleDescription method lastRunAt fileDate keyColumn latestFile { id } recipientCount } }`,
		map[string]any{"id": id}, &imp)
	require.NotNil(t, imp.Import.LastRunAt)
	require.Equal(t, 10, imp.Import.RecipientCount)

	// The recipients, by external id, with keyset pages.
	var page1 struct {
		Recipients struct {
			TotalCount int
			Nodes      []struct {
				ExternalID, FirstName, LastName, Type string
				Grade, School, Language               *string
				Phones                                []struct{ Number, Label string }
				Emails                                []struct{ Address, Label string }
				CustomFields                          map[string]string
				Import                                struct{ Name string }
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	q := `query($id: ID!, $after: String) { recipients(importId: $id, first: 4, after: $after, orderBy: EXTERNAL_ID) { totalCount
		nodes { externalId firstName lastName type grade school language phones { number label } emails { address label } customFields import { name } }
		pageInfo { hasNextPage endCursor } } }`
	s.MustQuery(t, token, q, map[string]any{"id": id}, &page1)
	require.Equal(t, 10, page1.Recipients.TotalCount)
	require.Len(t, page1.Recipients.Nodes, 4)
	ana := page1.Recipients.Nodes[0]
	require.Equal(t, "S001", ana.ExternalID)
	require.Equal(t, "García", ana.LastName)
	require.Equal(t, "STUDENT", ana.Type)
	require.Equal(t, "5", *ana.Grade)
	require.Equal(t, "+16125550101", ana.Phones[0].Number)
	require.Equal(t, "Guardian 1", ana.Phones[0].Label)
	require.Equal(t, map[string]string{"homeroom": "Room 4"}, ana.CustomFields)
	require.Equal(t, "SIS students", ana.Import.Name)
	s.MustQuery(t, token, q, map[string]any{"id": id, "after": page1.Recipients.PageInfo.EndCursor}, &page1)
	require.Equal(t, "S005", page1.Recipients.Nodes[0].ExternalID)

	// Re-running the same file changes nothing.
	again := uploadAndRun(t, s, token, id, studentsCSV)
	require.Equal(t, "SUCCEEDED", again.Status)
	require.Equal(t, 10, again.Unchanged)
	require.Zero(t, again.Created+again.Updated+again.Removed)

	// Next day: one changed, one gone, one new.
	next := strings.Replace(studentsCSV, "S010,Jon,Moe,11,Jefferson High,English,612-555-0110,,Room 103\n", "", 1)
	next = strings.Replace(next, "Room 22", "Room 23", 1) + "S011,Kai,Nash,1,Adams Elementary,English,612-555-0111,,Room 2\n"
	day2 := uploadAndRun(t, s, token, id, next)
	require.Equal(t, "SUCCEEDED", day2.Status, day2.Message)
	require.Equal(t, servertest.RunState{ID: day2.ID, Status: "SUCCEEDED", Trigger: "MANUAL", Attempts: 1, RowsRead: 10, Created: 1, Updated: 1, Unchanged: 8, Removed: 1,
		Message: day2.Message, Warnings: []string{}, FinishedAt: day2.FinishedAt}, day2)

	// A truncated file would remove 60%: held; nothing applied.
	truncated := strings.Join(strings.Split(next, "\n")[:5], "\n") + "\n"
	held := uploadAndRun(t, s, token, id, truncated)
	require.Equal(t, "HELD", held.Status)
	require.Equal(t, 6, held.Removed)
	var status struct {
		Import struct {
			RecipientCount   int
			NeedsAttention   bool
			AttentionReasons []struct {
				Code, Message string
				Run           struct{ ID string }
			}
			ActiveRun struct{ ID, Status string }
		}
	}
	statusQuery := `query($id: ID!) { import(id: $id) { recipientCount needsAttention attentionReasons { code message run { id } } activeRun { id status } } }`
	s.MustQuery(t, token, statusQuery, map[string]any{"id": id}, &status)
	require.Equal(t, 10, status.Import.RecipientCount)
	require.True(t, status.Import.NeedsAttention)
	require.Equal(t, "LAST_RUN_HELD", status.Import.AttentionReasons[0].Code)
	require.Equal(t, held.ID, status.Import.AttentionReasons[0].Run.ID)
	require.Equal(t, held.ID, status.Import.ActiveRun.ID)

	// While held, no other run can start.
	resp = s.Query(t, token, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id})
	require.Equal(t, "CONFLICT", resp.FirstCode())
	require.Equal(t, held.ID, resp.Errors[0].Extensions["activeRunId"])

	// Approve: exactly that file applies.
	var ap struct{ ApproveImportRun struct{ Status string } }
	s.MustQuery(t, token, `mutation($id: ID!) { approveImportRun(id: $id) { status } }`, map[string]any{"id": held.ID}, &ap)
	require.Equal(t, "QUEUED", ap.ApproveImportRun.Status)
	approved := s.WaitRun(t, token, held.ID)
	require.Equal(t, "SUCCEEDED", approved.Status, approved.Message)
	require.Equal(t, 6, approved.Removed)
	s.MustQuery(t, token, statusQuery, map[string]any{"id": id}, &status)
	require.Equal(t, 4, status.Import.RecipientCount)
	require.False(t, status.Import.NeedsAttention)

	// History, newest first.
	var hist struct {
		Import struct {
			Runs struct {
				TotalCount int
				Nodes      []struct{ ID, Status string }
			}
		}
	}
	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { runs(first: 10) { totalCount nodes { id status } } } }`, map[string]any{"id": id}, &hist)
	require.Equal(t, 4, hist.Import.Runs.TotalCount)
	require.Equal(t, held.ID, hist.Import.Runs.Nodes[0].ID)
	require.Equal(t, first.ID, hist.Import.Runs.Nodes[3].ID)
}

func TestImportCancelHeldAndDryRun(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "Staff", "FULL")
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, token, id, studentsCSV).Status)

	// A dry run of a changed file: counts and a sample, nothing applied.
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id}, "next.csv", []byte(strings.Replace(studentsCSV, "Room 4", "Room 5", 1)))
	require.Empty(t, resp.Errors, string(resp.Body))
	var dr struct{ RunImport struct{ ID string } }
	s.MustQuery(t, token, `mutation($id: ID!) { runImport(importId: $id, dryRun: true) { id } }`, map[string]any{"id": id}, &dr)
	dry := s.WaitRun(t, token, dr.RunImport.ID)
	require.True(t, dry.DryRun)
	require.Equal(t, 1, dry.Updated)
	var ch struct {
		ImportRun struct {
			Changes []struct {
				Line                      int
				ExternalID, Action, Field string
				OldValue, NewValue        string
			}
		}
	}
	s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { changes { line externalId action field oldValue newValue } } }`, map[string]any{"id": dry.ID}, &ch)
	require.Len(t, ch.ImportRun.Changes, 1)
	c := ch.ImportRun.Changes[0]
	require.Equal(t, 2, c.Line)
	require.Equal(t, "S001", c.ExternalID)
	require.Equal(t, "UPDATE", c.Action)
	require.Equal(t, "customFields", c.Field)
	require.Contains(t, c.OldValue, "Room 4")
	require.Contains(t, c.NewValue, "Room 5")

	// Held, then canceled: nothing applied, and runs can start again.
	held := uploadAndRun(t, s, token, id, strings.Join(strings.Split(studentsCSV, "\n")[:3], "\n")+"\n")
	require.Equal(t, "HELD", held.Status)
	var cn struct {
		CancelImportRun struct{ Status, Message string }
	}
	s.MustQuery(t, token, `mutation($id: ID!) { cancelImportRun(id: $id) { status message } }`, map[string]any{"id": held.ID}, &cn)
	require.Equal(t, "CANCELED", cn.CancelImportRun.Status)
	resp = s.Query(t, token, `mutation($id: ID!) { approveImportRun(id: $id) { id } }`, map[string]any{"id": held.ID})
	require.Equal(t, "CONFLICT", resp.FirstCode())
	var cnt struct{ Import struct{ RecipientCount int } }
	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { recipientCount } }`, map[string]any{"id": id}, &cnt)
	require.Equal(t, 10, cnt.Import.RecipientCount)
	require.Equal(t, "SUCCEEDED", uploadAndRun(t, s, token, id, studentsCSV).Status)
}

func TestRunErrorsThroughGraphQL(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "UPDATE")
	var up struct {
		UpdateImport struct{ RejectionThreshold float64 }
	}
	s.MustQuery(t, token, `mutation($id: ID!) { updateImport(id: $id, input: {rejectionThreshold: 50}) { rejectionThreshold } }`, map[string]any{"id": id}, &up)
	require.Equal(t, 50.0, up.UpdateImport.RejectionThreshold)

	bad := studentsCSV + "S012,Bad,Mail,2,Adams Elementary,English,,not-an-email,Room 1\n"
	run := uploadAndRun(t, s, token, id, bad)
	require.Equal(t, "SUCCEEDED_WITH_ERRORS", run.Status)
	require.Equal(t, 1, run.Rejected)
	var errs struct {
		ImportRun struct {
			Errors struct {
				TotalCount int
				Nodes      []struct {
					Line                   int
					Column, Value, Message string
				}
			}
		}
	}
	s.MustQuery(t, token, `query($id: ID!) { importRun(id: $id) { errors { totalCount nodes { line column value message } } } }`, map[string]any{"id": run.ID}, &errs)
	require.Equal(t, 1, errs.ImportRun.Errors.TotalCount)
	e := errs.ImportRun.Errors.Nodes[0]
	require.Equal(t, 12, e.Line)
	require.Equal(t, "guardian1_email", e.Column)
	require.Equal(t, "not-an-email", e.Value)
	require.Contains(t, e.Message, "not a valid email")
}

func TestImportsAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, admin := s.Admin(t, "admin@district.test")
	_, user := s.User(t, admin, "teacher@district.test")
	id := createImport(t, s, admin, "SIS", "FULL")
	run := uploadAndRun(t, s, admin, id, studentsCSV)

	ops := map[string]struct {
		q    string
		vars map[string]any
	}{
		"imports":          {`{ imports { totalCount } }`, nil},
		"import":           {`query($id: ID!) { import(id: $id) { name } }`, map[string]any{"id": id}},
		"importRun":        {`query($id: ID!) { importRun(id: $id) { status } }`, map[string]any{"id": run.ID}},
		"proposeMapping":   {`query($id: ID!) { proposeMapping(importId: $id) { column } }`, map[string]any{"id": id}},
		"createImport":     {`mutation { createImport(input: {name: "X", method: FULL}) { id } }`, nil},
		"updateImport":     {`mutation($id: ID!) { updateImport(id: $id, input: {name: "Y"}) { id } }`, map[string]any{"id": id}},
		"runImport":        {`mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id}},
		"approveImportRun": {`mutation($id: ID!) { approveImportRun(id: $id) { id } }`, map[string]any{"id": run.ID}},
		"cancelImportRun":  {`mutation($id: ID!) { cancelImportRun(id: $id) { id } }`, map[string]any{"id": run.ID}},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp := s.Query(t, user, op.q, op.vars)
			require.Equal(t, "FORBIDDEN", resp.FirstCode(), string(resp.Body))
		})
	}
	t.Run("uploadImportFile", func(t *testing.T) {
		t.Parallel()
		resp := s.Upload(t, user, uploadMutation, map[string]any{"id": id}, "x.csv", []byte(studentsCSV))
		require.Equal(t, "FORBIDDEN", resp.FirstCode(), string(resp.Body))
	})
	t.Run("RESTUpload", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/imports/"+id+"/file", strings.NewReader(studentsCSV))
		req.Header.Set("Authorization", "Bearer "+user)
		require.Equal(t, http.StatusForbidden, s.Do(t, req).Status)
	})
}

func TestConcurrentRunRequestsConflict(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.Workers = 0 }}) // runs stay queued
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "FULL")
	resp := s.Upload(t, token, uploadMutation, map[string]any{"id": id}, "s.csv", []byte(studentsCSV))
	require.Empty(t, resp.Errors, string(resp.Body))

	results := make(chan *servertest.Response, 10)
	for range 10 {
		go func() {
			results <- s.Query(t, token, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id})
		}()
	}
	var ok, conflict int
	var winner string
	for range 10 {
		r := <-results
		switch r.FirstCode() {
		case "":
			ok++
			var out struct{ RunImport struct{ ID string } }
			r.Decode(t, &out)
			winner = out.RunImport.ID
		case "CONFLICT":
			conflict++
			require.Contains(t, r.Errors[0].Message, "is queued")
		default:
			t.Fatalf("unexpected: %s", r.Body)
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 9, conflict)

	// A queued run can be canceled; then another may start.
	var cn struct{ CancelImportRun struct{ Status string } }
	s.MustQuery(t, token, `mutation($id: ID!) { cancelImportRun(id: $id) { status } }`, map[string]any{"id": winner}, &cn)
	require.Equal(t, "CANCELED", cn.CancelImportRun.Status)
	require.Empty(t, s.Query(t, token, `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id}).Errors)
}

func TestRESTUpload(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, &servertest.Options{Configure: func(c *config.Server) { c.MaxUploadBytes = 4096 }})
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "FULL")

	// Multipart, as curl -F file=@students.csv sends it, with ?run=true.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "nightly.csv")
	_, _ = io.WriteString(part, studentsCSV)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/imports/"+id+"/file?run=true", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp := s.Do(t, req)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	require.Contains(t, string(resp.Body), `"name":"nightly.csv"`)
	require.Contains(t, string(resp.Body), `"status":"QUEUED"`)

	var runID struct {
		Import struct {
			Runs struct{ Nodes []struct{ ID string } }
		}
	}
	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { runs { nodes { id } } } }`, map[string]any{"id": id}, &runID)
	require.Equal(t, "SUCCEEDED", s.WaitRun(t, token, runID.Import.Runs.Nodes[0].ID).Status)

	// Raw body, as curl --data-binary sends it.
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/imports/"+id+"/file?name=raw.csv", strings.NewReader(studentsCSV))
	req.Header.Set("Authorization", "Bearer "+token)
	resp = s.Do(t, req)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	require.Contains(t, string(resp.Body), `"name":"raw.csv"`)
	require.Contains(t, string(resp.Body), `"run":null`)

	// Over the limit: 413, nothing stored.
	big := studentsCSV + strings.Repeat("S999,X,Y,1,Z,English,,,Room\n", 200)
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/imports/"+id+"/file", strings.NewReader(big))
	req.Header.Set("Authorization", "Bearer "+token)
	resp = s.Do(t, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status, string(resp.Body))
	require.Equal(t, "PAYLOAD_TOO_LARGE", resp.FirstCode())

	// The same through GraphQL multipart.
	resp = s.Upload(t, token, uploadMutation, map[string]any{"id": id}, "big.csv", []byte(big))
	require.Equal(t, "PAYLOAD_TOO_LARGE", resp.FirstCode(), string(resp.Body))

	var files struct {
		Import struct{ LatestFile struct{ Name string } }
	}
	s.MustQuery(t, token, `query($id: ID!) { import(id: $id) { latestFile { name } } }`, map[string]any{"id": id}, &files)
	require.Equal(t, "raw.csv", files.Import.LatestFile.Name)

	// Unknown import: 404.
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/imports/999999/file", strings.NewReader(studentsCSV))
	req.Header.Set("Authorization", "Bearer "+token)
	require.Equal(t, http.StatusNotFound, s.Do(t, req).Status)
	// No token: 401.
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/imports/"+id+"/file", strings.NewReader(studentsCSV))
	req.Header.Set("Content-Type", "text/csv")
	require.Equal(t, http.StatusUnauthorized, s.Do(t, req).Status)
}

func TestImportValidation(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, nil)
	_, token := s.Admin(t, "admin@district.test")
	id := createImport(t, s, token, "SIS", "FULL")

	cases := []struct {
		name, query string
		vars        map[string]any
		code, field string
	}{
		{"DuplicateName", `mutation { createImport(input: {name: " sis ", method: UPDATE}) { id } }`, nil, "CONFLICT", "input.name"},
		{"NoKeyInMapping", `mutation { createImport(input: {name: "A", method: FULL, mapping: [{column: "Name", field: "firstName"}]}) { id } }`, nil, "BAD_USER_INPUT", "input.mapping"},
		{"UnknownField", `mutation { createImport(input: {name: "A", method: FULL, mapping: [{column: "ID", field: "externalId"}, {column: "Shoe", field: "shoeSize"}]}) { id } }`, nil, "BAD_USER_INPUT", "input.mapping[1].field"},
		{"Threshold", `mutation($id: ID!) { updateImport(id: $id, input: {removalThreshold: 150}) { id } }`, map[string]any{"id": id}, "BAD_USER_INPUT", "input.removalThreshold"},
		{"NoFileYet", `mutation($id: ID!) { runImport(importId: $id) { id } }`, map[string]any{"id": id}, "CONFLICT", ""},
		{"UnknownImport", `{ import(id: "424242") { id } }`, nil, "NOT_FOUND", ""},
		{"MethodNotUpdatable", `mutation($id: ID!) { updateImport(id: $id, input: {method: UPDATE}) { id } }`, map[string]any{"id": id}, "GRAPHQL_VALIDATION_FAILED", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := s.Query(t, token, c.query, c.vars)
			require.Equal(t, c.code, resp.FirstCode(), string(resp.Body))
			if c.field != "" {
				require.Equal(t, c.field, resp.Errors[0].Extensions["field"], string(resp.Body))
			}
		})
	}

	// The database refuses a method change too.
	_, err := s.DB.ExecContext(t.Context(), "UPDATE imports SET method = 'UPDATE' WHERE id = "+id)
	require.ErrorContains(t, err, "cannot be changed")

	// A mapping given explicitly is kept, labels defaulted.
	var out struct {
		UpdateImport struct {
			Mapping []struct {
				Column, Field string
				Label         *string
			}
		}
	}
	s.MustQuery(t, token, `mutation($id: ID!) { updateImport(id: $id, input: {mapping: [{column: "Student Number", field: "externalId"}, {column: "Mom Cell", field: "phone"}]}) { mapping { column field label } } }`,
		map[string]any{"id": id}, &out)
	require.Len(t, out.UpdateImport.Mapping, 2)
	require.Equal(t, "Mom Cell", *out.UpdateImport.Mapping[1].Label)
	_ = fmt.Sprint(time.Now())
}
