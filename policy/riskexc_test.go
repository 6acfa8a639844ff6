package policy

import (
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

const excPolicy = `{"version": 1,
  "risk_exceptions": [
    {"hosts": ["10.0.0.5", "192.168.1.0/24", "*.printer.lan"], "risks": ["TLS_SELFSIGNED_CERTIFICATE", "TLS_OBSOLETE_VERSION"]},
    {"hosts": ["=scanner.example"], "risks": ["NUMERIC_IP_HOST"]}],
  "policies": [{"id": 0, "default_marker": "pass",
    "flow_risk": {"risk_score": 100, "marker": "reject"},
    "markers": {"risks": {"TLS_SELFSIGNED_CERTIFICATE": "drop", "NUMERIC_IP_HOST": "drop"}}}]}`

// TestRiskExceptions: excepted risks neither match risk markers nor count
// towards the score, for either end's address and for the server name;
// the explanation names the exception.
func TestRiskExceptions(t *testing.T) {
	s := mustParse(t, excPolicy, LoadOptions{})
	tls := classified(dpi.ProtoTLS, 0, "")
	named := func(h string) dpi.Result { return classified(dpi.ProtoTLS, 0, h) }
	cases := []struct {
		name          string
		local, remote string
		r             dpi.Result
		act           verdict.Action
		rule          string
	}{
		{"no exception applies", "10.0.0.6", "198.51.100.1", withRisks(tls, dpi.RiskTLSSelfSigned), verdict.Drop,
			"flow risk TLS_SELFSIGNED_CERTIFICATE → drop"},
		{"LAN host excepted", "10.0.0.5", "198.51.100.1", withRisks(tls, dpi.RiskTLSSelfSigned), verdict.Pass,
			"default_marker → pass; risk TLS_SELFSIGNED_CERTIFICATE excepted for 10.0.0.5 (exception 1)"},
		{"remote host in an excepted prefix", "10.0.0.6", "192.168.1.20", withRisks(tls, dpi.RiskTLSSelfSigned), verdict.Pass,
			"default_marker → pass; risk TLS_SELFSIGNED_CERTIFICATE excepted for 192.168.1.0/24 (exception 1)"},
		{"server name excepted", "10.0.0.6", "198.51.100.1", withRisks(named("hp.printer.lan"), dpi.RiskTLSSelfSigned, dpi.RiskTLSObsoleteVersion), verdict.Pass,
			"default_marker → pass; risks TLS_SELFSIGNED_CERTIFICATE, TLS_OBSOLETE_VERSION excepted for *.printer.lan (exception 1)"},
		{"*. pattern: not the name itself", "10.0.0.6", "198.51.100.1", withRisks(named("printer.lan"), dpi.RiskTLSSelfSigned), verdict.Drop,
			"flow risk TLS_SELFSIGNED_CERTIFICATE → drop"},
		{"other risks still count", "10.0.0.5", "198.51.100.1", withRisks(tls, dpi.RiskTLSSelfSigned, dpi.RiskNumericIPHost), verdict.Drop,
			"flow risk NUMERIC_IP_HOST → drop; risk TLS_SELFSIGNED_CERTIFICATE excepted for 10.0.0.5 (exception 1)"},
		{"two exceptions", "10.0.0.5", "198.51.100.1", withRisks(named("scanner.example"), dpi.RiskTLSSelfSigned, dpi.RiskNumericIPHost), verdict.Pass,
			"default_marker → pass; risk TLS_SELFSIGNED_CERTIFICATE excepted for 10.0.0.5 (exception 1); risk NUMERIC_IP_HOST excepted for =scanner.example (exception 2)"},
	}
	for _, c := range cases {
		d := s.Evaluate(flow{local: c.local, remote: c.remote, r: c.r}.input())
		if d.Action != c.act || d.Rule != c.rule {
			t.Errorf("%s: %v %q\n want %v %q", c.name, d.Action, d.Rule, c.act, c.rule)
		}
	}
	// The score: without the exception XSS (score 100+) rejects; an
	// excepted risk's score does not add up.
	scoreS := mustParse(t, `{"version": 1, "risk_exceptions": [{"hosts": ["10.0.0.5"], "risks": ["URL_POSSIBLE_XSS"]}],
	  "policies": [{"id": 0, "default_marker": "pass", "flow_risk": {"risk_score": 100, "marker": "reject"}}]}`, LoadOptions{})
	xss := withRisks(tls, dpi.RiskURLPossibleXSS)
	if d := scoreS.Evaluate(flow{local: "10.0.0.6", remote: "198.51.100.1", r: xss}.input()); d.Action != verdict.Reject {
		t.Errorf("score without exception: %v %q", d.Action, d.Rule)
	}
	if d := scoreS.Evaluate(flow{local: "10.0.0.5", remote: "198.51.100.1", r: xss}.input()); d.Action != verdict.Pass ||
		!strings.Contains(d.Rule, "excepted for 10.0.0.5 (exception 1)") {
		t.Errorf("score with exception: %v %q", d.Action, d.Rule)
	}
	// Allocation-free once the explanation is cached.
	in := flow{local: "10.0.0.5", remote: "198.51.100.1", r: withRisks(named("a.printer.lan"), dpi.RiskTLSSelfSigned)}.input()
	s.Evaluate(in)
	if n := testing.AllocsPerRun(1000, func() { s.Evaluate(in) }); n != 0 {
		t.Errorf("Evaluate with a risk exception allocates %v times", n)
	}
}

// TestRiskExceptionFinality: a hostname exception may still remove a
// risk while the name is unknown, so a risk drop is not final then.
func TestRiskExceptionFinality(t *testing.T) {
	s := mustParse(t, excPolicy, LoadOptions{})
	r := withRisks(partial(dpi.ProtoTLS, 0, "", dpi.FieldHostname), dpi.RiskTLSSelfSigned)
	if d := s.Evaluate(flow{local: "10.0.0.6", remote: "198.51.100.1", r: r}.input()); d.Action != verdict.Drop || d.Final {
		t.Errorf("name pending: %v final %v, want drop, not final", d.Action, d.Final)
	}
	r = withRisks(partial(dpi.ProtoTLS, 0, "www.example", dpi.FieldApp), dpi.RiskTLSSelfSigned)
	if d := s.Evaluate(flow{local: "10.0.0.6", remote: "198.51.100.1", r: r}.input()); d.Action != verdict.Drop || !d.Final {
		t.Errorf("name known: %v final %v, want drop, final", d.Action, d.Final)
	}
	// No risk: an exception has nothing to remove, the name may come.
	r = partial(dpi.ProtoTLS, 0, "", dpi.FieldHostname)
	if d := s.Evaluate(flow{local: "10.0.0.6", remote: "198.51.100.1", r: r}.input()); d.Action != verdict.Pass || !d.Final {
		t.Errorf("no risk, name pending: %v final %v, want pass, final", d.Action, d.Final)
	}
	r = withRisks(partial(dpi.ProtoTLS, 0, "", dpi.FieldHostname), dpi.RiskTLSSelfSigned)
	if d := s.Evaluate(flow{local: "10.0.0.5", remote: "198.51.100.1", r: r}.input()); d.Action != verdict.Pass {
		t.Errorf("address excepted, name pending: %v", d.Action)
	}
}

func TestRiskExceptionsParse(t *testing.T) {
	cases := []struct{ exc, want string }{
		{`{"hosts": ["10.0.0.5"], "risks": ["TLS_SELFSIGNED_CERTIFICAT"]}`, `F:1:70: risk exception 1: unknown flow risk "TLS_SELFSIGNED_CERTIFICAT" (did you mean`},
		{`{"hosts": ["10.0.0.300"], "risks": [6]}`, `F:1:47: risk exception 1: bad address or prefix "10.0.0.300"`},
		{`{"hosts": ["10.0.0.0/33"], "risks": [6]}`, `F:1:47: risk exception 1: bad address or prefix "10.0.0.0/33"`},
		{`{"hosts": ["bad name!"], "risks": [6]}`, `F:1:47: risk exception 1:`},
		{`{"hosts": ["10.0.0.5"]}`, `F:1:36: risk exception 1 has no "risks"`},
		{`{"risks": [6]}`, `F:1:36: risk exception 1 has no "hosts"`},
		{`{"host": ["10.0.0.5"], "risks": [6]}`, `F:1:37: unknown key "host" in a risk exception (did you mean "hosts"?)`},
	}
	for _, c := range cases {
		text := `{"version": 1, "risk_exceptions": [` + c.exc + `], "policies": [{"id": 0, "default_marker": "pass"}]}`
		_, rep, err := parse(t, "F", text, LoadOptions{}, nil)
		if err == nil {
			t.Errorf("%s: loaded", c.exc)
			continue
		}
		if got := diagnostics(err, rep); !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.exc, got, c.want)
		}
	}
	// The nProbe line format takes the same list on a line of its own.
	s := mustParse(t, `{"risk_exceptions": [{"hosts": ["10.0.0.5"], "risks": ["TLS_SELFSIGNED_CERTIFICATE"]}]}
{"policy": {"id": 0, "default_marker": "pass", "markers": {"risks": {"TLS_SELFSIGNED_CERTIFICATE": "drop"}}}}`, LoadOptions{Format: FormatNProbe})
	if d := s.Evaluate(flow{local: "10.0.0.5", remote: "198.51.100.1", r: withRisks(classified(dpi.ProtoTLS, 0, ""), dpi.RiskTLSSelfSigned)}.input()); d.Action != verdict.Pass {
		t.Errorf("nprobe format exception: %v %q", d.Action, d.Rule)
	}
}

