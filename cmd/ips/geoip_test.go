package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"ips/pools/geotest"
)

// geoPolicy drops the US by country, rejects AS3320 and drops Asia by
// continent; everything else passes.
const geoPolicy = `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {
  "countries": {"US": "drop"}, "asn": {"AS3320": "reject"}, "continents": {"Asia": "drop"}}}]}`

type geoFiles struct {
	name     string
	loc, asn string // asn "" when the location database has AS numbers
	family   string
	ipv4     bool
}

// writeGeoLayouts writes one database pair per layout operators have,
// built with mmdbwriter from geotest's world.
func writeGeoLayouts(t *testing.T, dir string) []geoFiles {
	t.Helper()
	write := func(l geotest.Layout) string {
		b, err := geotest.Build(l, geotest.World)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(l.Name, " ", "-")+".mmdb")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return []geoFiles{
		{"GeoLite2-Country", write(geotest.GeoLite2Country), write(geotest.GeoLite2ASN), "GeoIP2", false},
		{"GeoLite2-City", write(geotest.GeoLite2City), write(geotest.GeoLite2ASN), "GeoIP2", false},
		{"DB-IP lite", write(geotest.DBIPCountryLite), write(geotest.DBIPASNLite), "GeoIP2", false},
		{"DB-IP city lite", write(geotest.DBIPCityLite), write(geotest.DBIPASNLite), "GeoIP2", false},
		{"ip-location-db", write(geotest.IPLocationDBCountry), write(geotest.IPLocationDBASN), "ip-location-db", false},
		{"ip-location-db IPv4", write(geotest.IPLocationDBCountryV4), write(geotest.IPLocationDBASN), "ip-location-db", true},
		{"numeric asn", write(geotest.IPLocationDBCountry), write(geotest.NumericASN), "ip-location-db", false},
		{"IPinfo lite", write(geotest.IPinfoLite), "", "IPinfo lite", false},
		{"IPinfo country_asn", write(geotest.IPinfoCountryASN), "", "IPinfo country_asn", false},
	}
}

func geoArgs(f geoFiles) []string {
	args := []string{"--geoip", f.loc}
	if f.asn != "" {
		args = append(args, "--geoip-asn", f.asn)
	}
	return args
}

// TestCheckGeoIPLayouts: ips check accepts a policy with country,
// continent and ASN rules over every layout and says which layout it read.
func TestCheckGeoIPLayouts(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "geo.json")
	os.WriteFile(pol, []byte(geoPolicy), 0o644)
	for _, f := range writeGeoLayouts(t, dir) {
		code, out, errs := runIPS(append(append([]string{"check"}, geoArgs(f)...), pol)...)
		want := []string{"geoip: " + f.loc + `: type "`, "layout " + f.family + " (", "networks"}
		if f.asn == "" {
			want = append(want, "serves countries, continents and AS numbers")
		} else {
			want = append(want, "serves countries and continents", "geoip: "+f.asn+": ", "AS numbers from ", "serves AS numbers")
		}
		if f.family == "ip-location-db" {
			want = append(want, "country from country_code; continent derived from the country")
		}
		if f.ipv4 {
			want = append(want, "IPv4 only")
		}
		for _, w := range want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("%s: exit %d, lacks %q\nstdout: %s\nstderr: %s", f.name, code, w, out, errs)
				break
			}
		}
	}
}

// TestCheckGeoIPRefused: a database without any field ips reads is an
// error that names the file and the fields it has, in check as in run's
// load (the same policy.Load); one in the wrong role says so.
func TestCheckGeoIPRefused(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "geo.json")
	os.WriteFile(pol, []byte(geoPolicy), 0o644)
	b, err := geotest.BuildRecords("Some-Geo-DB", 6, geotest.World, func(n geotest.Net) mmdbtype.Map {
		return mmdbtype.Map{"iso": mmdbtype.String(n.Country), "where": mmdbtype.Map{"lat": mmdbtype.Float64(1)}}
	})
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "odd.mmdb")
	os.WriteFile(odd, b, 0o644)
	files := writeGeoLayouts(t, dir)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--geoip", odd, "--geoip-asn", files[0].asn},
			[]string{"geo.json:", "geoip " + odd + `: database type "Some-Geo-DB" has none of the country or continent fields ips reads`, "its records have iso, where.lat"}},
		{[]string{"--geoip", files[0].loc, "--geoip-asn", odd},
			[]string{"geoip " + odd + ": ", "none of the AS number fields", "its records have iso, where.lat"}},
		{[]string{"--geoip", files[0].asn, "--geoip-asn", files[0].asn},
			[]string{"it is an ASN database (give it as the asn database, --geoip-asn)"}},
		{[]string{"--geoip", files[4].loc}, // ip-location-db country has no AS numbers
			[]string{"AS numbers need a GeoIP ASN database (" + files[4].loc + " has none)"}},
	}
	// An unusable database no rule needs is a warning, and the one the
	// rules need stays in use (not countries silently off).
	only := filepath.Join(dir, "countries.json")
	os.WriteFile(only, []byte(`{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"countries": {"US": "drop"}}}]}`), 0o644)
	code, out, errs := runIPS("check", "--geoip", files[0].loc, "--geoip-asn", odd, only)
	if code != 0 || !strings.Contains(errs, "warning: geoip "+odd+": ") || !strings.Contains(errs, "(no rule needs it)") ||
		!strings.Contains(out, "geoip: "+files[0].loc+": ") || strings.Contains(out, "GeoIP: none") {
		t.Errorf("unusable ASN database, country rules: exit %d\n%s\n%s", code, out, errs)
	}
	for _, c := range cases {
		code, _, errs := runIPS(append(append([]string{"check"}, c.args...), pol)...)
		for _, w := range c.want {
			if code != 1 || !strings.Contains(errs, w) {
				t.Errorf("check %v: exit %d, lacks %q:\n%s", c.args, code, w, errs)
			}
		}
	}
}

