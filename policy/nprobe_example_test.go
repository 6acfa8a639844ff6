package policy

import (
	"strings"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// The example from ntop's nProbe IPS webinar slides, loaded unchanged
// from examples/policies/nprobe-example.conf. Every rule in it is
// exercised below.
func loadExample(t testing.TB) *Set {
	t.Helper()
	loc, asn := sampleGeo(t)
	s, rep, err := Load("../examples/policies/nprobe-example.conf", LoadOptions{GeoIP: loc, GeoIPASN: asn})
	if err != nil {
		t.Fatalf("the nProbe example does not load:\n%v", err)
	}
	if rep.Format != FormatNProbe {
		t.Errorf("format %v, want nprobe", rep.Format)
	}
	// The only warning: "53" is nDPI's CPHA, not the DNS port.
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].String(), `nprobe-example.conf:23:128: warning: protocol key "53" is nDPI protocol 53 (CPHA), not port 53 (DNS, which is protocol 5)`) {
		t.Errorf("warnings:\n%s", diagnostics(nil, rep))
	}
	return s
}

func TestNProbeExampleLoads(t *testing.T) {
	s := loadExample(t)
	st := s.Stats()
	if st.Pools != 3 || st.Policies != 4 || st.PoolEntries != 8 || st.Hostnames != 3 {
		t.Errorf("stats %+v", st)
	}
	if _, _, err := Load("../examples/policies/nprobe-example.conf", LoadOptions{}); err == nil ||
		!strings.Contains(err.Error(), "countries and continents need a GeoIP City or Country database") {
		t.Errorf("without GeoIP: %v", err)
	}
}

