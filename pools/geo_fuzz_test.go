package pools_test

import (
	"net/netip"
	"testing"

	"ips/pools"
	"ips/pools/geotest"
)

// FuzzGeoDatabase feeds damaged databases of every layout to the layout
// detection (its own search-tree walk and the record decoder) and to
// lookups: an error is fine, a panic or a walk that does not end is not,
// and a database accepted for a role must say it can serve it.
func FuzzGeoDatabase(f *testing.F) {
	for _, l := range []geotest.Layout{geotest.GeoLite2Country, geotest.GeoLite2City, geotest.GeoLite2ASN,
		geotest.IPLocationDBCountryV4, geotest.IPinfoLite, geotest.IPinfoCountryASN, geotest.NumericASN} {
		b, err := geotest.Build(l, geotest.World[:6])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	addrs := []netip.Addr{netip.MustParseAddr("2.3.4.5"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:db8:1::5"), netip.MustParseAddr("::")}
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, err := pools.NewGeo(b, nil); err == nil {
			if ls := g.Layouts(); len(ls) != 1 || !ls[0].Location || ls[0].Networks == 0 {
				t.Fatalf("accepted as a location database: %+v", ls)
			}
			for _, a := range addrs {
				g.Lookup(a)
				g.Lookup(a)
			}
		}
		if g, err := pools.NewGeo(nil, b); err == nil {
			if ls := g.Layouts(); len(ls) != 1 || !ls[0].HasASN {
				t.Fatalf("accepted as an ASN database: %+v", ls)
			}
			for _, a := range addrs {
				g.Lookup(a)
			}
		}
	})
}
