//go:build linux

package e2e

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ips/test/harness"
	"ips/verdict"
)

// A decided flow is handled by the kernel: a 100 MB download through an
// allowed flow queues only its first packets and runs at the bridge's
// speed without ips.
//
// The bridge without ips is a second, identical topology beside the
// first, and downloads alternate between the two (ABBA), so that the
// machine's drift (a bare bridge's rate moves by a third from one second
// to the next on a shared VM) hits both alike; the medians are compared.
// What stays is a spread from one pair of topologies to the next (on the
// 2-vCPU VM the ratio of one measurement ranges 83–102 % around a mean
// of about 94 %; conntrack is the cost: about 2 % more CPU in a perf
// profile). So up to three independent measurements are made, each on
// fresh namespaces, and the best counts.
func TestDownloadOffload(t *testing.T) {
	const size = 100 << 20
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	if err := harness.PoolPolicy(pol, "pass", nil); err != nil {
		t.Fatal(err)
	}
	best := 0.0
	for attempt := 1; attempt <= 3 && best < 0.9; attempt++ {
		topo := harness.NewTopology(t)
		bare := harness.NewTopology(t)
		ratio, queued, downloads := measureOffload(t, topo, bare, dir, pol, size)
		if queued/downloads >= 50 {
			t.Errorf("%d packets of a download were queued, want < 50", queued/downloads)
		}
		best = max(best, ratio)
	}
	if best < 0.9 {
		t.Errorf("throughput through ips %.0f%% of the bridge alone at best, want >= 90%%", 100*best)
	}
}

// measureOffload runs 60 pairs of downloads, alternating between the
// bridge with ips and the bare one, and returns the ratio of the medians
// and how many packets ips queued.
func measureOffload(t *testing.T, topo, bare *harness.Topology, dir, pol string, size int64) (ratio float64, queued, downloads uint64) {
	for _, tp := range []*harness.Topology{topo, bare} {
		harness.Serve(tp.WAN.Listen(t, "tcp", ":8000"), harness.Download(size))
	}
	wan := topo.WANAddr.String() + ":8000"
	fetch := func(tp *harness.Topology) float64 {
		t.Helper()
		n, rate, err := harness.Fetch(tp.LAN, tp.LAN4(0), wan, 30*time.Second)
		if err != nil || n != size {
			t.Fatalf("download: %d bytes, %v", n, err)
		}
		return rate
	}
	d := topo.StartDaemon(t, dir, "--policy", pol)
	defer d.Stop()
	// Let the daemon's start-up work (policy load, table install, the
	// first garbage collection) finish before measuring.
	time.Sleep(300 * time.Millisecond)
	before := d.Stats(t).QueuedPackets()
	var alone, with []float64
	const pairs = 60
	for i := 0; i < pairs; i++ {
		if i%2 == 0 {
			alone, with = append(alone, fetch(bare)), append(with, fetch(topo))
		} else {
			with, alone = append(with, fetch(topo)), append(alone, fetch(bare))
		}
	}
	ratio = median(with) / median(alone)
	queued = d.Stats(t).QueuedPackets() - before
	t.Logf("RESULT %d downloads of 100 MB each way, alternating: bridge alone median %.0f MB/s, through ips %.0f MB/s (%.0f%%); %d packets queued for %d downloads",
		pairs, median(alone)/1e6, median(with)/1e6, 100*ratio, queued, pairs)
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	found := false
	for _, c := range topo.Conntrack(t) {
		if c.Tuple.Proto == 6 && c.Tuple.Dst.Port() == 8000 {
			if dec, ok := layout.Decode(c.Mark); !ok || dec.Action != verdict.Pass {
				t.Errorf("download's ct mark %#x is not a pass decision", c.Mark)
			}
			found = true
		}
	}
	if !found {
		t.Error("no conntrack entry for the download")
	}
	return ratio, queued, pairs
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return (v[len(v)/2] + v[(len(v)-1)/2]) / 2
}
