package districtgen

import (
	"bytes"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Every random choice is drawn from a stream keyed by (seed, domain, index),
// so a row can be produced from its index alone: nothing is kept from one
// row to the next, and the next-day file reproduces the rows it keeps
// byte for byte.
const (
	domStruct    = iota // family links and id gaps
	domFamily           // a family's content
	domStudent          // a student's content
	domSchools          // the district: schools, area codes, domains
	domHomeroom         // homerooms by school, grade and section
	domPhone            // the permutation that gives families distinct numbers
	domDayRow           // next day: withdrawn and changed students
	domDayFam           // next day: families whose contacts changed
	domDayMut           // next day: what changed for a student
	domDayFamMut        // next day: what changed for a family
	domAdded            // next day: new students
	domAddedFam         // next day: new students' new families
	domAddedStu         // next day: new students' content
	nDom
)

const golden = 0x9E3779B97F4A7C15

// nFields is len(Header).
const nFields = 15

// Shape of the district. siblingPct is the share of students whose family
// already has a child earlier in the file; it makes about one family in
// seven have two or more children in the district.
const (
	siblingPct     = 0.165
	guardian2Pct   = 0.75
	attachPct      = 0.3 // new students with a brother or sister already enrolled
	idBase         = 10001
	idStride       = 3 // ids grow by 1–5 from one row to the next
	schoolYear     = 2025
	homeRegionPct  = 0.85
	studentMailPct = 0.97
)

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash is a keyed bijection of x.
func hash(key, x uint64) uint64 { return mix64(key ^ mix64(x+golden)) }

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

type rng struct{ p rand.PCG }

func (r *rng) seed(key, x uint64) {
	hi := mix64(key + x*golden)
	r.p.Seed(hi, mix64(hi^key^0x632BE59BD9B4E019))
}

func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.p.Uint64(), uint64(n))
	return int(hi)
}

func (r *rng) chance(p float64) bool { return unit(r.p.Uint64()) < p }

func (r *rng) name(list []name) name { return list[r.intn(len(list))] }

func (r *rng) str(list []string) string { return list[r.intn(len(list))] }

// span is the text arena[a:b] of the row being made.
type span struct{ a, b int }

type guardian struct {
	present     bool
	female      bool
	first, last name
	name        span // as the file writes it
	hasPhone    bool
	phone       [10]byte
	phoneFmt    int8
	email       span
}

type family struct {
	grp       *group
	strip     bool // names written without diacritics
	lang      string
	last      string // the children's surname as written
	lastKey   string
	otherLast name // the parent's surname the children do not carry
	g         [2]guardian
}

func (f *family) disp(n name) string {
	if f.strip {
		return n.plain
	}
	return n.s
}

type student struct {
	id              uint64
	girl            bool
	first, last     string // as written
	mailFirst       string // the names the district's address for the student was made of
	mailLast        string
	nick            string
	firstSpace      bool // a stray trailing space
	upperLast       bool
	rank            int // -1 PK, 0 K, 1–12
	padded          bool
	school, section int
	by, bm, bd      int
	phoneFmt        [2]int8 // -1: as the family's other rows write it
	hasEmail        bool
}

type gen struct {
	rows          uint64
	window        uint64 // how far back a student's brother or sister can be
	keys          [nDom]uint64
	schools       []school
	byRank        [14][]int
	home          []string
	staffDomain   string
	studentDomain string
	rs, rf, rm    rng
	fam           family
	stu           student
	rec           []string
	// arena holds the made-up text of the row being made (names, phones,
	// addresses…); format turns it into one string, which the row's fields
	// share, and that makes a row cost one allocation, not ten.
	arena []byte
}

func newGen(opts Options) *gen {
	g := &gen{rows: uint64(max(opts.Rows, 0)), rec: make([]string, nFields), arena: make([]byte, 0, 512)}
	g.window = min(max(g.rows/8, 1), 2000)
	for d := range g.keys {
		g.keys[d] = mix64(uint64(opts.Seed) ^ mix64(uint64(d+1)*golden))
	}
	var r rng
	r.seed(g.keys[domSchools], 0)
	g.home = regions[r.intn(len(regions))]
	district := r.str(districts)
	g.staffDomain = district + "schools.org"
	g.studentDomain = "students." + g.staffDomain
	g.schools = buildSchools(opts.Schools, &r)
	for i, s := range g.schools {
		for rank := s.Lowest; rank <= s.Highest; rank++ {
			g.byRank[rank+1] = append(g.byRank[rank+1], i)
		}
	}
	return g
}

