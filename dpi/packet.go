package dpi

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// LinkType is a capture's link-layer type (pcap LINKTYPE_* numbers).
type LinkType uint16

const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte AF in host byte order
	LinkEthernet  LinkType = 1   // Ethernet II, with 802.1Q/QinQ, PPPoE, MPLS
	LinkPPP       LinkType = 9   // PPP, optionally with HDLC address/control
	LinkRawAlt1   LinkType = 12  // raw IP on some BSDs
	LinkRawAlt2   LinkType = 14  // raw IP on some BSDs
	LinkPPPHDLC   LinkType = 50  // PPP in HDLC-like framing
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkCHDLC     LinkType = 104 // Cisco HDLC
	LinkLoop      LinkType = 108 // OpenBSD loopback: AF in network byte order
	LinkLinuxSLL  LinkType = 113 // Linux "cooked" capture v1
	LinkPPI       LinkType = 192 // Per-Packet Information header, then another link type
	LinkIPv4      LinkType = 228
	LinkIPv6      LinkType = 229
	LinkLinuxSLL2 LinkType = 276 // Linux "cooked" capture v2
)

// SupportedLink reports whether Decode understands the link type.
func SupportedLink(l LinkType) bool {
	switch l {
	case LinkNull, LinkEthernet, LinkPPP, LinkRawAlt1, LinkRawAlt2, LinkPPPHDLC, LinkRaw,
		LinkCHDLC, LinkLoop, LinkLinuxSLL, LinkPPI, LinkIPv4, LinkIPv6, LinkLinuxSLL2:
		return true
	}
	return false
}

// IP protocol numbers the decoder knows.
const (
	IPProtoICMP   = 1
	IPProtoIGMP   = 2
	IPProtoIPIP   = 4
	IPProtoTCP    = 6
	IPProtoUDP    = 17
	IPProtoIPv6   = 41
	IPProtoGRE    = 47
	IPProtoESP    = 50
	IPProtoAH     = 51
	IPProtoICMPv6 = 58
	IPProtoSCTP   = 132
)

// TCP flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
)

// PacketFlags describe how a packet decoded.
type PacketFlags uint8

const (
	// FlagFragment: an IP fragment (not reassembled).
	FlagFragment PacketFlags = 1 << iota
	// FlagLaterFragment: a non-first fragment, which carries no L4 header.
	FlagLaterFragment
	// FlagMalformed: a header was inconsistent (bad length, bad offset);
	// the packet still decoded far enough to find its flow.
	FlagMalformed
	// FlagTruncated: the capture cut the packet short of its IP length.
	FlagTruncated
	// FlagTunnel: the flow is the inner flow of a GRE or IP-in-IP tunnel.
	FlagTunnel
)

// Packet is one decoded packet. Decode parses in place into a reused Packet
// and allocates nothing: Payload aliases the input buffer, so a Packet is
// valid only as long as that buffer is.
type Packet struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// Proto is the IP protocol of the (innermost) transport header.
	Proto     uint8
	IPVersion uint8
	// TTL is the (innermost) IPv4 TTL or IPv6 hop limit.
	TTL      uint8
	VLAN     uint16
	Flags    PacketFlags
	TCPFlags uint8
	// ICMP type and code for ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	Seq, Ack           uint32
	// Window is the TCP window field as sent (not scaled). TCPOpts says
	// which TCP options the header carried; WScale and TSVal are the
	// window scale (SYN only) and timestamp values when present.
	Window  uint16
	Urgent  uint16 // the urgent pointer (meaningful with TCPUrg)
	TCPOpts TCPOptions
	WScale  uint8
	TSVal   uint32
	// Checksum says whether the TCP checksum still needs verifying;
	// Decode leaves it ChecksumUnchecked, the queue sets what the kernel
	// told.
	Checksum ChecksumState
	// IPLen is the length of the outermost IP packet as it was on the
	// wire, the figure byte counters add up.
	IPLen int
	// Payload is the transport payload (after the TCP/UDP/SCTP header; the
	// whole L4 message for other protocols).
	Payload []byte
	// SrcMAC is the Ethernet source, when the link has one.
	SrcMAC, DstMAC [6]byte
	HasMAC         bool

	seg []byte // the whole TCP segment, for its checksum
	// Ingress is the side of the gateway the packet came in from, when
	// the caller knows it (the daemon does, from the bridge port; a
	// capture does not). Decode leaves it unknown.
	Ingress Ingress
}

