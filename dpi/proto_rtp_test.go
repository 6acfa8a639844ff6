package dpi

import "testing"

func TestRTPKind(t *testing.T) {
	withCSRC := rtpPacket(8, 1, 1, 1, 20)
	withCSRC[0] |= 2 // CC=2: two CSRC identifiers after the fixed header (RFC 3550 §5.1)
	withExt := rtCat([]byte{0x90, 96}, rtBE16(7), rtBE32(1), rtBE32(2), rtBE16(0xBEDE), rtBE16(1), rtBE32(0), rtRepeat(1, 10))
	cases := []struct {
		name string
		b    []byte
		want rtpClass
	}{
		{"PCMU", rtpPacket(0, 1, 160, 0x1234, 160), rtpIsRTP},
		{"dynamic PT with marker", func() []byte { b := rtpPacket(111, 1, 1, 1, 10); b[1] |= 0x80; return b }(), rtpIsRTP},
		{"CSRCs", withCSRC, rtpIsRTP},
		{"CSRCs beyond the end", func() []byte { b := rtpPacket(8, 1, 1, 1, 4); b[0] |= 0x0F; return b }(), rtpNone},
		// RFC 8285 one-byte header extension: profile 0xBEDE, length 1 word.
		{"header extension", withExt, rtpIsRTP},
		{"extension beyond the end", withExt[:17], rtpNone},
		{"RTCP RR", rtcpRR(1), rtpIsRTCP},
		{"RTCP length beyond the end", rtcpRR(1)[:20], rtpNone},
		{"version 1", func() []byte { b := rtpPacket(0, 1, 1, 1, 10); b[0] = 0x40; return b }(), rtpNone},
		{"unassigned PT 72", rtpPacket(72, 1, 1, 1, 10), rtpNone},
		{"short", []byte{0x80}, rtpNone},
	}
	for _, c := range cases {
		if got := rtpKind(c.b); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRTPFlows(t *testing.T) {
	stream := func(pt uint8, seqs ...uint16) []rtPkt {
		var p []rtPkt
		for i, s := range seqs {
			p = append(p, rtUp(rtpPacket(pt, s, uint32(i)*160, 0xCAFE, 160)))
		}
		return p
	}
	cases := []struct {
		name, cli, srv string
		proto          uint8
		pkts           []rtPkt
		want           string
		dpi            uint16
	}{
		{name: "three packets", cli: "10.0.0.1:16384", srv: "10.0.0.2:16386", proto: IPProtoUDP,
			pkts: stream(0, 100, 101, 102), want: "RTP", dpi: 3},
		{name: "both directions", cli: "10.0.0.1:16384", srv: "10.0.0.2:16386", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(rtpPacket(0, 1, 0, 1, 160)), rtDown(rtpPacket(0, 900, 0, 2, 160)), rtUp(rtpPacket(0, 2, 160, 1, 160))}, want: "RTP", dpi: 3},
		// A repeated sequence number in one direction is not a media stream.
		{name: "repeated sequence", cli: "10.0.0.1:16384", srv: "10.0.0.2:16386", proto: IPProtoUDP,
			pkts: stream(0, 7, 8, 7, 9, 10), want: "Unknown"},
		{name: "RTCP only", cli: "10.0.0.1:16385", srv: "10.0.0.2:16387", proto: IPProtoUDP,
			pkts: []rtPkt{rtUp(rtcpRR(1)), rtDown(rtcpRR(2)), rtUp(rtcpRR(1)), rtDown(rtcpRR(2))}, want: "RTCP", dpi: 4},
		{name: "well-known port", cli: "10.0.0.1:16384", srv: "10.0.0.2:500", proto: IPProtoUDP,
			pkts: stream(0, 1, 2, 3), want: "IPSec"}, // guessed from the port
		{name: "late start", cli: "10.0.0.1:16384", srv: "10.0.0.2:16386", proto: IPProtoUDP,
			pkts: append([]rtPkt{rtUp([]byte("junk junk junk")), rtUp([]byte("more junk")), rtUp([]byte("and more")), rtUp([]byte("still"))}, stream(0, 1, 2, 3)...),
			want: "Unknown"},
		// RFC 4571: RTP over TCP with a 2-byte length prefix.
		{name: "tcp framed", cli: "10.0.0.1:40000", srv: "10.0.0.2:5000", proto: IPProtoTCP,
			pkts: []rtPkt{rtUp(rtCat(rtBE16(172), rtpPacket(96, 1, 0, 1, 160))), rtUp(rtCat(rtBE16(172), rtpPacket(96, 2, 0, 1, 160))), rtUp(rtCat(rtBE16(172), rtpPacket(96, 3, 0, 1, 160)))},
			want: "RTP"},
	}
	for _, c := range cases {
		r := rtRun(t, c.proto, c.cli, c.srv, c.pkts...)
		if got := rtAppName(r); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
		if c.dpi != 0 && r.DPIPackets != c.dpi {
			t.Errorf("%s: dpi packets %d, want %d", c.name, r.DPIPackets, c.dpi)
		}
	}
}

func FuzzRTP(f *testing.F) {
	f.Add(rtpPacket(0, 1, 2, 3, 20))
	f.Add(rtcpRR(9))
	f.Add(rtCat([]byte{0x90, 96}, rtBE16(7), rtBE32(1), rtBE32(2), rtBE16(0xBEDE), rtBE16(1), rtBE32(0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		rtpKind(b)
	})
}
