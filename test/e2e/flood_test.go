//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ips/test/harness"
)

// floodFlows is the size of the flood: distinct UDP flows, one packet
// each, with a payload no dissector recognises, so every flow stays
// "inspecting" and keeps its dissector scratch (the costliest state a
// flow can be in) until it is evicted.
const floodFlows = 1_000_000

// A flood of 1,000,000 new flows through the bridge holds the daemon's
// peak RSS (VmHWM) under a bound: 384 MiB with the default flow table
// (sized from this machine's memory), 128 MiB with --max-flows 65536.
// While it runs, TLS flows to a blocked and an allowed name are still
// decided right, and the daemon never exits.
//
// The kernel side: nf_conntrack_max is global (read-only inside a
// network namespace) but applies to each namespace's own count, and a
// full table early-drops unreplied entries to admit new ones, so the
// flood is not dropped by conntrack before it reaches the queue; the
// test checks that the daemon received most of the flood, so a bound
// met by never seeing the flows fails.
func TestFloodBoundedMemory(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		limit uint64
	}{
		{"defaults", nil, 384 << 20},
		{"max-flows-65536", []string{"--max-flows", "65536"}, 128 << 20},
	} {
		t.Run(c.name, func(t *testing.T) { floodOnce(t, c.args, c.limit) })
	}
}

func floodOnce(t *testing.T, args []string, limit uint64) {
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.WriteFile(pol, `{"policy": {"id": 0, "name": "root", "default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"}}}}`+"\n"); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, append([]string{"--policy", pol, "--log-level", "info"}, args...)...)
	start := d.Memory(t)
	ctMax := sysctl(t, topo.Bridge, "net/netfilter/nf_conntrack_max")

	// Sources outside every subnet of the topology (the WAN host has no
	// route back, so it answers nothing); 16 addresses × 62,500 ports.
	load := harness.UDPLoad{Src: netip.MustParseAddr("10.78.0.1"), Dst: netip.AddrPortFrom(topo.WANAddr, 9999),
		Srcs: 16, Ports: floodFlows / 16, PerFlow: 1, Payload: 64, Rate: floodRate(),
		Duration: time.Minute, Packets: floodFlows}
	var sent uint64
	var wg sync.WaitGroup
	wg.Add(1)
	began := time.Now()
	go func() { defer wg.Done(); sent = topo.LAN.SendUDP(t, load) }()

	// Legitimate flows opened during the flood.
	time.Sleep(time.Second)
	lan := topo.LAN4(0)
	rounds, errs := 0, 0
	for time.Since(began) < time.Duration(floodFlows/load.Rate*0.8)*time.Second {
		rounds++
		if body, err := apps.HTTPSGet(topo.LAN, lan, "allowed.example", 3*time.Second); err != nil || body != "hello allowed.example" {
			errs++
			t.Errorf("during the flood, allowed.example: %q %v", body, err)
		}
		if _, err := apps.HTTPSGet(topo.LAN, lan, "blocked.example", 2*time.Second); err == nil {
			errs++
			t.Errorf("during the flood, blocked.example got through")
		}
		time.Sleep(500 * time.Millisecond)
	}
	wg.Wait()
	took := time.Since(began)
	time.Sleep(200 * time.Millisecond) // the queue drains
	if !d.Running() {
		t.Fatalf("ips exited during the flood:\n%s", d.Log())
	}
	mem := d.Memory(t)
	s := d.Stats(t)
	got := s.QueuedPackets()
	ct := sysctl(t, topo.Bridge, "net/netfilter/nf_conntrack_count")
	t.Logf("flood: %d packets (new flows) sent in %v; ips received %d; nf_conntrack_max %s, count after %s; %d rounds of legitimate flows",
		sent, took.Round(time.Millisecond), got, ctMax, ct, rounds)
	t.Logf("ips RSS: %.1f MiB at start, %.1f MiB now, peak (VmHWM) %.1f MiB, bound %d MiB",
		mib(start.VmRSS), mib(mem.VmRSS), mib(mem.VmHWM), limit>>20)
	for _, l := range strings.Split(d.Log(), "\n") {
		if strings.Contains(l, "flow table") {
			t.Log(l)
		}
	}
	if sent < floodFlows {
		t.Fatalf("udpload sent %d packets, want %d", sent, floodFlows)
	}
	if got < floodFlows*9/10 {
		t.Errorf("ips received %d of the %d flood packets: the flood did not reach the daemon", got, sent)
	}
	if rounds == 0 {
		t.Error("no legitimate flow was tried during the flood")
	}
	if mem.VmHWM > limit {
		t.Errorf("peak RSS %.1f MiB, want ≤ %d MiB", mib(mem.VmHWM), limit>>20)
	}
	// After the flood: still deciding.
	if _, err := apps.HTTPSGet(topo.LAN, lan, "allowed.example", 3*time.Second); err != nil {
		t.Errorf("after the flood, allowed.example: %v", err)
	}
	if _, err := apps.HTTPSGet(topo.LAN, lan, "blocked.example", 2*time.Second); err == nil {
		t.Error("after the flood, blocked.example got through")
	}
}

// floodRate is the flood's packet rate: new flows per second (IPS_FLOOD_RATE
// overrides it).
func floodRate() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("IPS_FLOOD_RATE"), 64); err == nil && v > 0 {
		return v
	}
	return 100_000
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func sysctl(t *testing.T, ns harness.NS, name string) string {
	t.Helper()
	out, err := ns.Run("cat", "/proc/sys/"+name)
	if err != nil {
		return fmt.Sprint(err)
	}
	return strings.TrimSpace(out)
}