// Ingress is a side of the gateway.
type Ingress uint8

const (
	IngressUnknown Ingress = iota
	IngressInside          // from the LAN
	IngressOutside         // from the WAN
)

// TCPOptions flags the TCP options a segment carried.
type TCPOptions uint8

const (
	TCPOptWScale TCPOptions = 1 << iota // window scale (RFC 7323)
	TCPOptTS                            // timestamps (RFC 7323)
	TCPOptMD5                           // MD5 signature (RFC 2385) or TCP-AO (RFC 5925)
	TCPOptBad                           // an option's length ran past the header
)

// Decode errors. A packet that fails to decode is counted, not fatal.
var (
	ErrNotIP     = errors.New("not an IP packet")
	ErrTruncated = errors.New("truncated packet")
	ErrBadHeader = errors.New("malformed IP header")
	ErrLinkType  = errors.New("unsupported link type")
)

const maxTunnelDepth = 4

// Decode parses a captured frame of the given link type.
func (p *Packet) Decode(link LinkType, b []byte) error {
	*p = Packet{}
	return p.decodeLink(link, b, 0)
}

// DecodeIP parses a packet that starts at its IP header, as NFQUEUE
// delivers it.
func (p *Packet) DecodeIP(b []byte) error {
	*p = Packet{}
	return p.decodeIP(b, 0)
}

func (p *Packet) decodeLink(link LinkType, b []byte, depth int) error {
	switch link {
	case LinkEthernet:
		return p.decodeEthernet(b)
	case LinkRaw, LinkRawAlt1, LinkRawAlt2, LinkIPv4, LinkIPv6:
		return p.decodeIP(b, 0)
	case LinkNull, LinkLoop:
		if len(b) < 4 {
			return ErrTruncated
		}
		var af uint32
		if link == LinkLoop {
			af = binary.BigEndian.Uint32(b)
		} else {
			// Host byte order of the capturing machine: accept either.
			af = binary.LittleEndian.Uint32(b)
			if af > 0xffff {
				af = binary.BigEndian.Uint32(b)
			}
		}
		switch af {
		case 2, 10, 24, 28, 30: // AF_INET; AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			return p.decodeIP(b[4:], 0)
		}
		return ErrNotIP
	case LinkPPP, LinkPPPHDLC:
		if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
			b = b[2:]
		}
		return p.decodePPP(b)
	case LinkCHDLC:
		if len(b) < 4 {
			return ErrTruncated
		}
		return p.decodeEtherType(binary.BigEndian.Uint16(b[2:]), b[4:])
	case LinkLinuxSLL:
		if len(b) < 16 {
			return ErrTruncated
		}
		return p.decodeEtherType(binary.BigEndian.Uint16(b[14:]), b[16:])
	case LinkLinuxSLL2:
		if len(b) < 20 {
			return ErrTruncated
		}
		return p.decodeEtherType(binary.BigEndian.Uint16(b[0:]), b[20:])
	case LinkPPI:
		if len(b) < 8 || depth > 0 {
			return ErrTruncated
		}
		hl := int(binary.LittleEndian.Uint16(b[2:]))
		dlt := LinkType(binary.LittleEndian.Uint32(b[4:]))
		if hl < 8 || hl > len(b) {
			return ErrTruncated
		}
		return p.decodeLink(dlt, b[hl:], depth+1)
	}
	return ErrLinkType
}