// TestConvertPortsAndExceptions: an nProbe-format file with ports and risk
// exceptions converts to a native document that decides alike.
func TestConvertPortsAndExceptions(t *testing.T) {
	src := `{"risk_exceptions": [{"hosts": ["::ffff:10.0.0.5", "*.Printer.LAN"], "risks": [6, "NUMERIC_IP_HOST"]}]}
{"policy": {"id": 0, "default_marker": "pass", "markers": {"ports": {"ipproto/6": "drop", "UDP/5-10": 4, "ipproto/47": "reject"},
  "risks": {"TLS_SELFSIGNED_CERTIFICATE": "drop"}, "protocols": {"TLS": "pass"}}}}
`
	dir := t.TempDir()
	out, _, err := Convert(dir+"/p.conf", []byte(src), LoadOptions{Format: FormatNProbe})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"tcp/*": "drop"`, `"udp/5-10": 4`, `"ipproto/47": "reject"`, `"10.0.0.5"`, `"*.printer.lan"`, `"TLS_SELFSIGNED_CERTIFICATE"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("converted lacks %s:\n%s", want, out)
		}
	}
	orig := mustParse(t, src, LoadOptions{Format: FormatNProbe})
	conv, _, err := Parse(dir+"/c.json", out, LoadOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	n := 0
	for _, local := range []string{"10.0.0.5", "10.0.0.6"} {
		for _, r := range []dpi.Result{withRisks(classified(dpi.ProtoTLS, 0, "a.printer.lan"), dpi.RiskTLSSelfSigned),
			withRisks(classified(dpi.ProtoHTTP, 0, ""), dpi.RiskTLSSelfSigned, dpi.RiskNumericIPHost), classified(0, 0, "")} {
			for _, pp := range [][2]int{{6, 80}, {17, 7}, {17, 11}, {47, 0}, {1, 0}} {
				in := flow{local: local, remote: "198.51.100.1", r: r}.input()
				in.Proto, in.Port = uint8(pp[0]), uint16(pp[1])
				a, b := orig.Evaluate(in), conv.Evaluate(in)
				if a != b {
					t.Errorf("%s %v %s: %+v vs %+v", local, pp, r.AppName(), a, b)
				}
				n++
			}
		}
	}
	if n != 30 {
		t.Fatal(n)
	}
}

// TestRiskExceptionTextsConcurrent: workers share a Set; the cached
// explanations are built once under concurrent first use (run with -race).
func TestRiskExceptionTextsConcurrent(t *testing.T) {
	s := mustParse(t, excPolicy, LoadOptions{})
	want := "default_marker → pass; risk TLS_SELFSIGNED_CERTIFICATE excepted for 192.168.1.0/24 (exception 1)"
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var got string
			for i := 0; i < 200; i++ {
				d := s.Evaluate(flow{local: "192.168.1.9", remote: "198.51.100.1", r: withRisks(classified(dpi.ProtoTLS, 0, ""), dpi.RiskTLSSelfSigned)}.input())
				got = d.Rule
			}
			done <- got
		}()
	}
	for g := 0; g < 8; g++ {
		if got := <-done; got != want {
			t.Errorf("%q", got)
		}
	}
}
