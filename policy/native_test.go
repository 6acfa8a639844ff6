package policy

import (
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

func TestNativeStrictness(t *testing.T) {
	text := `{"version": 2, "polices": [],
 "pools": [{"name": "a", "ip": ["10.0.0.0/8"], "policy": 0, "polcy": 1}, {"ip": []}],
 "policies": [{"id": 0, "root": 0, "hostnames": {}, "markers": {"protocol": {}, "hostnames": []}, "default_marker": "pass", "default_marker": "drop"},
   {"id": "1"}, {"name": "x"}],
 "category_files": [{"category": "Malware"}, 7]}
 trailing`
	_, rep, err := parse(t, "p.json", text, LoadOptions{}, nil)
	got := diagnostics(err, rep)
	for _, w := range []want{
		{1, `2,`, `version 2 is not supported (this ips reads version 1)`},
		{1, `"polices"`, `unknown key "polices" in the policy document (did you mean "policies"?)`},
		{2, `"polcy"`, `unknown key "polcy" in pool (did you mean "policy"?)`},
		{2, `{"ip": []}`, `pool has no "name"`},
		{2, `{"ip": []}`, `pool has no "policy"`},
		{3, `"root"`, `unknown key "root" in policy (the native format calls the parent "parent")`},
		{3, `"hostnames": {}`, `unknown key "hostnames" in policy (put "hostnames" inside "markers")`},
		{3, `"protocol"`, `unknown key "protocol" in markers (did you mean "protocols"?)`},
		{3, `[]}`, `hostnames: want an object, not an array`},
		{3, `"default_marker": "drop"`, `duplicate key "default_marker" in policy`},
		{4, `"1"`, `policy id: want an integer, not a string`},
		{4, `{"name": "x"}`, `policy has no "id"`},
		{5, `{"category"`, `category file has no "file"`},
		{5, `7]`, `a category file: want an object, not a number`},
		{6, `trailing`, `unexpected "trailing" after the end of the document`},
	} {
		if exp := w.render(text, "p.json"); !strings.Contains(got, exp) {
			t.Errorf("missing %q", exp)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s", got)
	}
	_, rep, err = parse(t, "p.json", `{"pools": []}`, LoadOptions{}, nil)
	if !strings.Contains(diagnostics(err, rep), `p.json:1:1: the document has no "version": 1`) {
		t.Errorf("no version: %v", err)
	}
	_, _, err = parse(t, "p.json", "{\"version\": 1,\n  \"policies\": [\n", LoadOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "p.json:2:15: unterminated array (missing ']')") {
		t.Errorf("truncated: %v", err)
	}
}

func TestDetectFormat(t *testing.T) {
	cases := map[string]Format{
		`{"version": 1}`:                  FormatNative,
		"\n\n  {\n  \"policies\": []}":    FormatNative,
		`{"pool": {}}`:                    FormatNProbe,
		"# c\n{ \"policy\": {\"id\": 0}}": FormatNProbe,
		`{"geoip": {}}`:                   FormatNProbe,
		`{"custom_protocols": "x"}`:       FormatNProbe,
		`{"category_file": "x"}`:          FormatNProbe,
		"garbage":                         FormatNProbe,
		`{`:                               FormatNative,
	}
	for text, want := range cases {
		if got := detectFormat([]byte(text)); got != want {
			t.Errorf("detectFormat(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestOfficeExample loads examples/policies/office.json with the test
// GeoIP databases in place of the real ones.
func TestOfficeExample(t *testing.T) {
	loc, asn := sampleGeo(t)
	s, rep, err := Load("../examples/policies/office.json", LoadOptions{GeoIP: loc, GeoIPASN: asn})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings:\n%s", diagnostics(nil, rep))
	}
	cases := []struct {
		f   flow
		act verdict.Action
		exp string
	}{
		{flow{local: "192.168.20.5", remote: "7.1.1.1", r: withCat(classified(dpi.ProtoTLS, dpi.ProtoNetFlix, "www.netflix.com"), dpi.CategoryVideo)}, verdict.Shape,
			"pool guests → policy 2 (⊂ 0): category Video → shape:slow"},
		{flow{local: "192.168.20.5", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, 0, "wiki.corp.example.com")}, verdict.Drop,
			"pool guests → policy 2 (⊂ 0): hostname *.corp.example.com → drop"},
		{flow{local: "192.168.10.5", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, dpi.ProtoTor, "")}, verdict.Drop,
			"pool staff → policy 1 (⊂ 0): protocol Tor → drop (inherited from policy 0)"},
		{flow{local: "192.168.10.5", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, dpi.ProtoWindowsUpdate, "")}, verdict.Shape,
			"pool staff → policy 1 (⊂ 0): protocol WindowsUpdate → shape:bulk"},
		{flow{local: "192.168.30.9", mac: "00:1B:A9:12:34:56", remote: "7.1.1.1", r: classified(dpi.ProtoIPP, 0, "")}, verdict.Pass,
			"pool printers → policy 3 (⊂ 0): protocol IPP → pass"},
		{flow{local: "192.168.30.9", mac: "00:1B:A9:12:34:56", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, 0, "evil.example")}, verdict.Drop,
			"pool printers → policy 3 (⊂ 0): default_marker → drop"},
		{flow{local: "192.168.10.5", remote: "7.1.1.1", r: withRisks(classified(dpi.ProtoTLS, 0, ""), dpi.RiskMalwareHostContacted)}, verdict.Drop,
			"pool staff → policy 1 (⊂ 0): flow risk MALWARE_HOST_CONTACTED → drop (inherited from policy 0)"},
	}
	for i, c := range cases {
		d := s.Evaluate(c.f.input())
		if d.Action != c.act || d.Explain() != c.exp {
			t.Errorf("case %d: got %v %q\nwant %v %q", i, d.Action, d.Explain(), c.act, c.exp)
		}
	}
	if sh := s.Shapers(); len(sh) != 2 || sh[1].Name != "bulk" || sh[1].Class != 1 {
		t.Errorf("shapers %+v", sh)
	}
}

// TestExamplePolicies: block-tor.json drops a Tor result (as the TLS
// dissector reports it: TLS.Tor) and block-bittorrent.json BitTorrent
// (also DNS.BitTorrent, a tracker lookup), and both pass the rest.
func TestExamplePolicies(t *testing.T) {
	cases := []struct {
		file string
		r    dpi.Result
		act  verdict.Action
	}{
		{"block-tor.json", classified(dpi.ProtoTLS, dpi.ProtoTor, "www.q4cyamnc6mtokjurvdclt.com"), verdict.Drop},
		{"block-tor.json", classified(dpi.ProtoTor, 0, ""), verdict.Drop},
		{"block-tor.json", classified(dpi.ProtoTLS, 0, "www.t3i3ru.com"), verdict.Pass},
		{"block-tor.json", classified(dpi.ProtoBitTorrent, 0, ""), verdict.Pass},
		{"block-bittorrent.json", classified(dpi.ProtoBitTorrent, 0, ""), verdict.Drop},
		{"block-bittorrent.json", classified(dpi.ProtoDNS, dpi.ProtoBitTorrent, "tracker.example"), verdict.Drop},
		{"block-bittorrent.json", classified(dpi.ProtoTLS, dpi.ProtoTor, ""), verdict.Pass},
	}
	for _, c := range cases {
		s, _, err := Load("../examples/policies/"+c.file, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d := s.Evaluate(flow{local: "192.168.1.252", remote: "38.229.70.53", r: c.r}.input())
		if d.Action != c.act || !d.Final {
			t.Errorf("%s %s: %v final %v (%s)", c.file, c.r.AppName(), d.Action, d.Final, d.Explain())
		}
	}
}