func (p *Packet) decodeEthernet(b []byte) error {
	if len(b) < 14 {
		return ErrTruncated
	}
	copy(p.DstMAC[:], b[0:6])
	copy(p.SrcMAC[:], b[6:12])
	p.HasMAC = true
	return p.decodeEtherType(binary.BigEndian.Uint16(b[12:]), b[14:])
}

func (p *Packet) decodeEtherType(et uint16, b []byte) error {
	for range 8 { // bounded: VLAN stacks, PPPoE, MPLS
		switch et {
		case 0x0800, 0x86dd:
			return p.decodeIP(b, 0)
		case 0x8100, 0x88a8, 0x9100: // 802.1Q, 802.1ad (QinQ)
			if len(b) < 4 {
				return ErrTruncated
			}
			if p.VLAN == 0 {
				p.VLAN = binary.BigEndian.Uint16(b) & 0x0fff // the outer tag names the flow
			}
			et = binary.BigEndian.Uint16(b[2:])
			b = b[4:]
		case 0x8864: // PPPoE session
			if len(b) < 6 {
				return ErrTruncated
			}
			return p.decodePPP(b[6:])
		case 0x8847, 0x8848: // MPLS: pop labels to the bottom of the stack
			for {
				if len(b) < 4 {
					return ErrTruncated
				}
				bos := b[2]&1 == 1
				b = b[4:]
				if bos {
					break
				}
			}
			if len(b) == 0 {
				return ErrTruncated
			}
			return p.decodeIP(b, 0)
		default:
			return ErrNotIP
		}
	}
	return ErrNotIP
}

func (p *Packet) decodePPP(b []byte) error {
	if len(b) < 1 {
		return ErrTruncated
	}
	// The protocol field may be compressed to one byte (odd first byte).
	var proto uint16
	if b[0]&1 == 1 {
		proto, b = uint16(b[0]), b[1:]
	} else {
		if len(b) < 2 {
			return ErrTruncated
		}
		proto, b = binary.BigEndian.Uint16(b), b[2:]
	}
	switch proto {
	case 0x0021, 0x0057: // IPv4, IPv6
		return p.decodeIP(b, 0)
	}
	return ErrNotIP
}

// decodeIP parses an IPv4 or IPv6 header at b, then the transport, and
// follows IP-in-IP and GRE tunnels to the inner flow.
func (p *Packet) decodeIP(b []byte, depth int) error {
	if len(b) < 1 {
		return ErrTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return p.decodeIPv4(b, depth)
	case 6:
		return p.decodeIPv6(b, depth)
	}
	return ErrNotIP
}

