package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReplayPortsAndRiskExceptions: on shipped captures, a ports rule
// drops the SSH flow (server port 22) and passes another TCP flow; a
// self-signed certificate drops a TLS flow until a risk exception for its
// address, or for its server name, turns the drop into a pass.
func TestReplayPortsAndRiskExceptions(t *testing.T) {
	selfSigned := conformance + "selfsigned.pcap"
	if _, err := os.Stat(selfSigned); err != nil {
		t.Fatalf("conformance capture missing: %v", err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const policies = `"policies": [{"id": 0, "default_marker": "pass", "markers": {
	    "risks": {"TLS_SELFSIGNED_CERTIFICATE": "drop"}, "ports": {"tcp/22": "drop", "udp/27000-27050": "drop"}}}]}`
	plain := write("plain.json", `{"version": 1, `+policies)
	byAddr := write("addr.json", `{"version": 1, "risk_exceptions": [{"hosts": ["127.0.0.1"], "risks": ["TLS_SELFSIGNED_CERTIFICATE"]}], `+policies)
	byName := write("name.json", `{"version": 1, "risk_exceptions": [{"hosts": ["=localhost"], "risks": ["TLS_SELFSIGNED_CERTIFICATE"]}], `+policies)

	ssh := replayJudged(t, "--policy", plain, "../../testdata/captures/ssh.pcap", "../../testdata/captures/http.pcap")
	if len(ssh) < 2 {
		t.Fatalf("%d flows", len(ssh))
	}
	for _, f := range ssh {
		want, why := "pass", "policy 0: default_marker → pass"
		if f.App == "SSH" {
			want, why = "drop", "policy 0: ports tcp/22 → drop"
		}
		if f.Verdict != want || f.Explain != why {
			t.Errorf("%s %s → %s: %s %q, want %s %q", f.App, f.Src, f.Dst, f.Verdict, f.Explain, want, why)
		}
	}
	check := func(pol, verdict, explain string) {
		t.Helper()
		flows := replayJudged(t, "--policy", pol, selfSigned)
		if len(flows) != 1 {
			t.Fatalf("%d flows in selfsigned.pcap, want 1", len(flows))
		}
		if f := flows[0]; f.Verdict != verdict || f.Explain != explain {
			t.Errorf("%s: %s %q, want %s %q", filepath.Base(pol), f.Verdict, f.Explain, verdict, explain)
		}
	}
	check(plain, "drop", "policy 0: flow risk TLS_SELFSIGNED_CERTIFICATE → drop")
	check(byAddr, "pass", "policy 0: default_marker → pass; risk TLS_SELFSIGNED_CERTIFICATE excepted for 127.0.0.1 (exception 1)")
	check(byName, "pass", "policy 0: default_marker → pass; risk TLS_SELFSIGNED_CERTIFICATE excepted for =localhost (exception 1)")
}
