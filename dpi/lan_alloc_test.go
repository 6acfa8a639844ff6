package dpi

import (
	"net/netip"
	"testing"
)

// lanReplay is a test conversation turned into IP packets once, so that
// replaying it through an engine measures the engine alone.
type lanReplay struct {
	name string
	pkts [][]byte
}

func lanReplays(t testing.TB) []lanReplay {
	var out []lanReplay
	for _, tc := range lanCases() {
		cli, srv := netip.MustParseAddrPort(tc.cli), netip.MustParseAddrPort(tc.srv)
		seq := [2]uint32{1000, 5000}
		var pkts [][]byte
		add := func(d Dir, flags uint8, payload []byte) {
			src, dst := cli, srv
			if d == ToClient {
				src, dst = srv, cli
			}
			pkts = append(pkts, buildIP(nil, tc.proto, src, dst, flags, seq[d], seq[1-d], payload))
			n := uint32(len(payload))
			if flags&TCPSyn != 0 {
				n++
			}
			seq[d] += n
		}
		if tc.proto == IPProtoTCP && !tc.mid {
			add(ToServer, TCPSyn, nil)
			add(ToClient, TCPSyn|TCPAck, nil)
			add(ToServer, TCPAck, nil)
		}
		for _, p := range tc.pkts {
			var flags uint8
			if tc.proto == IPProtoTCP {
				flags = TCPPsh | TCPAck
			}
			add(p.dir, flags, p.b)
		}
		out = append(out, lanReplay{tc.name, pkts})
	}
	return out
}

func (r *lanReplay) play(e *Engine, p *Packet, now *int64) {
	for _, b := range r.pkts {
		if err := p.DecodeIP(b); err != nil {
			panic(err)
		}
		*now += 1e6
		e.Process(p, *now)
	}
	e.Flush()
}

// TestLANAllocs checks that classifying a conversation of each protocol
// allocates nothing once the engine is warm (pools filled, names
// interned).
func TestLANAllocs(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 1024})
	var p Packet
	now := int64(1_700_000_000e9)
	for _, r := range lanReplays(t) {
		r.play(e, &p, &now) // warm up
		if n := testing.AllocsPerRun(20, func() { r.play(e, &p, &now) }); n != 0 {
			t.Errorf("%s: %.1f allocations per conversation, want 0", r.name, n)
		}
	}
}

// BenchmarkLANDissectors replays every test conversation of the family
// through one engine; ns/op and allocs/op are per packet.
func BenchmarkLANDissectors(b *testing.B) {
	e := NewEngine(Config{MaxFlows: 1024})
	var p Packet
	now := int64(1_700_000_000e9)
	rs := lanReplays(b)
	total := 0
	for _, r := range rs {
		total += len(r.pkts)
		r.play(e, &p, &now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range rs {
			rs[j].play(e, &p, &now)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/pkt")
}

// BenchmarkLANReject measures the family's cost on traffic it does not
// claim: a TCP and a UDP conversation of opaque payloads on unregistered
// ports, which every dissector of the family must look at and let go.
func BenchmarkLANReject(b *testing.B) {
	cli, srv := netip.MustParseAddrPort("10.0.0.2:40000"), netip.MustParseAddrPort("192.0.2.3:40001")
	payload := hx("9f3a51c2e00b7d41a6c3f28e5510bc2e7a9d11223344556677889900aabbccddeeff0011223344556677")
	var pkts [][]byte
	for _, proto := range []uint8{IPProtoTCP, IPProtoUDP} {
		seq := [2]uint32{1000, 5000}
		for i := 0; i < 10; i++ {
			d := Dir(i & 1)
			src, dst := cli, srv
			if d == ToClient {
				src, dst = srv, cli
			}
			pkts = append(pkts, buildIP(nil, proto, src, dst, TCPAck|TCPPsh, seq[d], seq[1-d], payload))
			seq[d] += uint32(len(payload))
		}
	}
	r := lanReplay{"reject", pkts}
	e := NewEngine(Config{MaxFlows: 1024})
	var p Packet
	now := int64(1_700_000_000e9)
	r.play(e, &p, &now)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.play(e, &p, &now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
}
