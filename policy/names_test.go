package policy

import (
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// TestDropECH: ips's own risk for Encrypted Client Hello is matched by
// name (all three spellings), by id and by bit 63 of an nProbe bitmap,
// and the flow's outer name still matches hostname rules.
func TestDropECH(t *testing.T) {
	ech := withRisks(classified(dpi.ProtoTLS, 0, "public.example"), dpi.RiskTLSECH)
	plain := classified(dpi.ProtoTLS, 0, "allowed.example")
	for _, risk := range []string{`"TLS_ECH"`, `"IPS_TLS_ECH"`, `"TLS Encrypted Client Hello"`, `"63"`} {
		s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
		  "markers": {"risks": {`+risk+`: "drop"}}}]}`, LoadOptions{})
		if d := s.Evaluate(flow{local: "10.0.0.1", remote: "198.51.100.1", r: ech}.input()); d.Action != verdict.Drop || d.Rule != "flow risk IPS_TLS_ECH → drop" {
			t.Errorf("%s: ECH flow %v %q", risk, d.Action, d.Rule)
		}
		if d := s.Evaluate(flow{local: "10.0.0.1", remote: "198.51.100.1", r: plain}.input()); d.Action != verdict.Pass {
			t.Errorf("%s: plain flow %v %q", risk, d.Action, d.Rule)
		}
	}
	s := mustParse(t, `{"policy": {"id": 0, "default_marker": "pass", "flow_risk": {"bitmap": 9223372036854775808, "marker": "drop"}}}`, LoadOptions{})
	if d := s.Evaluate(flow{local: "10.0.0.1", remote: "198.51.100.1", r: ech}.input()); d.Action != verdict.Drop {
		t.Errorf("bitmap 1<<63: ECH flow %v %q", d.Action, d.Rule)
	}
	// Blocking ECH by its public name leaves GREASE ECH (Chrome's, with
	// the real name outside) alone.
	s = mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"hostnames": {"public.example": "drop"}}}]}`, LoadOptions{})
	grease := withRisks(classified(dpi.ProtoTLS, 0, "allowed.example"), dpi.RiskTLSECH)
	if d := s.Evaluate(flow{local: "10.0.0.1", remote: "198.51.100.1", r: ech}.input()); d.Action != verdict.Drop {
		t.Errorf("public name: %v %q", d.Action, d.Rule)
	}
	if d := s.Evaluate(flow{local: "10.0.0.1", remote: "198.51.100.1", r: grease}.input()); d.Action != verdict.Pass {
		t.Errorf("GREASE ECH to an allowed name: %v %q", d.Action, d.Rule)
	}
}

// TestHostnamesMatchCanonicalNames: a hostname rule, however it is
// written, matches the engine's canonical names (lower case, no trailing
// dot, no port) and nothing merely similar.
func TestHostnamesMatchCanonicalNames(t *testing.T) {
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"hostnames": {"Blocked.Example.": "drop"}}}]}`, LoadOptions{})
	for host, want := range map[string]verdict.Action{
		"blocked.example": verdict.Drop, "www.blocked.example": verdict.Drop,
		"notblocked.example": verdict.Pass, "blocked.example.evil": verdict.Pass,
	} {
		if d := s.Evaluate(flow{local: "10.0.0.1", remote: "198.51.100.1", r: classified(dpi.ProtoTLS, 0, host)}.input()); d.Action != want {
			t.Errorf("%s: %v %q, want %v", host, d.Action, d.Rule, want)
		}
	}
}
