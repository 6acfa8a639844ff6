package pools_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"ips/pools"
	"ips/pools/geotest"
)

func sampleGeo(t testing.TB) *pools.Geo {
	t.Helper()
	loc, err := geotest.LocationDB(geotest.Sample)
	if err != nil {
		t.Fatal(err)
	}
	asn, err := geotest.ASNDB(geotest.SampleASN)
	if err != nil {
		t.Fatal(err)
	}
	g, err := pools.NewGeo(loc, asn)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGeoLookup(t *testing.T) {
	g := sampleGeo(t)
	cases := []struct {
		addr      string
		country   string
		continent pools.Continent
		asn       uint32
	}{
		{"2.3.4.5", "IT", pools.Europe, 3269},
		{"5.1.1.1", "CN", pools.Asia, 0},
		{"6.1.1.1", "JP", pools.Asia, 0},
		{"8.8.8.8", "US", pools.NorthAmerica, 15169},
		{"9.9.9.9", "AU", pools.Oceania, 0},
		{"11.1.1.1", "DE", pools.Europe, 0}, // registered country when the country is absent
		{"::ffff:2.3.4.5", "IT", pools.Europe, 3269},
		{"2001:db8:1::5", "FR", pools.Europe, 3215},
		{"2001:db8:2::5", "BR", pools.SouthAmerica, 0},
		{"192.168.1.1", "", pools.ContinentUnknown, 0},
		{"2001:db8:3::5", "", pools.ContinentUnknown, 0},
	}
	for round := 0; round < 2; round++ { // the second round is served from the cache
		for _, c := range cases {
			gi := g.Lookup(netip.MustParseAddr(c.addr))
			if gi.Country.String() != c.country || gi.Continent != c.continent || gi.ASN != c.asn {
				t.Errorf("round %d: Lookup(%s) = %s/%s/%d; want %s/%s/%d", round, c.addr,
					gi.Country, gi.Continent, gi.ASN, c.country, c.continent, c.asn)
			}
		}
	}
	if gi := g.Lookup(netip.Addr{}); gi != (pools.GeoInfo{}) {
		t.Errorf("invalid address: %+v", gi)
	}
	var nilGeo *pools.Geo
	if gi := nilGeo.Lookup(netip.MustParseAddr("2.3.4.5")); gi != (pools.GeoInfo{}) || nilGeo.HasLocation() || nilGeo.HasASN() {
		t.Errorf("nil Geo: %+v", gi)
	}
}

// TestGeoLookupAllocs measures the steady state: the record cache makes a
// repeated lookup allocation-free.
func TestGeoLookupAllocs(t *testing.T) {
	g := sampleGeo(t)
	addrs := []netip.Addr{netip.MustParseAddr("2.3.4.5"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:db8:1::5"), netip.MustParseAddr("192.168.1.1")}
	for _, a := range addrs {
		g.Lookup(a)
	}
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		g.Lookup(addrs[i%len(addrs)])
		i++
	})
	if n != 0 {
		t.Errorf("Lookup allocates %v times per call in the steady state", n)
	}
}

func TestOpenGeoErrors(t *testing.T) {
	dir := t.TempDir()
	loc, asn, err := geotest.WriteSample(dir)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := pools.OpenGeo(loc, asn); err != nil || !g.HasLocation() || !g.HasASN() {
		t.Fatalf("OpenGeo: %v", err)
	}
	if _, err := pools.OpenGeo(filepath.Join(dir, "missing.mmdb"), ""); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := pools.OpenGeo(asn, ""); err == nil {
		t.Error("an ASN database as the location database: no error")
	}
	if _, err := pools.OpenGeo("", loc); err == nil {
		t.Error("a country database as the ASN database: no error")
	}
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, []byte("not a database"), 0o644)
	if _, err := pools.OpenGeo(junk, ""); err == nil {
		t.Error("junk file: no error")
	}
}

func TestCountriesAndContinents(t *testing.T) {
	for in, want := range map[string]string{"IT": "IT", "it": "IT", "UK": "GB", "Italy": "IT", "united states": "US", "USA": "US", "XK": "XK", "Cote d'Ivoire": "CI"} {
		c, ok := pools.LookupCountry(in)
		if !ok || c.String() != want {
			t.Errorf("LookupCountry(%q) = %s, %v; want %s", in, c, ok, want)
		}
	}
	for _, in := range []string{"", "ZZ", "I", "Italia!", "EU"} {
		if c, ok := pools.LookupCountry(in); ok {
			t.Errorf("LookupCountry(%q) = %s; want no match", in, c)
		}
	}
	if c, _ := pools.LookupCountry("IT"); c.Name() != "Italy" {
		t.Errorf("IT name %q", c.Name())
	}
	n := 0
	for _, s := range pools.CountryCandidates() {
		if len(s) == 2 {
			n++
		}
	}
	if n != 250 { // the 249 assigned codes and XK
		t.Errorf("%d country codes, want 250", n)
	}
	cases := map[string][]pools.Continent{
		"Asia": {pools.Asia}, "AS": {pools.Asia}, "Asia-Pacific": {pools.Asia, pools.Oceania},
		"NorthAmerica": {pools.NorthAmerica}, "North America": {pools.NorthAmerica}, "South America": {pools.SouthAmerica},
		"Europe": {pools.Europe}, "africa": {pools.Africa}, "Oceania": {pools.Oceania}, "Antarctica": {pools.Antarctica},
	}
	for in, want := range cases {
		s, ok := pools.ParseContinent(in)
		var got []pools.Continent
		s.Each(func(c pools.Continent) { got = append(got, c) })
		if !ok || len(got) != len(want) {
			t.Errorf("ParseContinent(%q) = %v, %v; want %v", in, got, ok, want)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("ParseContinent(%q) = %v; want %v", in, got, want)
			}
		}
	}
	if _, ok := pools.ParseContinent("Atlantis"); ok {
		t.Error("Atlantis is a continent")
	}
}

func BenchmarkGeoLookup(b *testing.B) {
	g := sampleGeo(b)
	addrs := []netip.Addr{netip.MustParseAddr("2.3.4.5"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:db8:1::5"), netip.MustParseAddr("91.143.93.242")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.Lookup(addrs[i&3])
	}
}
