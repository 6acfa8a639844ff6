package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ips/verdict"
)

func TestRunConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "ips.json")
	pol := filepath.Join(dir, "p.jsonl")
	os.WriteFile(pol, []byte("{\"policy\": {\"id\": 0}}\n"), 0o644)
	os.WriteFile(cfgPath, []byte(`{"policy": "`+pol+`", "lan": ["lan0", "lan1"], "wan": ["wan0"],
  "fail": "closed", "queue_base": 8, "mark_mask": "0xff000000"}`), 0o644)
	var stderr bytes.Buffer
	cfg, code := parseRunArgs([]string{"--config", cfgPath, "--queues", "3", "--wan", "ppp0"}, &stderr)
	if cfg == nil {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
	if cfg.Policy != pol || strings.Join(cfg.LAN, ",") != "lan0,lan1" || strings.Join(cfg.WAN, ",") != "ppp0" ||
		cfg.Queues != 3 || cfg.QueueBase != 8 || cfg.Fail != "closed" || cfg.Control != defaultControl || cfg.QueueLen != 4096 {
		t.Errorf("merged config %+v", cfg)
	}
	k, err := cfg.check()
	if err != nil || k.fail != verdict.FailClosed || k.layout.Mask() != 0xff000000 {
		t.Errorf("check: %+v %v", k, err)
	}
}

func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\n  \"policy\": \"p\",\n  \"queue-base\": 1\n}\n"), 0o644)
	var stderr bytes.Buffer
	if cfg, code := parseRunArgs([]string{"--config", bad}, &stderr); cfg != nil || code != 2 ||
		!strings.Contains(stderr.String(), "bad.json:3:") || !strings.Contains(stderr.String(), "queue-base") {
		t.Errorf("unknown key: code %d, %q", code, stderr.String())
	}
	cfg, _ := parseRunArgs([]string{"--fail", "maybe", "--mark-mask", "0x0f", "--queues", "0", "--geoip", "/nonexistent.mmdb"}, &stderr)
	_, err := cfg.check()
	for _, want := range []string{"--policy: required", "--lan: required", "--wan: required", "--queues 0", "--fail:", "--mark-mask:", "--geoip /nonexistent.mmdb: no such file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors %v lack %q", err, want)
		}
	}
	stderr.Reset()
	if cfg, code := parseRunArgs([]string{"--help"}, &stderr); cfg != nil || code != 0 || !strings.Contains(stderr.String(), "-mark-mask HEX") {
		t.Errorf("help: %d %q", code, stderr.String())
	}
}

func TestStandinPolicy(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.jsonl")
	os.WriteFile(p, []byte(`# nProbe IPS format
{"policy": {"id": 0, "name": "root", "default_marker": "pass"}}
{"pool": {"id": 1, "name": "kids", "ip": ["10.0.0.0/24", "fd00::/64"], "mac": []}, "policy": {"id": 1}}
{"pool": {"id": 2, "name": "one", "ip": ["10.0.0.7"]}, "policy": {"id": 2}}
{"policy": {"id": 1, "root": 0, "default_marker": 2, "markers": {"protocols": {"TLS": "pass"}}}}
{"policy": {"id": 2, "root": 1, "name": "child"}}
`), 0o644)
	s, warns, err := parseStandin(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], `"markers"`) {
		t.Errorf("warnings %q", warns)
	}
	for _, c := range []struct {
		host string
		want verdict.Action
		pool string
	}{{"10.0.0.5", verdict.Drop, "kids"}, {"fd00::9", verdict.Drop, "kids"}, {"10.0.0.7", verdict.Drop, "one"}, {"10.9.9.9", verdict.Pass, ""}} {
		d := s.decide(netip.MustParseAddr(c.host))
		if d.Action != c.want || !d.Final || d.Pool != c.pool {
			t.Errorf("%s: %+v", c.host, d)
		}
	}
	if d := s.decide(netip.MustParseAddr("10.0.0.7")); !strings.Contains(d.Explain(), "policy 2 (⊂ 1)") {
		t.Errorf("explain %q", d.Explain())
	}

	os.WriteFile(p, []byte(`{"policy": {"id": 0, "default_marker": "maybe"}}
{"pool": {"id": 1, "ip": ["nope"]}, "policy": {"id": 3}}
{"policy": {"id": 4, "root": 9}}
not json
`), 0o644)
	_, _, err = parseStandin(p)
	for _, want := range []string{"p.jsonl:1:", "marker \"maybe\"", "p.jsonl:2:", `"nope"`, "p.jsonl:4:", "root 9 is not defined", "policy 3 is not defined"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors %v lack %q", err, want)
		}
	}
}
