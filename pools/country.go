package pools

import (
	"slices"
	"strings"
)

// Country is an ISO 3166-1 alpha-2 country as a small number: 0 is
// unknown, otherwise (first letter−'A')·26 + (second letter−'A') + 1, so a
// policy can keep one marker slot per country in a flat array.
type Country uint16

// NumCountrySlots is one past the largest Country value.
const NumCountrySlots = 26*26 + 1

// CountryCode converts a two-letter code (any case) without checking that
// it is assigned.
func CountryCode(code string) (Country, bool) {
	if len(code) != 2 {
		return 0, false
	}
	a, b := code[0]|0x20, code[1]|0x20
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0, false
	}
	return Country(int(a-'a')*26+int(b-'a')) + 1, true
}

func (c Country) String() string {
	if c == 0 || c >= NumCountrySlots {
		return ""
	}
	n := int(c - 1)
	return string([]byte{byte('A' + n/26), byte('A' + n%26)})
}

// Name is the country's short English name ("" when the code is not
// assigned).
func (c Country) Name() string {
	return countryNames[c.String()]
}

// LookupCountry resolves an ISO 3166-1 alpha-2 code or an English country
// name, ignoring case. Codes MaxMind uses outside the standard (XK,
// Kosovo) are accepted; "UK" is read as GB.
func LookupCountry(s string) (Country, bool) {
	t := strings.TrimSpace(s)
	if len(t) == 2 {
		u := strings.ToUpper(t)
		if u == "UK" {
			u = "GB"
		}
		if _, ok := countryNames[u]; ok {
			return CountryCode(u)
		}
		return 0, false
	}
	k := foldName(t)
	if code, ok := countryByName[k]; ok {
		return CountryCode(code)
	}
	return 0, false
}

// CountryCandidates lists codes and names for "did you mean" suggestions.
func CountryCandidates() []string {
	out := make([]string, 0, 2*len(countryNames))
	for code, name := range countryNames {
		out = append(out, code, name)
	}
	slices.Sort(out)
	return out
}

