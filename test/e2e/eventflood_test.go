//go:build linux

package e2e

import (
	"encoding/json"
	"net/netip"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"ips/test/harness"
)

// A burst of decided flows ending at once (conntrack flushed with 3,000
// decided UDP entries) gives at most the rate limit's ended events (2,000
// a second); the rest are counted as suppressed, none is lost unnoticed.
func TestEndedEventsBounded(t *testing.T) {
	topo := harness.NewTopology(t)
	// The WAN host discards the load before any socket (no ICMP errors).
	for _, c := range [][]string{
		{"nft", "add", "table", "inet", "sink"},
		{"nft", "add", "chain", "inet", "sink", "pre", "{ type filter hook prerouting priority -300; }"},
		{"nft", "add", "rule", "inet", "sink", "pre", "udp", "dport", "9999", "drop"},
	} {
		topo.WAN.MustRun(t, c[0], c[1:]...)
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.ndjson")
	d := topo.StartDaemon(t, dir, "--policy", pol, "--events", events)
	status := func() (tracked int, ended, suppressed uint64) {
		t.Helper()
		out, err := exec.Command(harness.Binary(t), "status", "--json", "--control", d.Control).CombinedOutput()
		if err != nil {
			t.Fatalf("ips status: %v %s", err, out)
		}
		var s struct {
			Flows struct {
				Tracked    int    `json:"tracked"`
				Ended      uint64 `json:"ended_conntrack"`
				Suppressed uint64 `json:"ended_suppressed"`
			} `json:"flows"`
		}
		json.Unmarshal(out, &s)
		return s.Flows.Tracked, s.Flows.Ended, s.Flows.Suppressed
	}
	const flows = 3000
	// 20 packets a flow: past the UDP inspection budget, so each flow is
	// decided even when nothing classifies it.
	topo.LAN.SendUDP(t, harness.UDPLoad{Src: topo.LAN4(0), Dst: netip.AddrPortFrom(topo.WANAddr, 9999), Ports: flows, PerFlow: 20, Payload: 32, Duration: 4 * time.Second, Rate: 20000})
	deadline := time.Now().Add(5 * time.Second)
	n, _, _ := status()
	for n < flows*9/10 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n, _, _ = status()
	}
	if n < flows*9/10 {
		t.Fatalf("only %d of %d UDP flows decided and tracked", n, flows)
	}
	_, ended0, _ := status()
	flushed := time.Now()
	topo.Bridge.MustRun(t, "conntrack", "-F")
	time.Sleep(1500 * time.Millisecond)
	_, ended, suppressed := status()
	elapsed := time.Since(flushed).Seconds()
	ended -= ended0
	t.Logf("%d tracked flows flushed: %d ended events, %d suppressed in %.1fs", n, ended, suppressed, elapsed)
	if max := uint64(2000 + 2000*elapsed); ended > max {
		t.Errorf("%d ended events in %.1fs, the limit allows %d", ended, elapsed, max)
	}
	if suppressed == 0 || ended+suppressed < uint64(n)*9/10 {
		t.Errorf("%d flows ended: %d events, %d suppressed (want the rest counted)", n, ended, suppressed)
	}
	if tr, _, _ := status(); tr > n/10 {
		t.Errorf("%d flows still tracked after the flush", tr)
	}
}
