package nfq

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"ips/verdict"
)

// kernelPacket builds an NFQNL_MSG_PACKET datagram the way
// nfqnl_build_packet_message lays it out (net/netfilter/nfnetlink_queue.c):
// nlmsghdr, nfgenmsg with the queue number, then NFQA_PACKET_HDR, the
// interface indexes, the mark, the hardware address and the payload.
func kernelPacket(queue uint16, id, mark, physIn, physOut uint32, payload []byte) []byte {
	var m msgBuf
	m.begin(subsysQueue<<8|nfqnlMsgPacket, 0, 0, 2 /* AF_INET */, queue)
	hdr := make([]byte, 7)
	be.PutUint32(hdr[0:4], id)
	be.PutUint16(hdr[4:6], 0x0800)
	hdr[6] = 2 // NF_INET_FORWARD
	m.attr(nfqaPacketHdr, hdr)
	m.attrBE32(nfqaIfIndexIn, 3)
	m.attrBE32(nfqaIfIndexOut, 3)
	if physIn != 0 {
		m.attrBE32(nfqaIfIndexPhIn, physIn)
	}
	if physOut != 0 {
		m.attrBE32(nfqaIfIndexPhOut, physOut)
	}
	if mark != 0 {
		m.attrBE32(nfqaMark, mark)
	}
	hw := make([]byte, 12)
	be.PutUint16(hw[0:2], 6)
	copy(hw[4:], []byte{2, 0, 0, 0, 0, 1})
	m.attr(nfqaHWAddr, hw)
	ts := make([]byte, 16)
	be.PutUint64(ts[0:8], uint64(testArrival/1e9))
	be.PutUint64(ts[8:16], uint64(testArrival%1e9/1e3))
	m.attr(nfqaTimestamp, ts)
	m.attr(nfqaPayload, payload)
	m.end()
	return m.b
}

// udp4 is a minimal IPv4/UDP packet (RFC 791, RFC 768).
func udp4(src, dst netip.AddrPort) []byte {
	b := make([]byte, 28+8)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	b[8], b[9] = 64, 17
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[20:22], src.Port())
	binary.BigEndian.PutUint16(b[22:24], dst.Port())
	binary.BigEndian.PutUint16(b[24:26], 16)
	return b
}

type sentVerdict struct {
	batch   bool
	verdict uint32
	id      uint32
	mark    uint32
	hasMark bool
}

// parseVerdicts decodes what the handler would write.
func parseVerdicts(t testing.TB, b []byte) []sentVerdict {
	var out []sentVerdict
	for len(b) > 0 {
		m, rest, ok := nextMsg(b)
		if !ok {
			t.Fatalf("bad verdict buffer %x", b)
		}
		var v sentVerdict
		switch m.typ {
		case subsysQueue<<8 | nfqnlMsgVerdict:
		case subsysQueue<<8 | nfqnlMsgVerdictBatch:
			v.batch = true
		default:
			t.Fatalf("unexpected message type %#x", m.typ)
		}
		it := attrIter{b: m.body[nfgenHdrLen:]}
		for it.next() {
			switch it.typ {
			case nfqaVerdictHdr:
				v.verdict, v.id = be.Uint32(it.data[0:4]), be.Uint32(it.data[4:8])
			case nfqaMark:
				v.mark, v.hasMark = be.Uint32(it.data), true
			}
		}
		out = append(out, v)
		b = rest
	}
	return out
}

// scripted answers from a list of decisions, by packet order.
type scripted struct {
	answers []verdict.Decision
	n       int
	last    verdict.Packet
	panicAt int
}

func (s *scripted) Decide(p *verdict.Packet) verdict.Decision {
	s.n++
	s.last = *p
	if s.panicAt == s.n {
		panic("decider bug")
	}
	return s.answers[(s.n-1)%len(s.answers)]
}

func (s *scripted) Revise(func(verdict.Tuple, verdict.Decision)) {}

func newTestHandler(t testing.TB, dec verdict.Decider, fail verdict.FailMode) *handler {
	l, err := verdict.NewMarkLayout(verdict.DefaultMarkMask)
	if err != nil {
		t.Fatal(err)
	}
	return newHandler(7, dec, l, fail, nil, &counters{}, nil)
}

var (
	client = netip.MustParseAddrPort("10.0.0.2:40000")
	server = netip.MustParseAddrPort("10.0.0.200:443")
)