// foldName lower-cases and drops spaces, dashes, underscores, dots and
// apostrophes, so "North America", "NorthAmerica" and "north-america" are
// the same key.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '-', '_', '.', '\'', ',', '(', ')':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// countryNames are the assigned ISO 3166-1 alpha-2 codes with their short
// English names, plus XK (Kosovo), which GeoIP databases return.
var countryNames = map[string]string{
	"AD": "Andorra", "AE": "United Arab Emirates", "AF": "Afghanistan", "AG": "Antigua and Barbuda",
	"AI": "Anguilla", "AL": "Albania", "AM": "Armenia", "AO": "Angola", "AQ": "Antarctica",
	"AR": "Argentina", "AS": "American Samoa", "AT": "Austria", "AU": "Australia", "AW": "Aruba",
	"AX": "Aland Islands", "AZ": "Azerbaijan",
	"BA": "Bosnia and Herzegovina", "BB": "Barbados", "BD": "Bangladesh", "BE": "Belgium",
	"BF": "Burkina Faso", "BG": "Bulgaria", "BH": "Bahrain", "BI": "Burundi", "BJ": "Benin",
	"BL": "Saint Barthelemy", "BM": "Bermuda", "BN": "Brunei", "BO": "Bolivia",
	"BQ": "Bonaire, Sint Eustatius and Saba", "BR": "Brazil", "BS": "Bahamas", "BT": "Bhutan",
	"BV": "Bouvet Island", "BW": "Botswana", "BY": "Belarus", "BZ": "Belize",
	"CA": "Canada", "CC": "Cocos (Keeling) Islands", "CD": "Democratic Republic of the Congo",
	"CF": "Central African Republic", "CG": "Congo", "CH": "Switzerland", "CI": "Cote d'Ivoire",
	"CK": "Cook Islands", "CL": "Chile", "CM": "Cameroon", "CN": "China", "CO": "Colombia",
	"CR": "Costa Rica", "CU": "Cuba", "CV": "Cabo Verde", "CW": "Curacao", "CX": "Christmas Island",
	"CY": "Cyprus", "CZ": "Czechia",
	"DE": "Germany", "DJ": "Djibouti", "DK": "Denmark", "DM": "Dominica", "DO": "Dominican Republic",
	"DZ": "Algeria",
	"EC": "Ecuador", "EE": "Estonia", "EG": "Egypt", "EH": "Western Sahara", "ER": "Eritrea",
	"ES": "Spain", "ET": "Ethiopia",
	"FI": "Finland", "FJ": "Fiji", "FK": "Falkland Islands", "FM": "Micronesia", "FO": "Faroe Islands",
	"FR": "France",
	"GA": "Gabon", "GB": "United Kingdom", "GD": "Grenada", "GE": "Georgia", "GF": "French Guiana",
	"GG": "Guernsey", "GH": "Ghana", "GI": "Gibraltar", "GL": "Greenland", "GM": "Gambia",
	"GN": "Guinea", "GP": "Guadeloupe", "GQ": "Equatorial Guinea", "GR": "Greece",
	"GS": "South Georgia and the South Sandwich Islands", "GT": "Guatemala", "GU": "Guam",
	"GW": "Guinea-Bissau", "GY": "Guyana",
	"HK": "Hong Kong", "HM": "Heard Island and McDonald Islands", "HN": "Honduras", "HR": "Croatia",
	"HT": "Haiti", "HU": "Hungary",
	"ID": "Indonesia", "IE": "Ireland", "IL": "Israel", "IM": "Isle of Man", "IN": "India",
	"IO": "British Indian Ocean Territory", "IQ": "Iraq", "IR": "Iran", "IS": "Iceland", "IT": "Italy",
	"JE": "Jersey", "JM": "Jamaica", "JO": "Jordan", "JP": "Japan",
	"KE": "Kenya", "KG": "Kyrgyzstan", "KH": "Cambodia", "KI": "Kiribati", "KM": "Comoros",
	"KN": "Saint Kitts and Nevis", "KP": "North Korea", "KR": "South Korea", "KW": "Kuwait",
	"KY": "Cayman Islands", "KZ": "Kazakhstan",
	"LA": "Laos", "LB": "Lebanon", "LC": "Saint Lucia", "LI": "Liechtenstein", "LK": "Sri Lanka",
	"LR": "Liberia", "LS": "Lesotho", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia",
	"LY": "Libya",
	"MA": "Morocco", "MC": "Monaco", "MD": "Moldova", "ME": "Montenegro", "MF": "Saint Martin",
	"MG": "Madagascar", "MH": "Marshall Islands", "MK": "North Macedonia", "ML": "Mali",
	"MM": "Myanmar", "MN": "Mongolia", "MO": "Macao", "MP": "Northern Mariana Islands",
	"MQ": "Martinique", "MR": "Mauritania", "MS": "Montserrat", "MT": "Malta", "MU": "Mauritius",
	"MV": "Maldives", "MW": "Malawi", "MX": "Mexico", "MY": "Malaysia", "MZ": "Mozambique",
	"NA": "Namibia", "NC": "New Caledonia", "NE": "Niger", "NF": "Norfolk Island", "NG": "Nigeria",
	"NI": "Nicaragua", "NL": "Netherlands", "NO": "Norway", "NP": "Nepal", "NR": "Nauru", "NU": "Niue",
	"NZ": "New Zealand",
	"OM": "Oman",
	"PA": "Panama", "PE": "Peru", "PF": "French Polynesia", "PG": "Papua New Guinea",
	"PH": "Philippines", "PK": "Pakistan", "PL": "Poland", "PM": "Saint Pierre and Miquelon",
	"PN": "Pitcairn", "PR": "Puerto Rico", "PS": "Palestine", "PT": "Portugal", "PW": "Palau",
	"PY": "Paraguay",
	"QA": "Qatar",
	"RE": "Reunion", "RO": "Romania", "RS": "Serbia", "RU": "Russia", "RW": "Rwanda",
	"SA": "Saudi Arabia", "SB": "Solomon Islands", "SC": "Seychelles", "SD": "Sudan", "SE": "Sweden",
	"SG": "Singapore", "SH": "Saint Helena", "SI": "Slovenia", "SJ": "Svalbard and Jan Mayen",
	"SK": "Slovakia", "SL": "Sierra Leone", "SM": "San Marino", "SN": "Senegal", "SO": "Somalia",
	"SR": "Suriname", "SS": "South Sudan", "ST": "Sao Tome and Principe", "SV": "El Salvador",
	"SX": "Sint Maarten", "SY": "Syria", "SZ": "Eswatini",
	"TC": "Turks and Caicos Islands", "TD": "Chad", "TF": "French Southern Territories", "TG": "Togo",
	"TH": "Thailand", "TJ": "Tajikistan", "TK": "Tokelau", "TL": "Timor-Leste", "TM": "Turkmenistan",
	"TN": "Tunisia", "TO": "Tonga", "TR": "Turkey", "TT": "Trinidad and Tobago", "TV": "Tuvalu",
	"TW": "Taiwan", "TZ": "Tanzania",
	"UA": "Ukraine", "UG": "Uganda", "UM": "United States Minor Outlying Islands", "US": "United States",
	"UY": "Uruguay", "UZ": "Uzbekistan",
	"VA": "Holy See", "VC": "Saint Vincent and the Grenadines", "VE": "Venezuela",
	"VG": "British Virgin Islands", "VI": "U.S. Virgin Islands", "VN": "Vietnam", "VU": "Vanuatu",
	"WF": "Wallis and Futuna", "WS": "Samoa",
	"XK": "Kosovo",
	"YE": "Yemen", "YT": "Mayotte",
	"ZA": "South Africa", "ZM": "Zambia", "ZW": "Zimbabwe",
}

