package dpi

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// Frames for the decoder, built from the header layouts of the specs.

func ipv4UDP(src, dst string, sport, dport uint16, payload []byte) []byte {
	return buildIP(nil, IPProtoUDP, netip.AddrPortFrom(netip.MustParseAddr(src), sport), netip.AddrPortFrom(netip.MustParseAddr(dst), dport), 0, 0, 0, payload)
}

func ether(et uint16, inner []byte) []byte {
	b := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0}
	binary.BigEndian.PutUint16(b[12:], et)
	return append(b, inner...)
}

func TestDecodeLinkTypes(t *testing.T) {
	ip4 := ipv4UDP("192.0.2.1", "198.51.100.2", 1234, 53, []byte("x"))
	ip6 := buildIP(nil, IPProtoTCP, netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:443"), TCPSyn, 7, 0, nil)
	vlan := func(id uint16, et uint16, inner []byte) []byte { // IEEE 802.1Q tag
		return append([]byte{byte(id >> 8), byte(id), byte(et >> 8), byte(et)}, inner...)
	}
	sll := append([]byte{0, 0, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0x08, 0x00}, ip4...)
	sll2 := append([]byte{0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0}, ip6...)
	pppoe := append([]byte{0x11, 0, 0, 1, 0, 0, 0x00, 0x21}, ip4...) // RFC 2516 session header + PPP IPv4
	null := append([]byte{2, 0, 0, 0}, ip4...)                       // AF_INET, little endian
	null6 := append([]byte{0, 0, 0, 30}, ip6...)                     // AF_INET6 (Darwin), big endian
	ppp := append([]byte{0xff, 0x03, 0x00, 0x57}, ip6...)            // RFC 1662 address/control + IPv6
	chdlc := append([]byte{0x0f, 0x00, 0x08, 0x00}, ip4...)
	mpls := ether(0x8847, append([]byte{0, 0, 0x21, 64}, ip4...)) // one label, bottom of stack
	ppi := append([]byte{0, 0, 8, 0, 1, 0, 0, 0}, ether(0x0800, ip4)...)
	cases := []struct {
		name string
		link LinkType
		b    []byte
		v    uint8
		vlan uint16
	}{
		{"ethernet", LinkEthernet, ether(0x0800, ip4), 4, 0},
		{"802.1Q", LinkEthernet, ether(0x8100, vlan(42, 0x0800, ip4)), 4, 42},
		{"QinQ", LinkEthernet, ether(0x88a8, vlan(100, 0x8100, vlan(42, 0x86dd, ip6))), 6, 100},
		{"PPPoE", LinkEthernet, ether(0x8864, pppoe), 4, 0},
		{"MPLS", LinkEthernet, mpls, 4, 0},
		{"raw", LinkRaw, ip6, 6, 0},
		{"SLL", LinkLinuxSLL, sll, 4, 0},
		{"SLL2", LinkLinuxSLL2, sll2, 6, 0},
		{"null", LinkNull, null, 4, 0},
		{"null v6", LinkNull, null6, 6, 0},
		{"PPP", LinkPPP, ppp, 6, 0},
		{"Cisco HDLC", LinkCHDLC, chdlc, 4, 0},
		{"PPI", LinkPPI, ppi, 4, 0},
	}
	var p Packet
	for _, c := range cases {
		if err := p.Decode(c.link, c.b); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p.IPVersion != c.v || p.VLAN != c.vlan || p.Flags != 0 {
			t.Errorf("%s: version %d vlan %d flags %b", c.name, p.IPVersion, p.VLAN, p.Flags)
		}
		if c.v == 4 && (p.Src != netip.MustParseAddr("192.0.2.1") || p.DstPort != 53 || string(p.Payload) != "x") {
			t.Errorf("%s: %v:%d → %v:%d %q", c.name, p.Src, p.SrcPort, p.Dst, p.DstPort, p.Payload)
		}
		if c.v == 6 && (p.Dst != netip.MustParseAddr("2001:db8::2") || p.DstPort != 443 || p.TCPFlags != TCPSyn || p.Seq != 7) {
			t.Errorf("%s: %v → %v:%d flags %x", c.name, p.Src, p.Dst, p.DstPort, p.TCPFlags)
		}
	}
	if err := p.Decode(LinkEthernet, ether(0x0806, make([]byte, 28))); err != ErrNotIP {
		t.Errorf("ARP: %v, want ErrNotIP", err)
	}
	if err := p.Decode(LinkType(147), ip4); err != ErrLinkType {
		t.Errorf("user link type: %v", err)
	}
}

func TestDecodeIPv6ExtensionHeadersAndFragments(t *testing.T) {
	udp := ipv4UDP("192.0.2.1", "192.0.2.2", 5000, 6000, []byte("hello"))[20:]
	mk := func(next byte, ext []byte) []byte {
		h := make([]byte, 40)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(udp)))
		h[6] = next
		h[23], h[39] = 1, 2
		return append(append(h, ext...), udp...)
	}
	var p Packet
	// Hop-by-hop (RFC 8200 §4.3) then destination options, both 8 bytes.
	b := mk(0, append([]byte{60, 0, 1, 4, 0, 0, 0, 0}, []byte{17, 0, 1, 4, 0, 0, 0, 0}...))
	if err := p.DecodeIP(b); err != nil || p.Proto != IPProtoUDP || p.DstPort != 6000 || string(p.Payload) != "hello" {
		t.Errorf("extension headers: %v proto %d port %d %q", err, p.Proto, p.DstPort, p.Payload)
	}
	// First fragment (offset 0, M set, RFC 8200 §4.5): ports are there.
	b = mk(44, []byte{17, 0, 0, 1, 0, 0, 0, 9})
	if p.DecodeIP(b); p.Flags&FlagFragment == 0 || p.Flags&FlagLaterFragment != 0 || p.DstPort != 6000 {
		t.Errorf("first fragment: flags %b port %d", p.Flags, p.DstPort)
	}
	// A later fragment carries no transport header.
	b = mk(44, []byte{17, 0, 0, 8, 0, 0, 0, 9})
	if p.DecodeIP(b); p.Flags&FlagLaterFragment == 0 || p.DstPort != 0 {
		t.Errorf("later fragment: flags %b port %d", p.Flags, p.DstPort)
	}
	e := NewEngine(Config{})
	if f, _ := e.Process(&p, 1); f != nil || e.Stats().LaterFragments != 1 {
		t.Errorf("a later fragment made a flow")
	}
	// IPv4 fragment with offset: flagged, not attributed.
	v4 := ipv4UDP("192.0.2.1", "192.0.2.2", 5000, 6000, []byte("hello"))
	binary.BigEndian.PutUint16(v4[6:], 0x0010)
	if p.DecodeIP(v4); p.Flags&FlagLaterFragment == 0 {
		t.Errorf("IPv4 later fragment: flags %b", p.Flags)
	}
}

