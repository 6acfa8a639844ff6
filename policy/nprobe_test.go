package policy

import (
	"fmt"
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// TestNProbeQuirks loads a file with every quirk of real nProbe/nFW/ntopng
// files (reference §5) and checks what each means.
func TestNProbeQuirks(t *testing.T) {
	loc, asn := sampleGeo(t)
	text := `# comment
   # an indented comment

{"custom_protocols": "protos.txt"}
{"category_file": "100_malware.list"}
{"category_file": "lists.txt"}
{"geoip": {"city": "` + loc + `", "asn": "` + asn + `"}}
{ "pool": { "id":1, "name": "lan", "ip": [ "192.168.1.1/24", ""], "mac": [] }, "policy": { "id":1 }}
{ "pool": { "id":2, "name": "macs", "ip": [], "mac": ["AA:BB:CC:DD:EE:FF"] }, "policy": { "id":2, "extra": 1 }}
{"policy": {"id": 0, "name": "root", "default_marker": 1, "markers": {"protocols": [], "categories": {"Malware": 2, "29": "drop", "Download-FileTransfer-FileSharing": "drop"}, "countries": [], "continents": [], "asn": {"15169": 7}, "hostnames": {"blocked.example": "drop"}}, "flow_risk": {"bitmap": 72057594037927938, "marker": "drop"}}}
{"policy": {"id": 1, "root": 0, "name": "lan", "markers": {"protocols": {"tls": "pass", "MyApp": "drop", "91": 3, "TLS.YouTube": "drop"}}, "hostnames": {"*.ads.example": "drop"}, "unknown_key": true}}
{
  "policy": {"id": 2, "root": 0, "flow_risk": {"risks": [24, "TLS_OBSOLETE_VERSION", "Self-signed Cert"], "marker": "reject"}}
}
[{"policy": {"id": 3, "root": 2}}] # an array of lines, with a trailing comment
`
	files := map[string]string{
		"protos.txt":       "host:\"myapp.example\"@MyApp\ntcp:7777@MyApp\n",
		"100_malware.list": "# malware\nevil.example\n=exact.example\n",
		"lists.txt":        "203.0.113.0/24\t29\nminer.example Mining\n",
	}
	s, rep, err := parse(t, "ips.conf", text, LoadOptions{}, files)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	wantWarn := []string{
		`ips.conf:8:62: warning: pool lan: empty address ignored`,
		`ips.conf:9:99: warning: unknown key "extra" in a pool line's policy is ignored`,
		`ips.conf:11:106: warning: policy 1: protocol TLS is listed twice (also at 11:74 as "tls"); the later one is used`,
		`ips.conf:11:180: warning: unknown key "unknown_key" in policy is ignored`,
		`ips.conf:15:20: warning: policy 3 is used by no pool (and is not policy 0)`,
	}
	got := diagnostics(nil, rep)
	for _, w := range wantWarn {
		if !strings.Contains(got, w) {
			t.Errorf("missing warning %q", w)
		}
	}
	if n := len(rep.Warnings); n != len(wantWarn) {
		t.Errorf("%d warnings, want %d", n, len(wantWarn))
	}
	if t.Failed() {
		t.Logf("warnings:\n%s", got)
	}
	myApp, ok := s.Catalog().ProtoByName("MyApp")
	if !ok {
		t.Fatal("custom protocol MyApp missing from the Set's catalog")
	}
	withRisk := func(r dpi.Result, ids ...dpi.RiskID) dpi.Result {
		for _, id := range ids {
			r.Risks = r.Risks.With(id)
		}
		return r
	}
	cases := []struct {
		f   flow
		act verdict.Action
		cls uint16
		exp string
	}{
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, 0, "")}, verdict.Mark, 3,
			"pool lan → policy 1 (⊂ 0): protocol TLS → mark 3"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, dpi.ProtoYouTube, "www.youtube.com")}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): protocol TLS.YouTube → drop"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, myApp, "myapp.example")}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): protocol MyApp → drop"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, 0, "x.ads.example")}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): hostname *.ads.example → drop"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, 0, "ads.example")}, verdict.Pass, 0,
			"pool lan → policy 1 (⊂ 0): default_marker → pass (inherited from policy 0)"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, 0, "a.evil.example")}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): category Malware → drop (inherited from policy 0)"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, 0, "a.exact.example")}, verdict.Pass, 0,
			"pool lan → policy 1 (⊂ 0): default_marker → pass (inherited from policy 0)"},
		{flow{local: "192.168.1.9", remote: "203.0.113.5", r: classified(dpi.ProtoSSH, 0, "")}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): category FileSharing → drop (inherited from policy 0)"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: classified(dpi.ProtoBitTorrent, 0, "")}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): category Download → drop (inherited from policy 0)"},
		{flow{local: "192.168.1.9", remote: "8.8.8.8", r: classified(dpi.ProtoSSH, 0, "")}, verdict.Mark, 7,
			"pool lan → policy 1 (⊂ 0): ASN 15169 → mark 7 (inherited from policy 0)"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: withRisk(classified(dpi.ProtoSSH, 0, ""), dpi.RiskObfuscatedTraffic)}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): flow risk OBFUSCATED_TRAFFIC → drop (inherited from policy 0)"},
		{flow{local: "192.168.1.9", remote: "7.1.1.1", r: withRisk(classified(dpi.ProtoHTTP, 0, ""), dpi.RiskURLPossibleXSS)}, verdict.Drop, 0,
			"pool lan → policy 1 (⊂ 0): flow risk URL_POSSIBLE_XSS → drop (inherited from policy 0)"},
		{flow{local: "10.9.9.9", mac: "aa:bb:cc:dd:ee:ff", remote: "7.1.1.1", r: withRisk(classified(dpi.ProtoTLS, 0, ""), dpi.RiskTLSMissingSNI)}, verdict.Reject, 0,
			"pool macs → policy 2 (⊂ 0): flow risk TLS_MISSING_SNI → reject"},
		{flow{local: "10.9.9.9", mac: "aa:bb:cc:dd:ee:ff", remote: "7.1.1.1", r: withRisk(classified(dpi.ProtoTLS, 0, ""), dpi.RiskTLSObsoleteVersion, dpi.RiskTLSSelfSigned)}, verdict.Reject, 0,
			"pool macs → policy 2 (⊂ 0): flow risk TLS_SELFSIGNED_CERTIFICATE → reject"},
		{flow{local: "10.9.9.9", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, 0, "blocked.example")}, verdict.Drop, 0,
			"policy 0: hostname blocked.example → drop"},
		{flow{local: "10.9.9.9", remote: "7.1.1.1", r: classified(dpi.ProtoHTTP, 0, "")}, verdict.Pass, 0,
			"policy 0: default_marker → pass"},
	}
	for i, c := range cases {
		d := s.Evaluate(c.f.input())
		if d.Action != c.act || d.Class != c.cls || d.Explain() != c.exp {
			t.Errorf("case %d: got %v/%d %q\nwant %v/%d %q", i, d.Action, d.Class, d.Explain(), c.act, c.cls, c.exp)
		}
	}
}

