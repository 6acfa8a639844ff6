package policy

import (
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

func withRisks(r dpi.Result, ids ...dpi.RiskID) dpi.Result {
	for _, id := range ids {
		r.Risks = r.Risks.With(id)
	}
	return r
}

func withCat(r dpi.Result, c dpi.CategoryID) dpi.Result {
	r.Category = c
	return r
}

// TestPrecedence: each level of the precedence beats the next, in the
// order README.md documents. Every level gives its own mark number.
func TestPrecedence(t *testing.T) {
	loc, asn := sampleGeo(t)
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": 13,
	  "flow_risk": {"risk_score": 100, "marker": 4},
	  "markers": {
	    "risks": {"NUMERIC_IP_HOST": 3},
	    "hostnames": {"example.com": 5},
	    "protocols": {"TLS.YouTube": 6, "YouTube": 7, "TLS": 8},
	    "categories": {"Media": 9},
	    "asn": {"15169": 10},
	    "countries": {"US": 11},
	    "continents": {"Asia": 12}}}]}`, LoadOptions{GeoIP: loc, GeoIPASN: asn})
	full := withCat(classified(dpi.ProtoTLS, dpi.ProtoYouTube, "www.example.com"), dpi.CategoryMedia)
	cases := []struct {
		name   string
		remote string
		r      dpi.Result
		mark   uint16
		rule   string
	}{
		{"listed risk", "8.8.8.8", withRisks(full, dpi.RiskNumericIPHost, dpi.RiskURLPossibleXSS), 3, "flow risk NUMERIC_IP_HOST → mark 3"},
		{"risk score", "8.8.8.8", withRisks(full, dpi.RiskURLPossibleXSS), 4, "risk score ≥ 100 → mark 4"},
		{"score below the threshold", "8.8.8.8", withRisks(full, dpi.RiskTLSMissingSNI), 5, "hostname example.com → mark 5"},
		{"hostname", "8.8.8.8", full, 5, "hostname example.com → mark 5"},
		{"master.app", "8.8.8.8", withCat(classified(dpi.ProtoTLS, dpi.ProtoYouTube, ""), dpi.CategoryMedia), 6, "protocol TLS.YouTube → mark 6"},
		{"application", "8.8.8.8", withCat(classified(dpi.ProtoQUIC, dpi.ProtoYouTube, ""), dpi.CategoryMedia), 7, "protocol YouTube → mark 7"},
		{"master", "8.8.8.8", withCat(classified(dpi.ProtoTLS, 0, ""), dpi.CategoryMedia), 8, "protocol TLS → mark 8"},
		{"master equal to app", "8.8.8.8", withCat(classified(dpi.ProtoTLS, dpi.ProtoTLS, ""), dpi.CategoryMedia), 8, "protocol TLS → mark 8"},
		{"category", "8.8.8.8", withCat(classified(dpi.ProtoSSH, 0, ""), dpi.CategoryMedia), 9, "category Media → mark 9"},
		{"ASN", "8.8.8.8", classified(dpi.ProtoSSH, 0, ""), 10, "ASN 15169 → mark 10"},
		{"country", "7.1.1.1", classified(dpi.ProtoSSH, 0, ""), 11, "country US → mark 11"},
		{"continent", "5.1.1.1", classified(dpi.ProtoSSH, 0, ""), 12, "continent Asia → mark 12"},
		{"default", "2.3.4.5", classified(dpi.ProtoSSH, 0, ""), 13, "default_marker → mark 13"},
		{"private remote: no GeoIP", "192.168.1.1", classified(dpi.ProtoSSH, 0, ""), 13, "default_marker → mark 13"},
	}
	for _, c := range cases {
		d := s.Evaluate(flow{local: "10.0.0.1", remote: c.remote, r: c.r}.input())
		if d.Action != verdict.Mark || d.Class != c.mark || d.Rule != c.rule || d.PolicyID != 0 {
			t.Errorf("%s: got %v %d %q, want mark %d %q", c.name, d.Action, d.Class, d.Rule, c.mark, c.rule)
		}
	}
}

// TestInheritance: a child overrides its ancestors key by key, and
// otherwise the nearest ancestor with an entry decides.
func TestInheritance(t *testing.T) {
	s := mustParse(t, `{"version": 1,
	 "pools": [
	   {"name": "child", "ip": ["10.1.0.0/16"], "policy": 1},
	   {"name": "grandchild", "ip": ["10.2.0.0/16"], "policy": 2}],
	 "policies": [
	   {"id": 0, "default_marker": "pass",
	    "markers": {"protocols": {"TLS": "drop", "HTTP": "drop"}, "hostnames": {"a.com": "drop"},
	                "risks": {"NUMERIC_IP_HOST": "drop", "TLS_MISSING_SNI": "drop"}},
	    "flow_risk": {"risk_score": 200, "marker": "reject"}},
	   {"id": 1, "parent": 0,
	    "markers": {"protocols": {"TLS": "pass"}, "hostnames": {"www.a.com": "pass"},
	                "risks": {"TLS_MISSING_SNI": "pass"}},
	    "flow_risk": {"risk_score": 50, "marker": "drop"}},
	   {"id": 2, "parent": 1, "default_marker": "drop", "markers": {"protocols": {"HTTP": "reject"}}}]}`, LoadOptions{})
	const child, grand = "10.1.0.1", "10.2.0.1"
	cases := []struct {
		local string
		r     dpi.Result
		act   verdict.Action
		exp   string
	}{
		{child, classified(dpi.ProtoTLS, 0, ""), verdict.Pass, "pool child → policy 1 (⊂ 0): protocol TLS → pass"},
		{child, classified(dpi.ProtoHTTP, 0, ""), verdict.Drop, "pool child → policy 1 (⊂ 0): protocol HTTP → drop (inherited from policy 0)"},
		{child, classified(dpi.ProtoSSH, 0, ""), verdict.Pass, "pool child → policy 1 (⊂ 0): default_marker → pass (inherited from policy 0)"},
		{grand, classified(dpi.ProtoTLS, 0, ""), verdict.Pass, "pool grandchild → policy 2 (⊂ 1 ⊂ 0): protocol TLS → pass (inherited from policy 1)"},
		{grand, classified(dpi.ProtoHTTP, 0, ""), verdict.Reject, "pool grandchild → policy 2 (⊂ 1 ⊂ 0): protocol HTTP → reject"},
		{grand, classified(dpi.ProtoSSH, 0, ""), verdict.Drop, "pool grandchild → policy 2 (⊂ 1 ⊂ 0): default_marker → drop"},
		// Hostnames: the merged table's most specific pattern decides.
		{child, classified(dpi.ProtoSSH, 0, "www.a.com"), verdict.Pass, "pool child → policy 1 (⊂ 0): hostname www.a.com → pass"},
		{child, classified(dpi.ProtoSSH, 0, "x.www.a.com"), verdict.Pass, "pool child → policy 1 (⊂ 0): hostname www.a.com → pass"},
		{grand, classified(dpi.ProtoSSH, 0, "mail.a.com"), verdict.Drop, "pool grandchild → policy 2 (⊂ 1 ⊂ 0): hostname a.com → drop (inherited from policy 0)"},
		// Risks: listed risks are keys too; the strictest listed one wins.
		{child, withRisks(classified(dpi.ProtoSSH, 0, ""), dpi.RiskTLSMissingSNI), verdict.Pass, "pool child → policy 1 (⊂ 0): flow risk TLS_MISSING_SNI → pass"},
		{child, withRisks(classified(dpi.ProtoSSH, 0, ""), dpi.RiskTLSMissingSNI, dpi.RiskNumericIPHost), verdict.Drop, "pool child → policy 1 (⊂ 0): flow risk NUMERIC_IP_HOST → drop (inherited from policy 0)"},
		// The child's score threshold replaces the root's.
		{child, withRisks(classified(dpi.ProtoSSH, 0, ""), dpi.RiskTLSNotCarryingHTTPS, dpi.RiskFullyEncrypted), verdict.Drop, "pool child → policy 1 (⊂ 0): risk score ≥ 50 → drop"},
		{"10.9.0.1", withRisks(classified(dpi.ProtoSSH, 0, ""), dpi.RiskFullyEncrypted), verdict.Pass, "policy 0: default_marker → pass"},
		{"10.9.0.1", withRisks(classified(dpi.ProtoSSH, 0, ""), dpi.RiskURLPossibleXSS, dpi.RiskFullyEncrypted), verdict.Reject, "policy 0: risk score ≥ 200 → reject"},
	}
	for i, c := range cases {
		d := s.Evaluate(flow{local: c.local, remote: "198.51.100.1", r: c.r}.input())
		if d.Action != c.act || d.Explain() != c.exp {
			t.Errorf("case %d: got %v %q\nwant %v %q", i, d.Action, d.Explain(), c.act, c.exp)
		}
	}
}

// TestMarkers: every marker form and where its number goes.
func TestMarkers(t *testing.T) {
	text := `{"version": 1,
	 "shapers": [{"name": "slow", "class": 3, "rate": "1mbit"}, {"name": "auto", "rate": "10Mbit/s", "ceil": "2MBps"}],
	 "policies": [{"id": 0, "default_marker": "PASS", "markers": {"protocols": {
	   "TLS": "shape:slow", "HTTP": "slow", "SSH": 3, "DNS": 5, "NTP": "2", "SMTP": 1, "IMAP": "reject", "POP3": "drop", "QUIC": "shape:auto", "RDP": 15}}}]}`
	s := mustParse(t, text, LoadOptions{})
	sh := s.Shapers()
	if len(sh) != 2 || sh[0] != (Shaper{Name: "slow", Class: 3, Rate: 1e6, Ceil: 1e6}) || sh[1] != (Shaper{Name: "auto", Class: 1, Rate: 10e6, Ceil: 16e6}) {
		t.Errorf("shapers %+v", sh)
	}
	cases := map[dpi.ProtoID]struct {
		act   verdict.Action
		class uint16
		rule  string
	}{
		dpi.ProtoTLS:        {verdict.Shape, 3, "protocol TLS → shape:slow"},
		dpi.ProtoHTTP:       {verdict.Shape, 3, "protocol HTTP → shape:slow"},
		dpi.ProtoSSH:        {verdict.Shape, 3, "protocol SSH → shape:slow"},
		dpi.ProtoDNS:        {verdict.Mark, 5, "protocol DNS → mark 5"},
		dpi.ProtoNTP:        {verdict.Drop, 0, "protocol NTP → drop"},
		dpi.ProtoSMTP:       {verdict.Pass, 0, "protocol SMTP → pass"},
		dpi.ProtoIMAP:       {verdict.Reject, 0, "protocol IMAP → reject"},
		dpi.ProtoPOP3:       {verdict.Drop, 0, "protocol POP3 → drop"},
		dpi.ProtoQUIC:       {verdict.Shape, 1, "protocol QUIC → shape:auto"},
		dpi.ProtoRDP:        {verdict.Mark, 15, "protocol RDP → mark 15"},
		dpi.ProtoFTPControl: {verdict.Pass, 0, "default_marker → pass"},
	}
	for p, w := range cases {
		d := s.Evaluate(flow{local: "10.0.0.1", remote: "198.51.100.1", r: classified(p, 0, "")}.input())
		if d.Action != w.act || d.Class != w.class || d.Rule != w.rule {
			t.Errorf("%v: got %v/%d %q, want %v/%d %q", p, d.Action, d.Class, d.Rule, w.act, w.class, w.rule)
		}
		// The decision encodes into the mark layout.
		if v := s.MarkLayout().Value(d); d.Final && v == 0 {
			t.Errorf("%v: final decision encodes to mark 0", p)
		}
	}
	// A wider mask carries nProbe's large marks (97: DNAT to a child DNS).
	if _, _, err := parse(t, "p.conf", `{"policy":{"id":0,"default_marker":97}}`, LoadOptions{MarkMask: 0xffff0000}, nil); err != nil {
		t.Errorf("97 with a 16-bit mask: %v", err)
	}
	// Shaper errors.
	text = `{"version": 1, "shapers": [
	 {"name": "a", "rate": "1zbit"}, {"name": "b", "rate": "2mbit", "ceil": "1mbit"}, {"name": "c", "class": 16, "rate": "1mbit"},
	 {"name": "d", "class": 4, "rate": "1mbit"}, {"name": "e", "class": 4, "rate": "1mbit"}, {"name": "A", "rate": "1mbit"},
	 {"name": "bad name", "rate": "1mbit"}, {"name": "f"}],
	 "policies": [{"id": 0, "default_marker": "shape:b"}, {"id": 1, "parent": 0, "default_marker": "shape:aa"}]}`
	_, rep, err := parse(t, "p.json", text, LoadOptions{}, nil)
	got := diagnostics(err, rep)
	for _, w := range []want{
		{2, `"1zbit"`, `shaper "a": bad rate "1zbit": unknown unit "zbit" (want bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps or tbps)`},
		{2, `"1mbit"}`, `shaper "b": ceil 1mbit is below its rate 2mbit`},
		{2, `16`, `shaper "c": class 16 does not fit the mark layout (mask 0x00ff0000 carries classes 1–15)`},
		{3, `4, "rate": "1mbit"}, {"name": "A"`, `shaper "e": class 4 is already used by shaper "d"`},
		{3, `"A"`, `shaper "A" is defined twice`},
		{4, `"bad name"`, `shaper name "bad name": use letters, digits, '-', '_' and '.'`},
		{4, `{"name": "f"}`, `shaper "f" has no "rate"`},
		{5, `"shape:aa"`, `marker "shape:aa": no shaper "aa" is defined (did you mean "a"?)`},
	} {
		if exp := w.render(text, "p.json"); !strings.Contains(got, exp) {
			t.Errorf("missing %q", exp)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s", got)
	}
}

// TestPools: longest prefix, IPv4 and IPv6, MACs, and hosts in no pool.
func TestPools(t *testing.T) {
	s := mustParse(t, `{"version": 1,
	 "pools": [
	   {"name": "all", "ip": ["0.0.0.0/0", "::/0"], "policy": 1},
	   {"name": "lan", "ip": ["192.168.0.0/16", "2001:db8::/32"], "policy": 2},
	   {"name": "lab", "ip": ["192.168.7.0/24", "2001:db8:7::/48"], "policy": 3},
	   {"name": "boss", "ip": ["192.168.7.7"], "mac": ["00:11:22:33:44:55"], "policy": 4}],
	 "policies": [{"id": 0, "default_marker": "pass"}, {"id": 1, "parent": 0}, {"id": 2, "parent": 0}, {"id": 3, "parent": 0}, {"id": 4, "parent": 0}]}`, LoadOptions{})
	cases := []struct {
		local, mac string
		pool       string
		policy     int32
	}{
		{"8.8.8.8", "", "all", 1},
		{"192.168.1.1", "", "lan", 2},
		{"192.168.7.1", "", "lab", 3},
		{"192.168.7.7", "", "boss", 4},
		{"2001:db8:1::1", "", "lan", 2},
		{"2001:db8:7::1", "", "lab", 3},
		{"2a00::1", "", "all", 1},
		{"192.168.1.1", "00:11:22:33:44:55", "boss", 4},
		{"192.168.1.1", "00:11:22:33:44:56", "lan", 2},
	}
	for _, c := range cases {
		d := s.Evaluate(flow{local: c.local, mac: c.mac, remote: "198.51.100.1", r: classified(dpi.ProtoSSH, 0, "")}.input())
		if d.Pool != c.pool || d.PolicyID != c.policy {
			t.Errorf("%s %s: pool %q policy %d, want %q %d", c.local, c.mac, d.Pool, d.PolicyID, c.pool, c.policy)
		}
	}
	s = mustParse(t, `{"version": 1, "pools": [{"name": "lan", "ip": ["10.0.0.0/8"], "policy": 1}],
	 "policies": [{"id": 0, "default_marker": "drop"}, {"id": 1, "default_marker": "pass"}]}`, LoadOptions{})
	d := s.Evaluate(flow{local: "172.16.0.1", remote: "198.51.100.1", r: classified(dpi.ProtoSSH, 0, "")}.input())
	if d.Pool != "" || d.PolicyID != 0 || d.Action != verdict.Drop || d.Explain() != "policy 0: default_marker → drop" {
		t.Errorf("host in no pool: %+v %q", d, d.Explain())
	}
}

// TestGeoIP: countries, continents (also nProbe's Asia-Pacific) and AS
// numbers of the remote host, IPv4 and IPv6, with the registered country
// standing in for a missing one.
func TestGeoIP(t *testing.T) {
	loc, asn := sampleGeo(t)
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {
	  "countries": {"FR": "drop", "DE": 3},
	  "continents": {"Asia-Pacific": "reject", "South America": 4},
	  "asn": {"AS3269": 5}}}]}`, LoadOptions{GeoIP: loc, GeoIPASN: asn})
	cases := map[string]string{
		"2001:db8:1::9": "country FR → drop",
		"11.2.3.4":      "country DE → mark 3", // registered country
		"91.143.93.242": "country DE → mark 3",
		"5.6.7.8":       "continent Asia-Pacific → reject",
		"9.9.9.9":       "continent Asia-Pacific → reject",
		"2001:db8:2::9": "continent South America → mark 4",
		"2.3.4.5":       "ASN 3269 → mark 5",
		"7.1.1.1":       "default_marker → pass",
	}
	for remote, rule := range cases {
		d := s.Evaluate(flow{local: "192.168.1.2", remote: remote, r: classified(dpi.ProtoSSH, 0, "")}.input())
		if d.Rule != rule {
			t.Errorf("%s: %q, want %q", remote, d.Rule, rule)
		}
	}
}