func TestDecodeTunnels(t *testing.T) {
	inner := ipv4UDP("10.0.0.1", "10.0.0.2", 1111, 2222, []byte("in"))
	outer := func(proto uint8, payload []byte) []byte {
		h := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
		return append(h, payload...)
	}
	gre := append([]byte{0, 0, 0x08, 0x00}, inner...)                                                        // RFC 2784
	greKey := append([]byte{0x20, 0, 0x08, 0x00, 0, 0, 0, 7}, inner...)                                      // RFC 2890 key
	pptp := append([]byte{0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 1, 0, 0, 0, 5, 0xff, 0x03, 0x00, 0x21}, inner...) // RFC 2637 enhanced GRE + PPP
	for name, b := range map[string][]byte{"ipip": outer(IPProtoIPIP, inner), "gre": outer(IPProtoGRE, gre), "gre key": outer(IPProtoGRE, greKey), "pptp": outer(IPProtoGRE, pptp)} {
		var p Packet
		if err := p.DecodeIP(b); err != nil || p.Flags&FlagTunnel == 0 || p.Src != netip.MustParseAddr("10.0.0.1") || p.DstPort != 2222 || p.IPLen != len(b) {
			t.Errorf("%s: %v flags %b %v:%d len %d", name, err, p.Flags, p.Src, p.DstPort, p.IPLen)
		}
	}
	// GRE carrying something else stays the outer flow.
	var p Packet
	if p.DecodeIP(outer(IPProtoGRE, []byte{0, 0, 0x88, 0xbe, 1, 2, 3})); p.Proto != IPProtoGRE || p.Flags&FlagTunnel != 0 {
		t.Errorf("opaque GRE: proto %d flags %b", p.Proto, p.Flags)
	}
}

