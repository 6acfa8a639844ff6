package policy

import (
	"testing"

	"ips/dpi"
	"ips/verdict"
)

const allPending = dpi.FieldApp | dpi.FieldHostname | dpi.FieldRisks | dpi.FieldMeta

func partial(master, app dpi.ProtoID, host string, pending dpi.Field) dpi.Result {
	r := classified(master, app, host)
	r.State, r.Pending = dpi.Partial, pending
	return r
}

func inspecting() dpi.Result { return dpi.Result{State: dpi.Inspecting} }

// TestFinality checks "decisions that cannot change": given what the DPI
// result says may still change, a decision is final exactly when no
// reachable result gives another action.
func TestFinality(t *testing.T) {
	loc, asn := sampleGeo(t)
	opt := LoadOptions{GeoIP: loc, GeoIPASN: asn}
	pol := func(body string) *Set {
		return mustParse(t, `{"version": 1, "policies": [{"id": 0, `+body+`}]}`, opt)
	}
	passAll := pol(`"default_marker": "pass"`)
	blockTor := pol(`"default_marker": "pass", "markers": {"protocols": {"Tor": "drop"}}`)
	hosts := pol(`"default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"}}`)
	risks := pol(`"default_marker": "pass", "markers": {"risks": {"TLS_SELFSIGNED_CERTIFICATE": "drop"}}`)
	riskMixed := pol(`"markers": {"risks": {"TLS_SELFSIGNED_CERTIFICATE": "pass", "TLS_CERTIFICATE_EXPIRED": "drop"}}`)
	riskSame := pol(`"default_marker": "drop", "markers": {"risks": {"TLS_SELFSIGNED_CERTIFICATE": "drop"}}`)
	score := pol(`"default_marker": "pass", "flow_risk": {"risk_score": 100, "marker": "drop"}`)
	allDrop := pol(`"default_marker": "drop", "markers": {"hostnames": {"a.example": "drop"}, "protocols": {"TLS": "drop"}, "categories": {"Web": "drop"}}`)
	cats := pol(`"default_marker": "pass", "markers": {"categories": {"Video": "drop"}}`)
	geoHTTPPass := pol(`"default_marker": "pass", "markers": {"countries": {"CN": "drop"}, "protocols": {"HTTP": "pass"}}`)
	geoHTTPDrop := pol(`"default_marker": "pass", "markers": {"countries": {"CN": "drop"}, "protocols": {"HTTP": "drop"}}`)
	hostsOverProto := pol(`"default_marker": "pass", "markers": {"hostnames": {"ok.example": "pass"}, "protocols": {"TLS": "drop"}}`)

	cases := []struct {
		name   string
		s      *Set
		remote string
		r      dpi.Result
		act    verdict.Action
		final  bool
	}{
		{"nothing to decide: final on the first packet", passAll, "7.1.1.1", inspecting(), verdict.Pass, true},
		{"Tor may still be found", blockTor, "7.1.1.1", inspecting(), verdict.Pass, false},
		{"partial TLS, only risks pending: Tor cannot appear", blockTor, "7.1.1.1", partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldRisks), verdict.Pass, true},
		{"partial TLS, application pending", blockTor, "7.1.1.1", partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldApp), verdict.Pass, false},
		{"partial TLS, hostname pending (the catalog may name the app)", blockTor, "7.1.1.1", partial(dpi.ProtoTLS, 0, "", dpi.FieldHostname), verdict.Pass, false},
		{"partial without a Pending declaration: anything may change", blockTor, "7.1.1.1", partial(dpi.ProtoTLS, 0, "x.example", 0), verdict.Pass, false},
		{"classified TLS", blockTor, "7.1.1.1", classified(dpi.ProtoTLS, 0, ""), verdict.Pass, true},
		{"classified Tor", blockTor, "7.1.1.1", classified(dpi.ProtoTLS, dpi.ProtoTor, ""), verdict.Drop, true},
		{"partial Tor, risks pending: no risk rule", blockTor, "7.1.1.1", partial(dpi.ProtoTLS, dpi.ProtoTor, "", dpi.FieldRisks), verdict.Drop, true},

		{"hostname known, only risks pending", hosts, "7.1.1.1", partial(dpi.ProtoTLS, 0, "other.example", dpi.FieldRisks), verdict.Pass, true},
		{"hostname empty: the DNS cache may still name it", hosts, "7.1.1.1", partial(dpi.ProtoTLS, 0, "", dpi.FieldRisks), verdict.Pass, false},
		{"blocked hostname, nothing but metadata pending", hosts, "7.1.1.1", partial(dpi.ProtoTLS, 0, "www.blocked.example", dpi.FieldMeta), verdict.Drop, true},
		{"blocked hostname, hostname pending", hosts, "7.1.1.1", partial(dpi.ProtoTLS, 0, "www.blocked.example", dpi.FieldHostname), verdict.Drop, false},

		{"certificate risks pending", risks, "7.1.1.1", partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldRisks), verdict.Pass, false},
		{"application pending, risks not", risks, "7.1.1.1", partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldApp), verdict.Pass, true},
		{"risk already matched: risks only grow", risks, "7.1.1.1", withRisks(partial(dpi.ProtoTLS, 0, "x.example", allPending), dpi.RiskTLSSelfSigned), verdict.Drop, true},
		{"a stricter listed risk may still come", riskMixed, "7.1.1.1", withRisks(partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldRisks), dpi.RiskTLSSelfSigned), verdict.Pass, false},
		{"several risk markers: conservatively not final", riskMixed, "7.1.1.1", withRisks(partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldRisks), dpi.RiskTLSCertExpired), verdict.Drop, false},
		{"every outcome drops", riskSame, "7.1.1.1", inspecting(), verdict.Drop, true},
		{"score may still grow", score, "7.1.1.1", partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldRisks), verdict.Pass, false},
		{"score over the threshold stays over", score, "7.1.1.1", withRisks(partial(dpi.ProtoTLS, 0, "x.example", dpi.FieldRisks), dpi.RiskURLPossibleXSS), verdict.Drop, true},

		{"all rules drop", allDrop, "7.1.1.1", inspecting(), verdict.Drop, true},
		{"category may change with the application", cats, "7.1.1.1", partial(dpi.ProtoQUIC, 0, "x.example", dpi.FieldApp), verdict.Pass, false},
		{"category cannot change", cats, "7.1.1.1", partial(dpi.ProtoQUIC, dpi.ProtoYouTube, "x.example", dpi.FieldRisks), verdict.Pass, true},

		{"CN: HTTP could still pass", geoHTTPPass, "5.1.1.1", inspecting(), verdict.Drop, false},
		{"CN: every outcome drops", geoHTTPDrop, "5.1.1.1", inspecting(), verdict.Drop, true},
		{"US: HTTP could still drop", geoHTTPDrop, "7.1.1.1", inspecting(), verdict.Pass, false},

		{"hostname match may be lost, falling to a fixed protocol", hostsOverProto, "7.1.1.1", partial(dpi.ProtoTLS, 0, "ok.example", dpi.FieldHostname), verdict.Pass, false},
		{"hostname match kept", hostsOverProto, "7.1.1.1", partial(dpi.ProtoTLS, 0, "ok.example", dpi.FieldRisks), verdict.Pass, true},
		{"given up is final", blockTor, "7.1.1.1", dpi.Result{State: dpi.GivenUp, Master: dpi.ProtoTLS, Guessed: true}, verdict.Pass, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.s.Resolve(addr("192.168.1.2"), [6]byte{}, false, addr(c.remote))
			d := c.s.Judge(&h, &c.r)
			if d.Action != c.act || d.Final != c.final {
				t.Errorf("got %v final %v (%s), want %v final %v", d.Action, d.Final, d.Explain(), c.act, c.final)
			}
		})
	}
}

