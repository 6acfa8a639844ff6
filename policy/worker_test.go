package policy

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"

	"ips/dpi"
	"ips/verdict"
)

// Packets built from the headers of RFC 791 (IPv4), RFC 8200 (IPv6),
// RFC 9293 (TCP), RFC 768 (UDP) and RFC 792 (ICMP). Checksums are left
// zero: the engine does not verify them.

func ipPacket(src, dst string, proto uint8, l4 []byte) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	if s.Is4() {
		b := make([]byte, 20, 20+len(l4))
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
		b[8], b[9] = 64, proto
		s4, d4 := s.As4(), d.As4()
		copy(b[12:], s4[:])
		copy(b[16:], d4[:])
		return append(b, l4...)
	}
	b := make([]byte, 40, 40+len(l4))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	b[6], b[7] = proto, 64
	s16, d16 := s.As16(), d.As16()
	copy(b[8:], s16[:])
	copy(b[24:], d16[:])
	return append(b, l4...)
}

func tcpSeg(sport, dport uint16, flags uint8, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 1000)
	b[12] = 5 << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 65535)
	return append(b, payload...)
}

func udpDgram(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func icmpEcho() []byte { return []byte{8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'} }

type workerRig struct {
	t       *testing.T
	holder  *Holder
	w       *Worker
	now     int64
	decided []verdict.Decision
	ended   []verdict.Decision
	endedAt []netip.AddrPort
}

func newRig(t *testing.T, s *Set, cfg WorkerConfig) *workerRig {
	r := &workerRig{t: t, holder: &Holder{}, now: 1_700_000_000e9}
	if s != nil {
		r.holder.Store(s)
	}
	cfg.Policy = r.holder
	cfg.Decided = func(f *dpi.Flow, d verdict.Decision) { r.decided = append(r.decided, d) }
	cfg.Ended = func(f *dpi.Flow, d verdict.Decision) {
		r.ended = append(r.ended, d)
		r.endedAt = append(r.endedAt, f.Client())
	}
	r.w = NewWorker(cfg, nil)
	return r
}

func (r *workerRig) send(data []byte, from verdict.Side) verdict.Decision {
	r.now += 1e6
	return r.w.Decide(&verdict.Packet{Data: data, Time: r.now, From: from})
}

func (r *workerRig) sendMAC(data []byte, from verdict.Side, m string) verdict.Decision {
	r.now += 1e6
	return r.w.Decide(&verdict.Packet{Data: data, Time: r.now, From: from, HWAddr: mac(m), HasHWAddr: true})
}

func TestWorkerBlockTorUntilGivenUp(t *testing.T) {
	s, _, err := Load("../examples/policies/block-tor.json", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, s, WorkerConfig{})
	const cli, srv = "192.168.1.10", "91.143.93.242"
	out := func(flags uint8, p []byte) []byte {
		return ipPacket(cli, srv, dpi.IPProtoTCP, tcpSeg(40000, 443, flags, p))
	}
	in := func(flags uint8, p []byte) []byte {
		return ipPacket(srv, cli, dpi.IPProtoTCP, tcpSeg(443, 40000, flags, p))
	}
	pkts := [][]byte{out(dpi.TCPSyn, nil), in(dpi.TCPSyn|dpi.TCPAck, nil), out(dpi.TCPAck, nil)}
	for i := 0; i < 10; i++ {
		// 10 bytes: a shorter first segment would be gathered (see the
		// engine's stream normalisation), not charged to the budget.
		pkts = append(pkts, out(dpi.TCPPsh|dpi.TCPAck, []byte{0xde, 0xad, byte(i), 0, 0, 0, 0, 0, 0, 0}))
	}
	final := -1
	for i, p := range pkts {
		d := r.send(p, verdict.SideUnknown)
		if d.Action != verdict.Pass {
			t.Fatalf("packet %d: %v", i, d.Action)
		}
		if d.Final && final < 0 {
			final = i
		}
		if !d.Final && final >= 0 {
			t.Fatalf("packet %d: final decision went back to not final", i)
		}
	}
	// The engine gives up after its TCP budget (10 packets) and guesses
	// TLS by port; until then Tor could still be found.
	if final != 9 {
		t.Errorf("decision final at packet %d, want 9 (the DPI budget)", final)
	}
	if len(r.decided) != 1 || r.decided[0].Explain() != "policy 0: default_marker → pass" {
		t.Errorf("Decided calls %+v", r.decided)
	}
	r.w.Flush()
	if len(r.ended) != 1 || r.ended[0].Action != verdict.Pass || !r.ended[0].Final {
		t.Errorf("Ended calls %+v", r.ended)
	}
	st := r.w.Stats()
	if st.Packets != uint64(len(pkts)) || st.Decided != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestWorkerFinalOnFirstPacket(t *testing.T) {
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"protocols": {"ICMP": "drop"}}}]}`, LoadOptions{})
	r := newRig(t, s, WorkerConfig{})
	d := r.send(ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoICMP, icmpEcho()), verdict.SideLAN)
	if d.Action != verdict.Drop || !d.Final || d.Explain() != "policy 0: protocol ICMP → drop" {
		t.Errorf("ICMP: %+v %q", d, d.Explain())
	}
	// A UDP flow that nothing can drop is final at once, while inspecting.
	s = mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass"}]}`, LoadOptions{})
	r = newRig(t, s, WorkerConfig{})
	d = r.send(ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoUDP, udpDgram(5000, 5001, []byte("x"))), verdict.SideLAN)
	if d.Action != verdict.Pass || !d.Final || len(r.decided) != 1 {
		t.Errorf("UDP under pass-all: %+v", d)
	}
	if v := s.MarkLayout().Value(d); v == 0 {
		t.Error("final pass encodes to mark 0")
	}
}