func TestDecodeMalformed(t *testing.T) {
	var p Packet
	ip := ipv4UDP("192.0.2.1", "192.0.2.2", 5000, 6000, []byte("hello"))
	short := append([]byte(nil), ip[:24]...) // UDP header cut to 4 bytes
	binary.BigEndian.PutUint16(short[2:], 24)
	if err := p.DecodeIP(short); err != nil || p.Flags&FlagMalformed == 0 || p.DstPort != 6000 {
		t.Errorf("short UDP: %v flags %b port %d", err, p.Flags, p.DstPort)
	}
	trunc := ip[:len(ip)-2] // captured shorter than the IP length says
	if p.DecodeIP(trunc); p.Flags&FlagTruncated == 0 {
		t.Errorf("truncated: flags %b", p.Flags)
	}
	bad := append([]byte(nil), ip...)
	bad[0] = 0x44 // IHL 16 bytes
	if err := p.DecodeIP(bad); err != ErrBadHeader {
		t.Errorf("bad IHL: %v", err)
	}
	// A malformed packet is counted and flagged as a risk on its flow.
	e := NewEngine(Config{})
	p.DecodeIP(short)
	f, _ := e.Process(&p, 1)
	if f == nil || !f.Result.Risks.Has(RiskMalformedPacket) || e.Stats().Malformed != 1 {
		t.Errorf("malformed packet not flagged: %+v", f)
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	b := ether(0x8100, append([]byte{0, 42, 0x08, 0x00}, ipv4UDP("192.0.2.1", "192.0.2.2", 1, 2, []byte("abc"))...))
	var p Packet
	if n := testing.AllocsPerRun(100, func() { p.Decode(LinkEthernet, b) }); n != 0 {
		t.Errorf("Decode allocates %v", n)
	}
}

// FuzzDecode feeds arbitrary frames of every link type to the decoder and
// whatever decodes to an engine with every dissector: nothing may panic,
// and a decoded packet's payload must lie inside the frame.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), ether(0x0800, ipv4UDP("192.0.2.1", "192.0.2.2", 1, 53, []byte("x"))))
	f.Add(uint8(4), buildIP(nil, IPProtoTCP, netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:443"), TCPSyn, 1, 0, []byte("\x16\x03\x01")))
	f.Add(uint8(1), append([]byte{0x11, 0, 0, 1, 0, 0, 0x00, 0x21}, ipv4UDP("192.0.2.1", "192.0.2.2", 1, 2, nil)...))
	links := []LinkType{LinkEthernet, LinkPPP, LinkNull, LinkLoop, LinkRaw, LinkCHDLC, LinkLinuxSLL, LinkLinuxSLL2, LinkPPI, LinkPPPHDLC}
	e := NewEngine(Config{MaxFlows: 64})
	var now int64
	f.Fuzz(func(t *testing.T, link uint8, b []byte) {
		var p Packet
		if p.Decode(links[int(link)%len(links)], b) != nil {
			return
		}
		if len(p.Payload) > len(b) {
			t.Fatalf("payload of %d bytes from a %d-byte frame", len(p.Payload), len(b))
		}
		now += 1e6
		e.Process(&p, now)
	})
}