// TestReplayGeoIPLayouts judges demo.pcap's flows through the real policy
// path with each layout: the US server is dropped by its country, AS3320
// rejected by its AS number, the Japanese server dropped by its continent
// (the database's, or derived from the country), the Italian one passes.
func TestReplayGeoIPLayouts(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "geo.json")
	os.WriteFile(pol, []byte(geoPolicy), 0o644)
	for _, f := range writeGeoLayouts(t, dir) {
		args := append([]string{"--policy", pol, "--lan", "10.99.0.1/32,fd00:99::1/128"}, geoArgs(f)...)
		flows := replayJudged(t, append(args, "../../testdata/captures/demo.pcap")...)
		want := map[string][2]string{
			"10.99.0.11": {"drop", "policy 0: country US → drop"},
			"10.99.0.12": {"reject", "policy 0: ASN 3320 → reject"},
			"10.99.0.13": {"pass", "policy 0: default_marker → pass"},
			"fd00:99::2": {"drop", "policy 0: continent Asia → drop"},
		}
		if f.ipv4 { // no IPv6 in an IPv4 database
			want["fd00:99::2"] = [2]string{"pass", "policy 0: default_marker → pass"}
		}
		seen := map[string]bool{}
		for _, fl := range flows {
			w, ok := want[fl.Dst]
			if !ok {
				continue
			}
			seen[fl.Dst] = true
			if fl.Verdict != w[0] || fl.Explain != w[1] {
				t.Errorf("%s: %s → %s: %s (%q), want %s (%q)", f.name, fl.Src, fl.Dst, fl.Verdict, fl.Explain, w[0], w[1])
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%s: flows to %v only", f.name, seen)
		}
	}
}

// TestRunReloadGeoIP: the daemon's load (start and reload, the brain)
// refuses a database without usable fields with the same error, keeps
// the old policy on a refused reload, and reports the layout it read.
func TestRunReloadGeoIP(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "geo.json")
	os.WriteFile(pol, []byte(geoPolicy), 0o644)
	files := writeGeoLayouts(t, dir)
	lite := files[7]
	db := filepath.Join(dir, "current.mmdb")
	copyFile := func(from string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(db, b, 0o644)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Start with a database in which ips finds nothing: refused.
	b, err := geotest.BuildRecords("Some-Geo-DB", 6, geotest.World, func(n geotest.Net) mmdbtype.Map {
		return mmdbtype.Map{"iso": mmdbtype.String(n.Country)}
	})
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "odd.mmdb")
	os.WriteFile(odd, b, 0o644)
	copyFile(odd)
	if _, _, err := newBrain(brainOptions{Policy: pol, GeoIP: db}, nil, log); err == nil ||
		!strings.Contains(err.Error(), "geoip "+db+": ") || !strings.Contains(err.Error(), "its records have iso") {
		t.Fatalf("start with a database without fields: %v", err)
	}

	// Start with IPinfo lite: one database for countries and AS numbers.
	copyFile(lite.loc)
	br, _, err := newBrain(brainOptions{Policy: pol, GeoIP: db}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if g := br.GeoIP(); len(g) != 1 || !strings.Contains(g[0], "geoip: "+db+`: type "ipinfo lite.mmdb", layout IPinfo lite`) {
		t.Errorf("GeoIP() = %q", g)
	}

	// Reload with the database replaced by one without fields: refused,
	// through the runner's reload as ips reload sees it.
	copyFile(odd)
	os.Chtimes(db, time.Now().Add(time.Minute), time.Now().Add(time.Minute)) // a new file for the reuse check
	r := &runner{cfg: &runConfig{Policy: pol}, log: log, brain: br}
	var out strings.Builder
	if r.reload(&out) || !strings.Contains(out.String(), "error: ") || !strings.Contains(out.String(), "geoip "+db+": ") ||
		!strings.Contains(out.String(), "its records have iso") {
		t.Errorf("reload with a database without fields:\n%s", out.String())
	}
	if g := br.GeoIP(); len(g) != 1 || !strings.Contains(g[0], "layout IPinfo lite") {
		t.Errorf("after the refused reload GeoIP() = %q (the old policy must stay)", g)
	}
}
