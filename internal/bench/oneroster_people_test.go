package bench

import (
	"archive/zip"
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/internal/districtgen"
	"github.com/rollcall/rollcall/internal/oneroster"
)

// peopleCounts are the rows of writePeople's file, by type.
type peopleCounts struct{ Students, Contacts, Staff int }

func (c peopleCounts) rows() int { return c.Students + c.Contacts + c.Staff }

// writePeople writes to w a flat CSV of the people the OneRoster bulk
// export at zipPath holds, for the pipeline's floor of the OneRoster /
// flat ratio: districtgen.Header plus a type column; first every row of
// the flat file at flatPath (districtgen.Write's, the same students) as it
// is, type STUDENT; then one row per user of the zip's users.csv who is
// not a student, in its order: guardians CONTACT, teachers STAFF (the role
// from users.csv's role column in 1.1, from the user's primary role in
// roles.csv in 1.2), with student_id their sourcedId, first_name and
// last_name their givenName and familyName, guardian1_phone their phone
// (auto-mapped to a phone, "Guardian 1") and student_email their e-mail
// (auto-mapped to an e-mail, "Student"), the other columns empty. Both
// files are streamed: memory does not grow with their size.
//
// The zip's students are counted and must be the flat file's number; the
// key of a non-student must not look like a student id (the flat file's
// all start with "S"; guardians' start with "G", teachers' with "T"), so
// that no person of the file updates another.
func writePeople(w io.Writer, flatPath, zipPath string) (peopleCounts, error) {
	var n peopleCounts
	col := func(name string) int { return slices.Index(districtgen.Header, name) }
	iID, iFirst, iLast, iPhone, iEmail := col("student_id"), col("first_name"), col("last_name"), col("guardian1_phone"), col("student_email")
	if min(iID, iFirst, iLast, iPhone, iEmail) < 0 {
		return n, errors.New("people: districtgen.Header lacks a column this file needs")
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(append(slices.Clone(districtgen.Header), "type")); err != nil {
		return n, err
	}

	// The students, as the flat file has them.
	flat, err := os.Open(flatPath)
	if err != nil {
		return n, err
	}
	defer flat.Close()
	fr := csv.NewReader(bufio.NewReaderSize(flat, 256<<10))
	fr.ReuseRecord = true
	header, err := fr.Read()
	if err != nil {
		return n, fmt.Errorf("people: %s: %w", flatPath, err)
	}
	if !slices.Equal(header, districtgen.Header) {
		return n, fmt.Errorf("people: %s: header %v is not districtgen.Header", flatPath, header)
	}
	for {
		rec, err := fr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("people: %s: %w", flatPath, err)
		}
		if !strings.HasPrefix(strings.ToUpper(rec[iID]), "S") {
			return n, fmt.Errorf("people: student id %q does not start with S", rec[iID])
		}
		if err := cw.Write(append(rec, "STUDENT")); err != nil {
			return n, err
		}
		n.Students++
	}

	// The others, from the zip's users.csv.
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return n, err
	}
	defer zr.Close()
	users, err := openZipCSV(&zr.Reader, "users.csv")
	if err != nil {
		return n, err
	}
	defer users.Close()
	uh, err := users.header("sourcedId", "givenName", "familyName", "email", "phone")
	if err != nil {
		return n, err
	}
	uID, uGiven, uFamily, uEmail, uPhone, uRole := uh.index("sourcedId"), uh.index("givenName"), uh.index("familyName"),
		uh.index("email"), uh.index("phone"), uh.index("role")
	roleOf := func(rec []string) (string, error) { return rec[uRole], nil }
	if uRole < 0 { // 1.2: the role is in roles.csv
		roles, err := openZipCSV(&zr.Reader, "roles.csv")
		if err != nil {
			return n, err
		}
		defer roles.Close()
		rh, err := roles.header("userSourcedId", "roleType", "role")
		if err != nil {
			return n, err
		}
		roleOf = func(rec []string) (string, error) { return roles.primaryRole(rh, rec[uID]) }
	}
	out := make([]string, len(districtgen.Header)+1)
	zipStudents := 0
	for {
		rec, err := users.cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("people: users.csv: %w", err)
		}
		role, err := roleOf(rec)
		if err != nil {
			return n, err
		}
		// The type internal/oneroster gives the role.
		typ := oneroster.RoleType(role)
		switch typ {
		case "STUDENT":
			zipStudents++
			continue
		case "CONTACT":
			n.Contacts++
		case "STAFF":
			n.Staff++
		default:
			return n, fmt.Errorf("people: users.csv: %s has role %q", rec[uID], role)
		}
		id := rec[uID]
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(id)), "S") {
			return n, fmt.Errorf("people: users.csv: the %s %q could collide with a student id", role, id)
		}
		clear(out)
		out[iID], out[iFirst], out[iLast] = id, rec[uGiven], rec[uFamily]
		out[iPhone], out[iEmail] = rec[uPhone], rec[uEmail]
		out[len(out)-1] = typ
		if err := cw.Write(out); err != nil {
			return n, err
		}
	}
	if zipStudents != n.Students {
		return n, fmt.Errorf("people: the zip has %d students, the flat file %d", zipStudents, n.Students)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// zipCSV reads one CSV file of a zip, streaming.
type zipCSV struct {
	name string
	rc   io.ReadCloser
	cr   *csv.Reader
	cols []string // the header, its first column without a byte-order mark
}

func openZipCSV(zr *zip.Reader, name string) (*zipCSV, error) {
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("people: %s: %w", name, err)
		}
		cr := csv.NewReader(bufio.NewReaderSize(rc, 256<<10))
		cr.ReuseRecord = true
		header, err := cr.Read()
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("people: %s: %w", name, err)
		}
		cols := slices.Clone(header)
		cols[0] = strings.TrimPrefix(cols[0], "\uFEFF")
		return &zipCSV{name: name, rc: rc, cr: cr, cols: cols}, nil
	}
	return nil, fmt.Errorf("people: the zip has no %s", name)
}

func (z *zipCSV) Close() error { return z.rc.Close() }

// zipHeader finds a zipCSV's columns by name.
type zipHeader struct{ cols []string }

func (h zipHeader) index(name string) int { return slices.Index(h.cols, name) }

// header checks that the file has the named columns.
func (z *zipCSV) header(required ...string) (zipHeader, error) {
	for _, c := range required {
		if !slices.Contains(z.cols, c) {
			return zipHeader{}, fmt.Errorf("people: %s has no column %s", z.name, c)
		}
	}
	return zipHeader{z.cols}, nil
}

// primaryRole reads roles.csv on to the primary role of user and returns
// its role. districtgen.WriteOneRoster writes the roles in users.csv's
// order of users, each user's primary one first, so that a walk of
// users.csv reads roles.csv once in step with it; the rows passed over are
// the previous user's secondary roles. A roles.csv out of that order ends
// in an error, not a wrong role.
func (z *zipCSV) primaryRole(h zipHeader, user string) (string, error) {
	iUser, iType, iRole := h.index("userSourcedId"), h.index("roleType"), h.index("role")
	for {
		rec, err := z.cr.Read()
		if err == io.EOF {
			return "", fmt.Errorf("people: roles.csv has no primary role for %q after the previous user's (it must list users in users.csv's order)", user)
		}
		if err != nil {
			return "", fmt.Errorf("people: roles.csv: %w", err)
		}
		if rec[iUser] == user && rec[iType] == "primary" {
			return rec[iRole], nil
		}
	}
}
