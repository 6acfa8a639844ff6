package pools

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoInfo is what the GeoIP databases say about an address. Zero fields
// are unknown (private addresses, addresses the database lacks, or no
// database of that kind loaded).
type GeoInfo struct {
	Country   Country
	Continent Continent
	ASN       uint32
}

// Geo looks up countries, continents and AS numbers in .mmdb files (the
// MaxMind DB format): a location database (City or Country) and an ASN
// database, either of which may be absent, or one database that carries
// both (IPinfo's).
//
// The records of the databases operators actually have come in several
// layouts, and a reader that expects one of them finds nothing in the
// others: countries silently off. So the layout is read from the
// records themselves when a database is opened (GeoLayout), a record is
// decoded by field name whatever its layout, and a database in which none
// of the fields is found is refused, naming the fields it does have:
//
//   - MaxMind GeoIP2/GeoLite2 City and Country, and DB-IP's lite
//     databases, which follow MaxMind's layout: country.iso_code, else
//     registered_country.iso_code; continent.code;
//   - ip-location-db (its country databases): country_code only;
//   - IPinfo lite: country_code, continent_code, asn ("AS15169");
//     IPinfo's older country_asn: country and continent as codes, asn;
//   - ASN databases: autonomous_system_number (MaxMind GeoLite2-ASN,
//     DB-IP, ip-location-db) or asn, as a number or an "AS…" string.
//
// A record without a continent gets its country's (Country.Continent).
//
// Lookups go through the maxminddb reader directly so that a lookup can
// be served from a small lock-free cache keyed by the record's offset in
// the database. Records are shared by many networks (one per country in
// a Country database), so in the steady state a lookup is one tree walk
// and one atomic load, with no allocation; a miss decodes the record once.
type Geo struct {
	loc, asn *geoRole
}

// geoRole is one use of a database (location or ASN) with its own cache:
// a database that serves both has two roles over one reader.
type geoRole struct {
	db     *geoDB
	cache  []atomic.Uint64
	decode func(maxminddb.Result) uint32 // of the role and the layout
}

type geoDB struct {
	layout GeoLayout
	has    fieldSet // the fields found
	r      *maxminddb.Reader
	v4only bool // an IPv4 database: IPv6 addresses are not looked up
}

const geoCacheSize = 1 << 14

// GeoLayout is what a database's records were found to hold when it was
// opened.
type GeoLayout struct {
	File      string // the path, or a name for databases given as bytes
	Type      string // the metadata's database_type
	IPVersion int    // 4 or 6 (6 holds IPv4 too)
	// Family names the layout: "GeoIP2" (MaxMind GeoIP2/GeoLite2, DB-IP),
	// "ip-location-db", "IPinfo lite", "IPinfo country_asn" or "ASN".
	Family string
	// Country lists the fields countries are read from, in the order
	// tried; Continent is the field continents come from ("" when they
	// are derived from the country); ASN the field of AS numbers ("" in a
	// database without them).
	Country   []string
	Continent string
	ASN       string
	// Location and HasASN tell the roles the database can serve; Serves
	// (set by Geo.Layouts) says what it serves in that Geo.
	Location, HasASN bool
	Serves           string
	// Networks counts the networks with data (IPv4 once, not again
	// under its IPv6 aliases).
	Networks int
	// Fields are the field names seen in the records sampled (nested
	// ones as "country.iso_code").
	Fields []string
}

// String is the one-line description ips check prints.
func (l GeoLayout) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "type %q, layout %s", l.Type, l.Family)
	var what []string
	if len(l.Country) > 0 {
		what = append(what, "country from "+strings.Join(l.Country, ", else "))
	}
	switch {
	case l.Continent != "":
		what = append(what, "continent from "+l.Continent)
	case l.Location:
		what = append(what, "continent derived from the country")
	}
	if l.ASN != "" {
		what = append(what, "AS numbers from "+l.ASN)
	}
	if len(what) > 0 {
		b.WriteString(" (" + strings.Join(what, "; ") + ")")
	}
	fmt.Fprintf(&b, "; %d networks", l.Networks)
	if l.IPVersion == 4 {
		b.WriteString(", IPv4 only")
	}
	return b.String()
}

