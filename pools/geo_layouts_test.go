package pools_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"

	"ips/pools"
	"ips/pools/geotest"
)

// layoutCase is a database pair as operators have them: a location
// database and an ASN database (nil when the location database carries
// AS numbers itself).
type layoutCase struct {
	loc, asn *geotest.Layout
	family   string
	country  string // the fields GeoLayout names
	cont     string // "" = derived
	asnField string
}

var layoutCases = []layoutCase{
	{&geotest.GeoLite2Country, &geotest.GeoLite2ASN, "GeoIP2", "country.iso_code, registered_country.iso_code", "continent.code", "autonomous_system_number"},
	{&geotest.GeoLite2City, &geotest.GeoLite2ASN, "GeoIP2", "country.iso_code, registered_country.iso_code", "continent.code", "autonomous_system_number"},
	{&geotest.DBIPCountryLite, &geotest.DBIPASNLite, "GeoIP2", "country.iso_code, registered_country.iso_code", "continent.code", "autonomous_system_number"},
	{&geotest.DBIPCityLite, &geotest.DBIPASNLite, "GeoIP2", "country.iso_code, registered_country.iso_code", "continent.code", "autonomous_system_number"},
	{&geotest.IPLocationDBCountry, &geotest.IPLocationDBASN, "ip-location-db", "country_code", "", "autonomous_system_number"},
	{&geotest.IPLocationDBCountryV4, &geotest.IPLocationDBASN, "ip-location-db", "country_code", "", "autonomous_system_number"},
	{&geotest.IPLocationDBCountry, &geotest.NumericASN, "ip-location-db", "country_code", "", "asn"},
	{&geotest.IPinfoLite, nil, "IPinfo lite", "country_code", "continent_code", "asn"},
	{&geotest.IPinfoCountryASN, nil, "IPinfo country_asn", "country", "continent", "asn"},
}

func (c layoutCase) name() string {
	if c.asn == nil {
		return c.loc.Name
	}
	return c.loc.Name + "+" + c.asn.Name
}

func (c layoutCase) open(t testing.TB) *pools.Geo {
	t.Helper()
	loc, err := geotest.Build(*c.loc, geotest.World)
	if err != nil {
		t.Fatal(err)
	}
	var asn []byte
	if c.asn != nil {
		if asn, err = geotest.Build(*c.asn, geotest.World); err != nil {
			t.Fatal(err)
		}
	}
	g, err := pools.NewGeo(loc, asn)
	if err != nil {
		t.Fatalf("%s: %v", c.name(), err)
	}
	return g
}

// TestGeoLayouts reads every layout and finds, for every network of the
// world, the country, the continent (the database's or derived from the
// country) and the AS number.
func TestGeoLayouts(t *testing.T) {
	for _, c := range layoutCases {
		t.Run(c.name(), func(t *testing.T) {
			g := c.open(t)
			if !g.HasLocation() || !g.HasASN() {
				t.Fatalf("HasLocation %v HasASN %v", g.HasLocation(), g.HasASN())
			}
			ls := g.Layouts()
			l := ls[0]
			if l.Family != c.family || strings.Join(l.Country, ", ") != c.country || l.Continent != c.cont || !l.Location || l.Type != c.loc.Type {
				t.Errorf("layout %+v", l)
			}
			asnL := l
			if c.asn != nil {
				if len(ls) != 2 {
					t.Fatalf("%d layouts", len(ls))
				}
				asnL = ls[1]
			} else if len(ls) != 1 || !l.HasASN {
				t.Errorf("one database for both: %+v", ls)
			}
			if asnL.ASN != c.asnField {
				t.Errorf("ASN field %q, want %q", asnL.ASN, c.asnField)
			}
			want := 0
			for _, n := range geotest.World {
				if c.loc.IPVersion == 6 || !strings.Contains(n.Network, ":") {
					want++
				}
			}
			if l.Networks != want {
				t.Errorf("%d networks, want %d", l.Networks, want)
			}
			if s := l.String(); !strings.Contains(s, "layout "+c.family) || (c.cont == "") != strings.Contains(s, "continent derived from the country") {
				t.Errorf("String() = %q", s)
			}
			for round := 0; round < 2; round++ { // the second from the cache
				for _, n := range geotest.World {
					a := netip.MustParsePrefix(n.Network).Addr()
					if !netip.MustParsePrefix(n.Network).IsSingleIP() {
						a = a.Next()
					}
					gi := g.Lookup(a)
					country, cont, asn := n.Country, n.Continent, n.ASN
					if country == "" {
						country = n.Registered
					}
					if a.Is6() && c.loc.IPVersion == 4 {
						country, cont = "", ""
					}
					if gi.Country.String() != country || gi.Continent.Code() != cont || gi.ASN != asn {
						t.Errorf("Lookup(%s) = %s/%s/%d, want %s/%s/%d", a, gi.Country, gi.Continent.Code(), gi.ASN, country, cont, asn)
					}
				}
			}
			for _, a := range []string{"192.168.1.1", "2001:db8:3::5", "10.99.0.14"} {
				if gi := g.Lookup(netip.MustParseAddr(a)); gi != (pools.GeoInfo{}) {
					t.Errorf("Lookup(%s) = %+v, want nothing", a, gi)
				}
			}
		})
	}
}

