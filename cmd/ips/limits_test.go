package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDefaultMaxFlows(t *testing.T) {
	for _, c := range []struct {
		mem  uint64
		want int
	}{
		{0, minDefaultFlows},                   // unknown
		{512 << 20, minDefaultFlows},           // a small router
		{24 << 30, 196608},                     // 24 GiB: 192 MiB of flows
		{1 << 40, maxDefaultFlows},             // capped
		{24105 << 20, 24105 << 20 / 128 >> 10}, // this machine's MemTotal
	} {
		if got := defaultMaxFlows(c.mem); got != c.want {
			t.Errorf("defaultMaxFlows(%d MiB) = %d, want %d", c.mem>>20, got, c.want)
		}
	}
	if m := memTotal(); m == 0 {
		t.Error("MemTotal not read from /proc/meminfo")
	}
	if got := perQueueFlows(65536, 2); got != 32768 {
		t.Errorf("65536 over 2 queues: %d per queue", got)
	}
	if got := perQueueFlows(65537, 2); got != 32769 {
		t.Errorf("65537 over 2 queues: %d per queue (rounded down)", got)
	}
}

func TestMaxFlowsFlag(t *testing.T) {
	var stderr bytes.Buffer
	cfg, _ := parseRunArgs([]string{"--max-flows", "65536", "--policy", "/dev/null", "--lan", "a", "--wan", "b"}, &stderr)
	if cfg == nil || cfg.MaxFlows != 65536 {
		t.Fatalf("parsed %+v: %s", cfg, stderr.String())
	}
	if _, err := cfg.check(); err != nil {
		t.Errorf("--max-flows 65536: %v", err)
	}
	cfg.MaxFlows = -1
	if _, err := cfg.check(); err == nil || !strings.Contains(err.Error(), "--max-flows -1") {
		t.Errorf("--max-flows -1: %v", err)
	}
	cfg.MaxFlows, cfg.Queues = 1<<30, 1
	if _, err := cfg.check(); err == nil || !strings.Contains(err.Error(), "per queue") {
		t.Errorf("--max-flows beyond a table's capacity: %v", err)
	}
}