func TestWorkerLANSide(t *testing.T) {
	s := mustParse(t, `{"version": 1,
	  "pools": [{"name": "lan", "ip": ["192.168.1.0/24"], "policy": 1}, {"name": "pub", "ip": ["203.0.113.0/24"], "policy": 2}],
	  "policies": [{"id": 0, "default_marker": "pass"}, {"id": 1, "default_marker": "drop"}, {"id": 2, "default_marker": "reject"}]}`, LoadOptions{})
	syn := func(src, dst string, sp, dp uint16) []byte {
		return ipPacket(src, dst, dpi.IPProtoTCP, tcpSeg(sp, dp, dpi.TCPSyn, nil))
	}
	cases := []struct {
		name string
		lan  []netip.Prefix
		pkt  []byte
		from verdict.Side
		pool string
	}{
		{"inbound from the WAN: the server is the LAN host", nil, syn("8.8.8.8", "192.168.1.10", 5555, 22), verdict.SideWAN, "lan"},
		{"outbound from the LAN", nil, syn("192.168.1.10", "8.8.8.8", 5555, 22), verdict.SideLAN, "lan"},
		{"public LAN addresses, side known", nil, syn("203.0.113.5", "198.51.100.9", 5555, 22), verdict.SideLAN, "pub"},
		{"public LAN addresses, side known, inbound", nil, syn("198.51.100.9", "203.0.113.5", 5555, 22), verdict.SideWAN, "pub"},
		{"side unknown: the private end", nil, syn("8.8.8.8", "192.168.1.10", 5555, 22), verdict.SideUnknown, "lan"},
		{"side unknown: --lan prefixes", []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, syn("198.51.100.9", "203.0.113.5", 5555, 22), verdict.SideUnknown, "pub"},
		{"side unknown, nothing tells: the client", nil, syn("203.0.113.5", "198.51.100.9", 5555, 22), verdict.SideUnknown, "pub"},
	}
	for _, c := range cases {
		r := newRig(t, s, WorkerConfig{LAN: c.lan})
		d := r.send(c.pkt, c.from)
		if d.Pool != c.pool {
			t.Errorf("%s: pool %q, want %q (%s)", c.name, d.Pool, c.pool, d.Explain())
		}
	}
}

