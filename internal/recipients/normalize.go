package recipients

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/rollcall/rollcall/internal/fold"
)

// NormalizeType reads a recipient type as files write it ("Student", "S",
// "Guardian", …). ok is false for values it does not know.
func NormalizeType(s string) (Type, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "STUDENT", "STUDENTS", "S", "STU", "PUPIL":
		return TypeStudent, true
	case "STAFF", "EMPLOYEE", "TEACHER", "FACULTY", "T", "E":
		return TypeStaff, true
	case "CONTACT", "GUARDIAN", "PARENT", "FAMILY", "C", "G", "P":
		return TypeContact, true
	case "OTHER", "O":
		return TypeOther, true
	}
	return "", false
}

// Grade ranks: PK < K < 1 … 12.
const (
	RankPK = -1
	RankK  = 0
)

// NormalizeGrade reads a grade as student information systems export it
// ("05", "5th", "KG", "Pre-K", "Grade 3") and returns its canonical form
// ("5", "K", "PK") and rank. Grades outside PK–12 ("UG", "Adult") keep their
// text, upper-cased, with ok false and no rank.
func NormalizeGrade(s string) (grade string, rank int16, ok bool) {
	g := strings.ToUpper(strings.TrimSpace(s))
	g = strings.TrimSpace(strings.TrimPrefix(g, "GRADE"))
	switch g {
	case "PK", "PRE-K", "PREK", "PRE K", "P", "PS", "PRE", "-1", "PK3", "PK4", "TK":
		if g == "TK" {
			return "TK", RankPK, true
		}
		return "PK", RankPK, true
	case "K", "KG", "KK", "KN", "KF", "KH", "0", "00", "KINDERGARTEN":
		return "K", RankK, true
	}
	num := strings.TrimRight(g, "STNDRH") // 1ST, 2ND, 3RD, 4TH
	if n, err := strconv.Atoi(num); err == nil && n >= 1 && n <= 12 {
		return strconv.Itoa(n), int16(n), true
	}
	return g, 0, false
}

// NormalizePhone returns number in E.164 form. North American numbers (the
// bulk of any US district's file) are checked by hand: libphonenumber's
// parser costs microseconds per call, which is seconds on a million-row
// file; everything else (numbers written with a country code other than +1)
// goes through it.
func NormalizePhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if i := extensionStart(s); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	var digits [16]byte
	n := 0
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(digits) {
				return "", false
			}
			digits[n] = c
			n++
		case c == '+' && n == 0 && !plus:
			plus = true
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		default:
			return "", false
		}
	}
	d := digits[:n]
	switch {
	case !plus && n == 10:
		return nanp(d)
	case n == 11 && d[0] == '1':
		return nanp(d[1:])
	case plus || (n > 11 && strings.HasPrefix(string(d), "011")):
		num, err := phonenumbers.Parse(s, "US")
		if err != nil || !phonenumbers.IsValidNumber(num) {
			return "", false
		}
		return phonenumbers.Format(num, phonenumbers.E164), true
	}
	return "", false
}

// extensionStart finds an extension marker ("x12", "ext. 9"), matching
// ASCII letters without regard to case (and without changing byte offsets,
// which strings.ToLower would on invalid UTF-8).
func extensionStart(s string) int {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	lower := string(b)
	for _, marker := range []string{"ext.", "ext", " x", "x"} {
		if i := strings.Index(lower, marker); i > 0 {
			return i
		}
	}
	return -1
}

// nanp validates a ten-digit North American number: area code and exchange
// start with 2–9, and the area code is not an N11 service code.
func nanp(d []byte) (string, bool) {
	if len(d) != 10 || d[0] < '2' || d[3] < '2' || (d[1] == '1' && d[2] == '1') {
		return "", false
	}
	return "+1" + string(d), true
}

// NormalizeEmail returns the address in lower case if it is a plausible
// deliverable address (local@domain.tld, no spaces or display names).
func NormalizeEmail(s string) (string, bool) {
	// Folded as every compared text is (fold.Key), so that filters'
	// startsWith and contains match stored addresses in any locale.
	s = fold.Key(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 {
		return "", false
	}
	local, domain := s[:at], s[at+1:]
	if !utf8.ValidString(s) {
		return "", false
	}
	if !asciiOnly(s) {
		// Internationalized addresses: rare; let the standard parser judge.
		a, err := mail.ParseAddress(s)
		if err != nil || a.Address != s || !strings.Contains(domain, ".") {
			return "", false
		}
		return s, true
	}
	if !validLocal(local) || !validDomain(domain) {
		return "", false
	}
	return s, true
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func validLocal(l string) bool {
	if len(l) > 64 || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for i, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for j := 0; j < len(label); j++ {
			c := label[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
		if i == len(labels)-1 && (len(label) < 2 || label[0] >= '0' && label[0] <= '9') {
			return false
		}
	}
	return true
}