// OpenGeo reads the databases. Either path may be empty; both may name
// the same file (one that has countries and AS numbers). Without an ASN
// database, a location database that also carries AS numbers serves
// them. The files are read into memory (no mmap), so a Geo needs no
// Close and may be dropped while lookups on it finish. An error is a
// *GeoError.
func OpenGeo(locPath, asnPath string) (*Geo, error) {
	var loc, asn *geoDB
	var err error
	if locPath != "" {
		if loc, err = readDB(locPath, roleLocation); err != nil {
			return nil, err
		}
	}
	switch {
	case asnPath == "":
	case asnPath == locPath:
		if !loc.layout.HasASN {
			return nil, loc.roleError(roleASN)
		}
		asn = loc
	default:
		if asn, err = readDB(asnPath, roleASN); err != nil {
			return nil, err
		}
	}
	return newGeo(loc, asn), nil
}

// NewGeo builds a Geo from database contents (tests, embedded data).
func NewGeo(loc, asn []byte) (*Geo, error) {
	var l, a *geoDB
	var err error
	if loc != nil {
		if l, err = openDB("location database", loc, roleLocation); err != nil {
			return nil, err
		}
	}
	if asn != nil {
		if a, err = openDB("ASN database", asn, roleASN); err != nil {
			return nil, err
		}
	}
	return newGeo(l, a), nil
}

func newGeo(loc, asn *geoDB) *Geo {
	g := &Geo{}
	if loc != nil {
		dec := decodeFlat
		if loc.has&(1<<fCountryISOBit|1<<fRegisteredBit|1<<fContinentCodeBit) != 0 {
			dec = decodeGeoIP2
		}
		g.loc = &geoRole{db: loc, cache: make([]atomic.Uint64, geoCacheSize), decode: dec}
		if asn == nil && loc.layout.HasASN {
			asn = loc
		}
	}
	if asn != nil {
		g.asn = &geoRole{db: asn, cache: make([]atomic.Uint64, geoCacheSize), decode: decodeASN}
	}
	return g
}

type geoRoleKind int

const (
	roleLocation geoRoleKind = iota
	roleASN
)

// GeoError is a database that cannot be used: unreadable, not a MaxMind
// DB file, or without the fields its role needs.
type GeoError struct {
	File string
	// Location is true when the database was given as the location
	// database, false for the ASN database.
	Location bool
	Err      error
}

func (e *GeoError) Error() string {
	if pe := (*fs.PathError)(nil); errors.As(e.Err, &pe) {
		return "geoip: " + e.Err.Error() // it names the file already
	}
	return fmt.Sprintf("geoip %s: %v", e.File, e.Err)
}
func (e *GeoError) Unwrap() error { return e.Err }

func readDB(path string, role geoRoleKind) (*geoDB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &GeoError{File: path, Location: role == roleLocation, Err: err}
	}
	return openDB(path, b, role)
}

func openDB(name string, b []byte, role geoRoleKind) (*geoDB, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, &GeoError{File: name, Location: role == roleLocation, Err: err}
	}
	d := &geoDB{r: r, v4only: r.Metadata.IPVersion == 4}
	if d.layout, d.has, err = detectLayout(name, b, r); err != nil {
		return nil, &GeoError{File: name, Location: role == roleLocation, Err: err}
	}
	if role == roleLocation && !d.layout.Location || role == roleASN && !d.layout.HasASN {
		return nil, d.roleError(role)
	}
	return d, nil
}

// roleError explains a database that lacks its role's fields, with the
// fields it has and, when it fits the other role, which one that is.
func (d *geoDB) roleError(role geoRoleKind) error {
	l := d.layout
	has := "its records have no fields"
	if len(l.Fields) > 0 {
		fs := l.Fields
		more := ""
		if len(fs) > 24 {
			fs, more = fs[:24], fmt.Sprintf(" and %d more", len(l.Fields)-24)
		}
		has = "its records have " + strings.Join(fs, ", ") + more
	}
	var err error
	if role == roleLocation {
		err = fmt.Errorf("database type %q has none of the country or continent fields ips reads (%s); %s",
			l.Type, strings.Join(fieldNames[:fASNumberBit], ", "), has)
		if l.HasASN {
			err = fmt.Errorf("%w: it is an ASN database (give it as the asn database, --geoip-asn)", err)
		}
	} else {
		err = fmt.Errorf("database type %q has none of the AS number fields ips reads (%s); %s",
			l.Type, strings.Join(fieldNames[fASNumberBit:], ", "), has)
		if l.Location {
			err = fmt.Errorf("%w: it is a location database (give it as the city or country database, --geoip)", err)
		}
	}
	return &GeoError{File: l.File, Location: role == roleLocation, Err: err}
}

