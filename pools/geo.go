package pools

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"github.com/oschwald/geoip2-golang/v2"
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

// Geo looks up countries, continents and AS numbers in GeoIP2/GeoLite2
// (or DB-IP) .mmdb files: a City or Country database for locations and
// an ASN database for AS numbers, either of which may be absent.
//
// The record models are geoip2-golang's; lookups go through its
// maxminddb reader directly so that a lookup can be served from a small
// lock-free cache keyed by the record's offset in the database. Records
// are shared by many networks (one per country in a Country database), so
// in the steady state a lookup is one tree walk and one atomic load, with
// no allocation; a miss decodes the record once with the library.
type Geo struct {
	loc, asn *geoDB
}

type geoDB struct {
	path  string
	typ   string
	r     *maxminddb.Reader
	cache []atomic.Uint64
}

const geoCacheSize = 1 << 14

// OpenGeo reads the databases. Either path may be empty. The files are
// read into memory (no mmap), so a Geo needs no Close and may be dropped
// while lookups on it finish.
func OpenGeo(locPath, asnPath string) (*Geo, error) {
	g := &Geo{}
	if locPath != "" {
		b, err := os.ReadFile(locPath)
		if err != nil {
			return nil, fmt.Errorf("geoip: %w", err)
		}
		if g.loc, err = openDB(locPath, b, false); err != nil {
			return nil, err
		}
	}
	if asnPath != "" {
		b, err := os.ReadFile(asnPath)
		if err != nil {
			return nil, fmt.Errorf("geoip: %w", err)
		}
		if g.asn, err = openDB(asnPath, b, true); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// NewGeo builds a Geo from database contents (tests, embedded data).
func NewGeo(loc, asn []byte) (*Geo, error) {
	g := &Geo{}
	var err error
	if loc != nil {
		if g.loc, err = openDB("location database", loc, false); err != nil {
			return nil, err
		}
	}
	if asn != nil {
		if g.asn, err = openDB("ASN database", asn, true); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func openDB(name string, b []byte, wantASN bool) (*geoDB, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip %s: %w", name, err)
	}
	typ := r.Metadata.DatabaseType
	lt := strings.ToLower(typ)
	isASN := strings.Contains(lt, "asn") || strings.Contains(lt, "isp")
	isLoc := strings.Contains(lt, "country") || strings.Contains(lt, "city") || strings.Contains(lt, "enterprise")
	switch {
	case wantASN && !isASN:
		return nil, fmt.Errorf("geoip %s: database type %q is not an ASN database", name, typ)
	case !wantASN && !isLoc:
		return nil, fmt.Errorf("geoip %s: database type %q is not a City or Country database", name, typ)
	}
	return &geoDB{path: name, typ: typ, r: r, cache: make([]atomic.Uint64, geoCacheSize)}, nil
}

// HasLocation reports whether a City or Country database is loaded.
func (g *Geo) HasLocation() bool { return g != nil && g.loc != nil }

// HasASN reports whether an ASN database is loaded.
func (g *Geo) HasASN() bool { return g != nil && g.asn != nil }

// Describe names the loaded databases and their types.
func (g *Geo) Describe() string {
	if g == nil {
		return "none"
	}
	var parts []string
	if g.loc != nil {
		parts = append(parts, fmt.Sprintf("%s (%s)", g.loc.path, g.loc.typ))
	}
	if g.asn != nil {
		parts = append(parts, fmt.Sprintf("%s (%s)", g.asn.path, g.asn.typ))
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
	if loc && g.loc != nil {
		v := g.loc.lookup(a, decodeLocation)
		gi.Country = Country(v >> 8 & 0x3ff)
		gi.Continent = Continent(v & 0xff)
	}
	if asn && g.asn != nil {
		gi.ASN = uint32(g.asn.lookup(a, decodeASN))
	}
	return gi
}

// lookup walks the tree, then serves the record from the cache or decodes
// it. A cache slot holds offset+1 in its high 32 bits and the packed value
// in the low 32, written and read as one atomic word, so readers never see
// a torn entry.
func (d *geoDB) lookup(a netip.Addr, decode func(maxminddb.Result) uint32) uint32 {
	res := d.r.Lookup(a)
	if !res.Found() {
		return 0
	}
	off := uint64(res.Offset())
	if off >= 1<<32-1 {
		return decode(res)
	}
	tag := off + 1
	slot := &d.cache[(off*0x9e3779b97f4a7c15)>>(64-14)]
	if e := slot.Load(); e>>32 == tag {
		return uint32(e)
	}
	v := decode(res)
	slot.Store(tag<<32 | uint64(v))
	return v
}

func decodeLocation(res maxminddb.Result) uint32 {
	var rec geoip2.Country
	if res.Decode(&rec) != nil {
		return 0
	}
	code := rec.Country.ISOCode
	if code == "" {
		code = rec.RegisteredCountry.ISOCode
	}
	c, _ := CountryCode(code)
	return uint32(c)<<8 | uint32(ContinentFromCode(rec.Continent.Code))
}

func decodeASN(res maxminddb.Result) uint32 {
	var rec geoip2.ASN
	if res.Decode(&rec) != nil {
		return 0
	}
	return uint32(rec.AutonomousSystemNumber)
}
