package districtgen

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// name is one entry of a name list: as written (with its diacritics), folded
// to ASCII with its case and punctuation kept (what many SIS exports do with
// non-ASCII names), and as an e-mail address would spell it: ASCII letters
// only, lower-case (key) or as capitalized (mixed).
type name struct {
	s, plain, key, mixed string
}

func names(list ...string) []name {
	out := make([]name, len(list))
	for i, s := range list {
		p := fold(s)
		var k, m strings.Builder
		for j := 0; j < len(p); j++ {
			c := p[j]
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
				m.WriteByte(c)
				k.WriteByte(c | 0x20)
			}
		}
		out[i] = name{s: s, plain: p, key: k.String(), mixed: m.String()}
	}
	return out
}

// foldTable maps the lower-case letters the name lists use to ASCII.
var foldTable = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'đ': "d", 'ł': "l", 'ı': "i"}
	for ascii, chars := range map[string]string{
		"a": "áàâäãåāạảấầẩẫậăắằẳẵặą",
		"e": "éèêëẽēẹẻếềểễệęė",
		"i": "íìîïĩīịỉ",
		"o": "óòôöõōọỏốồổỗộơớờởỡợő",
		"u": "úùûüũūụủưứừửữựů",
		"y": "ýỳÿỹỵỷ",
		"n": "ñń",
		"c": "çćč",
		"s": "śšş",
		"z": "žźż",
		"r": "ř",
		"g": "ğ",
	} {
		for _, r := range chars {
			m[r] = ascii
		}
	}
	return m
}()

// fold spells s in ASCII: "Nguyễn" → "Nguyen", "García-López" → "Garcia-Lopez".
// Characters it does not know are dropped.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		a, ok := foldTable[unicode.ToLower(r)]
		if !ok {
			continue
		}
		if unicode.IsUpper(r) {
			a = strings.ToUpper(a[:1]) + a[1:]
		}
		b.WriteString(a)
	}
	return b.String()
}

// language is a home language with its weight within a group.
type language struct {
	name   string
	weight int
}

// group is a family background: the names its families give and carry and
// the languages they speak at home. Weights are relative.
type group struct {
	weight       int
	girls, boys  []name // children's first names
	women, men   []name // parents' first names
	last         []name
	langs        []language
	langTotal    int
	stripPct     float64 // families whose names the SIS stores without diacritics
	compoundPct  float64 // children carrying both parents' surnames (García López)
	keepOwnLast  float64 // mothers keeping their own surname
	englishFirst float64 // children given a first name from the general list
}