func TestWorkerMACPool(t *testing.T) {
	s := mustParse(t, `{"version": 1, "pools": [{"name": "boss", "mac": ["00:11:22:33:44:55"], "policy": 1}],
	  "policies": [{"id": 0, "default_marker": "pass"}, {"id": 1, "default_marker": "drop"}]}`, LoadOptions{})
	r := newRig(t, s, WorkerConfig{})
	// Outbound: the first packet carries the LAN host's MAC.
	d := r.sendMAC(ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoUDP, udpDgram(5000, 5001, nil)), verdict.SideLAN, "00:11:22:33:44:55")
	if d.Pool != "boss" || d.Action != verdict.Drop || !d.Final {
		t.Errorf("outbound: %+v", d)
	}
	// Inbound: the WAN side speaks first (with the router's MAC); the
	// pool is open until the LAN host answers.
	d = r.sendMAC(ipPacket("8.8.8.8", "192.168.1.10", dpi.IPProtoUDP, udpDgram(6000, 6001, nil)), verdict.SideWAN, "02:00:00:00:00:01")
	if d.Final || d.Pool != "" {
		t.Errorf("inbound first packet: %+v", d)
	}
	d = r.sendMAC(ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoUDP, udpDgram(6001, 6000, nil)), verdict.SideLAN, "00:11:22:33:44:55")
	if d.Pool != "boss" || d.Action != verdict.Drop || !d.Final {
		t.Errorf("inbound after the LAN reply: %+v", d)
	}
}

func TestWorkerRevise(t *testing.T) {
	passAll := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass"}]}`, LoadOptions{})
	r := newRig(t, passAll, WorkerConfig{})
	icmp := ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoICMP, icmpEcho())
	tcpSyn := ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoTCP, tcpSeg(40000, 443, dpi.TCPSyn, nil))
	if d := r.send(icmp, verdict.SideLAN); !d.Final {
		t.Fatal(d)
	}
	if d := r.send(tcpSyn, verdict.SideLAN); !d.Final {
		t.Fatal(d)
	}
	type change struct {
		t verdict.Tuple
		d verdict.Decision
	}
	var got []change
	collect := func(t verdict.Tuple, d verdict.Decision) { got = append(got, change{t, d}) }
	r.w.Revise(collect)
	if len(got) != 0 {
		t.Fatalf("nothing changed, Revise reported %v", got)
	}
	// Drop ICMP and watch hostnames: the ICMP flow flips to a final drop;
	// the TCP flow, decided before DPI finished, must be inspected again.
	r.holder.Store(mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass",
	  "markers": {"protocols": {"ICMP": "drop"}, "hostnames": {"blocked.example": "drop"}}}]}`, LoadOptions{}))
	r.w.Revise(collect)
	if len(got) != 2 {
		t.Fatalf("changes %+v", got)
	}
	for _, c := range got {
		switch c.t.Proto {
		case dpi.IPProtoICMP:
			if c.d.Action != verdict.Drop || !c.d.Final || c.t.Src.Addr() != addr("192.168.1.10") || c.t.Dst.Addr() != addr("8.8.8.8") {
				t.Errorf("ICMP change %+v", c)
			}
		case dpi.IPProtoTCP:
			if c.d.Action != verdict.Pass || c.d.Final || c.t.Src != netip.MustParseAddrPort("192.168.1.10:40000") || c.t.Dst != netip.MustParseAddrPort("8.8.8.8:443") {
				t.Errorf("TCP change %+v", c)
			}
		}
	}
	got = nil
	r.w.Revise(collect)
	if len(got) != 0 {
		t.Errorf("second Revise reported %v", got)
	}
	if st := r.w.Stats(); st.Revised != 2 {
		t.Errorf("stats %+v", st)
	}
	// The TCP flow is queued again and becomes final once DPI gives up.
	decided := len(r.decided)
	for i := 0; i < 10; i++ {
		r.send(ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoTCP, tcpSeg(40000, 443, dpi.TCPAck|dpi.TCPPsh, []byte{1, 2, byte(i)})), verdict.SideLAN)
	}
	if len(r.decided) != decided+1 {
		t.Errorf("Decided not called again after the revision")
	}
}

func TestWorkerUnjudgeable(t *testing.T) {
	for _, mode := range []verdict.FailMode{verdict.FailOpen, verdict.FailClosed} {
		r := newRig(t, mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass"}]}`, LoadOptions{}), WorkerConfig{Fail: mode})
		d := r.send([]byte{0x45, 0, 0}, verdict.SideLAN)
		if d.Action != mode.Action() || d.Final || d.PolicyID != -1 {
			t.Errorf("%v: undecodable: %+v", mode, d)
		}
		if st := r.w.Stats(); st.Undecodable != 1 {
			t.Errorf("%v: stats %+v", mode, st)
		}
		r = newRig(t, nil, WorkerConfig{Fail: mode})
		d = r.send(ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoICMP, icmpEcho()), verdict.SideLAN)
		if d.Action != mode.Action() || d.Final || d.Explain() != "no policy loaded → "+mode.Action().String()+" (fail "+mode.String()+")" {
			t.Errorf("%v: no policy: %+v %q", mode, d, d.Explain())
		}
	}
}