// root is the index of the first student of i's family: some students link
// to one of the window students before them (brothers and sisters enrolled
// about the same time have close ids), and families are these chains.
func (g *gen) root(i uint64) uint64 {
	for i > 0 {
		h := hash(g.keys[domStruct], i)
		if unit(h) >= siblingPct {
			break
		}
		off, _ := bits.Mul64(mix64(h^golden), g.window)
		if off++; off > i {
			break
		}
		i -= off
	}
	return i
}

// id is the number in the student id of original row i: increasing, with gaps.
func (g *gen) id(i uint64) uint64 {
	return idBase + idStride*i + hash(g.keys[domStruct], i)%idStride
}

// idTop is above every original id.
func (g *gen) idTop() uint64 { return idBase + idStride*g.rows }

// phoneLocal gives family phone slot v its own seven-digit number (exchange
// and line): a permutation of [0, space) by cycle-walking a keyed bijection
// of 23-bit integers, so that no two families share a number by chance.
func (g *gen) phoneLocal(v uint64) uint64 {
	space := uint64(len(validExchanges)) * 10000
	if v >= space {
		return hash(g.keys[domPhone], v) % space
	}
	const mask = 1<<23 - 1
	k := g.keys[domPhone]
	x := v
	for {
		x = (x + k) & mask
		x = (x * 0x2d9e1b) & mask
		x ^= x >> 12
		x = (x + k>>23) & mask
		x = (x * 0x4c1f35) & mask
		x ^= x >> 11
		x = (x * 0x1b873593) & mask
		x ^= x >> 13
		if x < space {
			return x
		}
	}
}

func (g *gen) area(r *rng) string {
	if r.chance(homeRegionPct) {
		return r.str(g.home)
	}
	return r.str(otherAreaCodes)
}

func setPhone(p *[10]byte, area string, local uint64) {
	copy(p[:3], area)
	ex := validExchanges[local/10000]
	line := local % 10000
	p[3] = byte('0' + ex/100)
	p[4] = byte('0' + ex/10%10)
	p[5] = byte('0' + ex%10)
	p[6] = byte('0' + line/1000)
	p[7] = byte('0' + line/100%10)
	p[8] = byte('0' + line/10%10)
	p[9] = byte('0' + line%10)
}

// phoneFmts are the ways offices type phone numbers, with their weights.
var phoneFmtWeights = [...]int{38, 34, 15, 6, 5, 2}

func pickPhoneFmt(r *rng) int8 {
	n := r.intn(100)
	for i, w := range phoneFmtWeights {
		if n < w {
			return int8(i)
		}
		n -= w
	}
	return 0
}

func appendPhone(b []byte, p *[10]byte, f int8) []byte {
	switch f {
	case 0: // (612) 201-3344
		b = append(b, '(')
		b = append(b, p[:3]...)
		b = append(b, ')', ' ')
		b = append(b, p[3:6]...)
		b = append(b, '-')
		return append(b, p[6:]...)
	case 1, 5: // 612-201-3344, 1-612-201-3344
		if f == 5 {
			b = append(b, '1', '-')
		}
		b = append(b, p[:3]...)
		b = append(b, '-')
		b = append(b, p[3:6]...)
		b = append(b, '-')
		return append(b, p[6:]...)
	case 2: // 6122013344
		return append(b, p[:]...)
	case 3: // +1 612 201 3344
		b = append(b, '+', '1', ' ')
		b = append(b, p[:3]...)
		b = append(b, ' ')
		b = append(b, p[3:6]...)
		b = append(b, ' ')
		return append(b, p[6:]...)
	default: // 612.201.3344
		b = append(b, p[:3]...)
		b = append(b, '.')
		b = append(b, p[3:6]...)
		b = append(b, '.')
		return append(b, p[6:]...)
	}
}

