package mapping

import (
	"testing"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/importfile"
	"github.com/stretchr/testify/require"
)

func TestAutoMapping(t *testing.T) {
	t.Parallel()
	header := []string{"Student Number", "ID", "First Name", "LAST_NAME", "Grade Level", "School Name", "Home Language",
		"guardian1_phone", "Mother Cell", "Guardian1 Email", "student_email", "Homeroom", ""}
	got := map[string]string{}
	for _, e := range Auto(header) {
		v := e.Field
		if e.Label != nil {
			v += "/" + *e.Label
		}
		got[e.Column] = v
	}
	require.Equal(t, map[string]string{
		"Student Number":  "externalId", // a better synonym than ID
		"ID":              "custom:ID",
		"First Name":      "firstName",
		"LAST_NAME":       "lastName",
		"Grade Level":     "grade",
		"School Name":     "school",
		"Home Language":   "language",
		"guardian1_phone": "phone/Guardian 1",
		"Mother Cell":     "phone/Mother Cell",
		"Guardian1 Email": "email/Guardian 1",
		"student_email":   "email/Student",
		"Homeroom":        "custom:Homeroom",
		"":                "custom:column_13",
	}, got)
}

func TestLabelFromHeader(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"guardian1_phone": "Guardian 1", "Home Phone": "Home", "phone": "Primary", "Email": "Primary",
		"motherCellPhone": "Mother Cell", "élève_phone": "Élève", "téléphone_ÉCOLE_phone": "Téléphone École", "Guardian2EmailAddress": "Guardian 2", "e-mail": "Primary",
	} {
		require.Equal(t, want, labelFromHeader(in), in)
	}
}

func TestValidateMapping(t *testing.T) {
	t.Parallel()
	label := "Mom"
	m, err := Validate("input.mapping", Mapping{
		{Column: " Student ID ", Field: "externalId"},
		{Column: "Mom Cell", Field: "phone", Label: &label},
		{Column: "Dad Cell", Field: "phone"},
		{Column: "Bus", Field: "custom: bus route "},
	})
	require.NoError(t, err)
	require.Equal(t, "Student ID", m[0].Column)
	require.Equal(t, "Mom", *m[1].Label)
	require.Equal(t, "Dad Cell", *m[2].Label)
	require.Equal(t, "custom:bus route", m[3].Field)

	bad := []struct {
		m     Mapping
		field string
	}{
		{Mapping{}, "input.mapping"},
		{Mapping{{Column: "Name", Field: "firstName"}}, "input.mapping"},
		{Mapping{{Column: "", Field: "externalId"}}, "input.mapping[0].column"},
		{Mapping{{Column: "ID", Field: "externalId"}, {Column: "id", Field: "firstName"}}, "input.mapping[1].column"},
		{Mapping{{Column: "ID", Field: "externalId"}, {Column: "K", Field: "externalId"}}, "input.mapping[1].field"},
		{Mapping{{Column: "ID", Field: "externalId"}, {Column: "X", Field: "custom:"}}, "input.mapping[1].field"},
		{Mapping{{Column: "ID", Field: "externalId", Label: &label}}, "input.mapping[0].label"},
	}
	for _, c := range bad {
		_, err := Validate("input.mapping", c.m)
		require.Error(t, err, "%+v", c.m)
		require.Equal(t, c.field, apperr.FieldOf(err), "%+v", c.m)
	}
}

func TestPlanColumnsWithExplicitMapping(t *testing.T) {
	t.Parallel()
	header := []string{"Pupil #", "Given", "Family", "Notes", "Notes"}
	_, err := NewPlan(header, Mapping{{Column: "Pupil ID", Field: "externalId"}}, &importfile.Notes{})
	var fe *importfile.FileError
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe.Message, `column "Pupil ID", which is not in the file's header`)
	// Matching ignores case, then everything but letters and digits.
	p, err := NewPlan(header, Mapping{{Column: "pupil", Field: "externalId"}, {Column: "GIVEN", Field: "firstName"}}, &importfile.Notes{})
	require.NoError(t, err)
	require.Equal(t, 0, p.single[fieldExternalID])
	require.Equal(t, 1, p.single[fieldFirstName])
	var names []string
	for _, c := range p.custom {
		names = append(names, c.name)
	}
	require.Equal(t, []string{"Family", "Notes", "Notes (2)"}, names)
}