func (p *Packet) decodeIPv4(b []byte, depth int) error {
	if len(b) < 20 {
		return ErrTruncated
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 {
		return ErrBadHeader
	}
	if depth == 0 {
		p.IPLen = total
	}
	p.IPVersion = 4
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.Proto = b[9]
	p.TTL = b[8]
	p.SrcPort, p.DstPort, p.TCPFlags, p.Payload = 0, 0, 0, nil
	switch {
	case total < ihl:
		// TSO/GSO captures often carry 0 here; use what was captured.
		if total != 0 {
			p.Flags |= FlagMalformed
		}
		total = len(b)
		if depth == 0 {
			p.IPLen = total
		}
	case total > len(b):
		p.Flags |= FlagTruncated
		total = len(b)
	}
	if ihl > total {
		p.Flags |= FlagMalformed
		return nil
	}
	frag := binary.BigEndian.Uint16(b[6:])
	if frag&0x3fff != 0 { // MF set or offset > 0
		p.Flags |= FlagFragment
		if frag&0x1fff != 0 {
			p.Flags |= FlagLaterFragment
			p.Payload = b[ihl:total]
			return nil
		}
	}
	return p.decodeL4(b[ihl:total], depth)
}

func (p *Packet) decodeIPv6(b []byte, depth int) error {
	if len(b) < 40 {
		return ErrTruncated
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	if depth == 0 {
		p.IPLen = 40 + plen
	}
	p.IPVersion = 6
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.SrcPort, p.DstPort, p.TCPFlags, p.Payload = 0, 0, 0, nil
	end := 40 + plen
	switch {
	case plen == 0: // jumbogram or offloaded length: take what was captured
		end = len(b)
		if depth == 0 {
			p.IPLen = end
		}
	case end > len(b):
		p.Flags |= FlagTruncated
		end = len(b)
	}
	next := b[6]
	p.TTL = b[7]
	off := 40
	for range 16 { // bounded walk over extension headers
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, dest opts, mobility, HIP, shim6
			if off+8 > end {
				p.Proto = next
				p.Flags |= FlagMalformed
				return nil
			}
			next = b[off]
			off += (int(b[off+1]) + 1) * 8
		case 51: // AH: length in 4-octet units minus 2
			if off+8 > end {
				p.Proto = next
				p.Flags |= FlagMalformed
				return nil
			}
			next = b[off]
			off += (int(b[off+1]) + 2) * 4
		case 44: // fragment header
			if off+8 > end {
				p.Proto = next
				p.Flags |= FlagMalformed
				return nil
			}
			fragOff := binary.BigEndian.Uint16(b[off+2:]) &^ 7
			more := b[off+3]&1 == 1
			next = b[off]
			off += 8
			if fragOff != 0 || more {
				p.Flags |= FlagFragment
			}
			if fragOff != 0 {
				p.Flags |= FlagLaterFragment
				p.Proto = next
				if off <= end {
					p.Payload = b[off:end]
				}
				return nil
			}
		default:
			p.Proto = next
			if off > end {
				p.Flags |= FlagMalformed
				return nil
			}
			return p.decodeL4(b[off:end], depth)
		}
	}
	p.Proto = next
	p.Flags |= FlagMalformed
	return nil
}

// decodeL4 parses the transport header in b; p.Proto is already set.
func (p *Packet) decodeL4(b []byte, depth int) error {
	p.Payload = b
	switch p.Proto {
	case IPProtoTCP:
		if !p.ports(b, 20) {
			return nil
		}
		p.Seq = binary.BigEndian.Uint32(b[4:])
		p.Ack = binary.BigEndian.Uint32(b[8:])
		p.TCPFlags = b[13]
		p.Window = binary.BigEndian.Uint16(b[14:])
		p.Urgent = binary.BigEndian.Uint16(b[18:])
		off := int(b[12]>>4) * 4
		if off < 20 || off > len(b) {
			p.Flags |= FlagMalformed
			p.Payload = nil
			return nil
		}
		if off > 20 {
			p.tcpOptions(b[20:off])
		}
		p.seg = b
		p.Payload = b[off:]
	case IPProtoUDP:
		if !p.ports(b, 8) {
			return nil
		}
		ul := int(binary.BigEndian.Uint16(b[4:]))
		switch {
		case ul >= 8 && ul <= len(b):
			p.Payload = b[8:ul]
		case ul == 0: // offloaded or jumbo: take the rest
			p.Payload = b[8:]
		default:
			if ul < 8 {
				p.Flags |= FlagMalformed
			}
			p.Payload = b[8:]
		}
	case IPProtoSCTP:
		if len(b) < 12 {
			p.Flags |= FlagMalformed
			p.Payload = nil
			return nil
		}
		p.SrcPort = binary.BigEndian.Uint16(b)
		p.DstPort = binary.BigEndian.Uint16(b[2:])
		p.Payload = b[12:]
	case IPProtoICMP, IPProtoICMPv6:
		if len(b) >= 2 {
			p.ICMPType, p.ICMPCode = b[0], b[1]
		} else {
			p.Flags |= FlagMalformed
		}
	case IPProtoIPIP, IPProtoIPv6:
		if depth < maxTunnelDepth && len(b) > 0 {
			return p.tunnel(b, depth)
		}
	case IPProtoGRE:
		if depth < maxTunnelDepth {
			if inner, ok := greInner(b); ok {
				return p.tunnel(inner, depth)
			}
		}
	}
	return nil
}

// tcpOptions reads the options the stream tracker needs (RFC 9293 §3.1
// layout: kind, length, value; kinds 0 and 1 have no length).
func (p *Packet) tcpOptions(o []byte) {
	for len(o) > 0 {
		kind := o[0]
		if kind == 0 {
			return
		}
		if kind == 1 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			p.TCPOpts |= TCPOptBad
			return
		}
		n := int(o[1])
		switch {
		case kind == 3 && n == 3:
			p.TCPOpts |= TCPOptWScale
			p.WScale = o[2]
		case kind == 8 && n == 10:
			p.TCPOpts |= TCPOptTS
			p.TSVal = binary.BigEndian.Uint32(o[2:])
		case kind == 19 || kind == 29:
			p.TCPOpts |= TCPOptMD5
		}
		o = o[n:]
	}
}

