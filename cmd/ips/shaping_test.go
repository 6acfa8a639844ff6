package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ips check says what bounds shapers, and with ports given warns when no
// port can be shaped.
func TestCheckShapers(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "shape.json")
	os.WriteFile(pol, []byte(`{"version": 1, "shapers": [{"name": "bt", "rate": "4mbit", "per": "host"}],
 "policies": [{"id": 0, "markers": {"protocols": {"BitTorrent": "shape:bt"}}}]}`), 0o644)
	code, out, errs := runIPS("check", pol)
	if code != 0 || !strings.Contains(out, "note: 1 shaper(s); the mark mask 0x00ff0000 carries shaper classes 1–15") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, _, errs = runIPS("check", "--lan", "ips-no-such-port0", "--wan", "ips-no-such-port1", pol)
	if code != 0 || !strings.Contains(errs, "warning: the policy shapes (1 shaper(s)) but no port can be shaped") ||
		!strings.Contains(errs, "warning: port ips-no-such-port0 cannot be shaped") {
		t.Errorf("no shapeable port: exit %d\n%s", code, errs)
	}
	// A policy without shapers says nothing about them.
	none := filepath.Join(dir, "none.json")
	os.WriteFile(none, []byte(`{"version": 1, "policies": [{"id": 0, "default_marker": "pass"}]}`), 0o644)
	if _, out, errs := runIPS("check", "--lan", "x0", "--wan", "x1", none); strings.Contains(out+errs, "shaped") || strings.Contains(out+errs, "shaper(s)") {
		t.Errorf("no shapers: %s %s", out, errs)
	}
}

// The shaping flags are run flags and config keys, and bad rates are
// refused before anything starts.
func TestRunShapingFlags(t *testing.T) {
	cfg, code := parseRunArgs([]string{"--policy", "p", "--lan", "l0", "--wan", "w0", "--wan-rate", "1gbit", "--lan-rate", "500mbit", "--take-over-qdisc", "--state-dir", "/tmp/x"}, os.Stderr)
	if cfg == nil || code != -1 {
		t.Fatalf("parse: %d", code)
	}
	ports, err := cfg.shapingPorts()
	if err != nil || len(ports) != 2 || ports[0].Rate != 1e9 || ports[1].Rate != 5e8 || !cfg.TakeOverQdisc || cfg.StateDir != "/tmp/x" {
		t.Errorf("ports %+v %v, cfg %+v", ports, err, cfg)
	}
	cfg.WANRate = "fast"
	if _, err := cfg.check(); err == nil || !strings.Contains(err.Error(), "--wan-rate") {
		t.Errorf("bad rate: %v", err)
	}
}

// ips replay --policy names the shaper and the pool of a shaped flow.
func TestReplayShaper(t *testing.T) {
	code, out, errs := runIPS("replay", "--policy", "../../examples/policies/demo.json", "../../testdata/captures/demo.pcap")
	if code != 0 || !strings.Contains(out, `"pool":"lan","shaper":"slow","explain":"pool lan → policy 1 (⊂ 0): category RemoteAccess → shape:slow"`) {
		t.Errorf("exit %d\n%s\n%s", code, grepLines(out, "RemoteAccess"), errs)
	}
	code, out, _ = runIPS("replay", "--format", "table", "--policy", "../../examples/policies/demo.json", "../../testdata/captures/demo.pcap")
	if code != 0 || !strings.Contains(out, " shape:slow pool lan") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