var (
	generalGirls = names("Emma", "Olivia", "Ava", "Sophia", "Isabella", "Mia", "Charlotte", "Amelia", "Harper", "Evelyn",
		"Abigail", "Emily", "Elizabeth", "Avery", "Ella", "Scarlett", "Grace", "Chloe", "Victoria", "Riley", "Aria", "Lily",
		"Aubrey", "Zoey", "Penelope", "Layla", "Nora", "Hannah", "Addison", "Eleanor", "Natalie", "Brooklyn", "Leah", "Zoë",
		"Stella", "Hazel", "Ellie", "Paisley", "Audrey", "Skylar", "Violet", "Claire", "Bella", "Lucy", "Anna", "Samantha",
		"Caroline", "Kennedy", "Kinsley", "Allison", "Maya", "Sarah", "Madelyn", "Adeline", "Alexa", "Ariana", "Gabriella",
		"Naomi", "Alice", "Sadie", "Hailey", "Eva", "Emilia", "Autumn", "Quinn", "Piper", "Ruby", "Willow", "Everly", "Cora",
		"Kaylee", "Lydia", "Eliana", "Peyton", "Melanie", "Gianna", "Isabelle", "Julia", "Nova", "Clara", "Vivian", "Reagan",
		"Mackenzie", "Madeline", "Delilah", "Isla", "Katherine", "Sophie", "Josephine", "Ivy", "Jade", "Taylor", "Hadley",
		"Kylie", "Emery", "Natalia", "Annabelle", "Faith", "Alexandra", "Ashley", "Brianna", "Bailey", "Mary", "Athena",
		"Andrea", "Leilani", "Jasmine", "Margaret", "Alyssa", "Arya", "Norah", "Khloe", "Kayla", "Eden", "Eliza", "Rose",
		"Melody", "Alexis", "Isabel", "Sydney", "Juliana", "Lauren", "Iris", "Emerson", "Morgan", "Charlie", "Finley",
		"Molly", "Cecilia", "Daisy", "Reese", "Elise", "Paige", "Fiona", "Genevieve", "Brooke", "Rachel", "Catherine",
		"Chloé", "Renée", "Anaïs", "Siobhán", "Mary Kate", "Anna Marie", "Ann-Marie", "Élodie", "Brynn", "Maeve", "Freya",
		"Ingrid", "Greta", "Saoirse", "Astrid", "Margot", "Juniper", "Harlow", "Lainey", "Tessa", "Lila", "June")
	generalBoys = names("Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry", "Theodore",
		"Jack", "Levi", "Alexander", "Jackson", "Daniel", "Michael", "Mason", "Sebastian", "Ethan", "Logan", "Owen",
		"Samuel", "Jacob", "Asher", "Aiden", "John", "Joseph", "Wyatt", "David", "Leo", "Luke", "Julian", "Hudson",
		"Grayson", "Matthew", "Ezra", "Gabriel", "Carter", "Isaac", "Jayden", "Luca", "Anthony", "Dylan", "Lincoln",
		"Thomas", "Maverick", "Elias", "Josiah", "Charles", "Caleb", "Christopher", "Ezekiel", "Miles", "Jaxon", "Isaiah",
		"Andrew", "Joshua", "Nathan", "Nolan", "Adrian", "Cameron", "Eli", "Aaron", "Ryan", "Cooper", "Waylon", "Easton",
		"Kai", "Christian", "Landon", "Colton", "Roman", "Axel", "Brooks", "Jonathan", "Robert", "Jameson", "Ian",
		"Everett", "Greyson", "Wesley", "Hunter", "Jordan", "Bennett", "Silas", "Nicholas", "Parker", "Beau", "Weston",
		"Austin", "Connor", "Carson", "Dominic", "Xavier", "Jace", "Emmett", "Adam", "Declan", "Rowan", "Micah", "Ryder",
		"Sawyer", "Evan", "Vincent", "Harrison", "August", "Bryson", "Chase", "Milo", "Jasper", "Walker", "Jason",
		"Brayden", "Cole", "Nathaniel", "George", "Archer", "Jonah", "Theo", "Zachary", "Calvin", "Rhett", "Atlas", "Jude",
		"Bentley", "Tyler", "Max", "Elliot", "Graham", "Maxwell", "Dean", "Gavin", "Finn", "Tucker", "Brody", "Patrick",
		"Beckett", "Timothy", "Knox", "Tristan", "Emerson", "Nash", "Preston", "Sean", "Kyle", "Paul", "Grant", "Seán",
		"Rhys", "Björn", "Søren", "John Paul", "Jean-Luc", "Anders", "Lars", "Magnus", "Cormac", "Oisín", "Ronan",
		"Callum", "Fletcher", "Hayes", "Brecken")
	generalWomen = names("Jennifer", "Jessica", "Amanda", "Ashley", "Sarah", "Stephanie", "Melissa", "Nicole",
		"Elizabeth", "Heather", "Tiffany", "Michelle", "Amber", "Megan", "Amy", "Rachel", "Kimberly", "Christina",
		"Lauren", "Crystal", "Brittany", "Rebecca", "Laura", "Danielle", "Emily", "Samantha", "Angela", "Erin", "Kelly",
		"Sara", "Lisa", "Katherine", "Andrea", "Jamie", "Mary", "Erica", "Courtney", "Kristen", "Shannon", "Lindsey",
		"Katie", "Holly", "Allison", "Anna", "Natalie", "Whitney", "Victoria", "Christine", "Renée", "Zoë", "Siobhán",
		"Anne-Marie", "Mary Beth", "Julie", "Leah", "Alicia", "Carrie", "Tara", "Monica", "Vanessa", "Dana", "Misty",
		"Brandy", "Dawn", "Jillian", "Meghan", "Caitlin", "Kathleen", "Colleen", "Bridget", "Molly", "Gretchen",
		"Heidi", "Ingrid", "Brigitte", "Wendy", "Tonya", "Kristy", "Abigail", "Kaitlyn", "Hillary", "Chelsea", "Jenna",
		"Lindsay", "Kara", "Bethany", "Robin", "Tracy", "Becky", "Amélie", "Noémie")
	generalMen = names("Michael", "Christopher", "Matthew", "Joshua", "David", "James", "Daniel", "Robert", "John",
		"Joseph", "Jason", "Justin", "Andrew", "Ryan", "William", "Brian", "Brandon", "Jonathan", "Nicholas", "Anthony",
		"Eric", "Adam", "Kevin", "Thomas", "Steven", "Timothy", "Richard", "Jeremy", "Jeffrey", "Kyle", "Benjamin",
		"Aaron", "Charles", "Mark", "Jacob", "Stephen", "Patrick", "Scott", "Nathan", "Paul", "Sean", "Travis", "Zachary",
		"Dustin", "Gregory", "Kenneth", "Tyler", "Bradley", "Derek", "Chad", "Shawn", "Jared", "Cody", "Jesse", "Corey",
		"Keith", "Marcus", "Todd", "Shane", "Craig", "Brett", "Seán", "Björn", "Jean-Luc", "John Paul", "Erik", "Lars",
		"Karl", "Hans", "Connor", "Declan", "Garrett", "Dennis", "Peter", "Luke", "Dale", "Wade", "Troy", "Brent",
		"Clint", "Randy", "Rodney", "Joel", "Evan", "Jörg", "René")
	generalLast = names("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
		"Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
		"Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter",
		"Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart",
		"Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper", "Reed", "Bailey", "Bell", "Kelly",
		"Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "Hughes", "Price", "Myers",
		"Long", "Foster", "Sanders", "Ross", "Powell", "Sullivan", "Russell", "Jenkins", "Perry", "Butler", "Barnes",
		"Fisher", "Henderson", "Coleman", "Simmons", "Patterson", "Reynolds", "Hamilton", "Graham", "Wallace", "Cole",
		"West", "Stone", "Hayes", "Ford", "Ellis", "Hunt", "Palmer", "Black", "Schmidt", "Müller", "Schneider", "Weber",
		"Becker", "Wagner", "Hoffmann", "Schröder", "Koch", "O'Brien", "O'Connor", "O'Neill", "O'Malley", "McDonald",
		"MacKenzie", "McCarthy", "Fitzgerald", "Kowalski", "Nowak", "Wiśniewski", "Novak", "Larson", "Johansson",
		"Lindqvist", "Nilsson", "Olsen", "Hansen", "Jensen", "Berg", "Van der Berg", "DeVries", "Van Dyke", "St. John",
		"Rossi", "Russo", "Romano", "Ricci", "Esposito", "Bianchi", "Fontaine", "Dubois", "Lefèvre", "Bélanger", "Côté",
		"Gagnon", "Tremblay", "LeBlanc", "Olson", "Swanson", "Carlson", "Lund", "Erikson", "Petersen", "Brennan",
		"Gallagher", "Donovan", "Kennedy", "Quinn", "Walsh", "Byrne", "Doyle", "Flynn", "Burke", "Dunn", "Hart",
		"Wolfe", "Holt", "Baldwin", "Fletcher", "Porter", "Hudson", "Warren", "Schultz", "Meyer", "Zimmerman",
		"Hartmann", "Krüger", "Lindström", "Åberg", "D'Angelo", "DiMaggio", "Del Monte", "Lambert", "Marchand",
		"Underwood", "Whitaker", "Vaughn", "Sutton", "Knight", "Lowe", "Fuller", "Caldwell", "Barrett", "Chambers")

	aaGirls = names("Aaliyah", "Imani", "Jada", "Nia", "Zaria", "Kiara", "Destiny", "Jasmine", "Amari", "Aniyah",
		"Nevaeh", "Taliyah", "Essence", "Janae", "Ayanna", "Makayla", "Brianna", "Kennedi", "Londyn", "Zuri", "Amira",
		"Journee", "Tiana", "Raven", "Alexis", "Jayla", "Maliyah", "Nyla", "Aliyah", "Khloe", "Ja'Nya", "Da'Nyah",
		"Serenity", "Harmony", "Skye", "Trinity", "Kamryn", "A'Niyah", "Laila", "Amaya")
	aaBoys = names("Jamal", "DeShawn", "Darnell", "Malik", "Jaylen", "Jalen", "Marquis", "Terrell", "Andre",
		"D'Andre", "DaQuan", "Jamir", "Kendrick", "Isaiah", "Elijah", "Josiah", "Jeremiah", "Xavier", "Cameron",
		"Darius", "Khalil", "Kareem", "Marcus", "Jaden", "Jayceon", "Kairo", "Zaire", "King", "Legend", "Messiah",
		"Micah", "Trevon", "Amari", "De'Andre", "Ja'Marion", "Tre'Von", "Kamari", "Dashawn", "Jabari", "Omari")
	aaWomen = names("Keisha", "Tamika", "Latoya", "Shaniqua", "Ebony", "Tasha", "Monique", "Aisha", "Tanisha",
		"Keyana", "Shanice", "Dominique", "Latasha", "Yolanda", "Felicia", "Kenya", "Tiara", "Precious", "Danielle",
		"Ashley", "Crystal", "Jasmine", "Tiffany", "Brittany", "La'Keisha", "Sha'Ron", "Ayesha", "Imani")
	aaMen = names("Tyrone", "Darnell", "Jamal", "Terrence", "Andre", "Reginald", "Cedric", "Dwayne", "Lamar",
		"Marcus", "Derrick", "Antoine", "Maurice", "Rashad", "DeAndre", "Jerome", "Kendrick", "Tremaine", "Demetrius",
		"Willie", "Calvin", "Brandon", "Anthony", "Michael", "Corey", "De'Shawn")
	aaLast = names("Washington", "Jefferson", "Jackson", "Johnson", "Williams", "Brown", "Davis", "Harris",
		"Robinson", "Banks", "Booker", "Freeman", "Mosley", "Gaines", "Dorsey", "Battle", "Bullock", "Pettaway",
		"Gilliam", "Coleman", "Jenkins", "Simmons", "Bryant", "Alexander", "Hairston", "Tolbert", "Mack", "Stokes",
		"Joseph", "Whitfield", "Holloway", "Mayfield", "McNeil", "Grier", "Pruitt", "Ware", "Reid", "Little",
		"Franklin", "Wiggins", "Oliver", "Marshall", "Gordon", "Graves", "Haynes", "Rhodes", "Boyd", "Mitchell",
		"Thomas", "Moore", "Smith", "Jones", "Walker", "Green", "Carter", "Hill", "Wright", "Ellison", "Langston")

	hispGirls = names("Sofía", "Valentina", "Camila", "Isabella", "Ximena", "Valeria", "Mariana", "Luciana",
		"Daniela", "Victoria", "Gabriela", "Natalia", "María José", "Ana Sofía", "Renata", "Regina", "Fernanda",
		"Andrea", "Lucía", "Paula", "Guadalupe", "Itzel", "Yaretzi", "Jimena", "Alejandra", "Esmeralda", "Génesis",
		"Nayeli", "Zoé", "Luz", "Catalina", "Emilia", "Julieta", "Antonella", "Martina", "Abril", "Dulce María",
		"Angélica", "Mía", "Aitana", "Allison", "Emily", "Genesis", "Kimberly", "Ashley", "Melanie", "Arely", "Yamileth",
		"Leslie", "Mayte", "Dayana", "Evelyn", "Karla", "Joselyn", "Marisol")
	hispBoys = names("José", "Juan", "Luis", "Carlos", "Jesús", "Miguel", "Ángel", "Alejandro", "Diego",
		"Santiago", "Mateo", "Matías", "Sebastián", "Emiliano", "Leonardo", "Daniel", "Gael", "Iker", "Joaquín",
		"Nicolás", "Andrés", "Fernando", "Ricardo", "Eduardo", "Jorge", "Francisco", "Javier", "Manuel", "Rafael",
		"Óscar", "Héctor", "Rubén", "César", "Sergio", "Víctor", "Adrián", "Tomás", "Benjamín", "Damián", "Elías",
		"Emmanuel", "Christopher", "Kevin", "Brayan", "Anthony", "Jonathan", "Juan Carlos", "José Luis", "Luis Ángel",
		"Jean Carlos", "Dylan", "Aarón", "Josué", "Isaac", "Erick", "Axel", "Jayden", "Giovanni", "Iñaki")
	hispWomen = names("María", "Guadalupe", "Juana", "Rosa", "Verónica", "Leticia", "Beatriz", "Carmen", "Adriana",
		"Claudia", "Elena", "Inés", "Paola", "Brenda", "Karla", "Yesenia", "Araceli", "Rocío", "Maribel", "Marisol",
		"Gabriela", "Patricia", "Silvia", "Alejandra", "Lorena", "Sandra", "Mónica", "Norma", "Blanca", "Margarita",
		"Ana María", "María del Carmen", "Sonia", "Lucía", "Teresa", "Yolanda", "Diana", "Liliana", "Erika", "Jessica")
	hispMen = names("José", "Juan", "Luis", "Carlos", "Jesús", "Miguel", "Francisco", "Javier", "Manuel",
		"Antonio", "Pedro", "Alejandro", "Ricardo", "Eduardo", "Jorge", "Roberto", "Fernando", "Raúl", "Julio",
		"Sergio", "Víctor", "Óscar", "Héctor", "Rubén", "Arturo", "Enrique", "Ramón", "Salvador", "Rigoberto",
		"Juan Pablo", "José Antonio", "Martín", "Gerardo", "Armando", "Alberto", "Marco Antonio", "Ernesto", "Efraín")
	hispLast = names("García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez",
		"Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Morales", "Cruz", "Ortiz", "Gutiérrez",
		"Chávez", "Ramos", "Ruiz", "Mendoza", "Álvarez", "Castillo", "Jiménez", "Vásquez", "Moreno", "Romero",
		"Herrera", "Medina", "Aguilar", "Vargas", "Guzmán", "Méndez", "Salazar", "Soto", "Delgado", "Peña", "Ríos",
		"Castro", "Contreras", "Sandoval", "Ortega", "Estrada", "Núñez", "Domínguez", "Cervantes", "Figueroa",
		"Fuentes", "Ibarra", "Navarro", "Rosales", "Valdez", "Campos", "Carrillo", "Espinoza", "Luna", "Vega", "Acosta",
		"Cabrera", "Cárdenas", "De La Cruz", "De León", "Del Valle", "Santos", "Zamora", "Marroquín", "Quintanilla",
		"Velásquez", "Orellana", "Barrios", "Montoya", "Zúñiga", "Juárez", "Maldonado", "Mejía", "Pacheco", "Rojas",
		"Solís", "Trejo", "Villanueva", "Avilés", "Benítez", "Cisneros", "Esquivel", "Galván", "Hinojosa", "Lozano",
		"Murillo", "Ochoa", "Padilla", "Quiñones", "Saldaña", "Tapia", "Urías", "Villarreal", "Ybarra", "Zavala")

	vietGirls = names("Linh", "Anh", "Thảo", "Ngọc", "Trang", "Hương", "Mai", "Lan", "Vy", "Nhi", "My", "Hân",
		"Quỳnh", "Thư", "Trâm", "Uyên", "Yến", "Hạnh", "Phương", "Ngân", "Khánh Linh", "Bảo Ngọc", "Kim", "Tiffany",
		"Vivian", "Jenny", "Emily", "Thùy Dương", "Gia Hân", "Minh Anh")
	vietBoys = names("Minh", "Huy", "Khang", "Bảo", "Duy", "Nam", "Long", "Phúc", "Quang", "Tuấn", "Đức", "Hoàng",
		"Khôi", "Thiện", "Vinh", "Trung", "Hiếu", "Tâm", "Nhật", "Thành", "Gia Bảo", "Minh Khôi", "Anh Tuấn", "Kevin",
		"Tony", "Jimmy", "Andrew", "Đăng Khoa", "Quốc Anh", "Thiên Ân")
	vietLast = names("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
		"Hồ", "Ngô", "Dương", "Lý", "Trịnh", "Đinh", "Lâm", "Mai", "Tô", "Châu", "La", "Nguyễn", "Nguyễn", "Trần")

	arabGirls = names("Fatima", "Maryam", "Aisha", "Zainab", "Layla", "Noor", "Huda", "Amira", "Sara", "Yasmin",
		"Hana", "Rania", "Salma", "Mariam", "Reem", "Lina", "Nadia", "Dalia", "Rahaf", "Jana", "Malak", "Jannah",
		"Hiba", "Leen", "Rawan", "Shahd", "Farah")
	arabBoys = names("Mohammed", "Muhammad", "Ahmed", "Ali", "Omar", "Yusuf", "Ibrahim", "Hassan", "Hussein",
		"Khalid", "Mustafa", "Abdullah", "Hamza", "Bilal", "Karim", "Tariq", "Zaid", "Adam", "Amir", "Yassin",
		"Ayman", "Samir", "Jamal", "Abdulrahman", "Mahmoud", "Anas", "Ziad")
	arabLast = names("Al-Sayed", "Haddad", "Khoury", "Hassan", "Mansour", "Saleh", "Nasser", "Abdullah",
		"Al-Masri", "Abboud", "Ahmed", "Ali", "Farah", "Hamdan", "Ibrahim", "Jaber", "Kassem", "Mahmoud", "Mustafa",
		"Najjar", "Odeh", "Qasim", "Rahman", "Sabbagh", "Shaheen", "Yousef", "Zaidan", "El-Amin", "Abu-Bakr",
		"Al Rashid", "Al-Hakim", "Darwish", "Issa", "Khalil", "Suleiman")

	somGirls = names("Hodan", "Fadumo", "Hibo", "Ayaan", "Ifrah", "Sagal", "Nasra", "Hamdi", "Idil", "Ubah",
		"Deeqa", "Filsan", "Sahra", "Hawa", "Ikram", "Khadra", "Muna", "Najma", "Ruqia", "Safiya", "Yasmin", "Amina",
		"Asha", "Istahil", "Sumaya")
	somBoys = names("Abdi", "Abdirahman", "Abdullahi", "Ahmed", "Mohamed", "Mohamud", "Hassan", "Ali", "Omar",
		"Yusuf", "Farah", "Guled", "Liban", "Mahad", "Abdirizak", "Bashir", "Hamse", "Ilyas", "Ismail", "Khalid",
		"Mukhtar", "Said", "Sharmarke", "Zakaria", "Abdiaziz")
	somLast = names("Mohamed", "Ahmed", "Hassan", "Ali", "Abdi", "Farah", "Warsame", "Jama", "Hussein", "Osman",
		"Omar", "Yusuf", "Nur", "Aden", "Ibrahim", "Abdullahi", "Egal", "Dahir", "Samatar", "Shire", "Hirsi",
		"Ismail", "Elmi", "Duale", "Gedi", "Mohamud", "Abdirahman", "Guled")

	zhGirls = names("Mei", "Xin", "Yu", "Jing", "Li Na", "Xiaoyu", "Yuxi", "Zihan", "Yiling", "Ling", "Hui",
		"Qian", "Ying", "Wen", "Jia", "Xiu", "Emily", "Grace", "Angela", "Michelle", "Cindy", "Yutong", "Ruoxi")
	zhBoys = names("Wei", "Hao", "Jun", "Lei", "Ming", "Yang", "Jian", "Hao Yu", "Zihao", "Yichen", "Haoran",
		"Bowen", "Jiaming", "Tao", "Kai", "Feng", "Bo", "Chen", "Kevin", "Eric", "Jason", "Andy", "Ryan", "Zhiwei")
	zhLast = names("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
		"Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo", "Zheng", "Liang", "Xie", "Song", "Tang", "Chan", "Wong",
		"Lee", "Cheung", "Ng", "Ho", "Lam", "Chow", "Leung", "Yip")

	htGirls = names("Widline", "Nadège", "Fabienne", "Mirlande", "Roseline", "Guerline", "Marie-Ange",
		"Stéphanie", "Naïka", "Dayana", "Esther", "Rose-Mina", "Nathalie", "Kettly", "Magalie", "Sabine", "Islande",
		"Daphney", "Myrlande", "Marie-Claude", "Fedline", "Wislande")
	htBoys = names("Jean-Baptiste", "Jean-Pierre", "Jean", "Pierre", "Wilson", "Jacques", "Frantz", "Ronel",
		"Wisler", "Evens", "Kervens", "Peterson", "Stanley", "Wesner", "Dieuseul", "Fritznel", "Jean-Robert",
		"Ricardo", "Emmanuel", "Woodley", "Jameson", "Mackenson")
	htLast = names("Jean-Baptiste", "Pierre", "Joseph", "Louis", "Charles", "Étienne", "François", "Jean-Louis",
		"Baptiste", "Dorvil", "Célestin", "Desir", "Dorsainvil", "Saint-Fleur", "St. Louis", "Toussaint", "Augustin",
		"Fils-Aimé", "Alexis", "Michel", "Noël", "Paul", "Jeune", "Lafortune", "Bien-Aimé", "Dumas", "Métellus",
		"Petit-Frère", "Saint-Hilaire", "Jean-Charles")

	saGirls = names("Aanya", "Ananya", "Diya", "Isha", "Priya", "Saanvi", "Aditi", "Kavya", "Meera", "Riya",
		"Shreya", "Anika", "Navya", "Pooja", "Sneha", "Zara", "Ayesha", "Fariha", "Nusrat", "Sadia", "Tasnim",
		"Lakshmi", "Harini", "Nandini")
	saBoys = names("Aarav", "Arjun", "Vihaan", "Aditya", "Rohan", "Ishaan", "Krishna", "Sai", "Vivaan", "Dev",
		"Rahul", "Siddharth", "Karthik", "Nikhil", "Ayaan", "Rayan", "Zain", "Imran", "Faisal", "Tanvir", "Rafiq",
		"Arnav", "Venkat", "Harsh")
	saLast = names("Patel", "Shah", "Sharma", "Singh", "Kumar", "Gupta", "Reddy", "Rao", "Iyer", "Nair", "Mehta",
		"Desai", "Joshi", "Chowdhury", "Rahman", "Hossain", "Khan", "Ahmed", "Siddiqui", "Malik", "Bhatt", "Krishnan",
		"Venkatesan", "Subramanian", "Chaudhary", "Das", "Banerjee", "Mukherjee", "Patel", "Patel")

	waGirls = names("Ngozi", "Chiamaka", "Adaeze", "Chioma", "Amara", "Nneka", "Folake", "Funmilayo", "Temitope",
		"Ifeoma", "Abena", "Akosua", "Ama", "Efua", "Yetunde", "Adanna", "Blessing", "Precious", "Oluwatoyin",
		"Chinwe", "Adwoa")
	waBoys = names("Chinedu", "Emeka", "Obinna", "Chukwuemeka", "Oluwaseun", "Tunde", "Adebayo", "Olumide",
		"Kwame", "Kofi", "Kwabena", "Yaw", "Ikenna", "Nnamdi", "Babajide", "Femi", "Segun", "Uchenna", "Godwin",
		"Emmanuel", "Kwesi")
	waLast = names("Okafor", "Okonkwo", "Adeyemi", "Oladipo", "Nwosu", "Eze", "Obi", "Balogun", "Adebayo",
		"Okoro", "Chukwu", "Ogunleye", "Mensah", "Boateng", "Owusu", "Asante", "Osei", "Appiah", "Nwachukwu",
		"Ibekwe", "Oyelaran", "Akinola", "Adéwálé", "Ọlátúnjí")

	hmGirls = names("Pa Nhia", "Mai Yer", "Nou", "Kia", "Pa Houa", "Mai Nou", "Ka Bao", "Yer", "Bao", "Der",
		"See", "Maiv", "Ia", "Pang", "Mai Chee", "Paj")
	hmBoys = names("Tou", "Fue", "Kou", "Chue", "Pao", "Tong", "Lue", "Nou Chee", "Xeng", "Chong", "Kong Meng",
		"Teng", "Yeng", "Neng", "Txawj", "Pheng")
	hmLast = names("Vang", "Xiong", "Yang", "Lee", "Thao", "Moua", "Her", "Lor", "Hang", "Vue", "Lo", "Chang",
		"Khang", "Kue", "Cha", "Thor", "Xiong", "Vang", "Yang")

	slGirls = names("Anastasia", "Sofiya", "Daria", "Yelena", "Olena", "Natalia", "Oksana", "Iryna", "Kateryna",
		"Svetlana", "Polina", "Viktoria", "Yulia", "Alina", "Milana", "Veronika", "Ksenia", "Anna", "Zofia")
	slBoys = names("Dmitri", "Oleksandr", "Mykola", "Ivan", "Sergei", "Andriy", "Mikhail", "Maksym", "Artem",
		"Nikita", "Vladimir", "Yaroslav", "Bohdan", "Denys", "Taras", "Yuri", "Pavel", "Kirill", "Łukasz")
	slLast = names("Ivanov", "Petrov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Volkov", "Shevchenko",
		"Kovalenko", "Bondarenko", "Tkachenko", "Kravchenko", "Melnyk", "Boyko", "Koval", "Lysenko", "Marchenko",
		"Moroz", "Hrytsenko", "Pavlenko", "Kuzmenko", "Savchenko", "Petrenko", "Dvořák", "Horváth")

	koGirls = names("Seo-yeon", "Ji-woo", "Ha-eun", "Min-seo", "Soo-ah", "Ji-min", "Yuna", "Eun-ji", "Hye-jin",
		"Ji-yeon", "Chloe", "Grace", "Hannah")
	koBoys = names("Min-jun", "Seo-jun", "Do-yun", "Ji-ho", "Joon-young", "Hyun-woo", "Jae-won", "Sung-min",
		"Tae-yang", "Dong-hyun", "Daniel", "Joshua", "Brian")
	koLast = names("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh", "Seo",
		"Shin", "Kwon", "Hwang", "Ahn", "Song", "Yoo", "Hong", "Kim", "Lee", "Park")

	phGirls = names("Maria Clara", "Angelica", "Kristine", "Princess", "Jasmine", "Mary Grace", "Joy", "Rhea",
		"Shaira", "Althea", "Bea", "Czarina", "Angel", "Kyla")
	phBoys = names("John Paul", "Mark Anthony", "Jerome", "Rommel", "Arnel", "Christian", "Jericho", "Paolo",
		"Miguel", "Rafael", "Joshua", "John Lloyd", "Jhon", "Renz")
	phLast = names("Santos", "Reyes", "Cruz", "Bautista", "Ocampo", "Garcia", "Mendoza", "Dela Cruz",
		"Del Rosario", "Villanueva", "Ramos", "Aquino", "Castillo", "Flores", "Manalo", "Domingo", "Pascual",
		"Gonzales", "Soriano", "Tolentino", "Macaraeg", "Lacson")

	ptGirls = names("Ana Clara", "Beatriz", "Larissa", "Gabriela", "Júlia", "Letícia", "Isadora", "Manuela", "Laís",
		"Giovanna", "Conceição")
	ptBoys = names("João", "Pedro", "Lucas", "Gustavo", "Thiago", "Rafael", "Matheus", "Vinícius", "Caio",
		"Luiz Felipe", "Antônio")
	ptLast = names("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Rodrigues", "Almeida",
		"Nascimento", "Lima", "Araújo", "Fernandes", "Carvalho", "Gomes", "Ribeiro", "da Silva", "dos Santos")
)

