package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"ips/dpi"
	"ips/pools"
	"ips/verdict"
)

func portFlow(proto uint8, port uint16, r dpi.Result) *Input {
	in := flow{local: "10.0.0.1", remote: "198.51.100.1", r: r}.input()
	in.Proto, in.Port = proto, port
	return in
}

// TestPortsParse: every bad ports key is reported at its file:line:col,
// with a suggestion where one helps.
func TestPortsParse(t *testing.T) {
	cases := []struct{ ports, want string }{
		{`"tcp/70000": "drop"`, `F:1:61: bad ports key "tcp/70000": a port is a number 0-65535, not "70000"`},
		{`"tpc/22": "drop"`, `F:1:61: unknown protocol "tpc" in ports key "tpc/22" (did you mean "tcp"?) (other IP protocols: ipproto/N)`},
		{`"udp/200-100": "drop"`, `F:1:61: bad ports key "udp/200-100": the range is reversed (did you mean udp/100-200?)`},
		{`"tcp/1000-2000": "drop", "tcp/1500": "pass"`, `F:1:86: policy 0: ports tcp/1500 overlaps tcp/1000-2000 (at 1:61); split the ranges so that each port has one entry`},
		{`"ipproto/6": "drop", "tcp/22": "pass"`, `F:1:82: policy 0: ports tcp/22 overlaps tcp/* (at 1:61); split the ranges so that each port has one entry`},
		{`"ipproto/300": "drop"`, `F:1:61: bad ports key "ipproto/300": an IP protocol number is 0-255`},
		{`"22": "drop"`, `F:1:61: bad ports key "22": want PROTO/PORT, PROTO/LOW-HIGH or PROTO/* (PROTO tcp, udp or sctp), or ipproto/N`},
		{`"tcp/x": "drop"`, `F:1:61: bad ports key "tcp/x": a port is a number 0-65535, not "x"`},
		{`"tcp/22": "dorp"`, `F:1:71: unknown marker "dorp" (want pass, drop, reject, shape:NAME or a number) (did you mean "drop"?)`},
	}
	for _, c := range cases {
		text := `{"version": 1, "policies": [{"id": 0, "markers": {"ports": {` + c.ports + `}}}]}`
		_, rep, err := parse(t, "F", text, LoadOptions{}, nil)
		if err == nil {
			t.Errorf("%s: loaded", c.ports)
			continue
		}
		if got := diagnostics(err, rep); !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.ports, got, c.want)
		}
	}
	// Good keys, both formats, canonical spellings in the explanation.
	for _, text := range []string{
		`{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"ports": {"TCP/22": "drop", "udp/27000-27050": "drop", "sctp/*": "drop", "ipproto/47": "drop", "tcp/0-21": "pass", "udp/27051": "pass"}}}]}`,
		`{"policy": {"id": 0, "default_marker": "pass", "markers": {"ports": {"TCP/22": "drop", "udp/27000-27050": "drop", "sctp/*": "drop", "ipproto/47": "drop", "tcp/0-21": "pass", "udp/27051": "pass"}}}}`,
	} {
		s := mustParse(t, text, LoadOptions{})
		for _, c := range []struct {
			proto uint8
			port  uint16
			act   verdict.Action
			rule  string
		}{
			{6, 22, verdict.Drop, "ports tcp/22 → drop"},
			{6, 23, verdict.Pass, "default_marker → pass"},
			{6, 21, verdict.Pass, "ports tcp/0-21 → pass"},
			{17, 22, verdict.Pass, "default_marker → pass"},
			{17, 27000, verdict.Drop, "ports udp/27000-27050 → drop"},
			{17, 27050, verdict.Drop, "ports udp/27000-27050 → drop"},
			{17, 27051, verdict.Pass, "ports udp/27051 → pass"},
			{132, 9, verdict.Drop, "ports sctp/* → drop"},
			{47, 0, verdict.Drop, "ports ipproto/47 → drop"},
			{50, 0, verdict.Pass, "default_marker → pass"},
		} {
			d := s.Evaluate(portFlow(c.proto, c.port, classified(0, 0, "")))
			if d.Action != c.act || d.Rule != c.rule || !d.Final {
				t.Errorf("%d/%d: %v %q final %v, want %v %q final", c.proto, c.port, d.Action, d.Rule, d.Final, c.act, c.rule)
			}
		}
	}
}