func TestNProbeExampleRules(t *testing.T) {
	s := loadExample(t)
	const (
		pool1 = "10.1.2.3"     // 10.0.0.0/8 → policy 1
		pool2 = "172.16.5.5"   // 172.16.0.0/16 → policy 2
		pool3 = "131.114.9.9"  // → policy 3
		none  = "198.51.100.7" // in no pool → policy 0
		us    = "7.1.1.1"      // US, North America
		cn    = "5.1.1.1"      // CN, Asia
		jp    = "6.1.1.1"      // JP, Asia
		it    = "2.3.4.5"      // IT, Europe
	)
	risky := classified(dpi.ProtoHTTP, 0, "203.0.113.1")
	risky.Risks = risky.Risks.With(dpi.RiskNumericIPHost)
	cases := []struct {
		name string
		f    flow
		act  verdict.Action
		exp  string
	}{
		// Pool 1 / policy 1 (child of 0).
		{"policy 1 protocol HTTP", flow{local: pool1, remote: us, r: classified(dpi.ProtoHTTP, 0, "example.com")}, verdict.Pass,
			"pool my pool 1 → policy 1 (⊂ 0): protocol HTTP → pass"},
		{"policy 1 country CN", flow{local: pool1, remote: cn, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Drop,
			"pool my pool 1 → policy 1 (⊂ 0): country CN → drop"},
		{"policy 1 country IT", flow{local: pool1, remote: it, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Pass,
			"pool my pool 1 → policy 1 (⊂ 0): country IT → pass"},
		{"policy 1 continent Asia", flow{local: pool1, remote: jp, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Drop,
			"pool my pool 1 → policy 1 (⊂ 0): continent Asia → drop"},
		{"protocol beats country", flow{local: pool1, remote: cn, r: classified(dpi.ProtoHTTP, 0, "")}, verdict.Pass,
			"pool my pool 1 → policy 1 (⊂ 0): protocol HTTP → pass"},
		{"policy 1 default", flow{local: pool1, remote: us, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Pass,
			"pool my pool 1 → policy 1 (⊂ 0): default_marker → pass"},
		{"inherited category Video", flow{local: pool1, remote: us, r: classified(dpi.ProtoQUIC, dpi.ProtoNetFlix, "netflix.com")}, verdict.Drop,
			"pool my pool 1 → policy 1 (⊂ 0): category Video → drop (inherited from policy 0)"},
		{"inherited protocol TLS beats category", flow{local: pool1, remote: us, r: classified(dpi.ProtoTLS, dpi.ProtoNetFlix, "netflix.com")}, verdict.Pass,
			"pool my pool 1 → policy 1 (⊂ 0): protocol TLS → pass (inherited from policy 0)"},
		{"inherited flow risk beats protocol", flow{local: pool1, remote: us, r: risky}, verdict.Drop,
			"pool my pool 1 → policy 1 (⊂ 0): flow risk NUMERIC_IP_HOST → drop (inherited from policy 0)"},
		{"IPv6 member with host bits", flow{local: "2a03:b0c0:2:ffff::1", remote: cn, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Drop,
			"pool my pool 1 → policy 1 (⊂ 0): country CN → drop"},
		{"IPv4 member with host bits", flow{local: "192.168.0.200", remote: cn, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Drop,
			"pool my pool 1 → policy 1 (⊂ 0): country CN → drop"},

		// Pool 2 / policy 2 (child of 1, default drop, hostnames beside markers).
		{"policy 2 hostname drop beats inherited TLS", flow{local: pool2, remote: us, r: classified(dpi.ProtoTLS, dpi.ProtoGoogle, "www.gstatic.com")}, verdict.Drop,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): hostname www.gstatic.com → drop"},
		{"policy 2 hostname matches subdomains", flow{local: pool2, remote: us, r: classified(dpi.ProtoTLS, 0, "img.www.gstatic.com")}, verdict.Drop,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): hostname www.gstatic.com → drop"},
		{"policy 2 hostname youtube", flow{local: pool2, remote: us, r: classified(dpi.ProtoQUIC, dpi.ProtoYouTube, "www.youtube.com")}, verdict.Pass,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): hostname www.youtube.com → pass"},
		{"policy 2 hostname fundingchoices", flow{local: pool2, remote: us, r: classified(dpi.ProtoHTTP, 0, "fundingchoicesmessages.google.com")}, verdict.Pass,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): hostname fundingchoicesmessages.google.com → pass"},
		{"policy 2 protocol 53 is CPHA", flow{local: pool2, remote: us, r: classified(dpi.ProtoCPHA, 0, "")}, verdict.Pass,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): protocol CPHA → pass"},
		{"policy 2 DNS is not protocol 53", flow{local: pool2, remote: us, r: classified(dpi.ProtoDNS, 0, "example.com")}, verdict.Drop,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): default_marker → drop"},
		{"policy 2 inherits country IT from 1 over its default", flow{local: pool2, remote: it, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Pass,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): country IT → pass (inherited from policy 1)"},
		{"policy 2 inherits HTTP from 1", flow{local: pool2, remote: us, r: classified(dpi.ProtoHTTP, 0, "other.example")}, verdict.Pass,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): protocol HTTP → pass (inherited from policy 1)"},
		{"policy 2 by MAC (upper case in the flow)", flow{local: "192.168.99.9", mac: "02:81:27:B5:F9:F3", remote: us, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Drop,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): default_marker → drop"},
		{"a MAC beats the address's pool", flow{local: pool1, mac: "e8:06:88:ff:fe:e4", remote: us, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Drop,
			"pool my pool 2 → policy 2 (⊂ 1 ⊂ 0): default_marker → drop"},

		// Pool 3 / policy 3.
		{"policy 3 protocol HTTP drop", flow{local: pool3, remote: us, r: classified(dpi.ProtoHTTP, 0, "example.com")}, verdict.Drop,
			"pool my pool 3 → policy 3 (⊂ 0): protocol HTTP → drop"},
		{"policy 3 inherits TLS", flow{local: pool3, remote: cn, r: classified(dpi.ProtoTLS, 0, "example.com")}, verdict.Pass,
			"pool my pool 3 → policy 3 (⊂ 0): protocol TLS → pass (inherited from policy 0)"},
		{"policy 3 ignores policy 1's countries", flow{local: pool3, remote: cn, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Pass,
			"pool my pool 3 → policy 3 (⊂ 0): default_marker → pass"},

		// No pool: policy 0.
		{"no pool: policy 0 category", flow{local: none, remote: us, r: classified(dpi.ProtoQUIC, dpi.ProtoNetFlix, "")}, verdict.Drop,
			"policy 0: category Video → drop"},
		{"no pool: policy 0 risk", flow{local: none, remote: us, r: risky}, verdict.Drop,
			"policy 0: flow risk NUMERIC_IP_HOST → drop"},
		{"no pool: policy 0 TLS", flow{local: none, remote: cn, r: classified(dpi.ProtoTLS, 0, "")}, verdict.Pass,
			"policy 0: protocol TLS → pass"},
		{"no pool: policy 0 default", flow{local: none, remote: cn, r: classified(dpi.ProtoSSH, 0, "")}, verdict.Pass,
			"policy 0: default_marker → pass"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := s.Evaluate(c.f.input())
			if d.Action != c.act || d.Explain() != c.exp || !d.Final {
				t.Errorf("got %v (final %v) %q\nwant %v %q", d.Action, d.Final, d.Explain(), c.act, c.exp)
			}
		})
	}
}