// nicknames are written into a first-name field in quotes by some offices
// (`Elizabeth "Liz"`).
var nicknames = []string{"Liz", "Bobby", "Sam", "Alex", "Max", "Kiki", "Junior", "Tito", "Bubba", "Nene", "Lulu",
	"Tony", "Beto", "Chuy", "Mimi", "Sunny", "Bee", "Jay", "Ty", "Dee"}

// suffixes are generational suffixes of guardians' names.
var suffixes = []string{"Jr.", "Sr.", "II", "III"}

func newGroup(weight int, girls, boys, women, men, last []name, strip, compound, keepOwn, englishFirst float64, langs ...language) *group {
	gr := &group{weight: weight, girls: girls, boys: boys, women: women, men: men, last: last, langs: langs,
		stripPct: strip, compoundPct: compound, keepOwnLast: keepOwn, englishFirst: englishFirst}
	for _, l := range langs {
		gr.langTotal += l.weight
	}
	return gr
}

// groups are the district's families by background. With these weights about
// three students in four speak English at home and one in nine Spanish.
var groups = []*group{
	newGroup(520, generalGirls, generalBoys, generalWomen, generalMen, generalLast, 0.25, 0, 0.08, 0,
		language{"English", 985}, language{"German", 4}, language{"Polish", 4}, language{"French", 4}, language{"Italian", 3}),
	newGroup(120, aaGirls, aaBoys, aaWomen, aaMen, aaLast, 0, 0, 0.15, 0.35, language{"English", 1}),
	newGroup(220, hispGirls, hispBoys, hispWomen, hispMen, hispLast, 0.4, 0.3, 0.55, 0.1,
		language{"Spanish", 55}, language{"English", 45}),
	newGroup(25, vietGirls, vietBoys, vietGirls, vietBoys, vietLast, 0.6, 0, 0.6, 0.1,
		language{"Vietnamese", 65}, language{"English", 35}),
	newGroup(20, arabGirls, arabBoys, arabGirls, arabBoys, arabLast, 0, 0, 0.3, 0.05,
		language{"Arabic", 70}, language{"English", 30}),
	newGroup(15, somGirls, somBoys, somGirls, somBoys, somLast, 0, 0, 0.9, 0,
		language{"Somali", 80}, language{"English", 20}),
	newGroup(20, zhGirls, zhBoys, zhGirls, zhBoys, zhLast, 0, 0, 0.4, 0.2,
		language{"Mandarin", 45}, language{"Cantonese", 15}, language{"English", 40}),
	newGroup(15, htGirls, htBoys, htGirls, htBoys, htLast, 0.3, 0, 0.2, 0.1,
		language{"Haitian Creole", 60}, language{"French", 10}, language{"English", 30}),
	newGroup(15, saGirls, saBoys, saGirls, saBoys, saLast, 0, 0, 0.1, 0.05,
		language{"Hindi", 20}, language{"Urdu", 15}, language{"Bengali", 10}, language{"Telugu", 10},
		language{"Gujarati", 5}, language{"English", 40}),
	newGroup(10, waGirls, waBoys, waGirls, waBoys, waLast, 0.5, 0, 0.2, 0.1,
		language{"Yoruba", 20}, language{"Igbo", 20}, language{"Twi", 10}, language{"English", 50}),
	newGroup(10, hmGirls, hmBoys, hmGirls, hmBoys, hmLast, 0, 0, 0.05, 0.05, language{"Hmong", 70}, language{"English", 30}),
	newGroup(10, slGirls, slBoys, slGirls, slBoys, slLast, 0.3, 0, 0.3, 0.05,
		language{"Russian", 40}, language{"Ukrainian", 30}, language{"English", 30}),
	newGroup(8, koGirls, koBoys, koGirls, koBoys, koLast, 0, 0, 0.9, 0.1, language{"Korean", 50}, language{"English", 50}),
	newGroup(7, phGirls, phBoys, phGirls, phBoys, phLast, 0, 0, 0.2, 0.1, language{"Tagalog", 40}, language{"English", 60}),
	newGroup(5, ptGirls, ptBoys, ptGirls, ptBoys, ptLast, 0.3, 0, 0.4, 0.05,
		language{"Portuguese", 60}, language{"English", 40}),
}