// HasLocation reports whether a database with countries or continents
// is loaded.
func (g *Geo) HasLocation() bool { return g != nil && g.loc != nil }

// HasASN reports whether AS numbers can be looked up (an ASN database,
// or a location database that has them).
func (g *Geo) HasASN() bool { return g != nil && g.asn != nil }

// Layouts describes the loaded databases, the location one first; a
// database serving both roles is listed once.
func (g *Geo) Layouts() []GeoLayout {
	var out []GeoLayout
	if g == nil {
		return nil
	}
	if g.loc != nil {
		l := g.loc.db.layout
		l.Serves = "countries and continents"
		if g.asn != nil && g.asn.db == g.loc.db {
			l.Serves = "countries, continents and AS numbers"
		}
		out = append(out, l)
	}
	if g.asn != nil && (g.loc == nil || g.asn.db != g.loc.db) {
		l := g.asn.db.layout
		l.Serves = "AS numbers"
		out = append(out, l)
	}
	return out
}

// Describe names the loaded databases with their type and layout.
func (g *Geo) Describe() string {
	var parts []string
	for _, l := range g.Layouts() {
		parts = append(parts, fmt.Sprintf("%s (%s, %s)", l.File, l.Type, l.Family))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Lookup returns what the databases know about a.
func (g *Geo) Lookup(a netip.Addr) GeoInfo {
	return g.LookupParts(a, true, true)
}

// LookupParts is Lookup restricted to the location database (loc), the
// ASN database (asn) or both, so a policy pays only for what it uses.
func (g *Geo) LookupParts(a netip.Addr, loc, asn bool) GeoInfo {
	var gi GeoInfo
	if g == nil || !a.IsValid() {
		return gi
	}
	a = a.Unmap()
	var res maxminddb.Result
	var found bool
	var walked *geoDB
	if loc && g.loc != nil {
		walked = g.loc.db
		if res, found = walked.find(a); found {
			v := g.loc.value(res)
			gi.Country = Country(v >> 8 & 0x3ff)
			gi.Continent = Continent(v & 0xff)
		}
	}
	if asn && g.asn != nil {
		if walked != g.asn.db { // one tree walk when one database serves both
			res, found = g.asn.db.find(a)
		}
		if found {
			gi.ASN = g.asn.value(res)
		}
	}
	return gi
}

// find walks the tree. An IPv6 address is not looked up in an IPv4
// database: the reader would build an error for it on every packet.
func (d *geoDB) find(a netip.Addr) (maxminddb.Result, bool) {
	if d.v4only && !a.Is4() {
		return maxminddb.Result{}, false
	}
	res := d.r.Lookup(a)
	return res, res.Found()
}

// value serves the record from the cache or decodes it. A cache slot
// holds offset+1 in its high 32 bits and the packed value in the low 32,
// written and read as one atomic word, so readers never see a torn entry.
func (c *geoRole) value(res maxminddb.Result) uint32 {
	off := uint64(res.Offset())
	if off >= 1<<32-1 {
		return c.decode(res)
	}
	tag := off + 1
	slot := &c.cache[(off*0x9e3779b97f4a7c15)>>(64-14)]
	if e := slot.Load(); e>>32 == tag {
		return uint32(e)
	}
	v := c.decode(res)
	slot.Store(tag<<32 | uint64(v))
	return v
}

// The fields ips reads, as bits of a fieldSet. The order of the country
// fields is the order they are tried in.
const (
	fCountryISOBit     = iota // country.iso_code (GeoIP2)
	fCountryCodeBit           // country_code (ip-location-db, IPinfo lite)
	fCountryPlainBit          // country holding a code (IPinfo country_asn)
	fRegisteredBit            // registered_country.iso_code (GeoIP2)
	fContinentCodeBit         // continent.code (GeoIP2)
	fContinentFlatBit         // continent_code (IPinfo lite)
	fContinentPlainBit        // continent holding a code or name (IPinfo)
	fASNumberBit              // autonomous_system_number (GeoLite2-ASN and alike)
	fASNBit                   // asn (IPinfo; a number or "AS15169")
	numFields
)

type fieldSet uint16

const (
	fCountries  fieldSet = 1<<fCountryISOBit | 1<<fCountryCodeBit | 1<<fCountryPlainBit | 1<<fRegisteredBit
	fContinents fieldSet = 1<<fContinentCodeBit | 1<<fContinentFlatBit | 1<<fContinentPlainBit
	fASNs       fieldSet = 1<<fASNumberBit | 1<<fASNBit
)

var fieldNames = [numFields]string{
	"country.iso_code", "country_code", "country", "registered_country.iso_code",
	"continent.code", "continent_code", "continent",
	"autonomous_system_number", "asn",
}

func (s fieldSet) has(bit int) bool { return s&(1<<bit) != 0 }

// names lists the fields of s among bits [from, to).
func (s fieldSet) names(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		if s.has(i) {
			out = append(out, fieldNames[i])
		}
	}
	return out
}

// A record is decoded into a struct of the database's layout (chosen
// when it was opened), so that the decoder skips every other field
// (names in eight languages, locations) without building it, and AS
// numbers by path, as a number and else as a string. Nothing is decoded
// into a generic value: the reader then sizes maps by the count a
// damaged file claims (up to 16 million entries, at each of 512 levels),
// and its lower-level Decoder API (mmdbdata) follows a pointer that
// points to itself for ever. Layout detection lists field names with
// recordKeys, which reads the bytes itself.

// geoip2Record is the GeoIP2 layout (MaxMind, DB-IP).
type geoip2Record struct {
	Country struct {
		ISO string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISO string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
}

// flatRecord is the one-level layout (ip-location-db, IPinfo): country
// and continent are codes, or names in IPinfo lite.
type flatRecord struct {
	CountryCode   string `maxminddb:"country_code"`
	Country       string `maxminddb:"country"`
	ContinentCode string `maxminddb:"continent_code"`
	Continent     string `maxminddb:"continent"`
}

func decodeGeoIP2(res maxminddb.Result) uint32 {
	var f geoFacts
	f.readGeoIP2(res)
	return f.location()
}

func decodeFlat(res maxminddb.Result) uint32 {
	var f geoFacts
	f.readFlat(res)
	return f.location()
}

func (f *geoFacts) readGeoIP2(res maxminddb.Result) {
	var rec geoip2Record
	if res.Decode(&rec) != nil {
		return // not this layout (a string where a map should be) or damaged
	}
	f.setCountry(fCountryISOBit, rec.Country.ISO)
	f.setCountry(fRegisteredBit, rec.Registered.ISO)
	f.setContinent(fContinentCodeBit, rec.Continent.Code)
}

func (f *geoFacts) readFlat(res maxminddb.Result) {
	var rec flatRecord
	if res.Decode(&rec) != nil {
		return
	}
	f.setCountry(fCountryCodeBit, rec.CountryCode)
	f.setCountry(fCountryPlainBit, rec.Country)
	f.setContinent(fContinentFlatBit, rec.ContinentCode)
	f.setContinent(fContinentPlainBit, rec.Continent)
}

func decodeASN(res maxminddb.Result) uint32 {
	var f geoFacts
	f.readASN(res)
	return f.asn
}

// readASN reads the AS number fields, each an integer of any width or a
// string ("15169", "AS15169").
func (f *geoFacts) readASN(res maxminddb.Result) {
	for _, x := range [...]struct {
		bit   int
		field string
	}{{fASNumberBit, "autonomous_system_number"}, {fASNBit, "asn"}} {
		var n uint64
		if res.DecodePath(&n, x.field) == nil {
			if n <= 1<<32-1 {
				f.setASN(x.bit, uint32(n))
			}
			continue
		}
		var s string
		if res.DecodePath(&s, x.field) == nil {
			if a, ok := ParseASN(s); ok {
				f.setASN(x.bit, a)
			}
		}
	}
}

// geoFacts is what one record says. Only fields that held a usable value
// are marked in has.
type geoFacts struct {
	countries [4]Country // by fCountry*Bit and fRegisteredBit: the order tried
	continent Continent
	asn       uint32
	has       fieldSet
}

// location packs the country (10 bits) and the continent (8): the
// record's continent, else the country's.
func (f *geoFacts) location() uint32 {
	var c Country
	for _, x := range f.countries {
		if x != 0 {
			c = x
			break
		}
	}
	k := f.continent
	if k == ContinentUnknown {
		k = c.Continent()
	}
	return uint32(c)<<8 | uint32(k)
}

// setCountry takes a two-letter code; names (IPinfo lite's country is
// "Canada") are left to the country_code beside them.
func (f *geoFacts) setCountry(bit int, s string) {
	if len(s) != 2 {
		return
	}
	if c, ok := CountryCode(s); ok && f.countries[bit] == 0 {
		f.countries[bit] = c
		f.has |= 1 << bit
	}
}

// setContinent takes a GeoIP2 code or, where a database writes names
// (IPinfo lite's continent is "North America"), the name of one
// continent. A code field (continent.code, continent_code) wins over a
// plain continent whatever the order of the fields in the record.
func (f *geoFacts) setContinent(bit int, s string) {
	if s == "" {
		return
	}
	k := ContinentFromCode(strings.ToUpper(s))
	if k == ContinentUnknown && len(s) > 2 {
		if set, ok := ParseContinent(s); ok && set&(set-1) == 0 {
			set.Each(func(c Continent) { k = c })
		}
	}
	if k != ContinentUnknown && (f.continent == ContinentUnknown || bit != fContinentPlainBit) {
		f.continent = k
		f.has |= 1 << bit
	}
}

func (f *geoFacts) setASN(bit int, n uint32) {
	if n != 0 && f.asn == 0 {
		f.asn = n
		f.has |= 1 << bit
	}
}

// ParseASN reads an AS number written "15169", "AS15169" or "as15169".
func ParseASN(s string) (uint32, bool) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && (t[0] == 'A' || t[0] == 'a') && (t[1] == 'S' || t[1] == 's') {
		t = t[2:]
	}
	if t == "" || t[0] < '0' || t[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// Sampling for layout detection: every record of the first networks,
// then one network in sampleEvery, so a City database of millions of
// networks costs a few thousand decodes.
const (
	sampleFirst = 4096
	sampleEvery = 256
	keySample   = 64 // records whose field names are listed
)

// detectLayout walks every network (to count them) and decodes a sample
// of records to see which fields the database has.
func detectLayout(name string, b []byte, r *maxminddb.Reader) (GeoLayout, fieldSet, error) {
	l := GeoLayout{File: name, Type: r.Metadata.DatabaseType, IPVersion: int(r.Metadata.IPVersion)}
	keys := map[string]struct{}{}
	data := dataSection(b, r.Metadata)
	var has fieldSet
	i := 0
	decoded := map[uintptr]bool{} // records are shared by many networks: decode each once
	_, err := walkTree(b, r.Metadata, func(off uintptr) error {
		if (i < sampleFirst || i%sampleEvery == 0) && !decoded[off] {
			decoded[off] = true
			res := r.LookupOffset(off)
			var f geoFacts
			f.readGeoIP2(res)
			f.readFlat(res)
			f.readASN(res)
			has |= f.has
			if len(decoded) <= keySample {
				recordKeys(data, uint(off), keys)
			}
		}
		i++
		return nil
	})
	if err != nil {
		return l, 0, err
	}
	l.Networks = i
	for k := range keys {
		l.Fields = append(l.Fields, k)
	}
	slices.Sort(l.Fields)
	l.Country = has.names(fCountryISOBit, fContinentCodeBit)
	if c := has.names(fContinentCodeBit, fASNumberBit); len(c) > 0 {
		l.Continent = strings.Join(c, ", else ")
	}
	if a := has.names(fASNumberBit, numFields); len(a) > 0 {
		l.ASN = strings.Join(a, ", else ")
	}
	l.Location = has&(fCountries|fContinents) != 0
	l.HasASN = has&fASNs != 0
	switch {
	case has&(1<<fCountryISOBit|1<<fRegisteredBit|1<<fContinentCodeBit) != 0:
		l.Family = "GeoIP2"
	case has.has(fCountryCodeBit) && has&(1<<fContinentFlatBit|1<<fASNBit) != 0:
		l.Family = "IPinfo lite"
	case has.has(fCountryCodeBit):
		l.Family = "ip-location-db"
	case has.has(fCountryPlainBit):
		l.Family = "IPinfo country_asn"
	case l.Location:
		l.Family = "continents only"
	case l.HasASN:
		l.Family = "ASN"
	default:
		l.Family = "unknown"
	}
	return l, has, nil
}

// walkTree calls visit with the record offset of every network that has
// data, IPv4 once (not again under its IPv6 aliases), and returns their
// number. It walks the search tree itself rather than with the reader's
// Networks: every node is entered at most once, so a corrupt file whose
// nodes link back to earlier ones costs one visit per node instead of a
// walk that never ends.
func walkTree(b []byte, m maxminddb.Metadata, visit func(off uintptr) error) (int, error) {
	nodes, size := m.NodeCount, m.RecordSize
	if size != 24 && size != 28 && size != 32 {
		return 0, fmt.Errorf("unsupported record size %d", size)
	}
	per := size / 4 // bytes per node: two records
	if nodes == 0 || nodes > uint(len(b))/per {
		return 0, fmt.Errorf("corrupt search tree: %d nodes of %d bytes in a file of %d", nodes, per, len(b))
	}
	seen := make([]uint64, (nodes+63)/64)
	stack := []uint{0}
	n := 0
	for len(stack) > 0 {
		node := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[node/64]&(1<<(node%64)) != 0 {
			continue
		}
		seen[node/64] |= 1 << (node % 64)
		left, right := readNode(b[node*per:node*per+per], size)
		for _, p := range [2]uint{left, right} {
			switch {
			case p == nodes: // no data
			case p > nodes:
				if p < nodes+16 {
					return n, fmt.Errorf("corrupt search tree: node %d points into the data section separator", node)
				}
				n++
				if err := visit(uintptr(p - nodes - 16)); err != nil {
					return n, err
				}
			}
		}
		// Right first, so the left subtree is walked first (address order).
		for _, p := range [2]uint{right, left} {
			if p < nodes {
				stack = append(stack, p)
			}
		}
	}
	return n, nil
}

// readNode reads a node's two records (the MaxMind DB format's 24-, 28-
// and 32-bit layouts; a 28-bit node keeps the high nibbles of both
// records in its middle byte).
func readNode(b []byte, size uint) (left, right uint) {
	switch size {
	case 24:
		return uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2]), uint(b[3])<<16 | uint(b[4])<<8 | uint(b[5])
	case 28:
		return uint(b[3]&0xf0)<<20 | uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2]),
			uint(b[3]&0x0f)<<24 | uint(b[4])<<16 | uint(b[5])<<8 | uint(b[6])
	default:
		return uint(b[0])<<24 | uint(b[1])<<16 | uint(b[2])<<8 | uint(b[3]),
			uint(b[4])<<24 | uint(b[5])<<16 | uint(b[6])<<8 | uint(b[7])
	}
}