// countryAliases are other common English names.
var countryAliases = map[string]string{
	"usa": "US", "unitedstatesofamerica": "US", "america": "US", "uk": "GB", "greatbritain": "GB",
	"england": "GB", "britain": "GB", "turkiye": "TR", "czechrepublic": "CZ", "russianfederation": "RU",
	"vietnam": "VN", "vietnamese": "VN", "macedonia": "MK", "swaziland": "SZ", "ivorycoast": "CI",
	"capeverde": "CV", "burma": "MM", "korea": "KR", "republicofkorea": "KR", "vatican": "VA",
	"vaticancity": "VA", "drc": "CD", "drcongo": "CD", "congokinshasa": "CD", "congobrazzaville": "CG",
	"republicofthecongo": "CG", "easttimor": "TL", "holland": "NL", "persia": "IR", "uae": "AE",
	"hongkongsar": "HK", "macau": "MO", "palestinianterritories": "PS", "brunei": "BN",
}

var countryByName = func() map[string]string {
	m := make(map[string]string, len(countryNames)+len(countryAliases))
	for code, name := range countryNames {
		m[foldName(name)] = code
	}
	for k, code := range countryAliases {
		m[k] = code
	}
	return m
}()

// Continent is a continent as GeoIP2 databases code it.
type Continent uint8

const (
	ContinentUnknown Continent = iota
	Africa
	Antarctica
	Asia
	Europe
	NorthAmerica
	Oceania
	SouthAmerica
	numContinents
)

// NumContinents is one past the largest Continent value.
const NumContinents = int(numContinents)

var continentCodes = [...]string{"", "AF", "AN", "AS", "EU", "NA", "OC", "SA"}
var continentNames = [...]string{"", "Africa", "Antarctica", "Asia", "Europe", "North America", "Oceania", "South America"}

// Code is the two-letter code GeoIP2 uses ("EU").
func (c Continent) Code() string {
	if int(c) < len(continentCodes) {
		return continentCodes[c]
	}
	return ""
}

func (c Continent) String() string {
	if int(c) < len(continentNames) {
		return continentNames[c]
	}
	return ""
}

// ContinentFromCode reads a GeoIP2 continent code.
func ContinentFromCode(code string) Continent {
	for i, c := range continentCodes {
		if i > 0 && c == code {
			return Continent(i)
		}
	}
	return ContinentUnknown
}

// Continent is the continent MaxMind's databases give the country
// (ContinentUnknown for codes they do not use). Databases whose records
// carry only a country code get their continent from here.
func (c Country) Continent() Continent {
	if c >= NumCountrySlots {
		return ContinentUnknown
	}
	return continentOfCountry[c]
}

// continentOfCountry is countriesOf (continents.go, generated) as a flat
// table, so deriving a continent is one index.
var continentOfCountry = func() (t [NumCountrySlots]Continent) {
	for code, list := range countriesOf {
		k := ContinentFromCode(code)
		for _, cc := range strings.Fields(list) {
			if c, ok := CountryCode(cc); ok {
				t[c] = k
			}
		}
	}
	return t
}()

// ContinentSet is a set of continents (bit i = Continent i).
type ContinentSet uint8

// Has reports whether c is in the set.
func (s ContinentSet) Has(c Continent) bool { return s&(1<<c) != 0 }

// Each calls fn for each continent in the set.
func (s ContinentSet) Each(fn func(Continent)) {
	for c := Continent(1); c < numContinents; c++ {
		if s.Has(c) {
			fn(c)
		}
	}
}

// ParseContinent reads a continent by GeoIP2 code ("AS"), English name
// ("North America", "NorthAmerica"), or one of the names nProbe's
// documentation uses ("Asia-Pacific", which is Asia and Oceania).
func ParseContinent(s string) (ContinentSet, bool) {
	t := strings.TrimSpace(s)
	if len(t) == 2 {
		if c := ContinentFromCode(strings.ToUpper(t)); c != ContinentUnknown {
			return 1 << c, true
		}
	}
	switch foldName(t) {
	case "africa":
		return 1 << Africa, true
	case "antarctica":
		return 1 << Antarctica, true
	case "asia":
		return 1 << Asia, true
	case "europe":
		return 1 << Europe, true
	case "northamerica":
		return 1 << NorthAmerica, true
	case "oceania", "australia":
		return 1 << Oceania, true
	case "southamerica", "latinamerica":
		return 1 << SouthAmerica, true
	case "asiapacific", "apac":
		return 1<<Asia | 1<<Oceania, true
	case "america", "americas":
		return 1<<NorthAmerica | 1<<SouthAmerica, true
	}
	return 0, false
}

// ContinentCandidates lists names for "did you mean" suggestions.
func ContinentCandidates() []string {
	return []string{"Africa", "Antarctica", "Asia", "Europe", "North America", "Oceania",
		"South America", "Asia-Pacific", "NorthAmerica", "SouthAmerica",
		"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
}