// ports reads the two ports at the start of a transport header of at
// least hdr bytes. A shorter header is malformed: its ports still name the
// flow when they were captured, but it carries no payload.
func (p *Packet) ports(b []byte, hdr int) bool {
	if len(b) >= 4 {
		p.SrcPort = binary.BigEndian.Uint16(b)
		p.DstPort = binary.BigEndian.Uint16(b[2:])
	}
	if len(b) < hdr {
		p.Flags |= FlagMalformed
		p.Payload = nil
		return false
	}
	return true
}

// tunnel decodes the inner packet; when the inner packet is unusable, the
// outer one stands as the flow.
func (p *Packet) tunnel(inner []byte, depth int) error {
	save := *p
	if err := p.decodeIP(inner, depth+1); err != nil {
		*p = save
		return nil
	}
	p.Flags |= FlagTunnel | save.Flags&(FlagTruncated|FlagMalformed)
	p.IPLen = save.IPLen
	p.VLAN = save.VLAN
	p.SrcMAC, p.DstMAC, p.HasMAC = save.SrcMAC, save.DstMAC, save.HasMAC
	return nil
}

// greInner returns the IP packet carried by a GRE header (RFC 2784/2890),
// including PPTP's enhanced GRE (version 1) carrying PPP.
func greInner(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	flags := binary.BigEndian.Uint16(b)
	proto := binary.BigEndian.Uint16(b[2:])
	off := 4
	version := flags & 7
	if flags&0x8000 != 0 { // checksum present (+ reserved)
		off += 4
	}
	if flags&0x2000 != 0 { // key (version 1: payload length + call id)
		off += 4
	}
	if flags&0x1000 != 0 { // sequence number
		off += 4
	}
	if version == 1 && flags&0x0080 != 0 { // acknowledgment number
		off += 4
	}
	if off > len(b) {
		return nil, false
	}
	b = b[off:]
	switch proto {
	case 0x0800, 0x86dd:
		return b, len(b) > 0
	case 0x880b: // PPP (PPTP)
		if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
			b = b[2:]
		}
		if len(b) < 1 {
			return nil, false
		}
		var pp uint16
		if b[0]&1 == 1 {
			pp, b = uint16(b[0]), b[1:]
		} else if len(b) >= 2 {
			pp, b = binary.BigEndian.Uint16(b), b[2:]
		}
		if pp == 0x0021 || pp == 0x0057 {
			return b, len(b) > 0
		}
	case 0x6558: // transparent Ethernet bridging
		if len(b) >= 14 {
			et := binary.BigEndian.Uint16(b[12:])
			if et == 0x0800 || et == 0x86dd {
				return b[14:], true
			}
		}
	}
	return nil, false
}
