package pools

import (
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
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
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
	db    *geoDB
	cache []atomic.Uint64
}

type geoDB struct {
	layout GeoLayout
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
		g.loc = &geoRole{db: loc, cache: make([]atomic.Uint64, geoCacheSize)}
		if asn == nil && loc.layout.HasASN {
			asn = loc
		}
	}
	if asn != nil {
		g.asn = &geoRole{db: asn, cache: make([]atomic.Uint64, geoCacheSize)}
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
	if d.layout, err = detectLayout(name, r); err != nil {
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
			v := g.loc.value(res, decodeLocation)
			gi.Country = Country(v >> 8 & 0x3ff)
			gi.Continent = Continent(v & 0xff)
		}
	}
	if asn && g.asn != nil {
		if walked != g.asn.db { // one tree walk when one database serves both
			res, found = g.asn.db.find(a)
		}
		if found {
			gi.ASN = g.asn.value(res, decodeASN)
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
func (c *geoRole) value(res maxminddb.Result, decode func(maxminddb.Result) uint32) uint32 {
	off := uint64(res.Offset())
	if off >= 1<<32-1 {
		return decode(res)
	}
	tag := off + 1
	slot := &c.cache[(off*0x9e3779b97f4a7c15)>>(64-14)]
	if e := slot.Load(); e>>32 == tag {
		return uint32(e)
	}
	v := decode(res)
	slot.Store(tag<<32 | uint64(v))
	return v
}

// decodeLocation packs a record's country (10 bits) and continent (8).
func decodeLocation(res maxminddb.Result) uint32 {
	var rec geoRecord
	if res.Decode(&rec) != nil {
		return 0
	}
	c := rec.country()
	k := rec.continent
	if k == ContinentUnknown {
		k = c.Continent()
	}
	return uint32(c)<<8 | uint32(k)
}

func decodeASN(res maxminddb.Result) uint32 {
	var rec geoRecord
	if res.Decode(&rec) != nil {
		return 0
	}
	return rec.asn
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

// geoRecord is what one record says, read by field name whatever the
// layout. Only fields that held a usable value are marked in has.
type geoRecord struct {
	countries [4]Country // by fCountry*Bit, fRegisteredBit
	continent Continent
	asn       uint32
	has       fieldSet
	// keys collects the field names seen (layout detection only).
	keys map[string]struct{}
}

func (r *geoRecord) country() Country {
	for _, c := range r.countries {
		if c != 0 {
			return c
		}
	}
	return 0
}

func (r *geoRecord) setCountry(bit int, s string) {
	if c, ok := CountryCode(s); ok && r.countries[bit] == 0 {
		r.countries[bit] = c
		r.has |= 1 << bit
	}
}

// setContinent takes a GeoIP2 code or, where a database writes names
// (IPinfo lite's continent is "North America"), the name of one
// continent. A code field (continent.code, continent_code) wins over a
// plain continent whatever the order of the fields in the record.
func (r *geoRecord) setContinent(bit int, s string) {
	k := ContinentFromCode(strings.ToUpper(s))
	if k == ContinentUnknown && len(s) > 2 {
		if set, ok := ParseContinent(s); ok && set&(set-1) == 0 {
			for c := Continent(1); c < numContinents; c++ {
				if set.Has(c) {
					k = c
				}
			}
		}
	}
	if k != ContinentUnknown && (r.continent == ContinentUnknown || bit != fContinentPlainBit) {
		r.continent = k
		r.has |= 1 << bit
	}
}

func (r *geoRecord) setASN(bit int, n uint32) {
	if n != 0 {
		r.asn = n
		r.has |= 1 << bit
	}
}

func (r *geoRecord) sawKey(k string) {
	if r.keys != nil {
		if _, ok := r.keys[k]; !ok {
			r.keys[k] = struct{}{}
		}
	}
}

// UnmarshalMaxMindDB reads the top-level map of a record; other fields
// are skipped by the map iterator without decoding.
func (r *geoRecord) UnmarshalMaxMindDB(d *mmdbdata.Decoder) error {
	if k, err := d.PeekKind(); err != nil || k != mmdbdata.KindMap {
		return err // a record that is not a map holds nothing ips reads
	}
	fields, _, err := d.ReadMap()
	if err != nil {
		return err
	}
	for key, err := range fields {
		if err != nil {
			return err
		}
		kind, err := d.PeekKind()
		if err != nil {
			return err
		}
		name := string(key)
		if kind == mmdbdata.KindMap {
			if err := r.readSubmap(d, name); err != nil {
				return err
			}
			continue
		}
		r.sawKey(name)
		switch name {
		case "country_code":
			if s, ok := readString(d, kind); ok {
				r.setCountry(fCountryCodeBit, s)
			}
		case "country":
			if s, ok := readString(d, kind); ok && len(s) == 2 {
				r.setCountry(fCountryPlainBit, s)
			}
		case "continent_code":
			if s, ok := readString(d, kind); ok {
				r.setContinent(fContinentFlatBit, s)
			}
		case "continent":
			if s, ok := readString(d, kind); ok {
				r.setContinent(fContinentPlainBit, s)
			}
		case "autonomous_system_number":
			r.setASN(fASNumberBit, readNumber(d, kind))
		case "asn":
			r.setASN(fASNBit, readNumber(d, kind))
		}
	}
	return nil
}

// readSubmap reads the GeoIP2 nested objects (country, registered_country,
// continent) and notes the keys of any other.
func (r *geoRecord) readSubmap(d *mmdbdata.Decoder, name string) error {
	want := ""
	bit := -1
	switch name {
	case "country":
		want, bit = "iso_code", fCountryISOBit
	case "registered_country":
		want, bit = "iso_code", fRegisteredBit
	case "continent":
		want, bit = "code", fContinentCodeBit
	}
	if r.keys == nil && bit < 0 {
		return nil // the outer iterator skips the value
	}
	sub, _, err := d.ReadMap()
	if err != nil {
		return err
	}
	for k, err := range sub {
		if err != nil {
			return err
		}
		if r.keys != nil {
			r.sawKey(name + "." + string(k))
		}
		if bit < 0 || string(k) != want {
			continue
		}
		kind, err := d.PeekKind()
		if err != nil {
			return err
		}
		if s, ok := readString(d, kind); ok {
			if bit == fContinentCodeBit {
				r.setContinent(bit, s)
			} else {
				r.setCountry(bit, s)
			}
		}
		if r.keys == nil {
			break // the outer iterator finds the next field by itself
		}
	}
	return nil
}

func readString(d *mmdbdata.Decoder, kind mmdbdata.Kind) (string, bool) {
	if kind != mmdbdata.KindString {
		return "", false
	}
	s, err := d.ReadString()
	return s, err == nil
}

// readNumber reads an AS number stored as any unsigned or signed integer
// type, or as a string ("15169", "AS15169"); 0 when it is none of these
// or does not fit 32 bits.
func readNumber(d *mmdbdata.Decoder, kind mmdbdata.Kind) uint32 {
	var n uint64
	switch kind {
	case mmdbdata.KindUint16:
		v, err := d.ReadUint16()
		if err != nil {
			return 0
		}
		n = uint64(v)
	case mmdbdata.KindUint32:
		v, err := d.ReadUint32()
		if err != nil {
			return 0
		}
		n = uint64(v)
	case mmdbdata.KindUint64:
		v, err := d.ReadUint64()
		if err != nil {
			return 0
		}
		n = v
	case mmdbdata.KindUint128:
		hi, lo, err := d.ReadUint128()
		if err != nil || hi != 0 {
			return 0
		}
		n = lo
	case mmdbdata.KindInt32:
		v, err := d.ReadInt32()
		if err != nil || v < 0 {
			return 0
		}
		n = uint64(v)
	case mmdbdata.KindString:
		s, err := d.ReadString()
		if err != nil {
			return 0
		}
		v, ok := ParseASN(s)
		if !ok {
			return 0
		}
		n = uint64(v)
	}
	if n > 1<<32-1 {
		return 0
	}
	return uint32(n)
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
)

// detectLayout walks every network (to count them) and decodes a sample
// of records to see which fields the database has.
func detectLayout(name string, r *maxminddb.Reader) (GeoLayout, error) {
	l := GeoLayout{File: name, Type: r.Metadata.DatabaseType, IPVersion: int(r.Metadata.IPVersion)}
	rec := geoRecord{keys: map[string]struct{}{}}
	var has fieldSet
	i := 0
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return l, fmt.Errorf("reading the networks: %w", err)
		}
		if i < sampleFirst || i%sampleEvery == 0 {
			rec.countries, rec.continent, rec.asn, rec.has = [4]Country{}, 0, 0, 0
			if err := res.Decode(&rec); err != nil {
				return l, fmt.Errorf("decoding the record of %s: %w", res.Prefix(), err)
			}
			has |= rec.has
		}
		i++
	}
	l.Networks = i
	for k := range rec.keys {
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
	return l, nil
}
