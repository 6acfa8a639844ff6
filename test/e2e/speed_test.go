//go:build linux

package e2e

import (
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"ips/nfq"
	"ips/test/harness"
	"ips/verdict"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestQueueSpeed compares the daemon's queue loop with nfqaccept-c, the
// plain C consumer, on the same queue, the same rules (our table) and the
// same load: small UDP packets from LAN to WAN, one flow per packet pair,
// every packet queued (the decider never decides). Then it measures the
// latency a queued packet gets at half the C consumer's rate against the
// bridge without a queue rule.
//
// IPS_SPEED_SECONDS (default 2) and IPS_SPEED_ROUNDS (default 3) set the
// length of each run and how many alternating rounds are measured; the
// best run of each consumer is compared, which is what the shared,
// noisy CI machine allows.
func TestQueueSpeed(t *testing.T) {
	topo := harness.NewTopology(t)
	harness.NfqacceptC(t) // skips without the yardstick
	secs := envInt("IPS_SPEED_SECONDS", 2)
	rounds := envInt("IPS_SPEED_ROUNDS", 3)
	dur := time.Duration(secs) * time.Second
	dst := netip.AddrPortFrom(topo.WANAddr, 9999)
	load := harness.UDPLoad{Src: topo.LAN4(0), Dst: dst, Ports: 8192, PerFlow: 2, Payload: 64, Duration: dur}
	// The WAN host discards the load before any socket (no ICMP errors
	// coming back through the queue).
	for _, c := range [][]string{
		{"nft", "add", "table", "inet", "sink"},
		{"nft", "add", "chain", "inet", "sink", "pre", "{ type filter hook prerouting priority -300; }"},
		{"nft", "add", "rule", "inet", "sink", "pre", "udp", "dport", "9999", "drop"},
	} {
		topo.WAN.MustRun(t, c[0], c[1:]...)
	}
	layout, _ := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	cfg := nfq.Config{Queues: 1, Layout: layout, LAN: []string{topo.LANPort}, WAN: []string{topo.WANPort}}

	runC := func() float64 {
		var remove func() error
		if err := topo.Bridge.Do(func() (err error) { remove, err = nfq.InstallRules(cfg); return err }); err != nil {
			t.Fatal(err)
		}
		defer topo.Bridge.Do(remove)
		y := topo.Bridge.StartYardstick(t, 0)
		sent := topo.LAN.SendUDP(t, load)
		time.Sleep(100 * time.Millisecond)
		n, err := y.Stop()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("nfqaccept-c: %d of %d packets sent: %.0f pps handled", n, sent, float64(n)/dur.Seconds())
		return float64(n) / dur.Seconds()
	}
	runGo := func() float64 {
		decs := harness.NewPortDeciders(harness.PortPolicy{Never: true})
		c := cfg
		c.NewDecider = decs.New
		var d *nfq.Daemon
		if err := topo.Bridge.Do(func() (err error) { d, err = nfq.Start(c); return err }); err != nil {
			t.Fatal(err)
		}
		defer d.Stop()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		sent := topo.LAN.SendUDP(t, load)
		time.Sleep(100 * time.Millisecond)
		runtime.ReadMemStats(&m1)
		s := d.Stats()[0]
		// The whole process's allocations, the test's own included: the
		// receive/decide/verdict loop must add none per packet.
		if perPacket := float64(m1.Mallocs-m0.Mallocs) / float64(max(s.Packets, 1)); perPacket > 0.01 {
			t.Errorf("%.3f allocations per packet in the queue loop", perPacket)
		} else {
			t.Logf("allocations: %d in the process while %d packets were handled", m1.Mallocs-m0.Mallocs, s.Packets)
		}
		t.Logf("ips: %d of %d packets sent: %.0f pps handled (batches of %.1f, kernel queue dropped %d, user dropped %d, enobufs %d)",
			s.Packets, sent, float64(s.Packets)/dur.Seconds(), float64(s.Packets)/float64(max(s.Batches, 1)),
			s.Kernel.Dropped, s.Kernel.UserDropped, s.ENOBUFS)
		return float64(s.Packets) / dur.Seconds()
	}
	// Side by side: each round runs C then ips under the same load; the
	// rounds' ratios are compared by their median, robust to the bursts of
	// other work a shared machine has.
	var cRates, goRates, ratios []float64
	for r := 0; r < rounds; r++ {
		c := runC()
		g := runGo()
		cRates, goRates, ratios = append(cRates, c), append(goRates, g), append(ratios, g/c)
	}
	median := func(v []float64) float64 {
		v = append([]float64(nil), v...)
		sort.Float64s(v)
		return v[len(v)/2]
	}
	medianC := median(cRates)
	ratio := median(ratios)
	t.Logf("RESULT queue rate over %d rounds of %v: ips median %.0f pps (best %.0f), nfqaccept-c median %.0f pps (best %.0f); per-round ratios %.2f, median ratio %.2f",
		rounds, dur, median(goRates), slices.Max(goRates), medianC, slices.Max(cRates), ratios, ratio)
	if ratio < 0.8 {
		t.Errorf("ips handles %.0f%% of nfqaccept-c's packet rate, want >= 80%%", 100*ratio)
	}

	// Latency at half the C consumer's rate, with and without the queue.
	topo.WAN.MustRun(t, "nft", "delete", "table", "inet", "sink")
	half := load
	half.Rate = medianC / 2
	measure := func(what string) harness.Latency {
		sink := topo.WAN.StartUDPSink(t, 9999)
		sent := topo.LAN.SendUDP(t, half)
		l := sink.Stop(t)
		t.Logf("%s at %.0f pps: sent %d, %v", what, half.Rate, sent, l)
		return l
	}
	// Alternate the conditions and keep each one's lowest p99: other jobs
	// on a shared machine only ever add latency.
	var base, with, yard harness.Latency
	// The daemon's own share: how long packets waited in user space, from
	// the receive to the verdict (its histogram, best p99 bound of the
	// rounds).
	inDaemon := time.Duration(-1)
	keep := func(best *harness.Latency, l harness.Latency) {
		if best.Received == 0 || l.P99 < best.P99 {
			*best = l
		}
	}
	for r := 0; r < rounds; r++ {
		keep(&base, measure("bridge without queue"))
		func() {
			var remove func() error
			if err := topo.Bridge.Do(func() (err error) { remove, err = nfq.InstallRules(cfg); return err }); err != nil {
				t.Fatal(err)
			}
			defer topo.Bridge.Do(remove)
			y := topo.Bridge.StartYardstick(t, 0)
			keep(&yard, measure("through nfqaccept-c"))
			y.Stop()
		}()
		func() {
			decs := harness.NewPortDeciders(harness.PortPolicy{Never: true})
			c := cfg
			c.NewDecider = decs.New
			var d *nfq.Daemon
			if err := topo.Bridge.Do(func() (err error) { d, err = nfq.Start(c); return err }); err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			keep(&with, measure("through the ips queue"))
			if p := histP99(d.Stats()[0].Latency); inDaemon < 0 || p < inDaemon {
				inDaemon = p
			}
		}()
	}
	added := with.P99 - base.P99
	t.Logf("RESULT latency at %.0f pps (best p99 of %d rounds): bridge p50 %v p99 %v; nfqaccept-c p50 %v p99 %v; ips p50 %v p99 %v; added p99 %v (nfqaccept-c adds %v); in the daemon (receive to verdict) p99 ≤ %v",
		half.Rate, rounds, base.P50, base.P99, yard.P50, yard.P99, with.P50, with.P99, added, yard.P99-base.P99, inDaemon)
	switch {
	case base.P99 > 200*time.Microsecond:
		// When the bridge alone already varies by more than the margin
		// being judged, the machine is busy with other work and an added
		// 200 µs cannot be told from its noise.
		t.Logf("latency not judged: the bridge alone has p99 %v (machine busy; run scripts/bench-nfqueue.sh on a quiet machine)", base.P99)
	case added >= 200*time.Microsecond:
		t.Errorf("added p99 latency %v, want < 200µs", added)
	}
}

// histP99 is the upper bound of the bucket holding the 99th percentile.
func histP99(h nfq.Histogram) time.Duration {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	if n == 0 {
		return 0
	}
	want := (n*99 + 99) / 100
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= want {
			if i < len(nfq.LatencyBounds) {
				return nfq.LatencyBounds[i]
			}
			break
		}
	}
	return time.Hour // beyond the last bound
}