func TestHandlerVerdicts(t *testing.T) {
	pass := verdict.Decision{Action: verdict.Pass, Final: true}
	drop := verdict.Decision{Action: verdict.Drop, Final: true}
	dec := &scripted{answers: []verdict.Decision{{}, {Action: verdict.Drop}, drop, {}, pass}}
	h := newTestHandler(t, dec, verdict.FailOpen)
	h.begin(1)
	pl := udp4(client, server)
	for id := uint32(10); id < 15; id++ {
		h.datagram(kernelPacket(7, id, 0xff000001, 0, 0, pl))
	}
	got := parseVerdicts(t, h.finish())
	// Undecided (and non-final) packets 10, 11 and 13 are accepted by one
	// batch verdict after the individual NF_REPEATs for 12 and 14; the
	// repeat marks keep the bits outside the mask (0xff000001).
	want := []sentVerdict{
		{verdict: nfRepeat, id: 12, mark: 0xff000001 | 0x00050000, hasMark: true},
		{verdict: nfRepeat, id: 14, mark: 0xff000001 | 0x00030000, hasMark: true},
		{batch: true, verdict: nfAccept, id: 13},
	}
	if len(got) != len(want) {
		t.Fatalf("verdicts %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("verdict %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if dec.last.Mark != 0xff000001 || !dec.last.HasHWAddr || dec.last.HWAddr != [6]byte{2, 0, 0, 0, 0, 1} || dec.last.Time != 1 {
		t.Errorf("packet metadata %+v", dec.last)
	}
	h.flush(1000, 0)
	s := h.c.snapshot(7)
	if s.Packets != 5 || s.Undecided != 3 || s.DecidedBy(verdict.Drop) != 1 || s.DecidedBy(verdict.Pass) != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestHandlerFailModeOnPanic(t *testing.T) {
	for _, fail := range []verdict.FailMode{verdict.FailOpen, verdict.FailClosed} {
		dec := &scripted{answers: []verdict.Decision{{}}, panicAt: 2}
		h := newTestHandler(t, dec, fail)
		h.begin(1)
		pl := udp4(client, server)
		for id := uint32(1); id <= 3; id++ {
			h.datagram(kernelPacket(7, id, 0, 0, 0, pl))
		}
		got := parseVerdicts(t, h.finish())
		if fail == verdict.FailOpen {
			if len(got) != 1 || !got[0].batch || got[0].id != 3 || got[0].verdict != nfAccept {
				t.Errorf("fail-open: %+v", got)
			}
		} else {
			if len(got) != 2 || got[0].verdict != nfDrop || got[0].id != 2 || !got[1].batch || got[1].id != 3 {
				t.Errorf("fail-closed: %+v", got)
			}
		}
		h.flush(1, 0)
		if s := h.c.snapshot(7); s.Panics != 1 || s.FailVerdicts != 1 {
			t.Errorf("%v: stats %+v", fail, s)
		}
	}
}

func TestHandlerPassesFlowsNotCrossing(t *testing.T) {
	dec := &scripted{answers: []verdict.Decision{{}}}
	h := newTestHandler(t, dec, verdict.FailOpen)
	h.portFilter = true
	var sides = &sideTable{index: []uint32{4, 5, 6}, side: []verdict.Side{verdict.SideLAN, verdict.SideWAN, verdict.SideLAN}}
	h.begin(1)
	h.side = sides
	pl := udp4(client, server)
	h.datagram(kernelPacket(7, 1, 0, 4, 5, pl)) // LAN → WAN: asked
	h.datagram(kernelPacket(7, 2, 0, 4, 6, pl)) // LAN → LAN: passed
	h.datagram(kernelPacket(7, 3, 0, 9, 5, pl)) // unknown port → WAN: passed
	got := parseVerdicts(t, h.finish())
	if dec.n != 1 || dec.last.From != verdict.SideLAN {
		t.Errorf("decider asked %d times, from %v", dec.n, dec.last.From)
	}
	if len(got) != 3 || got[0].id != 2 || got[0].verdict != nfRepeat || got[0].mark != 0x00030000 || got[1].id != 3 || !got[2].batch || got[2].id != 1 {
		t.Errorf("verdicts %+v", got)
	}
}

func TestHandlerCountsVerdictErrors(t *testing.T) {
	h := newTestHandler(t, &scripted{answers: []verdict.Decision{{}}}, verdict.FailOpen)
	h.begin(1)
	// struct nlmsgerr: error -ENOENT, then the offending header (NETLINK_CAP_ACK).
	var m msgBuf
	m.b = append(m.b, make([]byte, nlmsgHdrLen)...)
	ne.PutUint16(m.b[4:6], nlmsgError)
	m.b = ne.AppendUint32(m.b, uint32(0xfffffffe))
	m.b = append(m.b, make([]byte, nlmsgHdrLen)...)
	m.end()
	h.datagram(m.b)
	if len(h.finish()) != 0 {
		t.Error("verdict written for an error message")
	}
	h.flush(1, 0)
	if s := h.c.snapshot(7); s.VerdictErrors != 1 || s.Packets != 0 {
		t.Errorf("stats %+v", s)
	}
}

// testArrival is the receive timestamp kernelPacket gives its packets.
const testArrival = int64(1_700_000_000_000_250_000)

// The arrival-to-verdict histogram counts each packet's wait from its
// kernel timestamp; implausible stamps are left out.
func TestHandlerArrivalWait(t *testing.T) {
	h := newTestHandler(t, &scripted{}, verdict.FailOpen)
	pl := udp4(client, server)
	h.begin(testArrival + 50_000)
	for i := 0; i < 3; i++ {
		h.datagram(kernelPacket(7, uint32(i+1), 0, 0, 0, pl))
	}
	_ = h.finish()
	h.flush(1000, testArrival+120_000) // 120 µs after arrival
	h.begin(testArrival)
	h.datagram(kernelPacket(7, 4, 0, 0, 0, pl))
	_ = h.finish()
	h.flush(1000, testArrival-1) // verdict "before" arrival: a clock step
	w := h.c.snapshot(7).Wait
	want := bucket(120 * time.Microsecond)
	for i, n := range w.Counts {
		if (i == want && n != 3) || (i != want && n != 0) {
			t.Fatalf("wait histogram %v, want 3 packets in bucket %d (≤ %v)", w.Counts, want, LatencyBounds[want])
		}
	}
	if w.Sum != 3*120*time.Microsecond {
		t.Errorf("wait sum %v, want 360µs", w.Sum)
	}
}

// The fast path allocates nothing per packet once warmed up.
func TestHandlerAllocs(t *testing.T) {
	dec := &scripted{answers: []verdict.Decision{{}, {}, {Action: verdict.Pass, Final: true}}}
	h := newTestHandler(t, dec, verdict.FailOpen)
	h.side = &sideTable{index: []uint32{4, 5}, side: []verdict.Side{verdict.SideLAN, verdict.SideWAN}}
	pl := udp4(client, server)
	dgrams := make([][]byte, 32)
	for i := range dgrams {
		dgrams[i] = kernelPacket(7, uint32(i+1), 0, 4, 5, pl)
	}
	batch := func() {
		h.begin(1)
		for _, d := range dgrams {
			h.datagram(d)
		}
		_ = h.finish()
		h.flush(1000, 0)
	}
	batch()
	if n := testing.AllocsPerRun(100, batch); n != 0 {
		t.Errorf("%v allocations per batch of 32 packets", n)
	}
}

func BenchmarkHandler(b *testing.B) {
	dec := &scripted{answers: []verdict.Decision{{}}}
	h := newTestHandler(b, dec, verdict.FailOpen)
	pl := udp4(client, server)
	dgrams := make([][]byte, 32)
	for i := range dgrams {
		dgrams[i] = kernelPacket(7, uint32(i+1), 0, 4, 5, pl)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(dgrams) {
		h.begin(1)
		for _, d := range dgrams {
			h.datagram(d)
		}
		_ = h.finish()
		h.flush(1000, 0)
	}
}

func FuzzDatagram(f *testing.F) {
	pl := udp4(client, server)
	f.Add(kernelPacket(7, 1, 5, 4, 5, pl))
	f.Add(kernelPacket(7, 2, 0, 0, 0, nil))
	f.Add(append(kernelPacket(7, 3, 0, 0, 0, pl), kernelPacket(7, 4, 0, 0, 0, pl)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := &scripted{answers: []verdict.Decision{{}, {Action: verdict.Reject, Final: true}}}
		h := newTestHandler(t, dec, verdict.FailClosed)
		h.side = &sideTable{index: []uint32{4, 5}, side: []verdict.Side{verdict.SideLAN, verdict.SideWAN}}
		h.portFilter = len(b)%2 == 0
		h.begin(1)
		h.datagram(b)
		out := h.finish()
		// Whatever came in, what goes out is well-formed verdicts.
		parseVerdicts(t, out)
	})
}

func FuzzParsePacket(f *testing.F) {
	pl := udp4(client, server)
	f.Add(kernelPacket(7, 1, 5, 4, 5, pl)[nlmsgHdrLen:])
	f.Add([]byte{2, 0, 0, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p packetMsg
		if parsePacket(b, &p) == nil && len(p.Payload) > len(b) {
			t.Fatal("payload outside the message")
		}
	})
}

// TestHandlerChecksumFlags: NFQA_SKB_INFO's NFQA_SKB_CSUM_NOTVERIFIED
// reaches the decider as ChecksumUnverified; CSUMNOTREADY (offloaded, not
// computed yet) and no attribute (verified by the kernel) do not.
func TestHandlerChecksumFlags(t *testing.T) {
	dec := &scripted{answers: []verdict.Decision{{}}}
	h := newTestHandler(t, dec, verdict.FailOpen)
	pl := udp4(client, server)
	for _, tc := range []struct {
		info       uint32
		has        bool
		unverified bool
	}{
		{0, false, false},
		{skbInfoCsumNotVerified, true, true},
		{skbInfoCsumNotReady, true, false},
		{skbInfoCsumNotReady | skbInfoGSO, true, false},
		{skbInfoCsumNotVerified | skbInfoGSO, true, true},
	} {
		b := kernelPacket(7, 1, 0, 0, 0, pl)
		if tc.has {
			// Append NFQA_SKB_INFO to the message and fix its length.
			var m msgBuf
			m.b = append(m.b, b...)
			m.attrBE32(nfqaSkbInfo, tc.info)
			ne.PutUint32(m.b[0:4], uint32(len(m.b)))
			b = m.b
		}
		h.begin(1)
		h.datagram(b)
		h.finish()
		if dec.last.ChecksumUnverified != tc.unverified {
			t.Errorf("skb info %#x (present %v): ChecksumUnverified %v, want %v", tc.info, tc.has, dec.last.ChecksumUnverified, tc.unverified)
		}
	}
}
