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

	// Latency at half the C consumer's rate, end to end through the
	// bridge alone, through nfqaccept-c and through ips, the same way for
	// all three. The sink sees one flow in 16 (the rest is dropped on
	// the WAN host before any socket), so the measuring process does not
	// take the CPU the measured path needs; every packet still crosses
	// the bridge. The daemon's own histogram (each packet's arrival on
	// the bridge to its verdict, queue wait included) is reported beside.
	topo.WAN.MustRun(t, "nft", "flush", "chain", "inet", "sink", "pre")
	topo.WAN.MustRun(t, "nft", "add", "rule", "inet", "sink", "pre", "udp", "dport", "9999", "udp", "sport", "&", "15", "!=", "0", "drop")
	half := load
	half.Rate = medianC / 2
	half.Duration = time.Duration(envInt("IPS_LATENCY_MS", 1000)) * time.Millisecond
	latRounds := envInt("IPS_LATENCY_ROUNDS", 5)
	measure := func(what string) harness.Latency {
		sink := topo.WAN.StartUDPSink(t, 9999)
		sent := topo.LAN.SendUDP(t, half)
		l := sink.Stop(t)
		t.Logf("%s at %.0f pps: sent %d, sampled %v", what, half.Rate, sent, l)
		return l
	}
	// Alternate the conditions and keep each one's lowest p99: other jobs
	// on a shared machine only ever add latency.
	var base, with, yard harness.Latency
	var waits, users []time.Duration
	var baseWorst time.Duration
	keep := func(best *harness.Latency, l harness.Latency) {
		if best.Received == 0 || l.P99 < best.P99 {
			*best = l
		}
	}
	for r := 0; r < latRounds; r++ {
		b := measure("bridge without queue")
		keep(&base, b)
		baseWorst = max(baseWorst, b.P99)
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
			c.ArrivalStamps = true
			var d *nfq.Daemon
			if err := topo.Bridge.Do(func() (err error) { d, err = nfq.Start(c); return err }); err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			keep(&with, measure("through the ips queue"))
			s := d.Stats()[0]
			if stamped := s.Wait.Count(); stamped < s.Packets*9/10 {
				t.Fatalf("only %d of %d packets had an arrival timestamp (NFQA_TIMESTAMP)", stamped, s.Packets)
			}
			waits = append(waits, histP99(s.Wait))
			users = append(users, histP99(s.Latency))
			t.Logf("  in the daemon: arrival to verdict p99 ≤ %v, receive to verdict p99 ≤ %v; histogram %v (bounds %v)",
				waits[len(waits)-1], users[len(users)-1], s.Wait.Counts, nfq.LatencyBounds)
		}()
	}
	wait, user := slices.Min(waits), slices.Min(users)
	added, yardAdded := with.P99-base.P99, yard.P99-base.P99
	t.Logf("RESULT latency at %.0f pps (best p99 of %d rounds): bridge p50 %v p99 %v; ips p50 %v p99 %v, added p99 %v; nfqaccept-c p50 %v p99 %v, added p99 %v; in the daemon p99: arrival to verdict ≤ %v, receive to verdict ≤ %v",
		half.Rate, latRounds, base.P50, base.P99, with.P50, with.P99, added, yard.P50, yard.P99, yardAdded, wait, user)
	const bound = 200 * time.Microsecond
	// Our own share, from the receive to the verdicts written (which
	// includes the kernel re-injecting the batch): machine noise moves
	// it least.
	if user > bound {
		t.Errorf("the daemon holds packets p99 ≤ %v from receive to verdict, want ≤ %v", user, bound)
	}
	// The end-to-end bound. A machine whose CPUs are shared by the load
	// generator, the sink and the consumer (two vCPUs in CI) stalls for
	// milliseconds now and then (a timer-wakeup probe on the CI VM, idle:
	// max 1.2–1.9 ms every 3 s), and then every consumer's p99, the C
	// one's included, reaches milliseconds in some rounds and not in
	// others. The bound is judged on a machine quiet throughout: the bare
	// bridge within half the bound in every round.
	switch {
	case added < bound:
	case baseWorst < bound/2:
		t.Errorf("ips adds p99 %v over a bridge that stayed quiet (p99 ≤ %v in every round): want < %v", added, baseWorst, bound)
	default:
		t.Logf("the %v bound is not judged: the bare bridge itself reached p99 %v in some round (machine busy; run scripts/bench-nfqueue.sh on quiet hardware)", bound, baseWorst)
	}
}

// histP99 is the upper bound of the bucket holding the 99th percentile.
func histP99(h nfq.Histogram) time.Duration {
	n := h.Count()
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
