package main

import (
	"bytes"
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
