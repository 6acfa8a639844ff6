package dpi

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// sim drives one flow through an engine with packets built byte by byte,
// the way dissector tests feed payloads from the protocol specs.
type sim struct {
	t        testing.TB
	e        *Engine
	now      int64
	proto    uint8
	cli, srv netip.AddrPort
	seq      [2]uint32
	p        Packet
	buf      []byte
	ended    []Result
	// ingress is the gateway side each direction's packets come in from
	// (unknown unless a test sets it).
	ingress [2]Ingress
}

func newSim(t testing.TB, proto uint8, cli, srv string) *sim {
	s := &sim{t: t, proto: proto, now: 1_700_000_000e9,
		cli: netip.MustParseAddrPort(cli), srv: netip.MustParseAddrPort(srv),
		seq: [2]uint32{1000, 5000}}
	s.e = NewEngine(Config{OnEnd: func(f *Flow, _ EndReason) { s.ended = append(s.ended, f.Result) }})
	return s
}

// handshake sends SYN, SYN-ACK, ACK.
func (s *sim) handshake() *sim {
	s.tcp(ToServer, TCPSyn, nil)
	s.tcp(ToClient, TCPSyn|TCPAck, nil)
	s.tcp(ToServer, TCPAck, nil)
	return s
}

// send sends a payload in direction d (TCP: PSH|ACK) and returns the flow.
func (s *sim) send(d Dir, payload []byte) *Flow {
	if s.proto == IPProtoTCP {
		return s.tcp(d, TCPPsh|TCPAck, payload)
	}
	return s.packet(d, 0, payload)
}

func (s *sim) tcp(d Dir, flags uint8, payload []byte) *Flow {
	f := s.packet(d, flags, payload)
	n := uint32(len(payload))
	if flags&(TCPSyn|TCPFin) != 0 {
		n++
	}
	s.seq[d] += n
	return f
}

// packet builds an IP packet and runs it through the engine.
func (s *sim) packet(d Dir, flags uint8, payload []byte) *Flow {
	src, dst := s.cli, s.srv
	if d == ToClient {
		src, dst = dst, src
	}
	s.buf = buildIP(s.buf[:0], s.proto, src, dst, flags, s.seq[d], s.seq[1-d], payload)
	if err := s.p.DecodeIP(s.buf); err != nil {
		s.t.Fatalf("decode: %v", err)
	}
	s.p.Ingress = s.ingress[d]
	s.now += 1e6
	f, _ := s.e.Process(&s.p, s.now)
	return f
}

// buildIP makes an IPv4 or IPv6 packet with a TCP or UDP header.
func buildIP(b []byte, proto uint8, src, dst netip.AddrPort, flags uint8, seq, ack uint32, payload []byte) []byte {
	var l4 []byte
	switch proto {
	case IPProtoTCP:
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], src.Port())
		binary.BigEndian.PutUint16(l4[2:], dst.Port())
		binary.BigEndian.PutUint32(l4[4:], seq)
		binary.BigEndian.PutUint32(l4[8:], ack)
		l4[12] = 5 << 4
		l4[13] = flags
		binary.BigEndian.PutUint16(l4[14:], 65535)
	case IPProtoUDP:
		l4 = make([]byte, 8)
		binary.BigEndian.PutUint16(l4[0:], src.Port())
		binary.BigEndian.PutUint16(l4[2:], dst.Port())
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
	}
	l4 = append(l4, payload...)
	if proto == IPProtoTCP {
		// A correct checksum: the engine drops segments whose checksum is
		// wrong once a direction has shown a right one (and a zero field
		// is right by chance now and then).
		var sum uint64
		if src.Addr().Is4() {
			a, c := src.Addr().As4(), dst.Addr().As4()
			sum = sum16(a[:]) + sum16(c[:])
		} else {
			a, c := src.Addr().As16(), dst.Addr().As16()
			sum = sum16(a[:]) + sum16(c[:])
		}
		sum += uint64(proto) + uint64(len(l4)) + sum16(l4)
		for sum>>16 != 0 {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(l4[16:], ^uint16(sum))
	}
	if src.Addr().Is4() {
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
		h[8] = 64
		h[9] = proto
		a, c := src.Addr().As4(), dst.Addr().As4()
		copy(h[12:], a[:])
		copy(h[16:], c[:])
		return append(append(b, h...), l4...)
	}
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6] = proto
	h[7] = 64
	a, c := src.Addr().As16(), dst.Addr().As16()
	copy(h[8:], a[:])
	copy(h[24:], c[:])
	return append(append(b, h...), l4...)
}