// TestGeoLayoutsAllocs: the steady state allocates nothing in any layout,
// IPv6 addresses in an IPv4 database included.
func TestGeoLayoutsAllocs(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("2.3.4.5"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:db8:1::5"),
		netip.MustParseAddr("fd00:99::2"), netip.MustParseAddr("192.168.1.1")}
	for _, c := range layoutCases {
		g := c.open(t)
		for _, a := range addrs {
			g.Lookup(a)
		}
		i := 0
		if n := testing.AllocsPerRun(500, func() { g.Lookup(addrs[i%len(addrs)]); i++ }); n != 0 {
			t.Errorf("%s: %v allocations per lookup", c.name(), n)
		}
	}
}

// TestGeoContinentDerived: a record without a continent gets its
// country's, in any layout, and the table knows every country.
func TestGeoContinentDerived(t *testing.T) {
	nets := []geotest.Net{{Network: "2.0.0.0/8", Country: "IT"}, {Network: "5.0.0.0/8", Country: "TR"}, {Network: "6.0.0.0/8", Country: "RU"},
		{Network: "7.0.0.0/8", Country: "XK"}, {Network: "9.0.0.0/8", Country: "TL"}, {Network: "11.0.0.0/8", Registered: "BR"}}
	want := map[string]pools.Continent{"2.1.1.1": pools.Europe, "5.1.1.1": pools.Asia, "6.1.1.1": pools.Europe, "7.1.1.1": pools.Europe, "9.1.1.1": pools.Oceania, "11.1.1.1": pools.SouthAmerica}
	for _, l := range []geotest.Layout{geotest.GeoLite2Country, geotest.IPLocationDBCountry} {
		b, err := geotest.Build(l, nets)
		if err != nil {
			t.Fatal(err)
		}
		g, err := pools.NewGeo(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		for a, k := range want {
			if gi := g.Lookup(netip.MustParseAddr(a)); gi.Continent != k {
				t.Errorf("%s: %s in %s (%s), want %s", l.Name, a, gi.Continent, gi.Country, k)
			}
		}
	}
	n := 0
	for _, s := range pools.CountryCandidates() {
		if len(s) != 2 {
			continue
		}
		n++
		if c, _ := pools.LookupCountry(s); c.Continent() == pools.ContinentUnknown {
			t.Errorf("%s has no continent", s)
		}
	}
	if n != 250 {
		t.Errorf("%d countries", n)
	}
	if c, _ := pools.CountryCode("ZZ"); c.Continent() != pools.ContinentUnknown {
		t.Error("ZZ has a continent")
	}
}

// TestGeoRefused: a database without any field ips reads is refused,
// naming the file and the fields it has; a database of the other role
// says so.
func TestGeoRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cityOnly := write("city-only.mmdb", must(t)(geotest.BuildRecords("Some-City-DB", 6, geotest.World, func(n geotest.Net) mmdbtype.Map {
		return mmdbtype.Map{"city": mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("X")}}, "latitude": mmdbtype.Float64(1), "cc": mmdbtype.String(n.Country)}
	})))
	asnDB := write("asn.mmdb", must(t)(geotest.Build(geotest.GeoLite2ASN, geotest.World)))
	countryDB := write("country.mmdb", must(t)(geotest.Build(geotest.IPLocationDBCountry, geotest.World)))
	empty := write("empty.mmdb", must(t)(geotest.Build(geotest.GeoLite2Country, nil)))

	cases := []struct {
		loc, asn string
		want     []string
	}{
		{cityOnly, "", []string{"geoip " + cityOnly + ":", `database type "Some-City-DB" has none of the country or continent fields`, "its records have cc, city.names, latitude", "country_code"}},
		{"", cityOnly, []string{"geoip " + cityOnly + ":", "none of the AS number fields ips reads (autonomous_system_number, asn)", "its records have cc, city.names, latitude"}},
		{asnDB, "", []string{"geoip " + asnDB + ":", "autonomous_system_number, autonomous_system_organization: it is an ASN database (give it as the asn database, --geoip-asn)"}},
		{"", countryDB, []string{"geoip " + countryDB + ":", "its records have country_code: it is a location database"}},
		{countryDB, countryDB, []string{"geoip " + countryDB + ":", "none of the AS number fields"}},
		{empty, "", []string{"geoip " + empty + ":", "its records have no fields"}},
	}
	for _, c := range cases {
		_, err := pools.OpenGeo(c.loc, c.asn)
		if err == nil {
			t.Errorf("OpenGeo(%q, %q): no error", c.loc, c.asn)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("OpenGeo(%q, %q): %v\nlacks %q", c.loc, c.asn, err, w)
			}
		}
		var ge *pools.GeoError
		if !errorsAs(err, &ge) || ge.Location != (c.loc != "" && c.loc != c.asn) {
			t.Errorf("OpenGeo(%q, %q): %#v", c.loc, c.asn, err)
		}
	}
	// The same file for both roles, when it has both.
	lite := write("lite.mmdb", must(t)(geotest.Build(geotest.IPinfoLite, geotest.World)))
	g, err := pools.OpenGeo(lite, lite)
	if err != nil || len(g.Layouts()) != 1 || g.Lookup(netip.MustParseAddr("8.8.8.8")).ASN != 15169 {
		t.Errorf("IPinfo lite for both: %v %+v", err, g.Layouts())
	}
}

