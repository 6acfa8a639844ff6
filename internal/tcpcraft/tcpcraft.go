// Package tcpcraft builds TCP/IP packets byte by byte (RFC 791, RFC 8200,
// RFC 9293, RFC 7323) with correct checksums unless told otherwise, and
// the evasion tricks anti-censorship tools play with them (split,
// disorder, decoys with a bad checksum, a bad sequence number or no ACK,
// overlaps, RST and SYN games). Tests use it to feed the DPI engine and
// the policy worker the packets a desync tool would send; it has no
// dependency on either.
package tcpcraft

import (
	"encoding/binary"
	"net/netip"
)

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
)

// Directions.
const (
	ToServer = 0
	ToClient = 1
)

// Conn is one connection's addressing and sequence state. ISN[d] is the
// initial sequence number of direction d; offsets passed to Data count
// from the first data byte (ISN+1).
type Conn struct {
	Client, Server netip.AddrPort
	ISN            [2]uint32
	// Window is the window field sent in each direction (after the SYN,
	// scaled by the peer's view of WScale), WScale the shift each SYN
	// offers (-1: no option).
	Window [2]uint16
	WScale [2]int
	// TS adds RFC 7323 timestamps to every segment; TSVal[d] is the next
	// value direction d sends (incremented per segment).
	TS    bool
	TSVal [2]uint32
	// acked[d] is the highest offset of direction d the peer acknowledges
	// in its segments (updated by Ack).
	acked [2]uint32
}

// New makes a connection between two "addr:port" endpoints with fixed
// ISNs, a 64 KiB window and window scale 7 both ways.
func New(client, server string) *Conn {
	return &Conn{
		Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort(server),
		ISN:    [2]uint32{0x10000000, 0x70000000},
		Window: [2]uint16{502, 509}, WScale: [2]int{7, 7},
		TSVal: [2]uint32{1000, 5000},
	}
}

// Seg describes one segment to build.
type Seg struct {
	Dir   int
	Flags uint8
	// Seq and Ack are absolute; Data and Pure fill them in.
	Seq, Ack uint32
	Window   uint16
	Payload  []byte
	// BadSum corrupts the checksum; MD5 adds an RFC 2385 signature
	// option; OldTS sends a timestamp far in the past (PAWS).
	BadSum, MD5, OldTS bool
	// Options of a SYN.
	WScale int
	// Urgent, when not 0, sets URG and the urgent pointer.
	Urgent uint16
	// TTL is the IPv4 TTL or IPv6 hop limit (0: 64).
	TTL uint8
}

// Ack records that direction d's bytes up to offset off are acknowledged
// by the peer's later segments.
func (c *Conn) Ack(d int, off uint32) { c.acked[d] = off }

// Handshake is SYN, SYN-ACK, ACK.
func (c *Conn) Handshake() [][]byte {
	return [][]byte{c.Syn(nil), c.SynAck(), c.Pure(ToServer)}
}

// Syn is the client's SYN (with payload: data on the SYN).
func (c *Conn) Syn(payload []byte) []byte {
	return c.Build(Seg{Dir: ToServer, Flags: SYN, Seq: c.ISN[0], Window: 64240, Payload: payload, WScale: c.WScale[0]})
}

// SynAck is the server's SYN-ACK acknowledging the client's ISN.
func (c *Conn) SynAck() []byte {
	return c.Build(Seg{Dir: ToClient, Flags: SYN | ACK, Seq: c.ISN[1], Ack: c.ISN[0] + 1, Window: 65160, WScale: c.WScale[1]})
}

// Data is a PSH|ACK segment of direction d at offset off.
func (c *Conn) Data(d int, off uint32, payload []byte) Seg {
	return Seg{Dir: d, Flags: PSH | ACK, Seq: c.ISN[d] + 1 + off, Ack: c.ISN[1-d] + 1 + c.acked[1-d], Window: c.Window[d], Payload: payload}
}

// Pure is an ACK of direction d acknowledging what Ack recorded.
func (c *Conn) Pure(d int) []byte {
	return c.Build(Seg{Dir: d, Flags: ACK, Seq: c.ISN[d] + 1, Ack: c.ISN[1-d] + 1 + c.acked[1-d], Window: c.Window[d]})
}