// TestPortsPrecedence: a named protocol beats a port (the number is for
// what DPI cannot or need not name), a port beats the category and GeoIP;
// a child's range overrides its parent's for the ports it covers.
func TestPortsPrecedence(t *testing.T) {
	loc, asn := sampleGeo(t)
	s := mustParse(t, `{"version": 1, "policies": [
	  {"id": 0, "default_marker": "pass", "markers": {"ports": {"tcp/1-1000": "drop", "udp/53": 5},
	     "protocols": {"SSH": "pass"}, "categories": {"Media": 4}, "hostnames": {"ok.example": 6},
	     "countries": {"US": 3}}},
	  {"id": 1, "parent": 0, "markers": {"ports": {"tcp/400-500": 7}}}],
	  "pools": [{"id": 1, "name": "p1", "ip": ["10.0.1.0/24"], "policy": 1}]}`, LoadOptions{GeoIP: loc, GeoIPASN: asn})
	cases := []struct {
		name  string
		local string
		port  uint16
		r     dpi.Result
		mark  uint16
		act   verdict.Action
		rule  string
	}{
		{"protocol beats port", "10.0.0.1", 22, classified(dpi.ProtoSSH, 0, ""), 0, verdict.Pass, "protocol SSH → pass"},
		{"hostname beats port", "10.0.0.1", 22, classified(dpi.ProtoTLS, 0, "ok.example"), 6, verdict.Mark, "hostname ok.example → mark 6"},
		{"port beats category", "10.0.0.1", 443, withCat(classified(dpi.ProtoTLS, 0, ""), dpi.CategoryMedia), 0, verdict.Drop, "ports tcp/1-1000 → drop"},
		{"category after port", "10.0.0.1", 1443, withCat(classified(dpi.ProtoTLS, 0, ""), dpi.CategoryMedia), 4, verdict.Mark, "category Media → mark 4"},
		{"port beats country", "10.0.0.1", 443, classified(dpi.ProtoTLS, 0, ""), 0, verdict.Drop, "ports tcp/1-1000 → drop"},
		{"country after port", "10.0.0.1", 1443, classified(dpi.ProtoTLS, 0, ""), 3, verdict.Mark, "country US → mark 3"},
		{"child's range", "10.0.1.1", 443, classified(dpi.ProtoTLS, 0, ""), 7, verdict.Mark, "ports tcp/400-500 → mark 7"},
		{"parent's range around it", "10.0.1.1", 399, classified(dpi.ProtoTLS, 0, ""), 0, verdict.Drop, "ports tcp/1-1000 → drop (inherited from policy 0)"},
		{"parent's range after it", "10.0.1.1", 501, classified(dpi.ProtoTLS, 0, ""), 0, verdict.Drop, "ports tcp/1-1000 → drop (inherited from policy 0)"},
	}
	for _, c := range cases {
		in := flow{local: c.local, remote: "7.1.1.1", r: c.r}.input()
		in.Proto, in.Port = 6, c.port
		d := s.Evaluate(in)
		if d.Action != c.act || d.Rule != c.rule || c.mark != 0 && d.Class != c.mark {
			t.Errorf("%s: %v class %d %q, want %v %d %q", c.name, d.Action, d.Class, d.Rule, c.act, c.mark, c.rule)
		}
	}
}

// TestPortsFinality: a port never changes, so a ports rule decides on the
// first packet when no level above it can produce another marker, and not
// before the protocol is settled when one can.
func TestPortsFinality(t *testing.T) {
	only := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"ports": {"tcp/22": "drop"}}}]}`, LoadOptions{})
	withProto := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"ports": {"tcp/22": "drop"}, "protocols": {"SSH": "pass"}}}]}`, LoadOptions{})
	cases := []struct {
		name  string
		s     *Set
		port  uint16
		r     dpi.Result
		act   verdict.Action
		final bool
	}{
		{"port rule alone: first packet", only, 22, inspecting(), verdict.Drop, true},
		{"other port: first packet", only, 23, inspecting(), verdict.Pass, true},
		{"a protocol rule may still win", withProto, 22, inspecting(), verdict.Drop, false},
		{"protocol settled, not SSH", withProto, 22, classified(dpi.ProtoTLS, 0, ""), verdict.Drop, true},
		{"SSH", withProto, 22, classified(dpi.ProtoSSH, 0, ""), verdict.Pass, true},
	}
	for _, c := range cases {
		d := c.s.Evaluate(portFlow(6, c.port, c.r))
		if d.Action != c.act || d.Final != c.final {
			t.Errorf("%s: %v final %v (%s), want %v final %v", c.name, d.Action, d.Final, d.Rule, c.act, c.final)
		}
	}
}

func TestPortsLookupAllocs(t *testing.T) {
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"ports": {"tcp/22": "drop", "udp/1000-2000": "drop"}}}]}`, LoadOptions{})
	in := portFlow(17, 1500, classified(0, 0, ""))
	if n := testing.AllocsPerRun(1000, func() { s.Evaluate(in) }); n != 0 {
		t.Errorf("Evaluate with ports allocates %v times", n)
	}
}

// BenchmarkJudgePortsExceptions: a policy of 1000 port ranges and risk
// exceptions, flows with risks (some excepted): the binary search and
// the exception scan per judgement.
func BenchmarkJudgePortsExceptions(b *testing.B) {
	var ports strings.Builder
	for i := 0; i < 1000; i++ {
		if i > 0 {
			ports.WriteString(", ")
		}
		ports.WriteString(`"udp/` + strconv.Itoa(i*50) + `-` + strconv.Itoa(i*50+9) + `": "drop"`)
	}
	s := mustParse(b, `{"version": 1,
	  "risk_exceptions": [{"hosts": ["10.0.0.0/28", "*.printer.lan"], "risks": ["TLS_SELFSIGNED_CERTIFICATE"]},
	                      {"hosts": ["192.0.2.1", "192.0.2.2", "=scanner.example"], "risks": ["NUMERIC_IP_HOST"]}],
	  "policies": [{"id": 0, "default_marker": "pass", "markers": {"ports": {`+ports.String()+`},
	    "risks": {"TLS_SELFSIGNED_CERTIFICATE": "drop"}}}]}`, LoadOptions{})
	hs := make([]Host, 256)
	rs := make([]dpi.Result, 256)
	for i := range hs {
		hs[i] = s.Resolve(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), pools.MAC{}, false, addr("198.51.100.1"))
		hs[i].Proto, hs[i].Port = 17, uint16(i*197)
		rs[i] = withRisks(classified(dpi.ProtoTLS, 0, "x.printer.lan"), dpi.RiskTLSSelfSigned)
		if i%2 == 0 {
			rs[i].Hostname = "www.example"
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Judge(&hs[i&255], &rs[i&255])
	}
}
