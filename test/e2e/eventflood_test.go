//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"ips/test/harness"
)

// A burst of decided flows ending at once (conntrack flushed with 1,000
// decided UDP entries) gives at most the rate limit's ended events
// (--ended-events-rate 200 a second); the rest are counted as suppressed,
// none is lost unnoticed.
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
	const rate = 200
	d := topo.StartDaemon(t, dir, "--policy", pol, "--events", events, "--ended-events-rate", fmt.Sprint(rate))
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
	const flows = 1000
	// 17 packets a flow: past the UDP inspection budget (16), so each
	// flow is decided even when nothing classifies it. At a rate a busy
	// 2-core machine keeps up with (beyond it fail-open lets packets
	// past the queue and fewer flows are decided).
	topo.LAN.SendUDP(t, harness.UDPLoad{Src: topo.LAN4(0), Dst: netip.AddrPortFrom(topo.WANAddr, 9999), Ports: flows, PerFlow: 17, Payload: 32, Duration: 2 * time.Second, Rate: 10000})
	deadline := time.Now().Add(3 * time.Second)
	n, _, _ := status()
	for n < flows*9/10 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n, _, _ = status()
	}
	// Well over the limit's burst, or the test shows nothing.
	if n < 3*rate {
		t.Fatalf("only %d of %d UDP flows decided and tracked (want at least %d)", n, flows, 3*rate)
	}
	_, ended0, _ := status()
	flushed := time.Now()
	topo.Bridge.MustRun(t, "conntrack", "-F")
	time.Sleep(1500 * time.Millisecond)
	_, ended, suppressed := status()
	elapsed := time.Since(flushed).Seconds()
	ended -= ended0
	t.Logf("%d tracked flows flushed: %d ended events, %d suppressed in %.1fs", n, ended, suppressed, elapsed)
	if max := uint64(rate + rate*elapsed); ended > max {
		t.Errorf("%d ended events in %.1fs, the limit allows %d", ended, elapsed, max)
	}
	if suppressed == 0 || ended+suppressed < uint64(n)*9/10 {
		t.Errorf("%d flows ended: %d events, %d suppressed (want the rest counted)", n, ended, suppressed)
	}
	if tr, _, _ := status(); tr > n/10 {
		t.Errorf("%d flows still tracked after the flush", tr)
	}
}