func pickGroup(r *rng) *group {
	n := r.intn(groupTotal)
	for _, gr := range groups {
		if n < gr.weight {
			return gr
		}
		n -= gr.weight
	}
	return groups[0]
}

func pickLang(r *rng, gr *group) string {
	n := r.intn(gr.langTotal)
	for _, l := range gr.langs {
		if n < l.weight {
			return l.name
		}
		n -= l.weight
	}
	return gr.langs[0].name
}

// makeFamily fills g.fam from the stream (key, x); n numbers its phones.
func (g *gen) makeFamily(key, x, n uint64) {
	f, r := &g.fam, &g.rf
	r.seed(key, x)
	gr := pickGroup(r)
	f.grp = gr
	f.strip = r.chance(gr.stripPct)
	f.lang = pickLang(r, gr)
	if r.chance(0.01) {
		f.lang = ""
	}
	father, maiden := r.name(gr.last), r.name(gr.last)
	f.last, f.lastKey, f.otherLast = f.disp(father), father.key, maiden
	if r.chance(gr.compoundPct) {
		sep := " "
		if r.chance(0.4) {
			sep = "-"
		}
		f.last = f.last + sep + f.disp(maiden)
		f.lastKey += maiden.key
	}
	mom := guardian{present: true, female: true, first: r.name(gr.women), last: father}
	if r.chance(gr.keepOwnLast) {
		mom.last = maiden
	}
	dad := guardian{present: true, first: r.name(gr.men), last: father}
	if r.chance(0.72) {
		f.g[0], f.g[1] = mom, dad
	} else {
		f.g[0], f.g[1] = dad, mom
	}
	f.g[1].present = r.chance(guardian2Pct)
	if !f.g[1].present {
		f.g[1] = guardian{}
	}
	style := 0 // First Last
	switch n := r.intn(100); {
	case n < 8:
		style = 1 // Last, First
	case n < 10:
		style = 2 // LAST, FIRST
	}
	for s := range f.g {
		gd := &f.g[s]
		if !gd.present {
			continue
		}
		gd.name = g.guardianName(r, gd, style)
		switch {
		case s == 1 && f.g[0].hasPhone && r.chance(0.06): // a shared home line
			gd.hasPhone, gd.phone = true, f.g[0].phone
		case r.chance([2]float64{0.995, 0.94}[s]):
			gd.hasPhone = true
			setPhone(&gd.phone, g.area(r), g.phoneLocal(2*n+uint64(s)))
		}
		gd.phoneFmt = pickPhoneFmt(r)
		switch {
		case s == 1 && f.g[0].email.b > f.g[0].email.a && r.chance(0.04): // a family address
			gd.email = f.g[0].email
		case r.chance([2]float64{0.9, 0.72}[s]):
			gd.email = g.email(r, f, gd)
		}
	}
}

func (g *gen) guardianName(r *rng, gd *guardian, style int) span {
	f := &g.fam
	first, last := f.disp(gd.first), f.disp(gd.last)
	var initial byte
	if r.chance(0.08) {
		initial = byte('A' + r.intn(26))
	}
	nick := ""
	if r.chance(0.003) {
		nick = r.str(nicknames)
	}
	suffix, suffixComma := "", false
	if !gd.female && r.chance(0.03) {
		suffix, suffixComma = r.str(suffixes), r.chance(0.5)
	}
	start := len(g.arena)
	b := g.arena
	appendFirst := func() {
		b = append(b, first...)
		if initial != 0 {
			b = append(b, ' ', initial, '.')
		}
		if nick != "" {
			b = append(b, ` "`...)
			b = append(b, nick...)
			b = append(b, '"')
		}
	}
	appendLast := func() {
		b = append(b, last...)
		if suffix != "" {
			if suffixComma && style == 0 {
				b = append(b, ',')
			}
			b = append(b, ' ')
			b = append(b, suffix...)
		}
	}
	if style == 0 {
		appendFirst()
		b = append(b, ' ')
		appendLast()
	} else {
		appendLast()
		b = append(b, ',', ' ')
		appendFirst()
	}
	if r.chance(0.004) {
		b = append(b, ' ')
	}
	if style == 2 {
		b = append(b[:start], strings.ToUpper(string(b[start:]))...)
	}
	g.arena = b
	return span{start, len(b)}
}