// TestGeoRecordSizes: the tree walk that counts networks and samples
// records reads 24-, 28- and 32-bit search trees, IPv4 and IPv6, and
// finds what the reader's own walk finds.
func TestGeoRecordSizes(t *testing.T) {
	for _, size := range []int{24, 28, 32} {
		for _, v := range []int{4, 6} {
			l := geotest.GeoLite2Country
			l.RecordSize, l.IPVersion = size, v
			b, err := geotest.Build(l, geotest.World)
			if err != nil {
				t.Fatal(err)
			}
			r, err := maxminddb.OpenBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for res := range r.Networks() {
				if res.Err() != nil {
					t.Fatal(res.Err())
				}
				want++
			}
			g, err := pools.NewGeo(b, nil)
			if err != nil {
				t.Fatalf("%d bits, IPv%d: %v", size, v, err)
			}
			if n := g.Layouts()[0].Networks; n != want || want < 8 {
				t.Errorf("%d bits, IPv%d: %d networks, the reader walks %d", size, v, n, want)
			}
			if gi := g.Lookup(netip.MustParseAddr("10.99.0.12")); gi.Country.String() != "DE" {
				t.Errorf("%d bits, IPv%d: %+v", size, v, gi)
			}
		}
	}
}

func TestParseASN(t *testing.T) {
	for in, want := range map[string]uint32{"15169": 15169, "AS15169": 15169, "as3320": 3320, " AS1 ": 1, "4294967295": 4294967295} {
		if n, ok := pools.ParseASN(in); !ok || n != want {
			t.Errorf("ParseASN(%q) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "AS", "ASX", "-1", "4294967296", "AS 15169", "15169x"} {
		if n, ok := pools.ParseASN(in); ok {
			t.Errorf("ParseASN(%q) = %d", in, n)
		}
	}
}

func BenchmarkGeoLookupLayouts(b *testing.B) {
	addrs := []netip.Addr{netip.MustParseAddr("2.3.4.5"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:db8:1::5"), netip.MustParseAddr("10.99.0.12")}
	for _, c := range layoutCases {
		b.Run(strings.ReplaceAll(c.name(), " ", "_"), func(b *testing.B) {
			g := c.open(b)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				g.Lookup(addrs[i&3])
			}
		})
	}
}

func errorsAs(err error, target **pools.GeoError) bool { return errors.As(err, target) }

func must(t testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}