// PureAt is an ACK of direction d sent when d has sent off bytes, and
// acknowledging ack bytes of the peer.
func (c *Conn) PureAt(d int, off, ack uint32) []byte {
	return c.Build(Seg{Dir: d, Flags: ACK, Seq: c.ISN[d] + 1 + off, Ack: c.ISN[1-d] + 1 + ack, Window: c.Window[d]})
}

// Build makes the IP packet of s.
func (c *Conn) Build(s Seg) []byte {
	src, dst := c.Client, c.Server
	if s.Dir == ToClient {
		src, dst = dst, src
	}
	var opts []byte
	if s.Flags&SYN != 0 {
		opts = append(opts, 2, 4, 0x05, 0xb4) // MSS 1460
		if s.WScale >= 0 {
			opts = append(opts, 1, 3, 3, byte(s.WScale))
		}
	}
	if c.TS {
		v := c.TSVal[s.Dir]
		c.TSVal[s.Dir]++
		if s.OldTS {
			v -= 1 << 20
		}
		opts = append(opts, 1, 1, 8, 10)
		opts = binary.BigEndian.AppendUint32(opts, v)
		opts = binary.BigEndian.AppendUint32(opts, 0)
	}
	if s.MD5 {
		opts = append(opts, 19, 18)
		opts = append(opts, make([]byte, 16)...)
	}
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	tcp := make([]byte, 20+len(opts), 20+len(opts)+len(s.Payload))
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], s.Seq)
	if s.Flags&ACK != 0 {
		binary.BigEndian.PutUint32(tcp[8:], s.Ack)
	}
	tcp[12] = byte((20+len(opts))/4) << 4
	tcp[13] = s.Flags
	if s.Urgent != 0 {
		tcp[13] |= URG
		binary.BigEndian.PutUint16(tcp[18:], s.Urgent)
	}
	binary.BigEndian.PutUint16(tcp[14:], s.Window)
	copy(tcp[20:], opts)
	tcp = append(tcp, s.Payload...)
	sum := Checksum(src.Addr(), dst.Addr(), tcp)
	if s.BadSum {
		sum ^= 0x1234
	}
	binary.BigEndian.PutUint16(tcp[16:], sum)
	ttl := s.TTL
	if ttl == 0 {
		ttl = 64
	}
	return ipPacket(src.Addr(), dst.Addr(), ttl, tcp)
}

// Packets builds several segments.
func (c *Conn) Packets(segs ...Seg) [][]byte {
	out := make([][]byte, len(segs))
	for i, s := range segs {
		out[i] = c.Build(s)
	}
	return out
}

func ipPacket(src, dst netip.Addr, ttl uint8, l4 []byte) []byte {
	if src.Is4() {
		h := make([]byte, 20, 20+len(l4))
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
		h[6] = 0x40 // don't fragment
		h[8], h[9] = ttl, 6
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], ^fold(sum(h)))
		return append(h, l4...)
	}
	h := make([]byte, 40, 40+len(l4))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6], h[7] = 6, ttl
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, l4...)
}

// Checksum is the TCP checksum of segment tcp (its checksum field taken
// as zero) over the IPv4 or IPv6 pseudo-header, computed the plain RFC
// 1071 way.
func Checksum(src, dst netip.Addr, tcp []byte) uint16 {
	var ph []byte
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		ph = append(append(ph, s[:]...), d[:]...)
		ph = append(ph, 0, 6)
		ph = binary.BigEndian.AppendUint16(ph, uint16(len(tcp)))
	} else {
		s, d := src.As16(), dst.As16()
		ph = append(append(ph, s[:]...), d[:]...)
		ph = binary.BigEndian.AppendUint32(ph, uint32(len(tcp)))
		ph = append(ph, 0, 0, 0, 6)
	}
	seg := append([]byte(nil), tcp...)
	seg[16], seg[17] = 0, 0
	return ^fold(sum(ph) + sum(seg))
}

func sum(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