func TestWorkerEndCallbacks(t *testing.T) {
	s := mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass"}]}`, LoadOptions{})
	var reasons []dpi.EndReason
	var seen []verdict.Decision
	var r *workerRig
	r = newRig(t, s, WorkerConfig{Engine: dpi.Config{ActiveTimeout: 1e9, OnEnd: func(f *dpi.Flow, why dpi.EndReason) {
		reasons = append(reasons, why)
		seen = append(seen, r.w.Decision(f))
	}}})
	p := ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoUDP, udpDgram(5000, 5001, nil))
	r.send(p, verdict.SideLAN)
	r.now += 2e9
	r.send(p, verdict.SideLAN) // past the active timeout: reported, continues
	r.w.Flush()
	if len(reasons) != 2 || reasons[0] != dpi.EndActive || reasons[1] != dpi.EndFlush {
		t.Errorf("reasons %v", reasons)
	}
	if len(r.ended) != 1 || r.ended[0].Action != verdict.Pass || seen[0].Action != verdict.Pass {
		t.Errorf("ended %+v seen %+v", r.ended, seen)
	}
}

// TestWorkerAllocs: in the steady state Decide allocates nothing, for
// packets of known flows and for new flows reusing slots.
func TestWorkerAllocs(t *testing.T) {
	s := mustParse(t, `{"version": 1, "pools": [{"name": "lan", "ip": ["192.168.0.0/16"], "policy": 1}],
	  "policies": [{"id": 0, "default_marker": "pass"}, {"id": 1, "parent": 0, "markers": {"hostnames": {"x.example": "drop"}, "protocols": {"Tor": "drop"}}}]}`, LoadOptions{})
	r := newRig(t, s, WorkerConfig{Engine: dpi.Config{MaxFlows: 64}})
	var pkts [][]byte
	for i := 0; i < 256; i++ {
		pkts = append(pkts, ipPacket("192.168.1.10", "8.8.8.8", dpi.IPProtoUDP, udpDgram(uint16(10000+i), 53000, []byte("payload"))))
	}
	for _, p := range pkts { // warm up: the table fills and starts evicting
		r.send(p, verdict.SideLAN)
	}
	i := 0
	n := testing.AllocsPerRun(2000, func() {
		r.send(pkts[i%len(pkts)], verdict.SideLAN)
		i++
	})
	if n != 0 {
		t.Errorf("Decide allocates %v times per packet", n)
	}
}

