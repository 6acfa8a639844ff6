package dpi

// Bidirectional Forwarding Detection. Control packets (RFC 5880 §4.1,
// UDP 3784 single hop per RFC 5881, 4784 multihop per RFC 5883): version 1
// in the top three bits, a non-zero detect multiplier, a length byte that
// covers the packet. Echo packets (UDP 3785) are opaque to everyone but
// their sender, who addresses them to itself so the neighbour loops them
// back: a packet from an address to the same address on 3785.
func dissectBFD(c *Ctx) Status {
	b := c.Payload
	p := c.Pkt
	if p.DstPort == 3785 && p.Src == p.Dst && len(b) >= 8 {
		return lanDone(c, ProtoBFD)
	}
	if len(b) < 24 || (!hasPort(c, 3784) && !hasPort(c, 4784)) {
		return Exclude
	}
	if b[0]>>5 != 1 || b[2] == 0 || int(b[3]) != len(b) || be32(b, 4) == 0 {
		return Exclude
	}
	return lanDone(c, ProtoBFD)
}