// TestNProbeEmptyMapsAndHostnamePlacement: ntopng writes empty maps as
// [] and hostnames inside markers; the 2022 docs put them beside.
func TestNProbeHostnamePlacement(t *testing.T) {
	for _, text := range []string{
		`{"policy":{"id":0,"default_marker":"pass","markers":{"continents":[],"categories":[],"countries":[],"hostnames":{"test.com":"drop"},"protocols":[]},"flow_risk":{"marker":"drop","bitmap":0}}}`,
		`{"policy":{"id":0,"default_marker":"pass","hostnames":{"test.com":"drop"}}}`,
	} {
		s := mustParse(t, text, LoadOptions{})
		d := s.Evaluate(flow{local: "10.0.0.1", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, 0, "www.test.com")}.input())
		if d.Action != verdict.Drop || d.Explain() != "policy 0: hostname test.com → drop" {
			t.Errorf("%s: %v %q", text, d.Action, d.Explain())
		}
	}
}

// TestNProbeRootSemantics: "root" missing, "root": 0 with and without a
// policy 0 (nFW reads 0 as "no parent" then).
func TestNProbeRootSemantics(t *testing.T) {
	with0 := `{"policy":{"id":0,"root":0,"default_marker":"drop"}}
{"policy":{"id":5,"root":0}}
{"pool":{"id":1,"ip":["10.0.0.0/8"]},"policy":{"id":5}}`
	s := mustParse(t, with0, LoadOptions{})
	d := s.Evaluate(flow{local: "10.0.0.1", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, 0, "")}.input())
	if d.Action != verdict.Drop || d.Chain != "policy 5 (⊂ 0)" {
		t.Errorf("root 0 with policy 0: %v %q", d.Action, d.Explain())
	}
	without0 := `{"policy":{"id":5,"root":0,"default_marker":"drop"}}
{"pool":{"id":1,"ip":["10.0.0.0/8"]},"policy":{"id":5}}`
	s, rep, err := parse(t, "p.conf", without0, LoadOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d = s.Evaluate(flow{local: "10.0.0.1", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, 0, "")}.input())
	if d.Action != verdict.Drop || d.Chain != "policy 5" {
		t.Errorf("root 0 without policy 0: %v %q", d.Action, d.Explain())
	}
	d = s.Evaluate(flow{local: "192.168.0.1", remote: "7.1.1.1", r: classified(dpi.ProtoTLS, 0, "")}.input())
	if d.Action != verdict.Pass || d.PolicyID != -1 || d.Explain() != "no pool and no policy 0 → pass" {
		t.Errorf("no pool, no policy 0: %v %d %q", d.Action, d.PolicyID, d.Explain())
	}
	if !strings.Contains(diagnostics(nil, rep), "there is no policy 0") {
		t.Errorf("no warning about the missing policy 0:\n%s", diagnostics(nil, rep))
	}
}

// TestBitmapNeedsUint64: a bitmap above 2^53 must not lose bits.
func TestBitmapNeedsUint64(t *testing.T) {
	bm := uint64(1)<<56 | uint64(1)<<1 // not representable in a float64
	s := mustParse(t, fmt.Sprintf(`{"policy":{"id":0,"flow_risk":{"bitmap":%d,"marker":"drop"}}}`, bm), LoadOptions{})
	p := &s.policies[0]
	for id := 0; id < 64; id++ {
		if want := bm&(1<<id) != 0; (p.risk[id] != 0) != want {
			t.Errorf("risk %d listed %v, want %v", id, p.risk[id] != 0, want)
		}
	}
}