// TestConcurrentJudging: Sets are shared by workers on several
// goroutines while a reload swaps the Holder (run it with -race too).
// Every concurrent decision must equal the one a worker gets alone under
// the Set in force at the time: each goroutine feeds the same packets to
// two reference workers whose Holders never change (one per Set), and a
// sequence counter around each Store tells which Set was in force for
// the whole of a Decide; when a swap overlapped the call, the decision
// must still be one of the two.
func TestConcurrentJudging(t *testing.T) {
	loc, asn := sampleGeo(t)
	opt := LoadOptions{GeoIP: loc, GeoIPASN: asn}
	sets := [2]*Set{
		mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "pass", "markers": {"countries": {"CN": "drop"}, "hostnames": {"x.example": "drop"}}}]}`, opt),
		mustParse(t, `{"version": 1, "policies": [{"id": 0, "default_marker": "drop", "markers": {"asn": {"15169": "pass"}}}]}`, opt),
	}
	h := &Holder{}
	h.Store(sets[0])
	// seq is odd while a Store is under way; when even, sets[seq/2%2] is
	// in force.
	var seq atomic.Uint64
	same := func(a, b verdict.Decision) bool {
		return a.Action == b.Action && a.Final == b.Final && a.Class == b.Class && a.PolicyID == b.PolicyID && a.Explain() == b.Explain()
	}
	const goroutines, packets = 4, 3000
	type result struct {
		exact, either int
		perSet        [2]int // exact checks under each Set
		differ        int    // exact checks where the two Sets' actions differ
		bad           []string
	}
	results := make(chan result, goroutines)
	stop := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		go func(g int) {
			var r result
			w := NewWorker(WorkerConfig{Policy: h}, nil)
			var refs [2]*Worker
			for k := range refs {
				hk := &Holder{}
				hk.Store(sets[k])
				refs[k] = NewWorker(WorkerConfig{Policy: hk}, nil)
			}
			for i := 0; i < packets; i++ {
				dst := []string{"5.1.1.1", "8.8.8.8", "2.3.4.5"}[i%3]
				data := ipPacket("192.168.1.10", dst, dpi.IPProtoUDP, udpDgram(uint16(1000+g*1000+i%500), 53, []byte("q")))
				p := verdict.Packet{Data: data, Time: int64(i) * 1e6, From: verdict.SideLAN}
				s1 := seq.Load()
				got := w.Decide(&p)
				s2 := seq.Load()
				var want [2]verdict.Decision
				for k, ref := range refs {
					rp := p
					want[k] = ref.Decide(&rp)
				}
				switch {
				case s1 == s2 && s1%2 == 0:
					r.exact++
					k := s1 / 2 % 2
					r.perSet[k]++
					if want[0].Action != want[1].Action {
						r.differ++
					}
					if !same(got, want[k]) && len(r.bad) < 5 {
						r.bad = append(r.bad, fmt.Sprintf("packet %d to %s under set %d: got %q, alone %q", i, dst, k, got.Explain(), want[k].Explain()))
					}
				default:
					r.either++
					if !same(got, want[0]) && !same(got, want[1]) && len(r.bad) < 5 {
						r.bad = append(r.bad, fmt.Sprintf("packet %d to %s during a swap: got %q, alone %q or %q", i, dst, got.Explain(), want[0].Explain(), want[1].Explain()))
					}
				}
				if i%100 == 0 {
					w.Revise(func(verdict.Tuple, verdict.Decision) {})
					for _, ref := range refs {
						ref.Revise(func(verdict.Tuple, verdict.Decision) {})
					}
				}
			}
			results <- r
		}(g)
	}
	go func() {
		for k := 1; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			seq.Add(1)
			h.Store(sets[k%2])
			seq.Add(1)
			runtime.Gosched()
		}
	}()
	var exact, either, differ int
	var perSet [2]int
	for g := 0; g < goroutines; g++ {
		r := <-results
		exact += r.exact
		either += r.either
		differ += r.differ
		perSet[0] += r.perSet[0]
		perSet[1] += r.perSet[1]
		for _, b := range r.bad {
			t.Error(b)
		}
	}
	close(stop)
	t.Logf("%d decisions checked against the Set in force (%d under each: %v; their actions differ on %d), %d overlapped a swap",
		exact, len(sets), perSet, differ, either)
	if exact < goroutines*packets/10 || perSet[0] == 0 || perSet[1] == 0 || differ == 0 {
		t.Errorf("the check proved little: %d of %d decisions ran without a swap overlapping them, %v under each Set, %d where the Sets disagree",
			exact, goroutines*packets, perSet, differ)
	}
}
