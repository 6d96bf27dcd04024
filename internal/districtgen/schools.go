package districtgen

import (
	"math"
	"strconv"
)

// School is one of the district's schools and the grades it serves, as
// ranks: -1 is pre-kindergarten (PK), 0 kindergarten (K), 1–12 the grades.
type School struct {
	Name            string
	Lowest, Highest int
}

type school struct {
	School
	style int // how its homerooms are named; see gen.homeroom
}

// Schools returns the schools of the district Write(opts) describes, in the
// order elementary, middle, high (or K-8 and high, or one PK-12 academy for
// a district of one or two schools).
func Schools(opts Options) []School {
	g := newGen(Options{Seed: opts.Seed, Schools: opts.Schools})
	out := make([]School, len(g.schools))
	for i, s := range g.schools {
		out[i] = s.School
	}
	return out
}

var overflowPrefixes = []string{"North", "South", "East", "West", "New", "Upper", "Lower", "Central"}

func buildSchools(n int, r *rng) []school {
	if n <= 0 {
		n = 12
	}
	pool := append([]string(nil), schoolNames...)
	for i := len(pool) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		pool[i], pool[j] = pool[j], pool[i]
	}
	highPool := append([]string(nil), highSchoolNames...)
	for i := len(highPool) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		highPool[i], highPool[j] = highPool[j], highPool[i]
	}
	next := 0
	namesake := func() string {
		k := next
		next++
		if k < len(pool) {
			return pool[k]
		}
		p := k/len(pool) - 1
		name := overflowPrefixes[p%len(overflowPrefixes)] + " " + pool[k%len(pool)]
		if p >= len(overflowPrefixes) { // hundreds of schools
			name += " " + strconv.Itoa(1+p/len(overflowPrefixes))
		}
		return name
	}
	switch n {
	case 1:
		return []school{{School{namesake() + " Academy", -1, 12}, 1}}
	case 2:
		return []school{{School{namesake() + " K-8 School", -1, 8}, 0}, {School{namesake() + " High School", 9, 12}, 1}}
	}
	high := max(1, int(math.Round(float64(n)*0.17)))
	middle := max(1, int(math.Round(float64(n)*0.22)))
	elem := n - high - middle
	out := make([]school, 0, n)
	for i := range elem {
		name := namesake() + " Elementary"
		if r.chance(0.25) {
			name += " School"
		}
		low := 0
		if i%2 == 0 {
			low = -1
		}
		style := 0
		if r.chance(0.3) {
			style = 1
		}
		out = append(out, school{School{name, low, 5}, style})
	}
	for range middle {
		out = append(out, school{School{namesake() + " Middle School", 6, 8}, 1 + r.intn(3)})
	}
	for i := range high {
		base := ""
		if i < len(highPool) && r.chance(0.5) {
			base = highPool[i]
		} else {
			base = namesake()
		}
		out = append(out, school{School{base + " High School", 9, 12}, 1 + r.intn(3)})
	}
	return out
}
