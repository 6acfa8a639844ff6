//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"ips/pools/geotest"
	"ips/test/harness"
)

// TestGeoIPInline: country and ASN rules decide real flows through the
// bridge with ip-location-db's layout (records {"country_code": "US"},
// the layout whose countries used to be silently off), and a reload with
// a database in which ips finds no field is refused and keeps the old
// policy and database in force.
func TestGeoIPInline(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	dir := t.TempDir()
	world := []geotest.Net{{Network: topo.WANAddr.String() + "/32", Country: "US", ASN: 15169, Org: "GOOGLE"}}
	loc := filepath.Join(dir, "geolite2-country.mmdb")
	asn := filepath.Join(dir, "asn.mmdb")
	for _, f := range []struct {
		path string
		l    geotest.Layout
	}{{loc, geotest.IPLocationDBCountry}, {asn, geotest.IPLocationDBASN}} {
		b, err := geotest.Build(f.l, world)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pol := filepath.Join(dir, "policy.json")
	policy := func(markers string) {
		t.Helper()
		if err := harness.WriteFile(pol, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {`+markers+`}}]}`); err != nil {
			t.Fatal(err)
		}
	}
	host, wan := topo.LAN4(0), topo.WANAddr.String()+":8080"
	echo := func(what string, want bool) {
		t.Helper()
		err := harness.EchoOnce(topo.LAN, host, wan, time.Second)
		if (err == nil) != want {
			t.Errorf("%s: echo err=%v, want passing=%v", what, err, want)
		}
	}

	policy(`"countries": {"DE": "drop"}`)
	d := topo.StartDaemon(t, dir, "--policy", pol, "--geoip", loc, "--geoip-asn", asn)
	echo("DE dropped, the server is in the US", true)
	if log := d.Log(); !strings.Contains(log, "layout ip-location-db (country from country_code; continent derived from the country)") {
		t.Errorf("the start does not log the layout read:\n%s", log)
	}

	policy(`"countries": {"US": "drop"}`)
	out, ok := d.Reload(t)
	if !ok || !strings.Contains(out, "geoip: "+loc+`: type "country ipvAll", layout ip-location-db`) || !strings.Contains(out, "geoip: "+asn+": ") {
		t.Fatalf("reload: ok=%v\n%s", ok, out)
	}
	echo("US dropped", false)

	policy(`"countries": {"US": "pass"}, "asn": {"AS15169": "drop"}`)
	if out, ok := d.Reload(t); !ok {
		t.Fatalf("reload: %s", out)
	}
	echo("AS15169 dropped (the AS number comes before the country)", false)

	policy(`"countries": {"US": "drop"}`)
	if out, ok := d.Reload(t); !ok {
		t.Fatalf("reload: %s", out)
	}
	b, err := geotest.BuildRecords("Some-Geo-DB", 6, world, func(n geotest.Net) mmdbtype.Map {
		return mmdbtype.Map{"iso": mmdbtype.String(n.Country)}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(loc+".new", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(loc+".new", loc); err != nil {
		t.Fatal(err)
	}
	out, ok = d.Reload(t)
	if ok || !strings.Contains(out, "error: ") || !strings.Contains(out, "geoip "+loc+": ") || !strings.Contains(out, "its records have iso") {
		t.Errorf("reload with a database without fields: ok=%v\n%s", ok, out)
	}
	if !d.Running() {
		t.Fatal("daemon died on a refused reload")
	}
	echo("after the refused reload, the old policy and database still drop the US", false)
}