// The MaxMind DB format's data section, as much as recordKeys needs of
// it: a control byte holds the type in its top 3 bits (0: extended, the
// type is 7 plus the next byte) and a size in the low 5 (29, 30, 31: the
// size is in the next 1, 2, 3 bytes, plus 29, 285, 65821); a pointer (type
// 1) holds its size class in bits 3-4 and the top bits of the target in
// bits 0-2.
const (
	mmdbPointer = 1
	mmdbString  = 2
	mmdbMap     = 7
	mmdbBool    = 14
	mmdbArray   = 11
	mmdbMaxType = 15
)

var metadataMarker = []byte("\xab\xcd\xefMaxMind.com")

// dataSection is the part of the file between the search tree (and its
// 16-byte separator) and the metadata.
func dataSection(b []byte, m maxminddb.Metadata) []byte {
	start := m.NodeCount*(m.RecordSize/4) + 16
	end := bytes.LastIndex(b, metadataMarker)
	if end < 0 || start > uint(end) {
		return nil
	}
	return b[start:end]
}

// mmdbCtrl reads the control byte(s) at off: the type, the size (for a
// pointer, the target) and the offset of the payload.
func mmdbCtrl(d []byte, off uint) (typ, size, next uint, ok bool) {
	at := func(i uint) uint {
		if i >= uint(len(d)) {
			ok = false
			return 0
		}
		return uint(d[i])
	}
	ok = true
	c := at(off)
	off++
	typ = c >> 5
	if typ == mmdbPointer {
		v := c & 7
		switch (c >> 3) & 3 {
		case 0:
			size, off = v<<8|at(off), off+1
		case 1:
			size, off = (v<<16|at(off)<<8|at(off+1))+2048, off+2
		case 2:
			size, off = (v<<24|at(off)<<16|at(off+1)<<8|at(off+2))+526336, off+3
		default:
			size, off = at(off)<<24|at(off+1)<<16|at(off+2)<<8|at(off+3), off+4
		}
		return typ, size, off, ok
	}
	if typ == 0 {
		typ, off = 7+at(off), off+1
	}
	size = c & 0x1f
	switch size {
	case 29:
		size, off = 29+at(off), off+1
	case 30:
		size, off = 285+(at(off)<<8|at(off+1)), off+2
	case 31:
		size, off = 65821+(at(off)<<16|at(off+1)<<8|at(off+2)), off+3
	}
	return typ, size, off, ok && typ <= mmdbMaxType
}

