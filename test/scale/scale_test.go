// Package scale measures whether the per-queue work of "ips run" scales
// across cores: N workers in one process, each with its own DPI engine
// and policy worker (as ips run gives each queue), sharing what ips run
// shares (the compiled policy behind one Holder, one DNS cache), each
// deciding the same replayed traffic. The packets are read from captures
// into memory first, so no load generator shares the cores with the
// workers; the NFQUEUE receive and verdict syscalls are not part of it
// (test/e2e's speed test measures those).
//
//	go test ./test/scale -run Scale -v                 # the ratio, asserted
//	go test ./test/scale -run x -bench Workers -benchtime 3x
package scale

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"ips/dpi"
	"ips/dpi/capture"
	"ips/policy"
	"ips/verdict"
)

// The policy the workers judge with: a hostname block list, protocol and
// category rules, so that every flow runs the whole policy evaluation.
const policyText = `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {
  "protocols": {"BitTorrent": "drop", "Tor": "drop"},
  "categories": {"Malware": "drop"},
  "hostnames": {"blocked.example": "drop", "*.doubleclick.net": "drop", "www.facebook.com": "drop"}}}]}`

type pkt struct {
	data []byte
	link dpi.LinkType
	ts   int64
}

// captures lists the replayed files: nDPI's conformance captures when
// they sit beside the checkout (../shared/conformance/ndpi/pcap, 200+
// files of real traffic), else the project's own testdata/captures.
func captures(tb testing.TB) (string, []string) {
	for _, dir := range []string{os.Getenv("IPS_SCALE_PCAPS"), "../../../shared/conformance/ndpi/pcap", "../../testdata/captures"} {
		if dir == "" {
			continue
		}
		var files []string
		for _, pat := range []string{"*.pcap", "*.pcapng"} {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			files = append(files, m...)
		}
		if len(files) > 0 {
			sort.Strings(files)
			return dir, files
		}
	}
	tb.Fatal("no captures found (testdata/captures is part of the repository)")
	return "", nil
}

type replay struct {
	pkts []pkt
	dir  string
	span int64 // nanoseconds from the first packet to past the last
}

var loadOnce = sync.OnceValue(func() replay {
	dir, files := captures(nil)
	var out []pkt
	// Each capture's packets are moved onto one timeline, one capture
	// after the other, so that flows of different files never meet and
	// time never runs backwards in the engine.
	var base int64
	for _, f := range files {
		r, err := capture.Open(f)
		if err != nil {
			continue
		}
		var first, last int64
		for {
			data, link, ts, err := r.Next()
			if err != nil {
				break
			}
			if first == 0 {
				first = ts
			}
			if ts < first {
				ts = first
			}
			last = ts
			out = append(out, pkt{data: append([]byte(nil), data...), link: link, ts: base + ts - first})
		}
		r.Close()
		base += last - first + int64(time.Minute)
	}
	return replay{pkts: out, dir: dir, span: base}
})

func packets(tb testing.TB) replay {
	tb.Helper()
	captures(tb) // fails the test when there are none
	r := loadOnce()
	if len(r.pkts) == 0 {
		tb.Fatalf("no packets read from the captures in %s", r.dir)
	}
	return r
}

// worker is one queue's decision path: decode, DPI, policy.
type worker struct {
	w *policy.Worker
	p dpi.Packet
}

func newWorker(h *policy.Holder, dns *dpi.DNSCache) *worker {
	return &worker{w: policy.NewWorker(policy.WorkerConfig{Engine: dpi.Config{DNSCache: dns}, Policy: h, Fail: verdict.FailOpen}, nil)}
}

// round decides every packet once, then ends every flow, so that the next
// round inspects them from their first packet again. It returns the
// number of final decisions (a check that the work was done).
func (w *worker) round(pkts []pkt, shift int64) int {
	final := 0
	for i := range pkts {
		if w.p.Decode(pkts[i].link, pkts[i].data) != nil {
			continue
		}
		if _, d := w.w.ProcessDecoded(&w.p, pkts[i].ts+shift); d.Final {
			final++
		}
	}
	w.w.Flush()
	return final
}