var groupTotal = func() int {
	t := 0
	for _, gr := range groups {
		t += gr.weight
	}
	return t
}()

// emailDomain is a free-mail (or ISP) domain with its weight.
type emailDomain struct {
	name   string
	weight int
}

var emailDomains = []emailDomain{
	{"gmail.com", 460}, {"yahoo.com", 140}, {"outlook.com", 70}, {"hotmail.com", 80}, {"icloud.com", 80},
	{"aol.com", 25}, {"comcast.net", 25}, {"att.net", 15}, {"live.com", 15}, {"msn.com", 10},
	{"sbcglobal.net", 10}, {"protonmail.com", 5}, {"ymail.com", 5}, {"me.com", 10}, {"charter.net", 5},
	{"", 45}, // the district's own domain: guardians on staff
}

var emailDomainTotal = func() int {
	t := 0
	for _, d := range emailDomains {
		t += d.weight
	}
	return t
}()

// regions are metro areas with their real area codes; a district's phones
// mostly come from one of them.
var regions = [][]string{
	{"612", "651", "763", "952"},        // Minneapolis–St. Paul
	{"713", "281", "832", "346"},        // Houston
	{"602", "480", "623"},               // Phoenix
	{"312", "773", "872", "708", "630"}, // Chicago
	{"404", "678", "770", "470"},        // Atlanta
	{"206", "253", "425"},               // Seattle
	{"303", "720"},                      // Denver
	{"614", "380"},                      // Columbus
	{"214", "469", "972", "817"},        // Dallas–Fort Worth
	{"617", "857", "781", "508"},        // Boston
	{"305", "786", "954"},               // Miami
	{"619", "858", "760"},               // San Diego
	{"503", "971"},                      // Portland
	{"704", "980"},                      // Charlotte
	{"615", "629"},                      // Nashville
	{"801", "385"},                      // Salt Lake City
	{"215", "267", "610", "484"},        // Philadelphia
	{"313", "248", "586", "734"},        // Detroit
	{"916", "279", "530"},               // Sacramento
	{"919", "984"},                      // Raleigh
	{"816", "913"},                      // Kansas City
	{"414", "262"},                      // Milwaukee
}

