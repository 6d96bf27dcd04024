package recipients

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeGrade(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		grade string
		rank  int16
		ok    bool
	}{
		{"05", "5", 5, true}, {"5", "5", 5, true}, {" 12 ", "12", 12, true}, {"1st", "1", 1, true},
		{"3RD", "3", 3, true}, {"Grade 7", "7", 7, true}, {"K", "K", 0, true}, {"KG", "K", 0, true},
		{"00", "K", 0, true}, {"Kindergarten", "K", 0, true}, {"PK", "PK", -1, true}, {"Pre-K", "PK", -1, true},
		{"-1", "PK", -1, true}, {"TK", "TK", -1, true}, {"13", "13", 0, false}, {"UG", "UG", 0, false},
		{"Adult", "ADULT", 0, false}, {"0.5", "0.5", 0, false},
	}
	for _, c := range cases {
		g, r, ok := NormalizeGrade(c.in)
		require.Equal(t, c.ok, ok, c.in)
		require.Equal(t, c.grade, g, c.in)
		if ok {
			require.Equal(t, c.rank, r, c.in)
		}
	}
}

func TestNormalizeType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Type{"Student": TypeStudent, "s": TypeStudent, "Teacher": TypeStaff, "STAFF": TypeStaff,
		"guardian": TypeContact, "Parent": TypeContact, "other": TypeOther} {
		got, ok := NormalizeType(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := NormalizeType("alien")
	require.False(t, ok)
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"(612) 555-0142":     "+16125550142",
		"612-555-0142":       "+16125550142",
		"6125550142":         "+16125550142",
		"+1 612 555 0142":    "+16125550142",
		"1-612-555-0142":     "+16125550142",
		"612.555.0142":       "+16125550142",
		"612-555-0142 x12":   "+16125550142",
		"612-555-0142 ext 9": "+16125550142",
		"+44 20 7946 0958":   "+442079460958",
		"+52 55 1234 5678":   "+525512345678",
	}
	for in, want := range valid {
		got, ok := NormalizePhone(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "555-0142", "012-555-0142", "612-155-0142", "911-555-0142", "call me", "12345678901234567", "+1 612 555 014", "+999 1234"} {
		_, ok := NormalizePhone(in)
		require.False(t, ok, in)
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"Maria.Garcia@Gmail.com":     "maria.garcia@gmail.com",
		" o'brien+school@k12.mn.us ": "o'brien+school@k12.mn.us",
		"zoë@exämple.com":            "zoë@exämple.com",
	}
	for in, want := range valid {
		got, ok := NormalizeEmail(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "plainaddress", "@gmail.com", "a@", "a@b", "a b@c.com", "a..b@c.com", ".a@c.com",
		"a@-c.com", "a@c.1", "Maria <m@x.com>", "a@b@c.com", "a@c..com"} {
		_, ok := NormalizeEmail(in)
		require.False(t, ok, in)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"(612) 555-0142", "+44 20 7946 0958", "x", "+", "011 44 20 7946 0958"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if out, ok := NormalizePhone(s); ok {
			require.Equal(t, byte('+'), out[0])
			again, ok2 := NormalizePhone(out)
			require.True(t, ok2, "normalized %q does not normalize again", out)
			require.Equal(t, out, again)
		}
	})
}