func loadPolicy(tb testing.TB) *policy.Holder {
	tb.Helper()
	set, _, err := policy.Parse("scale.json", []byte(policyText), policy.LoadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	h := &policy.Holder{}
	h.Store(set)
	return h
}

// measurement is one run of n workers.
type measurement struct {
	workers int
	packets int
	wall    time.Duration
	cpu     time.Duration // user + system time of the whole process
}

func (m measurement) rate() float64 { return float64(m.packets) / m.wall.Seconds() }

// perCPU is packets per CPU second: it stays the same when the workers
// do not slow each other down (locks, shared cache lines), whether or not
// the machine gave the process a core per worker.
func (m measurement) perCPU() float64 { return float64(m.packets) / m.cpu.Seconds() }

func (m measurement) cores() float64 { return m.cpu.Seconds() / m.wall.Seconds() }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run has n workers, each on its own locked OS thread as ips run's queue
// workers are, decide rounds rounds of the packets.
func run(tb testing.TB, n, rounds int, rp replay) measurement {
	pkts := rp.pkts
	h := loadPolicy(tb)
	dns := dpi.NewDNSCache(1 << 16)
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = newWorker(h, dns)
		ws[i].round(pkts, 0) // warm up: tables and buffers grown
	}
	runtime.GC()
	var start sync.WaitGroup
	var done sync.WaitGroup
	start.Add(1)
	finals := make([]int, n)
	for i, w := range ws {
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start.Wait()
			for r := 1; r <= rounds; r++ {
				finals[i] += w.round(pkts, int64(r)*rp.span)
			}
		}()
	}
	cpu0, t0 := cpuTime(), time.Now()
	start.Done()
	done.Wait()
	m := measurement{workers: n, packets: n * rounds * len(pkts), wall: time.Since(t0), cpu: cpuTime() - cpu0}
	// The workers' tables hash with seeds of their own and share the DNS
	// cache, so a few flows may end differently; the work must be the
	// same all but that.
	for i := 1; i < n; i++ {
		if d := finals[i] - finals[0]; d*100 > finals[0] || -d*100 > finals[0] {
			tb.Errorf("worker %d made %d final decisions, worker 0 %d: the workers did different work", i, finals[i], finals[0])
		}
	}
	if finals[0] == 0 {
		tb.Error("no final decision in a round")
	}
	return m
}

// rounds gives about target of work per measurement for one worker.
func roundsFor(tb testing.TB, rp replay, target time.Duration) int {
	m := run(tb, 1, 1, rp)
	r := int(target / m.wall)
	return max(1, min(r, 1000))
}

// TestWorkersScale: two workers decide ≥ 1.6× the packets per second of
// one when the process gets two cores (best of several alternating
// measurements). Whatever the machine's load, the work per CPU second
// must not fall with two workers (≥ 0.85 of one worker's): that is what
// fails when workers contend on a lock or a shared cache line. When the
// machine did not give the process two cores in any measurement, the
// wall-clock ratio cannot be judged and the test says so in its log.
func TestWorkersScale(t *testing.T) {
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		t.Skipf("needs 2 CPUs to run two workers side by side: NumCPU %d, GOMAXPROCS %d", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}
	pkts := packets(t)
	rounds := roundsFor(t, pkts, 400*time.Millisecond)
	var best1, best2 measurement
	var bestEff float64
	cored := false
	for i := 0; i < 5; i++ {
		m1 := run(t, 1, rounds, pkts)
		m2 := run(t, 2, rounds, pkts)
		t.Logf("round %d: 1 worker %.0f pkt/s (%.2f cores), 2 workers %.0f pkt/s (%.2f cores): ×%.2f, per CPU second ×%.2f",
			i, m1.rate(), m1.cores(), m2.rate(), m2.cores(), m2.rate()/m1.rate(), m2.perCPU()/m1.perCPU())
		if i == 0 || m1.rate() > best1.rate() {
			best1 = m1
		}
		if i == 0 || m2.rate() > best2.rate() {
			best2 = m2
		}
		bestEff = max(bestEff, m2.perCPU()/m1.perCPU())
		if m2.cores() >= 1.8 {
			cored = true
		}
		if best2.rate()/best1.rate() >= 1.8 && bestEff >= 0.9 {
			break
		}
	}
	ratio := best2.rate() / best1.rate()
	t.Logf("%d packets from %s, %d rounds per worker: best 1 worker %.0f pkt/s, best 2 workers %.0f pkt/s: ×%.2f; per CPU second ×%.2f",
		len(pkts.pkts), pkts.dir, rounds, best1.rate(), best2.rate(), ratio, bestEff)
	if bestEff < 0.85 {
		t.Errorf("two workers do %.2f of one worker's work per CPU second (want ≥ 0.85): they slow each other down", bestEff)
	}
	switch {
	case ratio >= 1.6:
	case !cored:
		t.Logf("the machine never gave the process two cores (other work is running), so the wall-clock ratio ×%.2f is not judged", ratio)
	default:
		t.Errorf("two workers reach ×%.2f of one worker's throughput, want ≥ 1.6", ratio)
	}
}

// BenchmarkWorkers reports packets per second for 1 and 2 workers (and
// NumCPU when larger); each benchmark iteration is one round per worker.
func BenchmarkWorkers(b *testing.B) {
	pkts := packets(b)
	counts := []int{1, 2}
	if n := runtime.NumCPU(); n > 2 {
		counts = append(counts, n)
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			m := run(b, n, b.N, pkts)
			b.ReportMetric(m.rate(), "pkt/s")
			b.ReportMetric(m.cores(), "cores")
			b.ReportMetric(float64(m.wall.Nanoseconds())/float64(m.packets/n), "ns/pkt/worker")
		})
	}
}