// otherAreaCodes are for the guardians whose cell phones come from elsewhere.
var otherAreaCodes = []string{"212", "718", "917", "646", "347", "213", "310", "323", "818", "626", "909",
	"951", "415", "510", "408", "650", "702", "210", "512", "407", "813", "904", "901", "502", "317", "216",
	"412", "410", "202", "703", "757", "804", "843", "864", "205", "601", "504", "225", "318", "501", "405",
	"918", "316", "515", "319", "608", "701", "605", "406", "208", "307", "775", "808", "907", "207", "603",
	"802", "401", "860", "203", "302", "304", "606", "859", "612", "713", "602", "312", "404", "206", "303"}

// validExchanges are the central office codes a real number can have:
// 200–999 except the N11 service codes, 555 and a few reserved ones.
var validExchanges = func() []uint16 {
	var out []uint16
	for x := 200; x <= 999; x++ {
		if x%100 == 11 || x == 555 || x == 950 || x == 958 || x == 959 || x == 976 {
			continue
		}
		out = append(out, uint16(x))
	}
	return out
}()

// districts name the district, which gives its e-mail domains.
var districts = []string{"lakeside", "riverbend", "maplevalley", "pineridge", "cedargrove", "foxcreek",
	"clearwater", "stonebridge", "willowbrook", "oakhaven", "silverlake", "northfield"}