// TestFinalityInheritance: summaries cover the whole chain.
func TestFinalityInheritance(t *testing.T) {
	s := mustParse(t, `{"version": 1, "pools": [{"name": "kids", "ip": ["10.0.0.0/8"], "policy": 1}],
	 "policies": [{"id": 0, "default_marker": "pass", "markers": {"hostnames": {"games.example": "drop"}}},
	              {"id": 1, "parent": 0}]}`, LoadOptions{})
	h := s.Resolve(addr("10.1.1.1"), [6]byte{}, false, addr("7.1.1.1"))
	r := partial(dpi.ProtoTLS, 0, "", dpi.FieldHostname)
	if d := s.Judge(&h, &r); d.Final {
		t.Errorf("an inherited hostname rule can still match: %+v", d)
	}
}

// TestFinalityMACPending: while a MAC pool may still claim the host, no
// decision is final, even with a final DPI result.
func TestFinalityMACPending(t *testing.T) {
	s := mustParse(t, `{"version": 1, "pools": [{"name": "boss", "mac": ["00:11:22:33:44:55"], "policy": 1}],
	 "policies": [{"id": 0, "default_marker": "pass"}, {"id": 1, "default_marker": "drop"}]}`, LoadOptions{})
	h := s.Resolve(addr("10.1.1.1"), [6]byte{}, false, addr("7.1.1.1"))
	h.MACPending = true
	r := classified(dpi.ProtoTLS, 0, "")
	if d := s.Judge(&h, &r); d.Final || d.Action != verdict.Pass {
		t.Errorf("MAC pending: %+v", d)
	}
	h.MACPending = false
	if d := s.Judge(&h, &r); !d.Final {
		t.Errorf("MAC known: %+v", d)
	}
}