// mmdbFollow resolves one pointer (the format allows no pointer to a
// pointer).
func mmdbFollow(d []byte, off uint) (typ, size, next uint, ok bool) {
	typ, size, next, ok = mmdbCtrl(d, off)
	if ok && typ == mmdbPointer {
		typ, size, next, ok = mmdbCtrl(d, size)
		ok = ok && typ != mmdbPointer
	}
	return
}

// mmdbSkip returns the offset after the value at off. Each step reads at
// least one byte, so a damaged count runs out of bytes instead of time.
func mmdbSkip(d []byte, off uint) (uint, bool) {
	for left := uint(1); left > 0; left-- {
		typ, size, next, ok := mmdbCtrl(d, off)
		if !ok || next > uint(len(d)) {
			return 0, false
		}
		switch typ {
		case mmdbPointer, mmdbBool: // the pointer bytes only; a bool's value is its size
		case mmdbMap:
			left += 2 * size
		case mmdbArray:
			left += size
		default:
			next += size
		}
		if left > uint(len(d)) {
			return 0, false
		}
		off = next
	}
	return off, off <= uint(len(d))
}

// mmdbString reads the string at off, following a pointer.
func mmdbStr(d []byte, off uint) (string, bool) {
	typ, size, next, ok := mmdbFollow(d, off)
	if !ok || typ != mmdbString || next+size > uint(len(d)) {
		return "", false
	}
	return string(d[next : next+size]), true
}

// recordKeys adds the field names of the record at off to keys: the
// top-level ones, and for a field that is a map, its keys as
// "field.key". It gives up quietly on damaged bytes.
func recordKeys(d []byte, off uint, keys map[string]struct{}) {
	typ, size, p, ok := mmdbFollow(d, off)
	if !ok || typ != mmdbMap {
		return
	}
	for i := uint(0); i < size && i < 256; i++ {
		k, ok := mmdbStr(d, p)
		if !ok {
			return
		}
		if p, ok = mmdbSkip(d, p); !ok {
			return
		}
		if vt, vs, vp, ok := mmdbFollow(d, p); ok && vt == mmdbMap {
			q := vp
			for j := uint(0); j < vs && j < 256; j++ {
				sk, ok := mmdbStr(d, q)
				if !ok {
					break
				}
				keys[k+"."+sk] = struct{}{}
				if q, ok = mmdbSkip(d, q); !ok {
					break
				}
				if q, ok = mmdbSkip(d, q); !ok {
					break
				}
			}
		} else {
			keys[k] = struct{}{}
		}
		if p, ok = mmdbSkip(d, p); !ok {
			return
		}
	}
}
