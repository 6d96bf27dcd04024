package districtgen

//go:generate go -C ../.. run ./tools/examplegen

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
)

// The README's example district (examples/ at the module root): a small
// district of four schools, and the file it exports the next day.
var (
	ExampleDistrict = Options{Rows: 200, Seed: 20260901, Schools: 4}
	ExampleNextDay  = Change{ChangedPct: 5, RemovedPct: 2, AddedPct: 3}
)

// ExampleFile is one file of examples/.
type ExampleFile struct {
	Name string // the file's name in examples/
	Data []byte
}

// Examples returns the files of examples/: Write(ExampleDistrict) as
// district.csv and NextDay(ExampleDistrict, ExampleNextDay) as
// district-next-day.csv, with contacts that cannot reach anyone, since the
// files are published: each phone number becomes one in the 555-0100 to
// 555-0199 range reserved for fiction (written the way the original was,
// the same number always the same one, in both files), and each e-mail
// domain's top-level label becomes `.example` (RFC 2606), so that
// maria.garcia85@gmail.com becomes maria.garcia85@gmail.example.
//
// tools/examplegen writes them (go generate ./internal/districtgen), and a
// test checks that the committed files are what it writes.
func Examples() ([]ExampleFile, error) {
	var day0, day1 bytes.Buffer
	if err := Write(&day0, ExampleDistrict); err != nil {
		return nil, err
	}
	if err := NextDay(&day1, ExampleDistrict, ExampleNextDay); err != nil {
		return nil, err
	}
	phones := map[string]string{}
	out := []ExampleFile{{Name: "district.csv"}, {Name: "district-next-day.csv"}}
	for i, raw := range []*bytes.Buffer{&day0, &day1} {
		data, err := Fictional(raw.Bytes(), phones)
		if err != nil {
			return nil, fmt.Errorf("examples/%s: %w", out[i].Name, err)
		}
		out[i].Data = data
	}
	return out, nil
}

// Fictional rewrites the phone and e-mail columns of a district file so that
// they cannot reach anyone (see Examples); phones maps each real number (its
// ten digits) to its fictional one, so that files share it. The demo
// district and examples/ are made with it.
func Fictional(file []byte, phones map[string]string) ([]byte, error) {
	records, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		return nil, err
	}
	header := records[0]
	for _, rec := range records[1:] {
		for i, col := range header {
			if rec[i] == "" {
				continue
			}
			switch {
			case strings.HasSuffix(col, "_phone"):
				if rec[i], err = fictionalPhone(rec[i], phones); err != nil {
					return nil, err
				}
			case strings.HasSuffix(col, "_email"):
				rec[i] = fictionalEmail(rec[i])
			}
		}
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(records); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fictionalAreaCodes give 100 fictional numbers each (555-0100 … 0199).
var fictionalAreaCodes = []string{"612", "651", "763", "952", "218", "320", "507", "262", "414", "608"}

// fictionalPhone replaces the digits of s (a North American number, perhaps
// with a leading 1) with those of its fictional number, keeping the rest.
func fictionalPhone(s string, phones map[string]string) (string, error) {
	var digits []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
		}
	}
	prefix := ""
	if len(digits) == 11 && digits[0] == '1' {
		prefix, digits = "1", digits[1:]
	}
	if len(digits) != 10 {
		return "", fmt.Errorf("phone %q: not a ten-digit number", s)
	}
	f, ok := phones[string(digits)]
	if !ok {
		n := len(phones)
		if n >= 100*len(fictionalAreaCodes) {
			return "", fmt.Errorf("more than %d phone numbers", 100*len(fictionalAreaCodes))
		}
		f = fmt.Sprintf("%s55501%02d", fictionalAreaCodes[n/100], n%100)
		phones[string(digits)] = f
	}
	f = prefix + f
	out := []byte(s)
	k := 0
	for i := range out {
		if out[i] >= '0' && out[i] <= '9' {
			out[i] = f[k]
			k++
		}
	}
	return string(out), nil
}

// fictionalEmail makes the top-level label of s's domain `example`,
// keeping everything else (case, a stray trailing space).
func fictionalEmail(s string) string {
	addr := strings.TrimRight(s, " ")
	dot := strings.LastIndexByte(addr, '.')
	if dot < strings.IndexByte(addr, '@') {
		return s
	}
	return addr[:dot] + ".example" + s[len(addr):]
}