// schoolNames are namesakes for schools.
var schoolNames = []string{"Lincoln", "Washington", "Jefferson", "Adams", "Madison", "Monroe", "Roosevelt",
	"Kennedy", "Franklin", "Hamilton", "Garfield", "Grant", "McKinley", "Wilson", "Truman", "Eisenhower",
	"Cleveland", "Martin Luther King Jr.", "Cesar Chavez", "Rosa Parks", "Harriet Tubman", "Frederick Douglass",
	"Sally Ride", "Amelia Earhart", "Susan B. Anthony", "Thurgood Marshall", "Sojourner Truth", "Helen Keller",
	"Clara Barton", "Mark Twain", "Walt Whitman", "Robert Frost", "Emerson", "Longfellow", "Whittier", "Edison",
	"Audubon", "Sacajawea", "Riverside", "Lakeview", "Hillcrest", "Sunnyside", "Maple Grove", "Oak Ridge",
	"Cedar Hills", "Pine Valley", "Willow Creek", "Meadowbrook", "Westwood", "Eastwood", "Northview", "Brookside",
	"Fairview", "Highland", "Parkview", "Prairie View", "Valley View", "Cherry Hill", "Forest Park",
	"Green Valley", "Heritage", "Liberty", "Independence", "Pioneer", "Horizon", "Summit", "Discovery",
	"Ellen Ochoa", "Dolores Huerta", "Mary McLeod Bethune", "Daniel Inouye", "Wilma Mankiller"}

// highSchoolNames are the usual names of high schools besides namesakes.
var highSchoolNames = []string{"Central", "North", "South", "East", "West", "Northeast", "Southwest"}

// teacherTitles head elementary homerooms ("Mrs. Olson").
var teacherTitles = []string{"Ms.", "Mrs.", "Mr.", "Ms.", "Mrs."}
