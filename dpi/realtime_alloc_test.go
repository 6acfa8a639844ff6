package dpi

import (
	"net/netip"
	"testing"
)

// realtimeMix is one set of flows exercising the family's dissectors,
// including the STUN demultiplexer, the peer cache and hostnames.
func realtimeMix() []realtimeCase {
	wa := stunAttr{0x4000, rtBE32(1)}
	return []realtimeCase{
		udpCase("stun", "10.0.0.1:0", "198.51.100.7:3478", "",
			rtUp(bindingRequest(wa)), rtDown(bindingResponse(xorMapped4)), rtUp(rtpPacket(120, 1, 1, 1, 40)),
			rtUp(stunTestDTLS()), rtDown(bindingResponse()), rtUp(rtpPacket(120, 2, 2, 1, 40)), rtUp(rtpPacket(120, 3, 3, 1, 40))),
		udpCase("realm", "10.0.0.1:0", "198.51.100.8:3478", "",
			rtUp(stunMsg(0x0113, true, rfc5769TxID, stunAttr{0x0014, []byte("turn.l.google.com")}))),
		udpCase("rtp", "10.0.0.1:0", "10.0.0.2:16386", "",
			rtUp(rtpPacket(0, 1, 1, 1, 160)), rtUp(rtpPacket(0, 2, 2, 1, 160)), rtUp(rtpPacket(0, 3, 3, 1, 160))),
		udpCase("sip", "10.0.0.1:0", "10.0.0.2:5060", "", rtUp(sipInvite)),
		udpCase("mgcp", "10.0.0.1:0", "10.0.0.2:2427", "", rtUp(mgcpRQNT)),
		udpCase("raknet", "10.0.0.1:0", "10.0.0.2:19132", "",
			rtUp(raknetMsg(0x05, nil, rtCat([]byte{10}, rtRepeat(0, 100)))),
			rtDown(raknetMsg(0x06, nil, rtCat(rtBE32(1), rtBE32(2), []byte{0}, rtBE16(1400)))),
			rtUp(raknetMsg(0x07, nil, rtCat([]byte{4, 10, 0, 0, 2, 0x4a, 0xbc}, rtBE16(1400), rtBE32(1), rtBE32(2))))),
		udpCase("noise", "10.0.0.1:0", "10.0.0.2:41000", "", rtUp([]byte("0123456789abcdef0123")), rtDown([]byte("xyz")), rtUp([]byte("qrstuvwxyz0123456789"))),
		tcpCase("skinny", "10.0.0.1:0", "10.0.0.2:2000", "", rtUp(sccpRegister)),
	}
}

// prebuilt holds raw IP packets for many copies of the mix, each copy on
// its own client ports, so a measured run touches only new flows.
type prebuilt struct {
	sets [][][]byte
	next int
}

func buildMix(copies int) *prebuilt {
	pb := &prebuilt{}
	for i := range copies {
		var set [][]byte
		for j, c := range realtimeMix() {
			cli := netip.MustParseAddrPort(c.cli)
			cli = netip.AddrPortFrom(cli.Addr(), uint16(20000+i*16+j))
			srv := netip.MustParseAddrPort(c.srv)
			seq := [2]uint32{1000, 5000}
			add := func(d Dir, flags uint8, payload []byte) {
				src, dst := cli, srv
				if d == ToClient {
					src, dst = srv, cli
				}
				set = append(set, buildIP(nil, c.proto, src, dst, flags, seq[d], seq[1-d], payload))
				n := uint32(len(payload))
				if flags&TCPSyn != 0 {
					n++
				}
				seq[d] += n
			}
			if c.proto == IPProtoTCP {
				add(ToServer, TCPSyn, nil)
				add(ToClient, TCPSyn|TCPAck, nil)
				add(ToServer, TCPAck, nil)
			}
			for _, p := range c.pkts {
				flags := uint8(0)
				if c.proto == IPProtoTCP {
					flags = TCPPsh | TCPAck
				}
				add(p.d, flags, p.b)
			}
		}
		pb.sets = append(pb.sets, set)
	}
	return pb
}

func (pb *prebuilt) replay(tb testing.TB, e *Engine, p *Packet, now *int64) {
	for _, raw := range pb.sets[pb.next%len(pb.sets)] {
		if err := p.DecodeIP(raw); err != nil {
			tb.Fatal(err)
		}
		*now += 1e6
		e.Process(p, *now)
	}
	pb.next++
}

// The family's dissectors allocate nothing per packet in the steady
// state (house rule; issue 2's bound).
func TestRealtimeAllocs(t *testing.T) {
	const runs = 200
	pb := buildMix(runs + 1)
	e := NewEngine(Config{})
	var p Packet
	now := int64(1_700_000_000e9)
	// Each run ends its flows, so scratches and metadata are recycled as
	// they are in a long-running engine.
	allocs := testing.AllocsPerRun(runs, func() { pb.replay(t, e, &p, &now); e.Flush() })
	if allocs != 0 {
		t.Errorf("%.1f allocations per set of %d flows", allocs, len(realtimeMix()))
	}
}

func BenchmarkRealtimeFlows(b *testing.B) {
	pb := buildMix(512)
	e := NewEngine(Config{})
	var p Packet
	now := int64(1_700_000_000e9)
	pkts := len(pb.sets[0])
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pb.replay(b, e, &p, &now)
		if i%64 == 63 {
			e.Flush() // flows end, as idle ones do in a running engine
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*pkts), "ns/pkt")
}