var pow10 = [...]int{1, 10, 100, 1000, 10000}

// appendDigits appends n in decimal, zero-padded to width digits.
func appendDigits(b []byte, n, width int) []byte {
	var d [20]byte
	i := len(d)
	for n > 0 || width > 0 {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	return append(b, d[i:]...)
}

// email makes up an address for a guardian: "maria.garcia85@gmail.com",
// "Maria.Garcia@gmail.com", "jsmith1979@yahoo.com"…
func (g *gen) email(r *rng, f *family, gd *guardian) span {
	first, last := gd.first.key, gd.last.key
	if r.chance(0.12) {
		first, last = gd.first.mixed, gd.last.mixed
	}
	start := len(g.arena)
	b := g.arena
	digits := func(lo, hi int) { // lo to hi digits, as people pad them
		w := lo + r.intn(hi-lo+1)
		b = appendDigits(b, r.intn(pow10[w]), w)
	}
	switch n := r.intn(100); {
	case n < 3: // first.last
		b = append(append(append(b, first...), '.'), last...)
	case n < 4: // firstlast
		b = append(append(b, first...), last...)
	case n < 28: // first.last85
		b = append(append(append(b, first...), '.'), last...)
		digits(2, 3)
	case n < 42: // firstlast1984
		b = append(append(b, first...), last...)
		b = appendDigits(b, 1968+r.intn(34), 4)
	case n < 56: // flast27
		b = append(append(b, first[0]), last...)
		digits(2, 4)
	case n < 66: // firstl2010
		b = append(append(b, first...), last[0])
		digits(4, 4)
	case n < 76: // first_last12
		b = append(append(append(b, first...), '_'), last...)
		digits(2, 3)
	case n < 84: // last.first3
		b = append(append(append(b, last...), '.'), first...)
		digits(1, 3)
	case n < 92: // first.l.last
		b = append(append(append(b, first...), '.', byte('a'+r.intn(26)), '.'), last...)
		if r.chance(0.5) {
			digits(2, 2)
		}
	default: // thegarcias2012, a family address
		b = append(append(b, "the"...), f.lastKey...)
		if f.lastKey[len(f.lastKey)-1] != 's' {
			b = append(b, 's')
		}
		digits(2, 4)
	}
	b = append(b, '@')
	d := r.intn(emailDomainTotal)
	for _, ed := range emailDomains {
		if d < ed.weight {
			if ed.name == "" {
				b = append(b, g.staffDomain...)
			} else {
				b = append(b, ed.name...)
			}
			break
		}
		d -= ed.weight
	}
	if r.chance(0.015) { // Gmail.com
		at := len(b) - 1
		for b[at] != '@' {
			at--
		}
		if c := b[at+1]; c >= 'a' && c <= 'z' {
			b[at+1] = c - 'a' + 'A'
		}
	}
	if r.chance(0.003) {
		b = append(b, ' ')
	}
	g.arena = b
	return span{start, len(b)}
}

// gradeWeights weight PK, K, 1…12 (ninth grade is the biggest, seniors the
// smallest, pre-K half-sized).
var gradeWeights = [14]int{55, 100, 100, 100, 100, 100, 100, 100, 100, 100, 105, 99, 95, 91}

var gradeTotal = func() int {
	t := 0
	for _, w := range gradeWeights {
		t += w
	}
	return t
}()

var gradePadded = [14]string{"PK", "K", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}
var gradePlain = [14]string{"PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}

func (g *gen) pickRank(r *rng) int {
	for {
		n := r.intn(gradeTotal)
		for i, w := range gradeWeights {
			if n < w {
				if len(g.byRank[i]) > 0 {
					return i - 1
				}
				break
			}
			n -= w
		}
	}
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// makeStudent fills g.stu from g.rs and g.fam.
func (g *gen) makeStudent(id uint64) {
	s, r, f := &g.stu, &g.rs, &g.fam
	gr := f.grp
	s.id = id
	s.girl = r.chance(0.49)
	list := gr.boys
	if r.chance(gr.englishFirst) {
		list = generalBoys
		if s.girl {
			list = generalGirls
		}
	} else if s.girl {
		list = gr.girls
	}
	fn := r.name(list)
	s.first, s.mailFirst = f.disp(fn), fn.key
	switch u := unit(r.p.Uint64()); {
	case u < 0.9:
		s.last, s.mailLast = f.last, f.lastKey
	case u < 0.96:
		s.last, s.mailLast = f.disp(f.otherLast), f.otherLast.key
	default: // a stepchild
		n := r.name(gr.last)
		s.last, s.mailLast = f.disp(n), n.key
	}
	s.nick = ""
	if r.chance(0.0025) {
		s.nick = r.str(nicknames)
	}
	s.firstSpace = r.chance(0.003)
	s.upperLast = r.chance(0.005)
	s.rank = g.pickRank(r)
	s.padded = r.chance(0.95)
	cands := g.byRank[s.rank+1]
	s.school = cands[r.intn(len(cands))]
	s.section = r.intn(g.sections(s.school, s.rank))
	age := 5 + s.rank // on September 1
	switch n := r.intn(1000); {
	case n < 30:
		age++ // held back
	case n < 36:
		age-- // skipped ahead
	}
	s.bm = 1 + r.intn(12)
	s.by = schoolYear - age
	if s.bm >= 9 {
		s.by--
	}
	if s.bm == 9 { // born after the September 1 cutoff
		s.bd = 2 + r.intn(29)
	} else {
		s.bd = 1 + r.intn(daysIn(s.bm, s.by))
	}
	for i := range s.phoneFmt {
		s.phoneFmt[i] = -1
		if r.chance(0.08) {
			s.phoneFmt[i] = pickPhoneFmt(r)
		}
	}
	s.hasEmail = s.rank >= 1 && r.chance(studentMailPct)
}

func (g *gen) sections(school, rank int) int {
	return 2 + int(hash(g.keys[domHomeroom], uint64(school)<<16|uint64(rank+1)<<8|0xff)%5)
}

// homeroom names a section: "Mrs. Olson", "Room 214", "B-112", sometimes
// with a comma ("Room 12, Bldg B").
func (g *gen) homeroom(b []byte, school, rank, section int) []byte {
	h := hash(g.keys[domHomeroom], uint64(school)<<16|uint64(rank+1)<<8|uint64(section))
	room := int(100*(1+h%3) + (h>>8)%40 + 1)
	comma := (h>>16)%100 < 3
	switch g.schools[school].style {
	case 0:
		b = append(b, teacherTitles[(h>>24)%uint64(len(teacherTitles))]...)
		b = append(b, ' ')
		b = append(b, generalLast[(h>>32)%uint64(len(generalLast))].s...)
		if comma {
			b = append(b, ", Rm "...)
			b = strconv.AppendInt(b, int64(room), 10)
		}
	case 1:
		b = append(b, "Room "...)
		b = strconv.AppendInt(b, int64(room), 10)
		if comma {
			b = append(b, ", Bldg "...)
			b = append(b, byte('A'+(h>>32)%4))
		}
	case 2:
		b = append(b, "Rm "...)
		b = strconv.AppendInt(b, int64(room), 10)
		if comma {
			b = append(b, ", Annex"...)
		}
	default:
		b = append(b, byte('A'+(h>>32)%5), '-')
		b = strconv.AppendInt(b, int64(room), 10)
		if comma {
			b = append(b, ", Portable "...)
			b = strconv.AppendInt(b, int64(1+(h>>40)%9), 10)
		}
	}
	return b
}

// format writes g.stu and g.fam into g.rec, in Header's order.
func (g *gen) format() []string {
	s, f, rec := &g.stu, &g.fam, g.rec
	var spans [nFields]span // the fields from the arena; guardian, e-mail and later fields are all from it
	b := g.arena
	mark := func(field int, start int) { spans[field] = span{start, len(b)} }

	start := len(b)
	b = append(b, 'S')
	b = appendDigits(b, int(s.id), 7)
	mark(0, start)
	rec[1] = s.first
	if s.nick != "" || s.firstSpace {
		start = len(b)
		b = append(b, s.first...)
		if s.nick != "" {
			b = append(append(append(b, ` "`...), s.nick...), '"')
		}
		if s.firstSpace {
			b = append(b, ' ')
		}
		mark(1, start)
	}
	rec[2] = s.last
	if s.upperLast {
		rec[2] = strings.ToUpper(s.last)
	}
	if s.padded {
		rec[3] = gradePadded[s.rank+1]
	} else {
		rec[3] = gradePlain[s.rank+1]
	}
	rec[4] = g.schools[s.school].Name
	rec[5] = f.lang
	for i := range f.g {
		gd := &f.g[i]
		spans[6+3*i], spans[8+3*i] = gd.name, gd.email
		rec[7+3*i] = ""
		if gd.hasPhone {
			pf := gd.phoneFmt
			if s.phoneFmt[i] >= 0 {
				pf = s.phoneFmt[i]
			}
			start = len(b)
			b = appendPhone(b, &gd.phone, pf)
			mark(7+3*i, start)
		}
	}
	if s.hasEmail {
		start = len(b)
		b = append(b, s.mailFirst[0])
		b = append(b, s.mailLast[:min(len(s.mailLast), 10)]...)
		b = appendDigits(b, int(s.id), 0) // unique, as the id is
		b = append(b, '@')
		b = append(b, g.studentDomain...)
		mark(12, start)
	}
	start = len(b)
	b = g.homeroom(b, s.school, s.rank, s.section)
	mark(13, start)
	start = len(b)
	b = appendDigits(b, s.bm, 2)
	b = append(b, '/')
	b = appendDigits(b, s.bd, 2)
	b = append(b, '/')
	b = appendDigits(b, s.by, 4)
	mark(14, start)
	g.arena = b

	text := string(b)
	for i, sp := range spans {
		if sp.b > sp.a {
			rec[i] = text[sp.a:sp.b]
		} else if i > 5 {
			rec[i] = ""
		}
	}
	return rec
}

// original produces row i of the Write file, as day d changes it (d nil: as is).
func (g *gen) original(i uint64, d *dayCtx) []string {
	root := g.root(i)
	g.arena = g.arena[:0]
	g.makeFamily(g.keys[domFamily], root, root)
	if d != nil && d.famChanged(root) {
		g.mutateFamily(d, root)
	}
	g.rs.seed(g.keys[domStudent], i)
	g.makeStudent(g.id(i))
	if d != nil && d.studentChanged(i) {
		g.mutateStudent(d, i)
	}
	return g.format()
}

// added produces the k-th new student of day d.
func (g *gen) added(k uint64, d *dayCtx) []string {
	r := &g.rm
	r.seed(d.kAdded, k)
	g.arena = g.arena[:0]
	if g.rows > 0 && r.chance(attachPct) {
		root := g.root(uint64(r.intn(int(g.rows))))
		g.makeFamily(g.keys[domFamily], root, root)
		if d.famChanged(root) {
			g.mutateFamily(d, root)
		}
	} else {
		g.makeFamily(d.kAddedFam, k, d.virtBase+k)
	}
	g.rs.seed(d.kAddedStu, k)
	g.makeStudent(d.idBase + k)
	return g.format()
}

// dayCtx holds a next day's decisions, all derived from hashes.
type dayCtx struct {
	removeP, studentP, familyP float64
	added                      uint64
	idBase, virtBase           uint64
	kRow, kFam, kMut, kFamMut  uint64
	kAdded, kAddedFam          uint64
	kAddedStu                  uint64
}

func pct(v, def float64) float64 {
	switch {
	case v == 0:
		v = def
	case v < 0 || math.IsNaN(v):
		v = 0
	}
	return min(v, 100) / 100
}

func (g *gen) day(ch Change) *dayCtx {
	day := uint64(max(ch.Day, 1))
	changed := pct(ch.ChangedPct, 2)
	d := &dayCtx{removeP: pct(ch.RemovedPct, 0.5)}
	// Half the changes are a family's phone or address (every brother and
	// sister's row shows it), half a student's own.
	d.familyP = changed / 2
	d.studentP = changed / 2
	d.added = uint64(math.Round(float64(g.rows) * pct(ch.AddedPct, 0.5)))
	d.idBase = g.idTop() + 1 + (day-1)*d.added
	d.virtBase = g.rows + (day-1)*d.added
	k := func(dom int) uint64 { return mix64(g.keys[dom] + day*golden) }
	d.kRow, d.kFam, d.kMut, d.kFamMut = k(domDayRow), k(domDayFam), k(domDayMut), k(domDayFamMut)
	d.kAdded, d.kAddedFam, d.kAddedStu = k(domAdded), k(domAddedFam), k(domAddedStu)
	return d
}

func (d *dayCtx) removed(i uint64) bool { return unit(hash(d.kRow, i)) < d.removeP }

func (d *dayCtx) studentChanged(i uint64) bool {
	u := unit(hash(d.kRow, i))
	return u >= d.removeP && u < d.removeP+d.studentP
}

func (d *dayCtx) famChanged(root uint64) bool { return unit(hash(d.kFam, root)) < d.familyP }

// mutateFamily changes one guardian's phone or e-mail address.
func (g *gen) mutateFamily(d *dayCtx, root uint64) {
	r, f := &g.rm, &g.fam
	r.seed(d.kFamMut, root)
	s := 0
	if f.g[1].present && r.chance(0.4) {
		s = 1
	}
	gd := &f.g[s]
	if r.chance(0.5) {
		old, had := gd.phone, gd.hasPhone
		for {
			area := string(gd.phone[:3])
			if !had || r.chance(0.3) {
				area = g.area(r)
			}
			setPhone(&gd.phone, area, uint64(r.intn(len(validExchanges)*10000)))
			if !had || gd.phone != old {
				break
			}
		}
		gd.hasPhone = true
		return
	}
	old := g.arena[gd.email.a:gd.email.b]
	for range 8 {
		if gd.email = g.email(r, f, gd); !bytes.Equal(g.arena[gd.email.a:gd.email.b], old) {
			return
		}
	}
	start := len(g.arena)
	g.arena = append(append(g.arena, 'x'), old...)
	gd.email = span{start, len(g.arena)}
}

// mutateStudent changes a student's grade, school, name or homeroom.
func (g *gen) mutateStudent(d *dayCtx, i uint64) {
	r, s := &g.rm, &g.stu
	r.seed(d.kMut, i)
	kind := r.intn(4)
	for n := range 4 {
		switch (kind + n) % 4 {
		case 0: // a corrected grade: retained, or promoted after all
			sc := g.schools[s.school]
			up, down := s.rank < sc.Highest, s.rank > sc.Lowest
			if up && (!down || r.chance(0.5)) {
				s.rank++
				return
			}
			if down {
				s.rank--
				return
			}
		case 1: // a transfer
			if c := g.byRank[s.rank+1]; len(c) > 1 {
				k := r.intn(len(c) - 1)
				if c[k] == s.school {
					k = len(c) - 1
				}
				s.school = c[k]
				return
			}
		case 2: // a new surname or preferred first name
			f := &g.fam
			if r.chance(0.5) {
				old := s.first
				list := f.grp.boys
				if s.girl {
					list = f.grp.girls
				}
				for range 8 {
					if nf := r.name(list); f.disp(nf) != old {
						s.first = f.disp(nf)
						return
					}
				}
			}
			nl := r.name(f.grp.last)
			if r.chance(0.5) && f.disp(nl) != s.last {
				s.last = f.disp(nl)
			} else {
				s.last += "-" + f.disp(nl)
			}
			return
		case 3: // a new homeroom
			old := string(g.homeroom(nil, s.school, s.rank, s.section))
			sections := g.sections(s.school, s.rank)
			for k := 1; k < sections; k++ {
				sec := (s.section + k) % sections
				if string(g.homeroom(nil, s.school, s.rank, sec)) != old {
					s.section = sec
					return
				}
			}
		}
	}
}
