//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

// soakWarmup is how long the soak runs before its resource baseline:
// past the engine's 30 s idle timeout, the flow tables hold as many flows
// as they will (flows end as fast as they start), so what still grows
// after it is a leak.
const soakWarmup = 35 * time.Second

// soakDuration is how long TestSoak runs: 60 s by default (CI), or
// IPS_SOAK (a Go duration such as 5m) for the long run.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("IPS_SOAK")
	if s == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < soakWarmup+15*time.Second {
		t.Fatalf("IPS_SOAK=%q: want a Go duration of at least %v, e.g. 5m", s, soakWarmup+15*time.Second)
	}
	return d
}

// metrics fetches the daemon's Prometheus text from inside the bridge
// namespace and returns the unlabelled samples.
func scrape(t *testing.T, topo *harness.Topology, addr string) map[string]float64 {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		return topo.Bridge.Dialer(netip.Addr{}, time.Second)(ctx, network, a)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// tally counts the attempts of one kind of traffic and the wrong
// outcomes (an allowed attempt that failed, a blocked one that worked).
type tally struct {
	mu    sync.Mutex
	tries map[string]int
	wrong map[string]int
	first []string
}

func (c *tally) add(kind string, blocked bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries[kind]++
	if (err == nil) == blocked {
		c.wrong[kind]++
		if len(c.first) < 10 {
			c.first = append(c.first, fmt.Sprintf("%s at %s: blocked=%v err=%v", kind, time.Now().Format("15:04:05.000"), blocked, err))
		}
	}
}

// TestSoak runs mixed traffic through ips for soakDuration (60 s, or
// IPS_SOAK) with a reload every 3 s, and asserts: every allowed attempt
// works and every blocked one fails (TLS and QUIC with an allowed and a
// blocked name, DNS, a BitTorrent handshake, 8 MB bulk downloads); two
// long-lived connections (TLS and plain TCP) never break nor stall for
// more than 3 s, through every reload; each reload changes no decision (the
// policy's meaning stays, its text changes); and the daemon's goroutines,
// open file descriptors and heap (its goal after each collection) stay
// flat once the flow tables are full (soakWarmup) to the end.
func TestSoak(t *testing.T) {
	dur := soakDuration(t)
	topo := harness.NewTopology(t)
	apps := topo.StartApps(t)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8080"), harness.Echo)
	harness.Serve(topo.WAN.Listen(t, "tcp", ":8081"), httpBulk(8<<20))
	pki := apps.PKI
	serveTLSEcho(t, topo, pki, ":8443")

	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.jsonl")
	// Each reload writes a different text with the same meaning: 5,000
	// hostname rules for names no test flow uses, renamed every time, so
	// that each compiled policy is a few MB and one kept alive by
	// mistake shows in the heap.
	writePol := func(gen int) {
		var b strings.Builder
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(&b, `, "unused%d-%d.example": "drop"`, gen, i)
		}
		line := fmt.Sprintf(`{"policy": {"id": 0, "name": "root", "default_marker": "pass", "markers": {"hostnames": {"blocked.example": "drop"%s}, "protocols": {"BitTorrent": "drop"}}}}`, b.String())
		if err := harness.WriteFile(pol, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	writePol(0)
	const metricsAddr = "127.0.0.1:9420"
	events := filepath.Join(dir, "events.ndjson")
	d := topo.StartDaemon(t, dir, "--policy", pol, "--metrics", metricsAddr, "--events", events)
	wanTLS := topo.WANAddr.String() + ":8443"
	// Echo waits of 20 s: a loaded machine may stall a process for
	// seconds, which the gap check below reports; a broken connection
	// is a lost flow.
	long := startTLSPingerWait(t, topo.LAN, topo.LAN4(0), wanTLS, "allowed.example", pki, 100*time.Millisecond, 20*time.Second)
	plain, err := harness.StartPinger(topo.LAN, topo.LAN4(1), topo.WANAddr.String()+":8080", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop()

	c := &tally{tries: map[string]int{}, wrong: map[string]int{}}
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	loop := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				fn()
			}
		}()
	}
	lan := topo.LAN4(2)
	loop(func() { // allowed
		body, err := apps.HTTPSGet(topo.LAN, lan, "allowed.example", 10*time.Second)
		if err == nil && body != "hello allowed.example" {
			err = fmt.Errorf("body %q", body)
		}
		c.add("tls allowed", false, err)
		c.add("quic allowed", false, apps.QUICEcho(topo.LAN, lan, "allowed.example", 10*time.Second))
		addrs, err := apps.Resolve(topo.LAN, lan, "allowed.example", 10*time.Second)
		if err == nil && (len(addrs) != 1 || addrs[0] != topo.WANAddr) {
			err = fmt.Errorf("answer %v", addrs)
		}
		c.add("dns", false, err)
	})
	loop(func() { // bulk
		conn, err := topo.LAN.Dial("tcp", lan, topo.WANAddr.String()+":8081", 5*time.Second)
		if err != nil {
			c.add("bulk", false, err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		n := int64(0)
		// An HTTP request, so the flow is named at its first payload: an
		// unnamed download is guessed by port, and a client port of
		// 51413 or 53646 (inside Linux's ephemeral range) guesses
		// BitTorrent, which this policy drops.
		if _, err = conn.Write([]byte("GET /bulk HTTP/1.1\r\nHost: bulk.example\r\n\r\n")); err == nil {
			n, err = io.Copy(io.Discard, conn)
		}
		if err == nil && n != 8<<20 {
			err = fmt.Errorf("%d bytes of %d", n, 8<<20)
		}
		if err != nil {
			// Say what the kernel holds for the flow.
			local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
			for _, e := range topo.Conntrack(t) {
				if e.Tuple.Src == local {
					err = fmt.Errorf("%w (%d bytes; conntrack %v mark %#x)", err, n, e.Tuple, e.Mark)
				}
			}
		}
		c.add("bulk", false, err)
	})
	// The blocked attempts come from an address of their own: after a
	// BitTorrent handshake the engine's peer cache (nDPI's behaviour)
	// names later unrecognised flows of that host pair BitTorrent too,
	// which the policy drops, and the bulk downloads would be among them.
	bad := netip.MustParseAddr("10.77.0.50")
	topo.LAN.MustRun(t, "ip", "addr", "add", bad.String()+"/24", "dev", "eth0")
	loop(func() { // blocked: an attempt that got through within a second is a leak
		_, err := apps.HTTPSGet(topo.LAN, bad, "blocked.example", time.Second)
		c.add("tls blocked", true, err)
		c.add("quic blocked", true, apps.QUICEcho(topo.LAN, bad, "blocked.example", time.Second))
		c.add("bittorrent", true, apps.BitTorrentHandshake(topo.LAN, bad, time.Second))
	})

	// Samples of the daemon's resources; the baseline is taken once the
	// traffic has run for a quarter of the time (tables and buffers
	// grown), the rest compared against it.
	type sample struct {
		at                   time.Duration
		goroutines, fds, mib float64
		inuse                float64 // heap in use now, garbage included (logged)
	}
	var samples []sample
	take := func() {
		m := scrape(t, topo, metricsAddr)
		// The heap goal (next_gc) is set at each collection from the live
		// heap: unlike heap in use, it does not saw up and down with the
		// garbage between collections.
		samples = append(samples, sample{time.Since(start), m["go_goroutines"], m["process_open_fds"],
			m["go_memstats_next_gc_bytes"] / (1 << 20), m["go_memstats_heap_inuse_bytes"] / (1 << 20)})
	}
	reloads, gen := 0, 0
	var maxGap time.Duration
	watch := func() {
		for _, last := range []time.Time{plain.LastEcho(), func() time.Time { l, _, _ := long.state(); return l }()} {
			if g := time.Since(last); g > maxGap {
				maxGap = g
			}
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	nextReload := start.Add(3 * time.Second)
	nextSample := start
	for time.Now().Before(end) {
		<-tick.C
		watch()
		if now := time.Now(); now.After(nextReload) {
			gen++
			writePol(gen)
			out, ok := d.Reload(t)
			if !ok || !strings.Contains(out, " 0 decided flows changed") {
				t.Errorf("reload %d: ok=%v: %s", gen, ok, strings.TrimSpace(out))
			}
			reloads++
			nextReload = now.Add(3 * time.Second)
		}
		if now := time.Now(); now.After(nextSample) {
			take()
			nextSample = now.Add(time.Second)
		}
	}
	wg.Wait()
	watch()
	take()
	if !d.Running() {
		t.Fatal("the daemon died during the soak")
	}
	if _, _, err := long.state(); err != nil {
		t.Errorf("the long-lived TLS connection broke: %v", err)
	}
	if maxGap > 3*time.Second {
		t.Errorf("a long-lived connection stalled for %v", maxGap)
	}

	c.mu.Lock()
	var kinds []string
	for k := range c.tries {
		kinds = append(kinds, k)
	}
	c.mu.Unlock()
	total := 0
	for _, k := range kinds {
		total += c.tries[k]
		t.Logf("%-13s %4d attempts, %d wrong", k, c.tries[k], c.wrong[k])
		if c.tries[k] < 3 {
			t.Errorf("%s: only %d attempts in %v", k, c.tries[k], dur)
		}
	}
	for _, f := range c.first {
		t.Errorf("wrong outcome: %s", f)
	}
	t.Logf("%v: %d attempts, %d reloads, longest gap of the long-lived connections %v", dur.Round(time.Second), total, reloads, maxGap.Round(time.Millisecond))

	// No flow ended with another verdict than the one it was decided
	// with: a reload that changed one would show here, with the flow.
	if err := d.Stop(); err != nil {
		t.Error(err)
	}
	checkVerdictsKept(t, events)

	// Flat: the baseline is the largest value of the first third after
	// the warm-up, the end the largest of the last third.
	var base, last sample
	third := (dur - soakWarmup) / 3
	for _, s := range samples {
		t.Logf("t=%5.1fs goroutines %3.0f fds %3.0f heap goal %5.1f MiB (in use %5.1f MiB)", s.at.Seconds(), s.goroutines, s.fds, s.mib, s.inuse)
		switch {
		case s.at >= soakWarmup && s.at <= soakWarmup+third:
			base.goroutines, base.fds, base.mib = max(base.goroutines, s.goroutines), max(base.fds, s.fds), max(base.mib, s.mib)
		case s.at >= dur-third:
			last.goroutines, last.fds, last.mib = max(last.goroutines, s.goroutines), max(last.fds, s.fds), max(last.mib, s.mib)
		}
	}
	if base.goroutines == 0 || last.goroutines == 0 {
		t.Fatalf("too few samples: %d", len(samples))
	}
	if last.goroutines > base.goroutines+5 {
		t.Errorf("goroutines grew from %.0f to %.0f", base.goroutines, last.goroutines)
	}
	if last.fds > base.fds+5 {
		t.Errorf("open file descriptors grew from %.0f to %.0f", base.fds, last.fds)
	}
	if last.mib > base.mib*1.3+8 {
		t.Errorf("heap goal (live heap after a collection, doubled) grew from %.1f to %.1f MiB", base.mib, last.mib)
	}
}

// httpBulk answers one HTTP request (read whole, so that closing sends a
// FIN and not a reset) with n bytes.
func httpBulk(n int) func(net.Conn) {
	return func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		chunk := make([]byte, 256<<10)
		for left := n; left > 0; left -= len(chunk) {
			if _, err := c.Write(chunk[:min(left, len(chunk))]); err != nil {
				return
			}
		}
	}
}

// checkVerdictsKept reads the events file and reports flows whose "ended"
// verdict differs from their "decided" one.
func checkVerdictsKept(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type key struct {
		proto        int
		src, dst     string
		sport, dport int
	}
	decided := map[key]string{}
	lines := map[key]string{}
	n, changed := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Event   string `json:"event"`
			Proto   int    `json:"protocol"`
			Src     string `json:"src_ip"`
			Dst     string `json:"dst_ip"`
			SPort   int    `json:"src_port"`
			DPort   int    `json:"dst_port"`
			Verdict string `json:"verdict"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		k := key{ev.Proto, ev.Src, ev.Dst, ev.SPort, ev.DPort}
		switch ev.Event {
		case "decided":
			decided[k] = ev.Verdict
			lines[k] = sc.Text()
		case "ended":
			v, ok := decided[k]
			delete(decided, k)
			if !ok {
				continue
			}
			n++
			if v != ev.Verdict {
				changed++
				if changed <= 3 {
					t.Errorf("flow decided %s ended %s:\n  %s\n  %s", v, ev.Verdict, lines[k], sc.Text())
				}
			}
		}
	}
	t.Logf("%d flows decided and ended, %d with another verdict at the end", n, changed)
	if n == 0 {
		t.Error("no decided and ended flow in the events")
	}
}
