//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"ips/test/harness"
)

// TestQueueBalanceByHostPair: the kernel picks a flow's queue from a hash
// of its addresses and IP protocol, not its ports, so with --queues 2
// every flow between one pair of hosts lands on one queue (one worker,
// one core), while flows of many host pairs spread over both. A pass-all
// policy decides each flow at its first packet, so each flow queues one
// packet.
func TestQueueBalanceByHostPair(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	// 16 more LAN addresses for the many-pairs half.
	var extra []netip.Addr
	for i := 0; i < 16; i++ {
		a := netip.MustParseAddr(fmt.Sprintf("10.77.0.%d", 100+i))
		topo.LAN.MustRun(t, "ip", "addr", "add", a.String()+"/24", "dev", "eth0")
		extra = append(extra, a)
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	d := topo.StartDaemon(t, dir, "--policy", pol) // --queues 2
	wan := topo.WANAddr.String() + ":8080"
	perQueue := func() []uint64 {
		var out []uint64
		for _, q := range d.Stats(t).Queues {
			out = append(out, q.Packets)
		}
		return out
	}
	delta := func(a, b []uint64) (lo, hi uint64) {
		x, y := b[0]-a[0], b[1]-a[1]
		return min(x, y), max(x, y)
	}

	const flows = 40
	before := perQueue()
	for i := 0; i < flows; i++ {
		if err := harness.EchoOnce(topo.LAN, topo.LAN4(0), wan, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	lo, hi := delta(before, perQueue())
	t.Logf("%d flows of one host pair: %d and %d packets on the two queues", flows, hi, lo)
	// A stray IPv6 multicast packet may land on the other queue.
	if hi < flows || lo > 3 {
		t.Errorf("one host pair: queues got %d and %d packets, want all %d flows on one queue", hi, lo, flows)
	}

	before = perQueue()
	for _, a := range extra {
		for j := 0; j < 2; j++ {
			if err := harness.EchoOnce(topo.LAN, a, wan, 2*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	lo, hi = delta(before, perQueue())
	t.Logf("%d flows of %d host pairs: %d and %d packets on the two queues", 2*len(extra), len(extra), hi, lo)
	// All 16 pairs on one queue has odds 2^-15 with the kernel's
	// random hash seed.
	if lo < 2 {
		t.Errorf("%d host pairs: queues got %d and %d packets, want both used", len(extra), hi, lo)
	}
}
